/**
 * `npm run bench -- [--only a,b] [--quick] [--json FILE] [--runs N]`: runs the Savina-style
 * benchmarks (bench/README.md), prints a progress line per run to stderr and a table per
 * benchmark to stdout, and with `--json` writes the report.
 */
import { parseArgs } from 'node:util';
import {
  formatTable,
  machineInfo,
  runSuite,
  writeReport,
  type Benchmark,
  type Result,
} from './harness.ts';
import { counting } from './savina/counting.ts';
import { pingpong } from './savina/pingpong.ts';
import { threadring } from './savina/threadring.ts';
import { forkjoinCreate } from './savina/forkjoin-create.ts';
import { spawnMemory } from './savina/spawn-memory.ts';

/** Every benchmark, in the order the suite runs them. */
const BENCHMARKS: readonly Benchmark<any>[] = [
  counting,
  pingpong,
  threadring,
  forkjoinCreate,
  spawnMemory,
];

/** Measured runs per implementation: full suite, and `--quick`. */
const RUNS = 5;
const QUICK_RUNS = 3;

const USAGE = `usage: npm run bench -- [--only a,b] [--quick] [--json FILE] [--runs N]
  --only a,b   run these benchmarks (${BENCHMARKS.map((b) => b.name).join(', ')})
  --quick      reduced scale (1/10) and ${QUICK_RUNS} runs
  --json FILE  write the results as JSON (schema in bench/README.md)
  --runs N     measured runs per implementation (default ${RUNS}, --quick ${QUICK_RUNS})`;

class UsageError extends Error {
  readonly code = 'ERR_BENCH_USAGE';
}

interface Cli {
  readonly benchmarks: readonly Benchmark<any>[];
  readonly quick: boolean;
  readonly runs: number;
  readonly json: string | undefined;
}

function parseCli(argv: readonly string[]): Cli | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
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
  return { benchmarks, quick: values.quick, runs, json: values.json };
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
      ` (${cli.quick ? 'quick' : 'full'} scale, ${cli.runs} runs)`,
  );
  const started = performance.now();
  const results = await runSuite(cli.benchmarks, {
    quick: cli.quick,
    runs: cli.runs,
    progress: (line) => console.error(line),
  });
  console.error(`done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  const byBench = (name: string): Result[] => results.filter((r) => r.bench === name);
  console.log(cli.benchmarks.map((b) => formatTable(b, cli.quick, byBench(b.name))).join('\n\n'));
  if (cli.json !== undefined) {
    writeReport(cli.json, { machine, results });
    console.error(`\nwrote ${cli.json}`);
  }
  return 0;
}

process.exitCode = await main();
