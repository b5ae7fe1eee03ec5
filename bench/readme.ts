/**
 * `node bench/readme.ts [REPORT.json]` (default bench/results/latest.json): writes the
 * report's chart to bench/results/latest.svg and rewrites the "Latest figures" section of
 * bench/README.md (between its two `figures` markers) from the report: the machine, the
 * chart, and a table of every benchmark × implementation. `npm run bench:readme` runs the
 * full suite into bench/results/latest.json and then this, so the README's figures are
 * always a real run's, never typed by hand. The README is formatted with prettier after, so
 * `npm run lint` passes on it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { renderChart } from './chart.ts';
import { bestPeer, IMPLS, type ImplId, type Report, type Result } from './harness.ts';

const HERE = import.meta.dirname;
const README = join(HERE, 'README.md');
const CHART = join(HERE, 'results', 'latest.svg');
const DEFAULT_REPORT = join(HERE, 'results', 'latest.json');
const START =
  '<!-- figures:start (written by bench/readme.ts from a report; do not edit by hand) -->';
const END = '<!-- figures:end -->';

class ReportError extends Error {
  readonly code = 'ERR_BENCH_REPORT';
}

/** The report in `file`, checked for what this script reads. */
function readReport(file: string): Report {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ReportError(`${file}: not a readable JSON file (${(e as Error).message})`);
  }
  const r = parsed as Partial<Report> | null;
  if (
    r === null ||
    typeof r !== 'object' ||
    typeof r.machine !== 'object' ||
    !Array.isArray(r.results)
  )
    throw new ReportError(`${file}: not a bench report (no "machine" object or "results" array)`);
  for (const [i, x] of r.results.entries())
    if (typeof x?.bench !== 'string' || !IMPLS.includes(x.impl) || typeof x.msgsPerSec !== 'number')
      throw new ReportError(`${file}: results[${i}] is not a result: ${JSON.stringify(x)}`);
  return r as Report;
}

/** "12.3 M", "456 k": a rate to three significant digits. */
function rate(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toPrecision(3)} M`;
  return `${(v / 1e3).toPrecision(3)} k`;
}

function ratio(r: number): string {
  return `${r >= 0.1 ? r.toFixed(2) : r.toFixed(3)}×`;
}

/** What the latency percentiles of a benchmark measure. */
const LATENCY: Readonly<Record<string, string>> = {
  restart: "latency from the failing message to the restarted child's next",
  'sandbox-acquire': 'time to acquire a ready sandbox',
  'ask-rtt': 'round trip of an ask to another node at 10,000 asks/s',
  failover: 'time until a killed node’s entity answers from another node',
  'gateway-fanout': 'update made in a machine → applied by its WebSocket client',
};

/** Counts a benchmark reports in `extra` (Sample.counts), shown beside its latencies. */
const COUNTS: Readonly<Record<string, readonly string[]>> = {
  'gateway-fanout': ['made', 'applied', 'coalesced', 'dropped'],
};

/** The section's Markdown. */
export function figuresSection(report: Report, chartPath: string): string {
  const m = report.machine;
  const first = report.results[0];
  const runs = typeof first?.extra?.runs === 'number' ? String(first.extra.runs) : '?';
  const scale = first?.extra?.quick === true ? 'the `--quick` scale' : 'full scale';
  const impls = IMPLS.filter((id) => report.results.some((r) => r.impl === id));
  const benches = [...new Set(report.results.map((r) => r.bench))];
  const lines: string[] = [
    `Run ${report.date === undefined ? '' : `on ${report.date.slice(0, 10)} `}with \`npm run bench:readme\` (${scale}, median of ${runs} runs), on ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB; Node ${m.node}, XState ${m.xstate}${m.otp === undefined ? ', no Erlang' : `, Erlang/OTP ${m.otp} (ERTS ${m.erts ?? '?'})`}.`,
    '',
    `![troupe against its peers, msgs/s per benchmark](${chartPath})`,
    '',
    'Millions (M) or thousands (k) of messages per second (actors/s for forkjoin-create and spawn-memory, restarts/s for restart, acquires/s for sandbox-acquire, asks/s for ask-rtt, activations/s for entity-activate, kills/s for failover, updates/s for gateway-fanout); the last column is troupe:receive over the fastest peer runtime (xstate, erlang, erlang@1) of that benchmark.',
    '',
    `| benchmark | ${impls.map((id) => `\`${id}\``).join(' | ')} | troupe:receive vs best peer |`,
    `| --- | ${impls.map(() => '---:').join(' | ')} | ---: |`,
  ];
  const notes: string[] = [];
  for (const bench of benches) {
    const rs = report.results.filter((r) => r.bench === bench);
    const get = (id: ImplId): Result | undefined => rs.find((r) => r.impl === id);
    const peer = bestPeer(rs);
    const troupe = get('troupe:receive');
    const cells = impls.map((id) => {
      const r = get(id);
      return r === undefined ? '–' : rate(r.msgsPerSec);
    });
    const vs =
      troupe === undefined || peer === undefined
        ? '–'
        : `${ratio(troupe.msgsPerSec / peer.msgsPerSec)} \`${peer.impl}\``;
    lines.push(`| \`${bench}\` | ${cells.join(' | ')} | ${vs} |`);
    const bytes = rs.filter((r) => r.bytesPerActor !== undefined);
    if (bytes.length > 0)
      notes.push(
        `- \`${bench}\`, heap bytes per idle actor: ${bytes.map((r) => `\`${r.impl}\` ${String(r.bytesPerActor)}`).join(', ')}.`,
      );
    const lat = rs.filter((r) => r.p50Us !== undefined && r.p99Us !== undefined);
    if (lat.length > 0)
      notes.push(
        `- \`${bench}\`, ${LATENCY[bench] ?? 'latency'}, p50 / p99: ${lat.map((r) => `\`${r.impl}\` ${String(r.p50Us)} / ${String(r.p99Us)} µs`).join(', ')}.`,
      );
    const counts = COUNTS[bench];
    if (counts !== undefined)
      for (const r of rs)
        notes.push(
          `- \`${bench}\` \`${r.impl}\`, per run (median): ${counts.map((k) => `${k} ${JSON.stringify(r.extra?.[k] ?? null)}`).join(', ')}.`,
        );
  }
  if (notes.length > 0) lines.push('', ...notes);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const file = process.argv[2] ?? DEFAULT_REPORT;
  const report = readReport(file);
  writeFileSync(CHART, renderChart(report));
  const readme = readFileSync(README, 'utf8');
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new ReportError(`${README}: the figures markers are missing`);
  const chart = relative(HERE, CHART);
  const next =
    readme.slice(0, a + START.length) +
    '\n\n' +
    figuresSection(report, chart) +
    '\n\n' +
    readme.slice(b);
  // formatted as `npm run lint` checks it (prettier aligns the tables)
  const options = (await resolveConfig(README)) ?? {};
  writeFileSync(README, await format(next, { ...options, filepath: README }));
  console.error(
    `wrote ${relative(process.cwd(), CHART)} and the figures in ${relative(process.cwd(), README)}`,
  );
}

if (import.meta.main) await main();
