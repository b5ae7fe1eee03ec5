/**
 * The scheduler: one per thread. A run queue (a ring buffer) of actors that have work; each
 * turn takes them in order and lets each handle at most `throughput` messages (fairness),
 * requeueing those with more. After `timeSliceMs` of work it yields to the event loop
 * (setImmediate) so timers and sockets are never starved; otherwise a turn is started as a
 * microtask, right after the code that sent the first message.
 *
 * The scheduler allocates nothing per message or per actor batch: the queue grows by
 * doubling and is reused.
 */
import type { Clock } from './clock.ts';

export interface Runnable {
  process(): void;
}

/** Actor batches between two reads of the clock. */
const CLOCK_CHECK_EVERY = 128;

export class Scheduler {
  private buf: (Runnable | undefined)[] = new Array<Runnable | undefined>(64);
  private head = 0;
  private size = 0;
  private pending = false;
  private running = false;
  private readonly clock: Clock;
  private readonly timeSliceMs: number;
  private readonly beforeTurn: () => void;
  /** Turns run so far (for tools). */
  turns = 0;

  constructor(clock: Clock, timeSliceMs: number, beforeTurn: () => void) {
    this.clock = clock;
    this.timeSliceMs = timeSliceMs;
    this.beforeTurn = beforeTurn;
  }

  /** Actors waiting for a turn. */
  get queued(): number {
    return this.size;
  }

  /** No actor has work and no turn is pending. */
  get idle(): boolean {
    return this.size === 0 && !this.pending && !this.running;
  }

  enqueue(r: Runnable): void {
    let buf = this.buf;
    if (this.size === buf.length) buf = this.grow();
    buf[(this.head + this.size) & (buf.length - 1)] = r;
    this.size++;
    if (!this.pending && !this.running) {
      this.pending = true;
      queueMicrotask(this.turn);
    }
  }

  private readonly turn = (): void => {
    this.pending = false;
    this.running = true;
    this.turns++;
    this.beforeTurn();
    const clock = this.clock;
    const deadline = clock.now() + this.timeSliceMs;
    let k = 0;
    try {
      while (this.size > 0) {
        const buf = this.buf;
        const i = this.head;
        const r = buf[i]!;
        buf[i] = undefined;
        this.head = (i + 1) & (buf.length - 1);
        this.size--;
        r.process();
        if (++k === CLOCK_CHECK_EVERY) {
          k = 0;
          if (clock.now() >= deadline) break;
        }
      }
    } finally {
      this.running = false;
      if (this.size > 0 && !this.pending) {
        this.pending = true;
        setImmediate(this.turn);
      }
    }
  };

  private grow(): (Runnable | undefined)[] {
    const old = this.buf;
    const next = new Array<Runnable | undefined>(old.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.head = 0;
    this.buf = next;
    return next;
  }
}
