/**
 * The bench's chart: one SVG of grouped bars, a group per benchmark and a bar per
 * implementation, msgs/s on a log scale (the implementations span four orders of magnitude:
 * bare XState at a few hundred thousand, raw at tens of millions). Each bar carries its
 * min–max spread as a whisker and its exact figures as a tooltip; under each group stands
 * troupe:receive's ratio to the best peer runtime of that benchmark (`bestPeer`, harness.ts).
 *
 * Pure: `renderChart(report)` returns the SVG text; it reads nothing and writes nothing.
 */
import { bestPeer, IMPLS, type ImplId, type Report, type Result } from './harness.ts';

const COLOURS: Readonly<Record<ImplId, string>> = {
  raw: '#9e9e9e',
  'troupe:receive': '#1f5fbf',
  'troupe:receive@2shards': '#2aa198',
  'troupe:receive@2shards-partitioned': '#859900',
  'troupe:machine': '#7fa8e6',
  xstate: '#8e5ba8',
  erlang: '#c23b30',
  'erlang@1': '#f08a4b',
  'troupe:sandboxed': '#b58900',
  'troupe:sandboxed@process': '#d9b44a',
  'troupe:pooled': '#6c71c4',
  'troupe:cold': '#a9acdf',
  'troupe:receive@2nodes': '#d33682',
  'troupe:receive@3nodes': '#e377c2',
  'troupe:agent': '#0b3d91',
  langgraph: '#2e7d32',
  'openai-agents': '#424242',
  mastra: '#ef6c00',
  'ai-sdk': '#00838f',
};

const LEGEND: Readonly<Record<ImplId, string>> = {
  raw: 'raw: a bare JavaScript actor (the ceiling)',
  'troupe:receive': 'troupe:receive: troupe, plain-function actors',
  'troupe:receive@2shards': 'troupe:receive@2shards: the same over two threads',
  'troupe:receive@2shards-partitioned':
    'troupe:receive@2shards-partitioned: the work in two halves, one per thread',
  'troupe:machine': 'troupe:machine: troupe running XState machines',
  xstate: 'xstate: bare XState v5 actors',
  erlang: 'erlang: Erlang/OTP, all cores',
  'erlang@1': 'erlang@1: Erlang/OTP, one scheduler',
  'troupe:sandboxed': 'troupe:sandboxed: untrusted code in an isolate, in the thread',
  'troupe:sandboxed@process': 'troupe:sandboxed@process: the isolate in a sandbox host process',
  'troupe:pooled': 'troupe:pooled: a ready sandbox from the pool',
  'troupe:cold': 'troupe:cold: a sandbox from a new isolate',
  'troupe:receive@2nodes': 'troupe:receive@2nodes: across two node processes',
  'troupe:receive@3nodes': 'troupe:receive@3nodes: a cluster of three node processes on Redis',
  'troupe:agent': "troupe:agent: troupe's agent (createAgent)",
  langgraph: 'langgraph: LangGraph JS createReactAgent',
  'openai-agents': 'openai-agents: the OpenAI Agents SDK',
  mastra: "mastra: Mastra's Agent",
  'ai-sdk': 'ai-sdk: the AI SDK, generateText in a loop',
};

const W = 1280;
const TOP = 118; // title, subtitle, legend
const PLOT_H = 380;
const BOTTOM = 96; // group labels, units, ratios, the footnote
const LEFT = 78;
const RIGHT = 16;
const BAR_W = 11;
const BAR_GAP = 2;

/** The chart of a report, as SVG text. */
export function renderChart(report: Report, title = 'troupe against its peers'): string {
  const benches = [...new Set(report.results.map((r) => r.bench))];
  const groups = benches.map((bench) => ({
    bench,
    results: IMPLS.flatMap((id) =>
      report.results.filter((r) => r.bench === bench && r.impl === id && r.msgsPerSec > 0),
    ),
  }));
  const values = groups.flatMap((g) => g.results.flatMap((r) => [r.min, r.max, r.msgsPerSec]));
  const positive = values.filter((v) => v > 0);
  const lo = Math.floor(Math.log10(positive.length > 0 ? Math.min(...positive) : 1e4));
  const hi = Math.ceil(Math.log10(positive.length > 0 ? Math.max(...positive) : 1e8));
  const decades = Math.max(1, hi - lo);
  const y = (v: number): number =>
    TOP + PLOT_H - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / decades) * PLOT_H;
  const plotW = W - LEFT - RIGHT;
  const groupW = plotW / Math.max(1, groups.length);
  const H = TOP + PLOT_H + BOTTOM;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="24" font-size="18" font-weight="600" fill="#222">${esc(title)}: messages per second, higher is better (log scale)</text>`,
    `<text x="${LEFT}" y="44" fill="#555">${esc(subtitle(report))}</text>`,
  );
  // legend: the implementations that appear, in IMPLS order
  const present = IMPLS.filter((id) => report.results.some((r) => r.impl === id));
  present.forEach((id, i) => {
    const col = i % 3;
    const row = Math.floor(i / 3);
    const x = LEFT + col * 360;
    const ly = 64 + row * 18;
    out.push(
      `<rect x="${x}" y="${ly - 10}" width="12" height="12" fill="${COLOURS[id]}"/>`,
      `<text x="${x + 18}" y="${ly}" fill="#333">${esc(LEGEND[id])}</text>`,
    );
  });
  // axis and decade grid lines
  for (let d = lo; d <= lo + decades; d++) {
    const gy = y(10 ** d);
    out.push(
      `<line x1="${LEFT}" y1="${gy}" x2="${W - RIGHT}" y2="${gy}" stroke="${d === lo ? '#888' : '#e4e4e4'}"/>`,
      `<text x="${LEFT - 8}" y="${gy + 4}" text-anchor="end" fill="#555">${esc(perSecond(10 ** d))}</text>`,
    );
  }
  groups.forEach((g, gi) => {
    const gx = LEFT + gi * groupW;
    if (gi % 2 === 1)
      out.push(
        `<rect x="${gx}" y="${TOP}" width="${groupW}" height="${PLOT_H}" fill="#f7f7f9" opacity="0.6"/>`,
      );
    const barsW = g.results.length * (BAR_W + BAR_GAP) - BAR_GAP;
    const x0 = gx + (groupW - barsW) / 2;
    const peer = bestPeer(g.results);
    g.results.forEach((r, i) => {
      const bx = x0 + i * (BAR_W + BAR_GAP);
      const by = y(r.msgsPerSec);
      const cx = bx + BAR_W / 2;
      out.push(
        `<rect x="${bx}" y="${by}" width="${BAR_W}" height="${TOP + PLOT_H - by}" fill="${COLOURS[r.impl]}"><title>${esc(tooltip(r))}</title></rect>`,
        `<line x1="${cx}" y1="${y(r.max)}" x2="${cx}" y2="${y(r.min)}" stroke="#222" stroke-width="1"/>`,
      );
    });
    // below the group: its name (long names on two lines), its unit, troupe's ratio to the best peer
    const cx = gx + groupW / 2;
    const ly = TOP + PLOT_H + 17;
    nameLines(g.bench).forEach((part, i) => {
      out.push(
        `<text x="${cx}" y="${ly + i * 14}" text-anchor="middle" font-weight="600" fill="#222">${esc(part)}</text>`,
      );
    });
    out.push(
      `<text x="${cx}" y="${ly + 29}" text-anchor="middle" fill="#777" font-size="11">${esc(unitOf(g.results[0]))}</text>`,
    );
    const troupe = g.results.find((r) => r.impl === 'troupe:receive');
    if (troupe !== undefined && peer !== undefined) {
      const ratio = troupe.msgsPerSec / peer.msgsPerSec;
      out.push(
        `<text x="${cx}" y="${ly + 45}" text-anchor="middle" font-size="11" font-weight="600" fill="${ratio >= 1 ? '#1f5fbf' : '#b23a2a'}">${formatRatio(ratio)} ${esc(peer.impl)}</text>`,
      );
    }
  });
  out.push(
    `<text x="${LEFT}" y="${H - 8}" fill="#777" font-size="11">Bars: median of the runs; whiskers: slowest and fastest run. Under each benchmark: troupe:receive's rate over the fastest peer runtime's (xstate, erlang, erlang@1) there, blue at 1× or more.</text>`,
    '</svg>',
  );
  return out.join('\n') + '\n';
}

/** A benchmark's name on one line, or on two split after its hyphen when it is long. */
function nameLines(name: string): string[] {
  const cut = name.indexOf('-');
  return name.length > 11 && cut > 0 ? [name.slice(0, cut + 1), name.slice(cut + 1)] : [name];
}

function subtitle(report: Report): string {
  const m = report.machine;
  const runs = report.results[0]?.extra?.runs;
  const quick = report.results[0]?.extra?.quick === true ? ', quick scale' : '';
  const parts = [
    `${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB`,
    `Node ${m.node}`,
    `XState ${m.xstate}`,
    ...(m.otp === undefined ? [] : [`Erlang/OTP ${m.otp}`]),
    `${String(runs)} runs each${quick}`,
    ...(report.date === undefined ? [] : [report.date.slice(0, 10)]),
  ];
  return parts.join(' · ');
}

/** A result's unit, from the benchmark it measures (msgs/s unless the bench counts actors or restarts). */
function unitOf(r: Result | undefined): string {
  if (r === undefined) return '';
  if (r.bench === 'forkjoin-create' || r.bench === 'spawn-memory') return 'actors/s';
  if (r.bench === 'restart') return 'restarts/s';
  return 'msgs/s';
}

function tooltip(r: Result): string {
  const parts = [
    `${r.bench} ${r.impl}: ${perSecond(r.msgsPerSec)} (min ${perSecond(r.min)}, max ${perSecond(r.max)})`,
  ];
  if (r.bytesPerActor !== undefined) parts.push(`${r.bytesPerActor} bytes/actor`);
  if (r.p50Us !== undefined && r.p99Us !== undefined)
    parts.push(`p50 ${r.p50Us} µs, p99 ${r.p99Us} µs`);
  return parts.join('; ');
}

/** 1e6 → "1M/s", 2.5e5 → "250k/s". */
function perSecond(v: number): string {
  if (v >= 1e6) return `${trim(v / 1e6)}M/s`;
  if (v >= 1e3) return `${trim(v / 1e3)}k/s`;
  return `${trim(v)}/s`;
}

function trim(x: number): string {
  return x >= 100 ? Math.round(x).toString() : Number(x.toPrecision(2)).toString();
}

function formatRatio(r: number): string {
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}×`;
}

function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}
