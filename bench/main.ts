/**
 * `npm run bench -- [--only a,b] [--quick] [--scale F] [--json FILE] [--svg FILE] [--runs N]`:
 * runs the Savina-style benchmarks (bench/README.md) on troupe and its peers (the Erlang/OTP
 * ones when `erl` is on the PATH), prints a progress line per run to stderr and a table per
 * benchmark to stdout, writes the chart (SVG, bench/results/last-run.svg unless `--svg`
 * says where) and with `--json` the report.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { renderChart } from './chart.ts';
import {
  formatTable,
  machineInfo,
  NOT_IN_QUICK,
  runSuite,
  writeReport,
  type Benchmark,
  type Report,
  type Result,
} from './harness.ts';
import { BENCHMARKS, withErlang } from './suite.ts';
import { CLUSTER_BENCHMARKS } from './cluster.ts';
import { redisReachable, REDIS_URL } from './cluster/redis.ts';
import { erlangInfo } from './peers/erlang.ts';

/** Measured runs per implementation: full suite, and `--quick`. */
const RUNS = 5;
const QUICK_RUNS = 3;

/** Where the chart goes without `--svg`. */
const DEFAULT_SVG = 'bench/results/last-run.svg';

const USAGE = `usage: npm run bench -- [--only a,b] [--quick] [--scale F] [--json FILE] [--svg FILE] [--runs N]
  --only a,b   run these benchmarks (${BENCHMARKS.map((b) => b.name).join(', ')})
  --quick      reduced scale (1/10) and ${QUICK_RUNS} runs
  --scale F    multiply each benchmark's work by F (a number > 0; after --quick's reduction)
  --json FILE  write the results as JSON (schema in bench/README.md)
  --svg FILE   write the chart there (default ${DEFAULT_SVG})
  --runs N     measured runs per implementation (default ${RUNS}, --quick ${QUICK_RUNS})`;

class UsageError extends Error {
  readonly code = 'ERR_BENCH_USAGE';
}

interface Cli {
  readonly benchmarks: readonly Benchmark<any>[];
  readonly quick: boolean;
  readonly scale: number;
  readonly runs: number;
  readonly json: string | undefined;
  readonly svg: string;
}

function parseCli(argv: readonly string[]): Cli | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      scale: { type: 'string' },
      json: { type: 'string' },
      svg: { type: 'string' },
      runs: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return null;
  let benchmarks = BENCHMARKS;
  if (values.only !== undefined) {
    const names = values.only.split(',').map((s) => s.trim());
    for (const n of names)
      if (!BENCHMARKS.some((b) => b.name === n))
        throw new UsageError(`--only: no benchmark named ${JSON.stringify(n)}`);
    benchmarks = BENCHMARKS.filter((b) => names.includes(b.name));
  }
  let runs = values.quick ? QUICK_RUNS : RUNS;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1)
      throw new UsageError(`--runs must be a positive integer, got ${JSON.stringify(values.runs)}`);
  }
  let scale = 1;
  if (values.scale !== undefined) {
    scale = values.scale.trim() === '' ? NaN : Number(values.scale);
    if (!Number.isFinite(scale) || scale <= 0)
      throw new UsageError(`--scale must be a number > 0, got ${JSON.stringify(values.scale)}`);
  }
  if (values.svg?.trim() === '') throw new UsageError('--svg needs a file name');
  return {
    benchmarks,
    quick: values.quick,
    scale,
    runs,
    json: values.json,
    svg: values.svg ?? DEFAULT_SVG,
  };
}

async function main(): Promise<number> {
  let cli: Cli | null;
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (cli === null) {
    console.log(USAGE);
    return 0;
  }
  if (typeof globalThis.gc !== 'function') {
    console.error('the benchmarks need global.gc(): run them with node --expose-gc bench/main.ts');
    return 2;
  }
  const erlang = erlangInfo();
  const machine = {
    ...machineInfo(),
    ...(erlang === null ? {} : { otp: erlang.otp, erts: erlang.erts }),
  };
  console.error(
    `troupe bench: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, node ${machine.node}` +
      (erlang === null ? '' : `, OTP ${erlang.otp}`) +
      ` (${cli.quick ? 'quick' : 'full'} scale${cli.scale === 1 ? '' : ` × ${cli.scale}`}, ${cli.runs} runs)`,
  );
  if (erlang === null)
    console.error(
      'erlang, erlang@1: not run, there is no `erl` on the PATH (apt-get install -y erlang-base; the bench installs nothing)',
    );
  const redisUp = await redisReachable();
  if (!redisUp && cli.benchmarks.some((b) => CLUSTER_BENCHMARKS.includes(b.name)))
    console.error(
      `${CLUSTER_BENCHMARKS.join(', ')}: not run, no Redis answers at ${REDIS_URL} (set REDIS_URL)`,
    );
  const benchmarks = cli.benchmarks
    .filter((b) => redisUp || !CLUSTER_BENCHMARKS.includes(b.name))
    .map(withErlang);
  if (cli.quick) {
    const left = NOT_IN_QUICK.filter((id) => benchmarks.some((b) => b.impls[id] !== undefined));
    if (left.length > 0)
      console.error(`left out of --quick (they start threads): ${left.join(', ')}`);
  }
  const date = new Date().toISOString();
  const started = performance.now();
  const results = await runSuite(benchmarks, {
    quick: cli.quick,
    scale: cli.scale,
    runs: cli.runs,
    progress: (line) => console.error(line),
  });
  console.error(`done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  const byBench = (name: string): Result[] => results.filter((r) => r.bench === name);
  console.log(
    benchmarks.map((b) => formatTable(b, cli.quick, byBench(b.name), cli.scale)).join('\n\n'),
  );
  const report = { date, machine, results };
  writeChart(cli.svg, report);
  console.error(`\nwrote ${cli.svg}`);
  if (cli.json !== undefined) {
    writeReport(cli.json, report);
    console.error(`wrote ${cli.json}`);
  }
  return 0;
}

/** Writes the report's chart (chart.ts) as SVG, creating the folder. */
function writeChart(file: string, report: Report): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, renderChart(report));
}

process.exitCode = await main();
