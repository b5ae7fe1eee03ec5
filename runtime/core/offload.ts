/**
 * Offload: stateless CPU-heavy work (a tool that parses, hashes, embeds, compresses) runs on
 * a piscina pool shared by the node, so that the actor's thread keeps handling messages
 * meanwhile; the result comes back to the actor as a message.
 *
 *   const hash = offloadTask<string, string>(new URL('../hash.ts', import.meta.url), 'sha256');
 *   // in a behaviour:
 *   ctx.offload(hash, text);          // → an id; later the actor receives
 *   // { type: 'troupe.offload.done', id, task, value }  or
 *   // { type: 'troupe.offload.failed', id, task, error } (an OffloadError with its code)
 *
 * A task is a module and one of its exports, `(input) => output | Promise<output>`, run in a
 * pool thread: the input and output are structured-cloned across, so they must be plain data
 * (no functions, no refs). Outside an actor, `system.offload(task, input)` returns a Promise.
 *
 * Limits, each an option of `createSystem({ offload })` with its default:
 * - `maxThreads` (OFFLOAD_MAX_THREADS: the machine's available parallelism): pool threads;
 * - `maxQueue` (OFFLOAD_MAX_QUEUE, 1,000): tasks waiting for a thread; one more fails at once
 *   with ERR_OFFLOAD_QUEUE_FULL (the pool never grows an unbounded backlog);
 * - `timeoutMs` (OFFLOAD_TIMEOUT_MS, 30,000; per task with `{ timeoutMs }`): a task still
 *   running then is aborted (its thread is terminated) and fails with ERR_OFFLOAD_TIMEOUT.
 * When the requesting actor stops, its tasks still in flight are aborted and deliver nothing.
 * A restart does not abort them: the result reaches the restarted actor (it keeps its
 * mailbox). The pool is created on the first task (a system that never offloads starts no
 * thread) and `system.shutdown()` destroys it after the actors have stopped.
 *
 * Why actors live in troupe's own threads (runtime/shards) and not in piscina: piscina picks a
 * free worker for each task and cannot pin one to a thread, while an actor's state, mailbox
 * and timers must stay on one thread between messages. piscina is for work without state.
 * `atomics: 'disabled'`: piscina's default (`sync`) blocks a worker's event loop between
 * tasks, so a task's own timers and promises would stall.
 */
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Piscina } from 'piscina';
import { TroupeError, InvalidOptionError, describe } from './error.ts';
import type { TimerQueue, TimerEntry } from './timers.ts';

/** Pool threads by default: one per core. */
export const OFFLOAD_MAX_THREADS = Math.max(1, availableParallelism());
/** Tasks that may wait for a pool thread. */
export const OFFLOAD_MAX_QUEUE = 1_000;
/** Longest a task may run, in milliseconds. */
export const OFFLOAD_TIMEOUT_MS = 30_000;
/** A pool thread idle this long (ms) is ended; the next task starts one again. */
export const OFFLOAD_IDLE_TIMEOUT_MS = 10_000;

export interface OffloadOptions {
  readonly maxThreads?: number;
  readonly maxQueue?: number;
  readonly timeoutMs?: number;
  readonly idleTimeoutMs?: number;
}

export interface ResolvedOffloadOptions {
  readonly maxThreads: number;
  readonly maxQueue: number;
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number;
}

/** A task: the module's file URL and the export that does the work. */
export interface OffloadTask<I, O> {
  readonly module: string;
  readonly name: string;
  /** Type-only: what the task takes and gives. */
  readonly __io?: (input: I) => O;
}

/**
 * Names a task: `module` is a file URL (usually `new URL('../x.ts', import.meta.url)`) or an
 * absolute path; `name` the export (default `default`). Throws InvalidOptionError for others.
 */
export function offloadTask<I, O>(module: URL | string, name = 'default'): OffloadTask<I, O> {
  let href: string;
  if (module instanceof URL) href = module.href;
  else if (typeof module === 'string' && isAbsolute(module)) href = pathToFileURL(module).href;
  else if (typeof module === 'string' && module.startsWith('file:')) href = module;
  else throw new InvalidOptionError('module', module, 'a file URL or an absolute path');
  if (!href.startsWith('file:'))
    throw new InvalidOptionError('module', module, 'a file URL or an absolute path');
  if (typeof name !== 'string' || name.length === 0)
    throw new InvalidOptionError('name', name, 'the name of an export');
  return { module: href, name };
}

export interface OffloadRunOptions {
  /** This task's limit in milliseconds (default: the system's `offload.timeoutMs`). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface OffloadDone<O> {
  readonly type: 'troupe.offload.done';
  readonly id: number;
  /** `<export> of <module>`. */
  readonly task: string;
  readonly value: O;
}

export interface OffloadFailed {
  readonly type: 'troupe.offload.failed';
  readonly id: number;
  readonly task: string;
  readonly error: OffloadError;
}

/** What an actor receives for `ctx.offload`: put it in the actor's message type. */
export type OffloadResult<O> = OffloadDone<O> | OffloadFailed;

/** Every offload failure: `code` says which. */
export class OffloadError extends TroupeError {
  readonly task: string;
  constructor(code: string, task: string, message: string, options?: { cause?: unknown }) {
    super(code, `offload ${task}: ${message}`, options);
    this.task = task;
  }
}

/** The task threw or rejected (`cause` has the error as it came back from the thread). */
export class OffloadTaskError extends OffloadError {
  constructor(task: string, cause: unknown) {
    super('ERR_OFFLOAD_TASK_FAILED', task, `the task failed: ${messageOf(cause)}`, { cause });
  }
}

/** The task ran past its time limit and was aborted. */
export class OffloadTimeoutError extends OffloadError {
  readonly timeoutMs: number;
  constructor(task: string, timeoutMs: number) {
    super(
      'ERR_OFFLOAD_TIMEOUT',
      task,
      `still running after ${timeoutMs} ms, aborted (raise offload.timeoutMs, or { timeoutMs } for this task)`,
    );
    this.timeoutMs = timeoutMs;
  }
}

/** `maxQueue` tasks were already waiting for a pool thread. */
export class OffloadQueueFullError extends OffloadError {
  readonly maxQueue: number;
  constructor(task: string, maxQueue: number) {
    super(
      'ERR_OFFLOAD_QUEUE_FULL',
      task,
      `${maxQueue} tasks are already waiting for a thread (offload.maxQueue)`,
    );
    this.maxQueue = maxQueue;
  }
}

/** Aborted by its signal, by the requesting actor's stop, or by the system's shutdown. */
export class OffloadAbortedError extends OffloadError {
  constructor(task: string, why: string) {
    super('ERR_OFFLOAD_ABORTED', task, `aborted: ${why}`);
  }
}

/** The input (or the output) cannot be copied to another thread. */
export class OffloadDataError extends OffloadError {
  constructor(task: string, cause: unknown) {
    super(
      'ERR_OFFLOAD_DATA',
      task,
      `the input or output cannot cross threads (plain data only: ${messageOf(cause)})`,
      { cause },
    );
  }
}

function messageOf(e: unknown): string {
  if (!(e instanceof Error)) return describe(e);
  return e.message !== '' ? e.message : (e.stack?.split('\n')[0] ?? e.name);
}

export function labelOf(task: { readonly module: string; readonly name: string }): string {
  return `${task.name} of ${task.module}`;
}

/**
 * What every run checks first, wherever it runs: its label and time limit, or the error it
 * fails with at once (bad options, a closed pool, a signal already aborted).
 */
export function runStart(
  task: { readonly module: string; readonly name: string },
  options: OffloadRunOptions | undefined,
  defaultTimeoutMs: number,
  closed: boolean,
): { readonly label: string; readonly timeoutMs: number } | { readonly error: Error } {
  const label = labelOf(task);
  let timeoutMs: number;
  try {
    timeoutMs = resolveRunTimeout(options, defaultTimeoutMs);
  } catch (e) {
    return { error: e as Error };
  }
  if (closed) return { error: new OffloadAbortedError(label, 'the system has shut down') };
  if (options?.signal?.aborted === true)
    return { error: new OffloadAbortedError(label, 'by its signal') };
  return { label, timeoutMs };
}

/** Validates a task's run options. */
export function resolveRunTimeout(
  options: OffloadRunOptions | undefined,
  fallback: number,
): number {
  if (options === undefined) return fallback;
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', options, 'an object');
  const t = options.timeoutMs;
  if (t === undefined) return fallback;
  if (t !== Infinity && (typeof t !== 'number' || Number.isNaN(t) || t <= 0))
    throw new InvalidOptionError('options.timeoutMs', t, 'a number of milliseconds > 0');
  return t;
}

/** What runs tasks for a system: the node's pool, or a worker shard's link to it. */
export interface Offloads {
  readonly options: ResolvedOffloadOptions;
  /** Whether threads were ever started (or asked for) by this system. */
  readonly started: boolean;
  /** Its tasks not settled yet. */
  readonly inFlight: number;
  run<I, O>(task: OffloadTask<I, O>, input: I, options?: OffloadRunOptions): Promise<O>;
  close(): Promise<void>;
}

/**
 * An OffloadError as plain data, to cross a thread (runtime/shards/offload-link.ts): its
 * code, message, the fields of its class and its cause's name and message.
 */
export interface CrossedOffloadError {
  readonly code: string;
  readonly message: string;
  readonly timeoutMs?: number;
  readonly maxQueue?: number;
  readonly cause?: { readonly name: string; readonly message: string };
}

export function crossOffloadError(e: unknown): CrossedOffloadError {
  const o = e as Partial<OffloadError & OffloadTimeoutError & OffloadQueueFullError>;
  const cause = (e as { cause?: unknown }).cause;
  return {
    code: typeof o.code === 'string' ? o.code : 'ERR_OFFLOAD_TASK_FAILED',
    message: e instanceof Error ? e.message : describe(e),
    ...(typeof o.timeoutMs === 'number' ? { timeoutMs: o.timeoutMs } : {}),
    ...(typeof o.maxQueue === 'number' ? { maxQueue: o.maxQueue } : {}),
    ...(cause instanceof Error ? { cause: { name: cause.name, message: cause.message } } : {}),
  };
}

/** The OffloadError a crossed one stands for, of its class. */
export function reviveOffloadError(label: string, e: CrossedOffloadError): OffloadError {
  const cause =
    e.cause === undefined
      ? undefined
      : Object.assign(new Error(e.cause.message), { name: e.cause.name });
  switch (e.code) {
    case 'ERR_OFFLOAD_TIMEOUT':
      return new OffloadTimeoutError(label, e.timeoutMs ?? NaN);
    case 'ERR_OFFLOAD_QUEUE_FULL':
      return new OffloadQueueFullError(label, e.maxQueue ?? NaN);
    case 'ERR_OFFLOAD_ABORTED':
      return new OffloadAbortedError(label, e.message.replace(/^.*?aborted: /, ''));
    case 'ERR_OFFLOAD_DATA':
      return new OffloadDataError(label, cause ?? new Error(e.message));
    default:
      return new OffloadTaskError(label, cause ?? new Error(e.message));
  }
}

/**
 * The node's pool. `run` resolves with the task's output or rejects with an OffloadError;
 * `close` aborts what is still in flight and ends the threads.
 */
export class OffloadPool implements Offloads {
  readonly options: ResolvedOffloadOptions;
  readonly #timers: TimerQueue;
  #pool: Promise<Piscina> | null = null;
  #closed = false;
  #inFlight = 0;
  /** Tasks handed to piscina and not yet running or settled, as far as we know. */
  readonly #controllers = new Set<AbortController>();

  constructor(options: ResolvedOffloadOptions, timers: TimerQueue) {
    this.options = options;
    this.#timers = timers;
  }

  /** Tasks started and not settled (running or queued). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether a thread pool was ever started. */
  get started(): boolean {
    return this.#pool !== null;
  }

  run<I, O>(task: OffloadTask<I, O>, input: I, options?: OffloadRunOptions): Promise<O> {
    const start = runStart(task, options, this.options.timeoutMs, this.#closed);
    if ('error' in start) return Promise.reject(start.error);
    const { label, timeoutMs } = start;
    // the cap: running tasks take threads, the rest wait; one past maxQueue waiting fails now
    if (this.#inFlight >= this.options.maxThreads + this.options.maxQueue)
      return Promise.reject(new OffloadQueueFullError(label, this.options.maxQueue));
    const controller = new AbortController();
    let why: OffloadError | null = null;
    const outer = options?.signal;
    const onOuterAbort = (): void => {
      why ??= new OffloadAbortedError(label, 'by its signal');
      controller.abort();
    };
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    let timer: TimerEntry | null = null;
    if (timeoutMs !== Infinity)
      timer = this.#timers.schedule(() => {
        timer = null;
        why ??= new OffloadTimeoutError(label, timeoutMs);
        controller.abort();
      }, timeoutMs);
    this.#inFlight++;
    this.#controllers.add(controller);
    const settle = (): void => {
      this.#inFlight--;
      this.#controllers.delete(controller);
      if (timer !== null) this.#timers.cancel(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    };
    return this.#piscina().then(
      (pool) =>
        (
          pool.run(input, {
            filename: task.module,
            name: task.name,
            signal: controller.signal,
          }) as Promise<O>
        ).then(
          (value) => {
            settle();
            return value;
          },
          (error: unknown) => {
            settle();
            throw why ?? this.#failure(label, error, controller.signal.aborted);
          },
        ),
      (error: unknown) => {
        settle();
        throw new OffloadTaskError(label, error);
      },
    );
  }

  /** Aborts every task in flight and ends the threads. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const c of this.#controllers) c.abort();
    if (this.#pool === null) return;
    const pool = await this.#pool;
    await pool.destroy();
  }

  #failure(label: string, error: unknown, aborted: boolean): OffloadError {
    if (aborted || (error instanceof Error && error.name === 'AbortError'))
      return new OffloadAbortedError(label, this.#closed ? 'the system has shut down' : 'aborted');
    // a clone failure in the pool thread (the output) comes back as an Error whose stack
    // names the DOMException
    if (
      error instanceof Error &&
      (error.name === 'DataCloneError' || /^DataCloneError\b/.test(error.stack ?? ''))
    )
      return new OffloadDataError(label, error);
    if (error instanceof Error && /queue is at limit/i.test(error.message))
      return new OffloadQueueFullError(label, this.options.maxQueue);
    return new OffloadTaskError(label, error);
  }

  #piscina(): Promise<Piscina> {
    this.#pool ??= import('piscina').then(
      ({ Piscina }) =>
        new Piscina({
          atomics: 'disabled',
          minThreads: 0,
          maxThreads: this.options.maxThreads,
          maxQueue: this.options.maxQueue,
          idleTimeout:
            this.options.idleTimeoutMs === Infinity ? 2 ** 31 - 1 : this.options.idleTimeoutMs,
        }),
    );
    return this.#pool;
  }
}
