/**
 * `npm run bench -- [--only a,b] [--quick] [--scale F] [--json FILE] [--runs N]`: runs the
 * Savina-style benchmarks (bench/README.md), prints a progress line per run to stderr and a
 * table per benchmark to stdout, and with `--json` writes the report.
 */
import { parseArgs } from 'node:util';
import {
  formatTable,
  machineInfo,
  runSuite,
  scaleCount,
  writeReport,
  type Benchmark,
  type Result,
} from './harness.ts';
import { counting } from './savina/counting.ts';
import { pingpong } from './savina/pingpong.ts';
import { threadring } from './savina/threadring.ts';
import { forkjoinThroughput } from './savina/forkjoin-throughput.ts';
import { forkjoinCreate } from './savina/forkjoin-create.ts';
import { fib } from './savina/fib.ts';
import { chameneos } from './savina/chameneos.ts';
import { big } from './savina/big.ts';
import { concdict } from './savina/concdict.ts';
import { banking } from './savina/banking.ts';
import { spawnMemory } from './savina/spawn-memory.ts';
import { restart } from './savina/restart.ts';

/** Every benchmark, in the order the suite runs them. */
const BENCHMARKS: readonly Benchmark<any>[] = [
  withScale(pingpong, (p, f) => ({ hops: scaleCount(p.hops, f) })),
  withScale(counting, (p, f) => ({ messages: scaleCount(p.messages, f) })),
  withScale(threadring, (p, f) => ({ actors: p.actors, hops: scaleCount(p.hops, f) })),
  forkjoinThroughput,
  withScale(forkjoinCreate, (p, f) => ({ actors: scaleCount(p.actors, f) })),
  fib,
  chameneos,
  big,
  concdict,
  banking,
  withScale(spawnMemory, (p, f) => ({ actors: scaleCount(p.actors, f) })),
  restart,
];

/** The first benchmarks were written before `--scale`: their scaling is given here. */
function withScale<P>(b: Benchmark<P>, scale: (params: P, factor: number) => P): Benchmark<P> {
  return { ...b, scale };
}

/** Measured runs per implementation: full suite, and `--quick`. */
const RUNS = 5;
const QUICK_RUNS = 3;

const USAGE = `usage: npm run bench -- [--only a,b] [--quick] [--scale F] [--json FILE] [--runs N]
  --only a,b   run these benchmarks (${BENCHMARKS.map((b) => b.name).join(', ')})
  --quick      reduced scale (1/10) and ${QUICK_RUNS} runs
  --scale F    multiply each benchmark's work by F (a number > 0; after --quick's reduction)
  --json FILE  write the results as JSON (schema in bench/README.md)
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
}

function parseCli(argv: readonly string[]): Cli | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      scale: { type: 'string' },
      json: { type: 'string' },
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
  return { benchmarks, quick: values.quick, scale, runs, json: values.json };
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
  const machine = machineInfo();
  console.error(
    `troupe bench: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, node ${machine.node}` +
      ` (${cli.quick ? 'quick' : 'full'} scale${cli.scale === 1 ? '' : ` × ${cli.scale}`}, ${cli.runs} runs)`,
  );
  const started = performance.now();
  const results = await runSuite(cli.benchmarks, {
    quick: cli.quick,
    scale: cli.scale,
    runs: cli.runs,
    progress: (line) => console.error(line),
  });
  console.error(`done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  const byBench = (name: string): Result[] => results.filter((r) => r.bench === name);
  console.log(
    cli.benchmarks.map((b) => formatTable(b, cli.quick, byBench(b.name), cli.scale)).join('\n\n'),
  );
  if (cli.json !== undefined) {
    writeReport(cli.json, { machine, results });
    console.error(`\nwrote ${cli.json}`);
  }
  return 0;
}

process.exitCode = await main();
