/**
 * What a crash child (bench/agents/crash/main.ts) is given, and how it reports: the
 * contract between bench/agents/crash.ts, which starts, kills and restarts the child, and
 * each framework's crash module here.
 *
 * Execution `i` (0 ≤ i < executions) is one task, `taskInput(i)`, started `i × staggerMs`
 * after the child starts. Its tool is unsafe: each run appends the line `<i>` to the effects
 * file (`effect(i)`, synchronous, before the tool returns), so a tool run repeated after the
 * restart shows as a second line. Each execution the child sees finished (the script's
 * answer in hand) appends `<i>` to the done file of its phase (`done(i)`).
 */
import { appendFileSync } from 'node:fs';

export type CrashPhase = 'start' | 'resume';

export interface CrashContext {
  /** The mock model server, `http://127.0.0.1:<port>` (OpenAI clients take `url + '/v1'`). */
  readonly url: string;
  readonly executions: number;
  readonly staggerMs: number;
  /** Unique to this bench run: a key prefix, a schema or thread id namespace. */
  readonly runId: string;
  /** How long `resume` may wait for executions to finish before it gives up on them. */
  readonly resumeTimeoutMs: number;
  /** The unsafe tool's effect: one line in the effects file. */
  effect(execution: number | undefined): void;
  /**
   * Execution `i` finished, as seen by this phase (a string when the framework names the
   * execution by its own run id: a recovered run was unfinished at the kill by definition).
   */
  done(execution: number | string): void;
}

/** One framework's crash module. */
export interface CrashPeer {
  /** Runs every execution to its end (the parent kills the process before it gets there). */
  start(ctx: CrashContext): Promise<void>;
  /** In a fresh process: finishes what the durable option kept; resolves when it gave up or all finished. */
  resume(ctx: CrashContext): Promise<void>;
  /** Removes what the run stored (its schema, its keys); called by the parent after the run. */
  clean?(runId: string): Promise<void>;
  /** What the framework does at a crash, one line for the results (`extra.durable`). */
  readonly durable: string;
}

export function fileContext(
  options: Omit<CrashContext, 'effect' | 'done'>,
  effectsFile: string,
  doneFile: string,
): CrashContext {
  return {
    ...options,
    effect: (i) => appendFileSync(effectsFile, `${i ?? '?'}\n`),
    done: (i) => appendFileSync(doneFile, `${i}\n`),
  };
}

/** Waits `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `run(i)` for every execution, execution i started i × staggerMs after the first. */
export async function staggered(
  ctx: CrashContext,
  run: (i: number) => Promise<void>,
): Promise<void> {
  const all: Promise<void>[] = [];
  for (let i = 0; i < ctx.executions; i++) {
    if (i > 0 && ctx.staggerMs > 0) await sleep(ctx.staggerMs);
    all.push(run(i));
  }
  await Promise.all(all);
}
