/**
 * The shared memory between a thread that calls its sandbox host synchronously (mode
 * 'thread', sandbox/sync-link.ts) and its watchdog thread (sandbox/sync-watchdog.ts).
 *
 * The caller writes the deadline and the phase, then raises ACTIVE and bumps SEQ, and wakes
 * the watchdog only when the new deadline comes before the time the watchdog sleeps until
 * (WAKE_AT): calls that follow each other do not wake it; it lowers ACTIVE when the call is
 * over. The watchdog sets VERDICT to the SEQ of a call it killed the host for, and UP once it
 * runs. Times are whole milliseconds on boardNow()'s clock.
 */
import { boardNow } from './board.ts';

const SEQ = 0;
const ACTIVE = 1;
const PID = 2;
const VERDICT = 3;
const PHASE = 4;
const UP = 5;
const INTS = 8;
const DEADLINE = 0;
const WAKE_AT = 1;
const TIMES = 2;

/** What a watched call is doing: answering a frame, or starting the host (opening FIFOs). */
export type SyncPhase = 'call' | 'start';

export class SyncWatchBoard {
  readonly buffer: SharedArrayBuffer;
  readonly #ints: Int32Array;
  readonly #times: BigInt64Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(INTS * 4 + TIMES * 8)) {
    this.buffer = buffer;
    this.#ints = new Int32Array(buffer, 0, INTS);
    this.#times = new BigInt64Array(buffer, INTS * 4, TIMES);
  }

  // ---- the caller's side -----------------------------------------------------------------

  /** The host the watchdog kills (0: none). */
  set pid(pid: number) {
    Atomics.store(this.#ints, PID, pid);
  }

  /** A call begins; it may run `ms` (its budget and the grace). Returns its sequence number. */
  begin(ms: number, phase: SyncPhase): number {
    const i = this.#ints;
    const deadline = BigInt(Math.ceil(boardNow() + ms));
    Atomics.store(this.#times, DEADLINE, deadline);
    Atomics.store(i, PHASE, phase === 'start' ? 1 : 0);
    Atomics.store(i, ACTIVE, 1);
    const seq = Atomics.add(i, SEQ, 1) + 1;
    if (deadline < Atomics.load(this.#times, WAKE_AT) || phase === 'start') Atomics.notify(i, SEQ);
    return seq;
  }

  end(): void {
    Atomics.store(this.#ints, ACTIVE, 0);
  }

  /** Whether the watchdog killed the host for call `seq`. */
  judged(seq: number): boolean {
    return Atomics.load(this.#ints, VERDICT) === seq;
  }

  /** Waits until the watchdog runs, at most `ms`; whether it does. */
  waitUp(ms: number): boolean {
    Atomics.wait(this.#ints, UP, 0, ms);
    return Atomics.load(this.#ints, UP) === 1;
  }

  // ---- the watchdog's side ---------------------------------------------------------------

  up(): void {
    Atomics.store(this.#ints, UP, 1);
    Atomics.notify(this.#ints, UP);
  }

  get seq(): number {
    return Atomics.load(this.#ints, SEQ);
  }

  get active(): boolean {
    return Atomics.load(this.#ints, ACTIVE) === 1;
  }

  get starting(): boolean {
    return Atomics.load(this.#ints, PHASE) === 1;
  }

  get watchedPid(): number {
    return Atomics.load(this.#ints, PID);
  }

  /** Time left to the current call's deadline (ms). */
  get left(): number {
    return Number(Atomics.load(this.#times, DEADLINE)) - boardNow();
  }

  /** Sleeps `ms`, or until a call begins after `seq` whose deadline comes sooner. */
  sleep(seq: number, ms: number): void {
    Atomics.store(this.#times, WAKE_AT, BigInt(Math.floor(boardNow() + ms)));
    Atomics.wait(this.#ints, SEQ, seq, ms);
    Atomics.store(this.#times, WAKE_AT, 0n);
  }

  convict(seq: number): void {
    Atomics.store(this.#ints, VERDICT, seq);
  }
}
