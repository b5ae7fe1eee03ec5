/**
 * Lists the functions with the most self time in a V8 CPU profile, to read a profile of the
 * benchmarks without a browser:
 *
 *   node --cpu-prof --cpu-prof-dir=bench/results --expose-gc bench/main.ts --only counting
 *   node bench/profile-top.ts bench/results/CPU.*.cpuprofile [--top 25] [--match runtime/]
 *
 * `--match S` keeps only functions whose script URL contains S (e.g. `runtime/`, `xstate`);
 * percentages stay shares of the whole profile.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

interface Row {
  readonly name: string;
  readonly where: string;
  selfUs: number;
}

function shortUrl(url: string): string {
  const i = url.lastIndexOf('/node_modules/');
  if (i >= 0) return url.slice(i + '/node_modules/'.length);
  const j = url.indexOf('/main/');
  return j >= 0 ? url.slice(j + '/main/'.length) : url.replace(/^file:\/\//, '');
}

/** Self time per function (name and location), most first. */
export function topSelfTime(profile: Profile): { rows: Row[]; totalUs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const rows = new Map<string, Row>();
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    totalUs += dt;
    const frame = byId.get(profile.samples[i]!)!.callFrame;
    const where = frame.url === '' ? '' : `${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const key = `${name} ${where}`;
    const row = rows.get(key) ?? { name, where, selfUs: 0 };
    row.selfUs += dt;
    rows.set(key, row);
  }
  return { rows: [...rows.values()].sort((a, b) => b.selfUs - a.selfUs), totalUs };
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '25' }, match: { type: 'string' } },
  allowPositionals: true,
});
if (positionals.length !== 1) {
  console.error('usage: node bench/profile-top.ts FILE.cpuprofile [--top N] [--match S]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Profile;
const { rows, totalUs } = topSelfTime(profile);
const match = values.match;
const shown = rows.filter((r) => match === undefined || r.where.includes(match));
console.log(`total ${(totalUs / 1e3).toFixed(0)} ms sampled${match ? `, matching ${match}` : ''}`);
console.log('  self ms   self %  function');
for (const r of shown.slice(0, Number(values.top)))
  console.log(
    `${(r.selfUs / 1e3).toFixed(1).padStart(8)} ${((100 * r.selfUs) / totalUs).toFixed(1).padStart(7)}%  ${r.name}  ${r.where}`,
  );
