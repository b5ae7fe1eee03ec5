/**
 * The inspector page's script (bundled by esbuild into dist/troupe-inspector.js, served at
 * `/inspect/app.js`). It talks to the node only through the client SDK, which the page
 * imports from the gateway and hands to `start`: it subscribes to `/system/inspector`'s
 * snapshot (totals, the top of the tree, the feed), asks it for deeper levels and an actor's
 * details, subscribes to the selected actor's own snapshot, and sends or asks it what the
 * form holds. Everything shown is set as text (never parsed as HTML). The tree is virtualised:
 * only the rows in view are in the DOM, and levels are fetched a page at a time.
 */
import type {
  ActorDetail,
  ActorInfo,
  ChildrenPage,
  FeedEntry,
  InspectorView,
} from '../inspector.ts';
import type { ClientOptions, TroupeClient } from '../../../protocol/client/client.ts';

type Connect = (url: string, options?: ClientOptions) => TroupeClient;

const INSPECTOR = '/system/inspector';
const ROW = 24;
const PAGE = 200;

interface Row {
  readonly info: ActorInfo | null;
  readonly depth: number;
  /** A "… N more" row: the parent whose next page it loads. */
  readonly more?: { parent: string; left: number };
}

const $ = (id: string): HTMLElement => document.getElementById(id)!;

function el(tag: string, cls: string | null, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (cls !== null) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

function time(at: number): string {
  const d = new Date(at);
  return `${d.toLocaleTimeString('en-GB')}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

export function start(connect: Connect, endpoint: string): TroupeClient {
  const client = connect(endpoint, {});
  let view: InspectorView | null = null;
  const expanded = new Set<string>(['/user']);
  /** Pages fetched for expanded actors (and roots showing more than the snapshot's top). */
  const pages = new Map<string, ChildrenPage>();
  /** How many children of each expanded actor are shown. */
  const shown = new Map<string, number>();
  let rows: Row[] = [];
  let selected: string | null = null;
  let stopSelected: (() => void) | null = null;
  let snapshotText = '';

  client.on('state', (s) => {
    const c = $('conn');
    c.textContent = s.state;
    c.className = `pill ${s.state}`;
  });

  // ---- the tree -------------------------------------------------------------------------------

  const childrenOf = (path: string): { list: readonly ActorInfo[]; total: number } => {
    const page = pages.get(path);
    if (page !== undefined) return { list: page.children, total: page.total };
    const top = view?.top[path];
    if (top !== undefined) return { list: top.children, total: top.total };
    return { list: [], total: 0 };
  };

  const flatten = (): Row[] => {
    const out: Row[] = [];
    const add = (info: ActorInfo, depth: number): void => {
      out.push({ info, depth });
      if (!expanded.has(info.path) || info.children === 0) return;
      const { list, total } = childrenOf(info.path);
      for (const c of list) add(c, depth + 1);
      if (total > list.length)
        out.push({
          info: null,
          depth: depth + 1,
          more: { parent: info.path, left: total - list.length },
        });
    };
    for (const r of view?.roots ?? []) add(r, 0);
    return out;
  };

  const renderTree = (): void => {
    rows = flatten();
    const box = $('rows');
    const spacer = $('spacer');
    spacer.style.height = `${rows.length * ROW}px`;
    for (const old of [...box.querySelectorAll('.row')]) old.remove();
    const first = Math.max(0, Math.floor(box.scrollTop / ROW) - 10);
    const last = Math.min(rows.length, first + Math.ceil(box.clientHeight / ROW) + 20);
    for (let i = first; i < last; i++) box.appendChild(rowElement(rows[i]!, i));
    $('tree-note').textContent = `${rows.length} rows`;
  };

  const rowElement = (r: Row, i: number): HTMLElement => {
    const e = el('div', 'row');
    e.style.top = `${i * ROW}px`;
    if (r.more !== undefined) {
      const m = r.more;
      e.appendChild(
        el('span', 'name more', `${'  '.repeat(r.depth)}… ${m.left.toLocaleString('en')} more`),
      );
      e.dataset.more = m.parent;
      e.onclick = () => void loadMore(m.parent);
      return e;
    }
    const a = r.info!;
    e.dataset.path = a.path;
    if (a.path === selected) e.classList.add('sel');
    const name = el('span', 'name');
    const tog = el('span', 'tog', a.children > 0 ? (expanded.has(a.path) ? '▾' : '▸') : '·');
    tog.onclick = (ev) => {
      ev.stopPropagation();
      void toggle(a);
    };
    name.style.paddingLeft = `${r.depth * 16}px`;
    name.append(tog, document.createTextNode(a.name));
    if (a.children > 0)
      name.appendChild(el('span', 'muted', ` (${fmt(a.subtree?.actors ?? a.children)})`));
    const sub = a.subtree;
    e.append(
      name,
      el('span', 'kind', a.shard === undefined ? a.kind : `${a.kind} @${a.shard}`),
      el('span', `st-${a.status}`, a.state ?? a.status),
      el(
        'span',
        (sub?.mailbox ?? a.mailbox) > 100 ? 'num hot' : 'num',
        fmt(sub?.mailbox ?? a.mailbox),
      ),
      el('span', 'num', fmt(sub?.rate ?? a.rate)),
      el(
        'span',
        (sub?.restarts ?? a.restarts) > 0 ? 'num hot' : 'num',
        fmt(sub?.restarts ?? a.restarts),
      ),
      el(
        'span',
        (sub?.deadLetters ?? a.deadLetters) > 0 ? 'num bad' : 'num',
        fmt(sub?.deadLetters ?? a.deadLetters),
      ),
    );
    e.onclick = () => select(a.path);
    return e;
  };

  const fetchPage = async (path: string): Promise<void> => {
    const limit = shown.get(path) ?? PAGE;
    const page = await client.ask<ChildrenPage>(INSPECTOR, {
      type: 'children',
      path,
      offset: 0,
      limit,
    });
    pages.set(path, page);
  };

  const toggle = async (a: ActorInfo): Promise<void> => {
    if (expanded.has(a.path)) {
      expanded.delete(a.path);
      pages.delete(a.path);
      renderTree();
      return;
    }
    expanded.add(a.path);
    if (view?.top[a.path] === undefined) await fetchPage(a.path);
    renderTree();
  };

  const loadMore = async (path: string): Promise<void> => {
    shown.set(path, Math.min(500, (shown.get(path) ?? PAGE) + PAGE));
    await fetchPage(path);
    renderTree();
  };

  /** Expanded levels are fetched again at each sample, so they stay live. */
  const refreshPages = async (): Promise<void> => {
    await Promise.all(
      [...expanded]
        .filter((p) => view?.top[p] === undefined || shown.has(p))
        .map((p) => fetchPage(p).catch(() => pages.delete(p))),
    );
  };

  $('rows').addEventListener('scroll', () => renderTree(), { passive: true });
  window.addEventListener('resize', () => renderTree());

  // ---- the header and the feed -------------------------------------------------------------

  const renderHeader = (v: InspectorView): void => {
    $('node').textContent = v.node;
    $('t-actors').textContent = v.totals.actors.toLocaleString('en');
    $('t-rate').textContent = fmt(v.totals.rate);
    $('t-mailbox').textContent = fmt(v.totals.mailbox);
    $('t-restarts').textContent = fmt(v.totals.restarts);
    $('t-dead').textContent = fmt(v.totals.deadLetters);
    const groups: string[] = [];
    if (v.shards.length > 0)
      groups.push(`shards ${v.shards.map((s) => `#${s.shard}: ${fmt(s.actors)}`).join(' · ')}`);
    if (v.nodes.length > 0) groups.push(`nodes ${v.nodes.map((n) => n.node).join(', ')}`);
    $('groups').textContent = groups.join('   ');
  };

  const feedLine = (f: FeedEntry): HTMLElement => {
    const line = el('div', 'feedrow');
    line.dataset.path = f.path;
    line.append(
      el('span', 't', time(f.at)),
      el(
        'span',
        f.kind === 'dead-letter' ? 'dl' : 'sv',
        f.kind === 'dead-letter' ? `dead letter` : f.type,
      ),
    );
    const what = el('span', null);
    what.append(document.createTextNode(f.path));
    if (f.kind === 'dead-letter')
      what.append(el('span', 'muted', `  ${f.type}: ${f.detail ?? ''}`));
    else if (f.detail !== undefined) what.append(el('span', 'muted', `  by ${f.detail}`));
    if (f.error !== undefined) what.append(el('span', 'err', `  ${f.error}`));
    line.appendChild(what);
    return line;
  };

  const renderFeed = (): void => {
    const filter = ($('filter') as HTMLInputElement).value.trim();
    const body = $('feed-body');
    body.replaceChildren(
      ...(view?.feed ?? [])
        .filter((f) => filter === '' || f.path.includes(filter))
        .slice(-200)
        .reverse()
        .map(feedLine),
    );
  };
  $('filter').addEventListener('input', renderFeed);

  // ---- the selected actor -----------------------------------------------------------------

  const detailBody = (): HTMLElement => $('detail-body');
  let detail: ActorDetail | null = null;
  let result: { ok: boolean; text: string } | null = null;

  /**
   * The detail pane is built once per selection (so the form keeps its text, focus and
   * buttons while samples come in); each sample updates its parts in place.
   */
  const parts = {
    info: el('p', null),
    snapshot: el('pre', null),
    result: el('pre', null),
    messages: el('div', null),
    events: el('div', null),
    approval: el('div', null),
  };
  parts.approval.id = 'approval';

  /** An agent waiting for a human (its snapshot's `context.approval`): approve or reject here. */
  const renderApproval = (snapshot: unknown): void => {
    const a = (snapshot as { context?: { approval?: unknown } } | null)?.context?.approval as
      { callId: string; tool: string; arguments: string; expiresAt: number } | null | undefined;
    if (a === null || a === undefined || typeof a.callId !== 'string') {
      parts.approval.replaceChildren();
      return;
    }
    const path = selected!;
    const box = el('div', 'approval');
    box.append(
      el('h3', null, 'approval wanted'),
      el(
        'p',
        null,
        `${a.tool}(${a.arguments.length > 400 ? `${a.arguments.slice(0, 400)}…` : a.arguments})`,
      ),
      el('p', 'muted', `expires ${time(a.expiresAt)}`),
    );
    const decide = (type: 'approve' | 'reject') => {
      void client
        .ask<{ ok: boolean; reason?: string }>(
          path,
          { type, callId: a.callId },
          { timeoutMs: 10_000 },
        )
        .then(
          (r) => {
            result = { ok: r.ok, text: r.ok ? `${type}d` : `refused: ${r.reason ?? ''}` };
            renderDetail();
          },
          (e: Error) => {
            result = { ok: false, text: `${e.name}: ${e.message}` };
            renderDetail();
          },
        );
    };
    const yes = el('button', null, 'approve') as HTMLButtonElement;
    yes.type = 'button';
    yes.id = 'approve';
    yes.onclick = () => decide('approve');
    const no = el('button', null, 'reject') as HTMLButtonElement;
    no.type = 'button';
    no.id = 'reject';
    no.onclick = () => decide('reject');
    box.append(yes, document.createTextNode(' '), no);
    parts.approval.replaceChildren(box);
  };
  parts.snapshot.id = 'snapshot';
  parts.result.id = 'result';

  const buildDetail = (): void => {
    const form = document.createElement('form');
    const text = document.createElement('textarea');
    text.id = 'message';
    text.value = '{ "type": "" }';
    const send = el('button', null, 'send') as HTMLButtonElement;
    send.type = 'button';
    send.id = 'send';
    const ask = el('button', null, 'ask') as HTMLButtonElement;
    ask.type = 'button';
    ask.id = 'ask';
    const run = async (how: 'send' | 'ask'): Promise<void> => {
      let msg: unknown;
      try {
        msg = JSON.parse(text.value);
      } catch (e) {
        result = { ok: false, text: `not JSON: ${(e as Error).message}` };
        return renderDetail();
      }
      const path = selected!;
      try {
        if (how === 'send') {
          await client.send(path, msg);
          result = { ok: true, text: 'sent' };
        } else result = { ok: true, text: JSON.stringify(await client.ask(path, msg), null, 2) };
      } catch (e) {
        result = { ok: false, text: `${(e as Error).name}: ${(e as Error).message}` };
      }
      renderDetail();
    };
    send.onclick = () => void run('send');
    ask.onclick = () => void run('ask');
    form.append(text, send, ask);
    parts.snapshot.textContent = snapshotText;
    parts.result.textContent = '';
    parts.approval.replaceChildren();
    detailBody().replaceChildren(
      parts.info,
      parts.approval,
      el('h3', null, 'snapshot (live)'),
      parts.snapshot,
      el('h3', null, 'send or ask (JSON)'),
      form,
      parts.result,
      el('h3', null, 'recent messages'),
      parts.messages,
      el('h3', null, 'supervision and dead letters'),
      parts.events,
    );
  };

  const renderDetail = (): void => {
    if (selected === null) return;
    const a = detail?.info;
    parts.info.className = a === null || a === undefined ? 'muted' : '';
    parts.info.textContent =
      a === null || a === undefined
        ? detail === null
          ? 'loading…'
          : 'not found here'
        : `${a.kind} · ${a.status}${a.state === undefined ? '' : ` · state ${a.state}`} · queued ${a.mailbox} · ${a.rate} msgs/s · restarts ${a.restarts} · dead letters ${a.deadLetters} · children ${a.children}`;
    parts.result.className = result === null || result.ok ? '' : 'err';
    parts.result.textContent = result?.text ?? '';
    const msgs = detail?.messages ?? [];
    if (msgs.length === 0)
      parts.messages.replaceChildren(el('p', 'muted', 'none yet (recorded while selected)'));
    else {
      const t = el('table', null);
      const head = el('tr', null);
      head.append(el('th', null, 'time'), el('th', null, 'type'), el('th', null, 'sender'));
      t.appendChild(head);
      for (const m of [...msgs].reverse()) {
        const tr = el('tr', null);
        tr.append(
          el('td', 'muted', time(m.at)),
          el('td', null, m.type),
          el('td', 'muted', m.sender ?? '–'),
        );
        t.appendChild(tr);
      }
      parts.messages.replaceChildren(t);
    }
    const evs = detail?.events ?? [];
    parts.events.replaceChildren(
      ...(evs.length === 0 ? [el('p', 'muted', 'none')] : [...evs].reverse().map(feedLine)),
    );
  };

  const refreshDetail = async (): Promise<void> => {
    if (selected === null) return;
    const path = selected;
    try {
      const d = await client.ask<ActorDetail>(INSPECTOR, { type: 'actor', path });
      if (selected === path) detail = d;
    } catch {
      // the next sample tries again
    }
    renderDetail();
  };

  const select = (path: string): void => {
    if (selected === path) return;
    stopSelected?.();
    selected = path;
    detail = null;
    result = null;
    snapshotText = '…';
    $('sel-path').textContent = path;
    buildDetail();
    stopSelected = client.subscribe(
      path,
      (snapshot) => {
        snapshotText = JSON.stringify(snapshot, null, 2);
        parts.snapshot.textContent = snapshotText;
        renderApproval(snapshot);
      },
      {
        onEnd: (reason) => {
          snapshotText = `(ended: ${reason})`;
          parts.snapshot.textContent = snapshotText;
        },
        onError: (e) => {
          snapshotText = `(${e.name}: ${e.message})`;
          parts.snapshot.textContent = snapshotText;
        },
      },
    );
    renderTree();
    void refreshDetail();
  };

  client.subscribe<InspectorView>(
    INSPECTOR,
    (v) => {
      view = v;
      renderHeader(v);
      renderFeed();
      renderTree();
      void refreshPages().then(renderTree);
      void refreshDetail();
    },
    {
      onError: (e) => {
        $('tree-note').textContent = `${e.name}: ${e.message}`;
      },
    },
  );
  return client;
}
