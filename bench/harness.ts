/**
 * The benchmark harness: what a benchmark is, how runs are taken, the statistics, the
 * terminal table and the JSON file.
 *
 * Method, for each benchmark: one warm-up run per implementation (not recorded), then `runs`
 * measured runs interleaved across implementations (raw, troupe:receive, troupe:machine,
 * xstate, then again …), so drift in the machine (thermal, other load) spreads over all of
 * them. Every run starts after a full garbage collection and one event-loop turn. A run that
 * does not finish within RUN_TIMEOUT_MS fails the suite; so does a run whose counts are wrong
 * (each benchmark checks its own, see `expectCount`).
 *
 * Per implementation the result is the median of the runs' msgs/s, with the spread (min,
 * max), the median seconds and the messages per run. Latency percentiles (p50Us, p99Us), for
 * benchmarks that measure them, are the median over the runs of each run's percentile. The
 * JSON schema is in bench/README.md.
 *
 * Scale: `--quick` picks each benchmark's quick params; `--scale F` then multiplies the work
 * with the benchmark's own `scale(params, F)` (see `scaleCount`). A benchmark without `scale`
 * runs unscaled, and its results say `scale: 1`.
 */
import { cpus, availableParallelism, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Implementation ids: a public contract (they appear in the JSON). */
export type ImplId =
  | 'raw'
  | 'troupe:receive'
  | 'troupe:receive@2shards'
  | 'troupe:receive@2shards-partitioned'
  | 'troupe:machine'
  | 'xstate'
  | 'erlang'
  | 'erlang@1'
  | 'troupe:sandboxed'
  | 'troupe:sandboxed@process'
  | 'troupe:pooled'
  | 'troupe:cold'
  | 'troupe:receive@2nodes'
  | 'troupe:receive@3nodes'
  | 'troupe:agent'
  | 'langgraph'
  | 'openai-agents'
  | 'mastra'
  | 'ai-sdk';
/** The order implementations run in, and are listed in. */
export const IMPLS: readonly ImplId[] = [
  'raw',
  'troupe:receive',
  'troupe:receive@2shards',
  'troupe:receive@2shards-partitioned',
  'troupe:machine',
  'xstate',
  'erlang',
  'erlang@1',
  'troupe:sandboxed',
  'troupe:sandboxed@process',
  'troupe:pooled',
  'troupe:cold',
  'troupe:receive@2nodes',
  'troupe:receive@3nodes',
  'troupe:agent',
  'langgraph',
  'openai-agents',
  'mastra',
  'ai-sdk',
];

/** Implementations that are not troupe and are not the `raw` ceiling: the runtimes compared against. */
export const PEER_RUNTIMES: readonly ImplId[] = ['xstate', 'erlang', 'erlang@1'];

/** The fastest peer runtime among `results` (one benchmark's), or undefined when none ran. */
export function bestPeer(results: readonly Result[]): Result | undefined {
  let best: Result | undefined;
  for (const r of results)
    if (PEER_RUNTIMES.includes(r.impl) && (best === undefined || r.msgsPerSec > best.msgsPerSec))
      best = r;
  return best;
}

/**
 * Implementations that start threads (their runs are long: a message between threads costs
 * tens of microseconds of latency): left out of `--quick`, which says so.
 */
export const NOT_IN_QUICK: readonly ImplId[] = [
  'troupe:receive@2shards',
  'troupe:receive@2shards-partitioned',
];

/** Longest one run may take, in milliseconds, before the suite fails. */
export const RUN_TIMEOUT_MS = 120_000;

/** What one run of one implementation measured. */
export interface Sample {
  /** Messages handled in the run (actors, for the spawn benchmarks). */
  readonly messages: number;
  /** Wall time of the measured part, in seconds. */
  readonly seconds: number;
  /** Heap bytes per actor (spawn-memory). */
  readonly bytesPerActor?: number;
  /** Latency percentiles of the run, in microseconds (restart, ask-rtt, gateway-fanout); see `percentile`. */
  readonly p50Us?: number;
  readonly p99Us?: number;
  /**
   * Counts a benchmark reports beside its rate (gateway-fanout: coalesced, dropped…): each
   * goes into `extra` as the median over the runs, and per run as `<name>Runs`.
   */
  readonly counts?: Readonly<Record<string, number>>;
  /**
   * Why the run failed, for a benchmark whose implementations may fail without failing the
   * suite (the agent benches' peers): a result with a failed run has msgs/s 0 and the first
   * failure's text in `extra.error`.
   */
  readonly error?: string;
}

export type Impl<P> = (params: P) => Sample | Promise<Sample>;

export interface Benchmark<P> {
  /** Its id (`--only`, the JSON's `bench`). */
  readonly name: string;
  /** One line: what it does, for the table's heading; `describe(params)`. */
  describe(params: P): string;
  /** What msgs/s counts here: `msgs/s` or `actors/s`. */
  readonly unit: string;
  /** Full scale, and the `--quick` one. */
  readonly params: { readonly full: P; readonly quick: P };
  /**
   * `--scale F`: the params with their work multiplied by `factor` (> 0): message and actor
   * counts, usually with `scaleCount`; structural params (a ring's size) may stay fixed.
   */
  scale?(params: P, factor: number): P;
  readonly impls: Partial<Record<ImplId, Impl<P>>>;
}

export interface Result {
  readonly bench: string;
  readonly impl: ImplId;
  readonly messages: number;
  readonly seconds: number;
  readonly msgsPerSec: number;
  readonly min: number;
  readonly max: number;
  readonly bytesPerActor?: number;
  readonly p50Us?: number;
  readonly p99Us?: number;
  readonly extra?: Record<string, unknown>;
}

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly node: string;
  readonly platform: string;
  readonly arch: string;
  readonly v8: string;
  readonly xstate: string;
  /** The Erlang/OTP version of the `erlang` peers (e.g. "25.2.3"), when `erl` is on the PATH. */
  readonly otp?: string;
  /** Its runtime system (ERTS) version. */
  readonly erts?: string;
}

export interface Report {
  /** When the suite ran (ISO 8601). */
  readonly date?: string;
  readonly machine: MachineInfo;
  readonly results: readonly Result[];
}

export interface SuiteOptions {
  readonly quick: boolean;
  /** `--scale`: multiplies each benchmark's work (default 1: as defined). */
  readonly scale?: number;
  /** Measured runs per implementation. */
  readonly runs: number;
  /** A progress line per run (stderr). */
  readonly progress: (line: string) => void;
}

/** A benchmark's count was wrong: the run lost or invented messages. */
export class WrongCountError extends Error {
  readonly code = 'ERR_BENCH_WRONG_COUNT';
  constructor(what: string, got: unknown, expected: number) {
    super(`${what}: got ${String(got)}, expected ${expected}; the run lost messages`);
  }
}

/** Throws WrongCountError unless `got === expected`. */
export function expectCount(what: string, got: unknown, expected: number): void {
  if (got !== expected) throw new WrongCountError(what, got, expected);
}

/** `count` × `factor`, rounded, at least `min` (default 1): a message or actor count, scaled. */
export function scaleCount(count: number, factor: number, min = 1): number {
  return Math.max(min, Math.round(count * factor));
}

/**
 * The `p`-th percentile (0 < p ≤ 100) of `xs` by the nearest-rank method: the smallest value
 * with at least p% of the values at or below it. Sorts `xs` in place (pass a copy to keep it).
 */
export function percentile(xs: Float64Array | number[], p: number): number {
  if (xs.length === 0) throw new Error('percentile of no values');
  xs.sort((a, b) => a - b);
  return xs[Math.min(xs.length, Math.max(1, Math.ceil((p / 100) * xs.length))) - 1]!;
}

/** Seconds since `t0` (a performance.now() reading). */
export function secondsSince(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/** A full garbage collection (needs node --expose-gc; `npm run bench` passes it). */
export function collectGarbage(): void {
  const gc = globalThis.gc;
  if (typeof gc !== 'function')
    throw new Error(
      'the benchmarks need global.gc(): run them with node --expose-gc bench/main.ts',
    );
  gc();
}

/** heapUsed after a full collection, in bytes. */
export function heapAfterGc(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

export function machineInfo(): MachineInfo {
  const require = createRequire(import.meta.url);
  const xstate = require('xstate/package.json') as { version: string };
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    v8: process.versions.v8,
    xstate: xstate.version,
  };
}

/** Runs the benchmarks in order; resolves with one result per (benchmark, implementation). */
export async function runSuite(
  benchmarks: readonly Benchmark<any>[],
  options: SuiteOptions,
): Promise<Result[]> {
  const results: Result[] = [];
  for (const b of benchmarks) results.push(...(await runBenchmark(b, options)));
  return results;
}

/** The params a benchmark runs with, and the scale actually applied to them. */
export function paramsOf<P>(
  b: Benchmark<P>,
  quick: boolean,
  scale: number,
): { readonly params: P; readonly scale: number } {
  const base = quick ? b.params.quick : b.params.full;
  if (scale === 1 || b.scale === undefined) return { params: base, scale: 1 };
  return { params: b.scale(base, scale), scale };
}

async function runBenchmark<P>(b: Benchmark<P>, options: SuiteOptions): Promise<Result[]> {
  const wanted = options.scale ?? 1;
  const { params, scale } = paramsOf(b, options.quick, wanted);
  if (scale !== wanted)
    options.progress(
      `${b.name}: cannot be scaled, runs at its ${options.quick ? 'quick' : 'full'} params`,
    );
  const impls = IMPLS.filter(
    (id) => b.impls[id] !== undefined && !(options.quick && NOT_IN_QUICK.includes(id)),
  );
  const samples = new Map<ImplId, Sample[]>(impls.map((id) => [id, []]));
  for (const id of impls) {
    const s = await runOnce(b, id, params);
    options.progress(progressLine(b, id, 'warm-up', s));
  }
  for (let r = 1; r <= options.runs; r++) {
    for (const id of impls) {
      const s = await runOnce(b, id, params);
      samples.get(id)!.push(s);
      options.progress(progressLine(b, id, `run ${r}/${options.runs}`, s));
    }
  }
  return impls.map((id) => summarise(b.name, id, samples.get(id)!, options.quick, scale));
}

async function runOnce<P>(b: Benchmark<P>, id: ImplId, params: P): Promise<Sample> {
  collectGarbage();
  await nextTurn();
  const impl = b.impls[id]!;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${b.name} ${id}: no result within ${RUN_TIMEOUT_MS} ms`)),
      RUN_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([Promise.resolve().then(() => impl(params)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function progressLine(b: Benchmark<any>, id: ImplId, label: string, s: Sample): string {
  const rate = formatRate(s.messages / s.seconds);
  const mem = s.bytesPerActor === undefined ? '' : `  ${Math.round(s.bytesPerActor)} B/actor`;
  const lat =
    s.p50Us === undefined || s.p99Us === undefined
      ? ''
      : `  p50 ${formatUs(s.p50Us)} µs, p99 ${formatUs(s.p99Us)} µs`;
  const failed = s.error === undefined ? '' : `  FAILED: ${s.error}`;
  return `${b.name.padEnd(19)} ${id.padEnd(15)} ${label.padEnd(8)} ${rate} ${b.unit} (${s.seconds.toFixed(3)} s)${mem}${lat}${failed}`;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function summarise(
  bench: string,
  impl: ImplId,
  samples: readonly Sample[],
  quick: boolean,
  scale: number,
): Result {
  const failed = samples.filter((s) => s.error !== undefined);
  if (failed.length > 0) {
    const extra = {
      runs: samples.length,
      quick,
      scale,
      error: failed[0]!.error,
      failedRuns: failed.length,
    };
    return { bench, impl, messages: 0, seconds: 0, msgsPerSec: 0, min: 0, max: 0, extra };
  }
  const messages = samples[0]!.messages;
  for (const s of samples) expectCount(`${bench} ${impl}: messages per run`, s.messages, messages);
  const rates = samples.map((s) => s.messages / s.seconds);
  const bytes = samples.flatMap((s) => (s.bytesPerActor === undefined ? [] : [s.bytesPerActor]));
  const p50s = samples.flatMap((s) => (s.p50Us === undefined ? [] : [s.p50Us]));
  const p99s = samples.flatMap((s) => (s.p99Us === undefined ? [] : [s.p99Us]));
  const extra: Record<string, unknown> = {
    runs: samples.length,
    quick,
    scale,
    msgsPerSecRuns: rates.map(Math.round),
  };
  if (bytes.length > 0) {
    extra.bytesPerActorMin = Math.round(Math.min(...bytes));
    extra.bytesPerActorMax = Math.round(Math.max(...bytes));
  }
  for (const key of Object.keys(samples[0]!.counts ?? {})) {
    const runs = samples.map((s) => s.counts?.[key] ?? 0);
    extra[key] = median(runs);
    extra[`${key}Runs`] = runs;
  }
  if (p50s.length > 0) extra.p50UsRuns = p50s.map(roundUs);
  if (p99s.length > 0) extra.p99UsRuns = p99s.map(roundUs);
  return {
    bench,
    impl,
    messages,
    seconds: median(samples.map((s) => s.seconds)),
    msgsPerSec: Math.round(median(rates)),
    min: Math.round(Math.min(...rates)),
    max: Math.round(Math.max(...rates)),
    ...(bytes.length > 0 ? { bytesPerActor: Math.round(median(bytes)) } : {}),
    ...(p50s.length > 0 ? { p50Us: roundUs(median(p50s)) } : {}),
    ...(p99s.length > 0 ? { p99Us: roundUs(median(p99s)) } : {}),
    extra,
  };
}

/** Microseconds to 0.1 µs. */
function roundUs(us: number): number {
  return Math.round(us * 10) / 10;
}

// ---- output -------------------------------------------------------------------------------

/** 12345678 → "12.35 M" (millions, two decimals; three significant digits below 0.1 M). */
function formatRate(perSec: number): string {
  return `${formatMillions(perSec)} M`;
}

function formatMillions(perSec: number): string {
  const m = perSec / 1e6;
  return m >= 0.1 || m === 0 ? m.toFixed(2) : m.toPrecision(3);
}

function formatUs(us: number): string {
  return us < 100 ? us.toFixed(1) : Math.round(us).toString();
}

function formatRatio(r: number): string {
  return `${r >= 0.1 ? r.toFixed(2) : r.toFixed(3)}×`;
}

/**
 * The terminal table for one benchmark's results (`scale`: the `--scale` factor, default 1):
 * each implementation's rate, its spread, its ratio to `raw` (the ceiling) and to the best
 * peer runtime of this benchmark (the fastest of xstate, erlang, erlang@1; `bestPeer`).
 */
export function formatTable(
  b: Benchmark<any>,
  quick: boolean,
  results: readonly Result[],
  scale = 1,
): string {
  const { params, scale: applied } = paramsOf(b, quick, scale);
  const raw = results.find((r) => r.impl === 'raw');
  const peer = bestPeer(results);
  const withMemory = results.some((r) => r.bytesPerActor !== undefined);
  const withLatency = results.some((r) => r.p50Us !== undefined || r.p99Us !== undefined);
  const runs = results[0]?.extra?.runs;
  const rows: string[][] = [
    [
      'impl',
      b.unit,
      'min–max',
      'vs raw',
      ...(peer === undefined ? [] : [`vs ${peer.impl}`]),
      ...(withMemory ? ['bytes/actor'] : []),
      ...(withLatency ? ['p50 µs', 'p99 µs'] : []),
    ],
  ];
  const us = (v: number | undefined) => (v === undefined ? '–' : formatUs(v));
  for (const r of results) {
    rows.push([
      r.impl,
      `${formatRate(r.msgsPerSec)}/s`,
      `${formatMillions(r.min)}–${formatMillions(r.max)} M/s`,
      raw === undefined ? '–' : formatRatio(r.msgsPerSec / raw.msgsPerSec),
      ...(peer === undefined ? [] : [formatRatio(r.msgsPerSec / peer.msgsPerSec)]),
      ...(withMemory ? [r.bytesPerActor === undefined ? '–' : String(r.bytesPerActor)] : []),
      ...(withLatency ? [us(r.p50Us), us(r.p99Us)] : []),
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const scaled = applied === 1 ? '' : `, scale ${applied}`;
  const lines = [`${b.name}: ${b.describe(params)} (median of ${String(runs)} runs${scaled})`];
  for (const row of rows)
    lines.push(
      '  ' +
        row
          .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
          .join('   '),
    );
  const machine = results.find((r) => r.impl === 'troupe:machine');
  const xstate = results.find((r) => r.impl === 'xstate');
  if (machine !== undefined && xstate !== undefined)
    lines.push(`  troupe:machine / xstate: ${formatRatio(machine.msgsPerSec / xstate.msgsPerSec)}`);
  return lines.join('\n');
}

/** Writes the report as JSON (the schema in bench/README.md), creating the folder. */
export function writeReport(file: string, report: Report): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
}
