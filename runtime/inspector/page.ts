/**
 * The inspector's HTML: the page at `/inspect` (its script is the bundle of
 * runtime/inspector/ui/app.ts, served at `/inspect/app.js`) and the sign-in page a browser
 * without a valid token gets instead (401).
 */

const STYLE = `
:root { --bg:#0f1419; --panel:#161c23; --line:#253040; --text:#d8dee6; --dim:#8a96a6;
  --accent:#5fb3f9; --ok:#5fd38d; --warn:#f2c14e; --bad:#ff6b6b; --row:24px;
  font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--text); height:100vh; display:flex; flex-direction:column; }
header { display:flex; gap:18px; align-items:center; padding:8px 14px; border-bottom:1px solid var(--line); background:var(--panel); flex-wrap:wrap; }
header h1 { font-size:14px; margin:0; color:var(--accent); letter-spacing:.04em; }
.stat { color:var(--dim); } .stat b { color:var(--text); font-weight:600; }
.pill { padding:1px 8px; border-radius:10px; border:1px solid var(--line); }
.pill.open { color:var(--ok); border-color:var(--ok); } .pill.reconnecting,.pill.connecting { color:var(--warn); border-color:var(--warn); } .pill.closed { color:var(--bad); border-color:var(--bad); }
main { flex:1; display:grid; grid-template-columns: minmax(520px, 1.3fr) 1fr; grid-template-rows: 1fr 220px; min-height:0; }
section { border-right:1px solid var(--line); border-bottom:1px solid var(--line); display:flex; flex-direction:column; min-height:0; }
section > h2 { font-size:12px; text-transform:uppercase; letter-spacing:.08em; color:var(--dim); margin:0; padding:6px 10px; border-bottom:1px solid var(--line); display:flex; gap:10px; align-items:center; }
#tree { grid-row: 1 / span 2; }
.scroll { overflow:auto; flex:1; position:relative; }
.row { height:var(--row); display:grid; grid-template-columns: minmax(200px,1fr) 90px 110px 60px 70px 44px 44px; gap:8px; align-items:center; padding:0 10px; white-space:nowrap; cursor:pointer; position:absolute; left:0; right:0; }
.row:hover { background:#1c2530; } .row.sel { background:#1f3347; }
.row .name { overflow:hidden; text-overflow:ellipsis; } .row .num { text-align:right; color:var(--dim); }
.row .num.hot { color:var(--warn); } .row .num.bad { color:var(--bad); }
.kind { color:var(--accent); } .st-running { color:var(--ok); } .st-suspended,.st-restarting { color:var(--warn); } .st-stopped,.st-stopping { color:var(--bad); }
.thead { position:sticky; top:0; background:var(--panel); color:var(--dim); z-index:1; cursor:default; position:relative; }
.tog { display:inline-block; width:14px; color:var(--dim); }
.more { color:var(--accent); }
.group { color:var(--dim); padding:4px 10px; }
#detail .scroll, #feed .scroll { padding:8px 10px; }
pre { margin:0; white-space:pre-wrap; word-break:break-word; color:#c3e88d; }
table { border-collapse:collapse; width:100%; } td,th { text-align:left; padding:2px 6px; border-bottom:1px solid var(--line); } th { color:var(--dim); font-weight:normal; }
form { display:flex; gap:6px; margin:8px 0; } textarea { flex:1; background:#0b0f14; color:var(--text); border:1px solid var(--line); font:inherit; height:52px; }
button { background:#1f3347; color:var(--text); border:1px solid var(--line); font:inherit; padding:2px 10px; cursor:pointer; } button:hover { border-color:var(--accent); }
input { background:#0b0f14; color:var(--text); border:1px solid var(--line); font:inherit; padding:2px 6px; }
.feedrow { display:grid; grid-template-columns: 90px 120px 1fr; gap:8px; padding:1px 0; }
.feedrow .t { color:var(--dim); } .dl { color:var(--warn); } .sv { color:var(--accent); } .err { color:var(--bad); }
.approval { border:1px solid var(--warn); padding:6px 10px; margin:6px 0; } .approval h3 { color:var(--warn); margin-top:0; }
.muted { color:var(--dim); } h3 { font-size:12px; color:var(--dim); margin:10px 0 4px; font-weight:normal; text-transform:uppercase; letter-spacing:.06em; }
`;

/** The inspector page. */
export function inspectorPage(clientUrl: string, endpoint: string, nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>troupe inspector</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body>
<header><h1>troupe inspector</h1>
<span class="stat">node <b id="node">…</b></span>
<span id="conn" class="pill connecting">connecting</span>
<span class="stat">actors <b id="t-actors">–</b></span>
<span class="stat">msgs/s <b id="t-rate">–</b></span>
<span class="stat">queued <b id="t-mailbox">–</b></span>
<span class="stat">restarts <b id="t-restarts">–</b></span>
<span class="stat">dead letters <b id="t-dead">–</b></span>
<span class="stat" id="groups"></span>
</header>
<main>
<section id="tree"><h2>supervision tree <span class="muted" id="tree-note"></span></h2>
<div class="row thead"><span>actor</span><span>kind</span><span>state</span><span class="num">queued</span><span class="num">msgs/s</span><span class="num">rst</span><span class="num">dl</span></div>
<div class="scroll" id="rows"><div id="spacer"></div></div></section>
<section id="detail"><h2>actor <span id="sel-path" class="muted">select one in the tree</span></h2><div class="scroll" id="detail-body"></div></section>
<section id="feed"><h2>dead letters &amp; supervision <input id="filter" placeholder="filter by path" size="24"></h2><div class="scroll" id="feed-body"></div></section>
</main>
<script type="module" nonce="${nonce}">
import { connect } from ${JSON.stringify(clientUrl)};
import { start } from '/inspect/app.js';
start(connect, ${JSON.stringify(endpoint)});
</script>
</body></html>`;
}

/** The page a browser gets without a valid token (status 401). */
export function signInPage(error: string | null): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>troupe inspector — sign in</title><style>${STYLE}
body { align-items:center; justify-content:center; } form { flex-direction:column; width:340px; gap:10px; }</style></head>
<body><form method="post" action="/inspect/login">
<h1 style="color:var(--accent);font-size:15px;margin:0">troupe inspector</h1>
<label class="muted" for="token">token</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus>
${error === null ? '' : `<span class="err">${error.replace(/[<>&"]/g, '')}</span>`}
<button type="submit">sign in</button></form></body></html>`;
}
