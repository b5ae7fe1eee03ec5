/**
 * The call board of a sandbox host process: shared memory between the host's main thread,
 * which runs the isolates, and its guard thread (sandbox/guard.ts), which never runs
 * untrusted code and so keeps running when a call cannot be interrupted (a V8 builtin on a
 * huge value: `Array.prototype.indexOf.call({ length: 2 ** 53 - 1 })` ignores isolated-vm's
 * timeout).
 *
 * The main thread marks each call into an isolate: `begin(budgetMs, limit)` before,
 * `end()` after (sandbox/engine.ts calls them), and the batch it is working on: `busy()` /
 * `idle()` (sandbox/host.ts). The guard reads the board without locks: the record is written
 * first and the sequence number last (and read in the other order), so a torn read is seen
 * and skipped. Nothing on the board is trusted by the node: the guard only reports what it
 * reads; the node decides (sandbox/host-watch.ts).
 *
 * Layout (Int32 slots, then Float64 slots in the same SharedArrayBuffer):
 *   SEQ       calls begun so far (the record below belongs to call SEQ)
 *   RUNNING   1 while call SEQ runs
 *   BUSY      1 while a batch of frames is being handled
 *   SLEEPING  1 while the guard sleeps until something runs (the main thread wakes it)
 *   ID        the sandbox (or request) id of the frame being handled
 *   LIMIT     0 cpu, 1 wall: the limit the call's budget comes from
 *   UP        1 once the guard runs (the host serves nothing before: a call is never unseen)
 *   STARTED   when call SEQ began (ms, performance.timeOrigin + performance.now())
 *   BUDGET    the time isolated-vm was given for call SEQ (ms)
 */
import type { SandboxLimitName } from './limits.ts';

const SEQ = 0;
const RUNNING = 1;
const BUSY = 2;
const SLEEPING = 3;
const ID = 4;
const LIMIT = 5;
const UP = 6;
const INTS = 8;
const STARTED = 0;
const BUDGET = 1;
const FLOATS = 2;

/** How often the guard looks at the board while the host works (ms). */
export const GUARD_TICK_MS = 10;
/** The most time between two reports while the host works on a batch (ms). */
export const GUARD_HEARTBEAT_MS = 500;
/** How often the guard checks that its parent is alive (ms). */
export const GUARD_PARENT_POLL_MS = 250;

/** What sandbox/guard.ts is started with. */
export interface GuardData {
  readonly board: SharedArrayBuffer;
  /** Where reports go (the host's fd 4 in mode 'process'); null: no reports. */
  readonly reportFd: number | null;
  /** The pid of the node that started the host. */
  readonly parent: number;
}

/** The limit names a call's budget can come from, by their code on the board. */
const LIMITS: readonly SandboxLimitName[] = ['cpu', 'wall'];

/** Milliseconds on a clock every thread of a process reads alike. */
export function boardNow(): number {
  return performance.timeOrigin + performance.now();
}

/** What the guard read: the call running now, if any. */
export interface RunningCall {
  readonly seq: number;
  readonly id: number;
  readonly elapsedMs: number;
  readonly budgetMs: number;
  readonly limit: SandboxLimitName;
}

/**
 * How long the guard sleeps before it looks at the board again (ms), given the call it just
 * read: GUARD_TICK_MS, cut so that it looks at the moment the call reaches its budget and
 * then at each GUARD_TICK_MS past it (budget + 10, + 20, …), not a tick late. A grace that is
 * a multiple of the tick (the default) is then seen as soon as it is spent.
 */
export function guardNapMs(call: RunningCall | undefined): number {
  if (call === undefined) return GUARD_TICK_MS;
  const over = call.elapsedMs - call.budgetMs;
  if (over < 0) return Math.min(GUARD_TICK_MS, -over);
  return GUARD_TICK_MS - (over % GUARD_TICK_MS);
}

/** Marks the calls of the thread that runs isolates (the engine's side). */
export interface CallWatch {
  begin(budgetMs: number, limit: SandboxLimitName): void;
  end(): void;
}

export class CallBoard implements CallWatch {
  readonly buffer: SharedArrayBuffer;
  readonly #ints: Int32Array;
  readonly #floats: Float64Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(INTS * 4 + FLOATS * 8)) {
    this.buffer = buffer;
    this.#ints = new Int32Array(buffer, 0, INTS);
    this.#floats = new Float64Array(buffer, INTS * 4, FLOATS);
  }

  // ---- the main thread's side ------------------------------------------------------------

  /** The frame being handled is for sandbox (or request) `id`. */
  set id(id: number) {
    Atomics.store(this.#ints, ID, id);
  }

  busy(): void {
    Atomics.store(this.#ints, BUSY, 1);
    this.#wake();
  }

  idle(): void {
    Atomics.store(this.#ints, BUSY, 0);
  }

  begin(budgetMs: number, limit: SandboxLimitName): void {
    const i = this.#ints;
    this.#floats[STARTED] = boardNow();
    this.#floats[BUDGET] = budgetMs;
    Atomics.store(i, LIMIT, limit === 'wall' ? 1 : 0);
    Atomics.store(i, RUNNING, 1);
    Atomics.add(i, SEQ, 1);
    this.#wake();
  }

  end(): void {
    Atomics.store(this.#ints, RUNNING, 0);
  }

  #wake(): void {
    if (Atomics.load(this.#ints, SLEEPING) === 1) Atomics.notify(this.#ints, SLEEPING);
  }

  /** Waits until the guard runs, at most `ms`; whether it does. */
  waitUp(ms: number): boolean {
    Atomics.wait(this.#ints, UP, 0, ms);
    return Atomics.load(this.#ints, UP) === 1;
  }

  // ---- the guard's side ------------------------------------------------------------------

  up(): void {
    Atomics.store(this.#ints, UP, 1);
    Atomics.notify(this.#ints, UP);
  }

  get isBusy(): boolean {
    return Atomics.load(this.#ints, BUSY) === 1 || Atomics.load(this.#ints, RUNNING) === 1;
  }

  /** Sleeps until the main thread starts a batch or a call, at most `ms`. */
  sleep(ms: number): void {
    const i = this.#ints;
    Atomics.store(i, SLEEPING, 1);
    if (!this.isBusy) Atomics.wait(i, SLEEPING, 1, ms);
    Atomics.store(i, SLEEPING, 0);
  }

  /** The call running now (undefined between calls, or when the read was torn). */
  running(): RunningCall | undefined {
    const i = this.#ints;
    const seq = Atomics.load(i, SEQ);
    if (Atomics.load(i, RUNNING) !== 1) return undefined;
    const started = this.#floats[STARTED]!;
    const budgetMs = this.#floats[BUDGET]!;
    const id = Atomics.load(i, ID);
    const limit = LIMITS[Atomics.load(i, LIMIT)] ?? 'cpu';
    if (Atomics.load(i, SEQ) !== seq || Atomics.load(i, RUNNING) !== 1) return undefined;
    return { seq, id, elapsedMs: boardNow() - started, budgetMs, limit };
  }
}

let watch: CallWatch | null = null;

/** Installs the board the engine marks its calls on (the sandbox host process does). */
export function watchCalls(w: CallWatch | null): void {
  watch = w;
}

/** The board of this process, or null (isolates used in-process: tests, the bench). */
export function callWatch(): CallWatch | null {
  return watch;
}
