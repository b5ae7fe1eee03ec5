/**
 * The scheduler: one per thread. A run queue (a ring buffer) of actors that have work; each
 * turn takes them in order and lets each handle at most `throughput` messages (a batch:
 * fairness between actors), requeueing those with more. A turn is started as a microtask,
 * right after the code that sent the first message.
 *
 * Fairness to the event loop. The work between two of the event loop's turns is a
 * **slice**: it starts with the first turn after the scheduler's last macrotask and ends
 * when `timeSliceMs` have passed since that start, or when MAX_BATCHES_PER_SLICE batches
 * have run in it, whichever comes first. Then the scheduler yields (setImmediate): timers,
 * I/O and everything else on the event loop run before the next batch, which starts the
 * next slice. The bound is on the time since the last macrotask, not on one turn: an actor
 * whose async work resolves at once (it tells itself from a promise continuation, as an
 * agent whose model and tools answer immediately) starts turn after turn from microtasks,
 * which the event loop cannot interrupt; a turn that finds the slice spent runs nothing and
 * leaves the work to the macrotask. Each slice arms one setImmediate when it starts (that is
 * how the scheduler learns that the event loop has run): it runs the next turn when work is
 * left, else it only ends the slice. With `timeSliceMs` 0 a slice is one interval between
 * clock reads (see below), at least one batch.
 *
 * The clock is read at the start of each turn and then every `checkEvery` batches, which
 * adapts: aiming at CLOCK_READS_PER_SLICE reads per slice, it shrinks in proportion as soon
 * as batches turn out slow, and doubles (up to CLOCK_CHECK_MAX_BATCHES) while they are fast.
 * One-message batches (tens of nanoseconds, about what a clock read costs) are read every
 * 128 batches; slow ones at each. A slice can overrun its end by one interval between
 * reads: one batch when batches are slow; when they suddenly turn slow, up to 128 batches,
 * once, before the interval adapts.
 *
 * Nothing is allocated per message or per batch: the queue grows by doubling and is reused;
 * the turn and the macrotask callback are bound once; the one Immediate is per slice.
 */
import type { Clock } from './clock.ts';

export interface Runnable {
  process(): void;
}

/** Most actor batches between two reads of the clock (when batches are short). */
export const CLOCK_CHECK_MAX_BATCHES = 128;
/** Reads of the clock aimed at per time slice; the batches between reads adapt to it. */
export const CLOCK_READS_PER_SLICE = 8;
/**
 * Most actor batches in one slice, whatever the clock says: the slice ends at this count even
 * when time does not move (a simulated clock, a clock that only advances on timers). About
 * 2.5 ms of one-message batches; far more than a slice of full batches.
 */
export const MAX_BATCHES_PER_SLICE = 65_536;

export class Scheduler {
  private buf: (Runnable | undefined)[] = new Array<Runnable | undefined>(64);
  private head = 0;
  private size = 0;
  /** A turn is due: queued as a microtask, or left to the slice's macrotask. */
  private pending = false;
  private running = false;
  /** A slice is in progress; its macrotask (`endSlice`) is armed. */
  private inSlice = false;
  /** When the slice in progress started (clock ms). */
  private sliceStart = 0;
  /** Batches run in the slice in progress, counted at each clock read and turn end. */
  private sliceBatches = 0;
  /** Batches between two clock reads (1 … CLOCK_CHECK_MAX_BATCHES), adapted. */
  private checkEvery = 1;
  private readonly clock: Clock;
  private readonly timeSliceMs: number;
  /** Time between two clock reads aimed at, in ms. */
  private readonly readIntervalMs: number;
  private readonly beforeTurn: () => void;
  /** Turns run so far (for tools). */
  turns = 0;

  constructor(clock: Clock, timeSliceMs: number, beforeTurn: () => void) {
    this.clock = clock;
    this.timeSliceMs = timeSliceMs;
    this.readIntervalMs = timeSliceMs / CLOCK_READS_PER_SLICE;
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

  /** A turn started from a microtask: in the slice in progress, or the first of a new one. */
  private readonly turn = (): void => {
    this.pending = false;
    const now = this.clock.now();
    if (!this.inSlice) this.startSlice(now);
    else if (
      now - this.sliceStart >= this.timeSliceMs ||
      this.sliceBatches >= MAX_BATCHES_PER_SLICE
    ) {
      this.pending = true; // the slice is spent: its macrotask runs the turn
      return;
    }
    this.run(now);
  };

  /** The slice's macrotask: the event loop has run; the next turn starts a new slice. */
  private readonly endSlice = (): void => {
    this.inSlice = false;
    if (!this.pending) return;
    this.pending = false;
    const now = this.clock.now();
    this.startSlice(now);
    this.run(now);
  };

  private startSlice(now: number): void {
    this.inSlice = true;
    this.sliceStart = now;
    this.sliceBatches = 0;
    setImmediate(this.endSlice);
  }

  /** Runs batches until the queue is empty or the slice is spent. `now`: the clock, just read. */
  private run(now: number): void {
    this.running = true;
    this.turns++;
    this.beforeTurn();
    const clock = this.clock;
    const deadline = this.sliceStart + this.timeSliceMs;
    let every = this.checkEvery;
    let k = 0;
    let last = now;
    try {
      while (this.size > 0) {
        const buf = this.buf;
        const i = this.head;
        const r = buf[i]!;
        buf[i] = undefined;
        this.head = (i + 1) & (buf.length - 1);
        this.size--;
        r.process();
        if (++k >= every) {
          this.sliceBatches += k;
          k = 0;
          const t = clock.now();
          every = this.adapt(every, t - last);
          last = t;
          if (t >= deadline || this.sliceBatches >= MAX_BATCHES_PER_SLICE) break;
        }
      }
    } finally {
      this.sliceBatches += k;
      this.checkEvery = every;
      this.running = false;
      // work left: the slice is spent (or a batch threw); the slice's macrotask runs the rest
      if (this.size > 0) this.pending = true;
    }
  }

  /** The batches between clock reads, given that the last `every` took `elapsedMs`. */
  private adapt(every: number, elapsedMs: number): number {
    const target = this.readIntervalMs;
    if (elapsedMs > target) return Math.max(1, Math.floor((every * target) / elapsedMs));
    if (elapsedMs * 2 < target && every < CLOCK_CHECK_MAX_BATCHES)
      return Math.min(CLOCK_CHECK_MAX_BATCHES, every * 2);
    return every;
  }

  private grow(): (Runnable | undefined)[] {
    const old = this.buf;
    const next = new Array<Runnable | undefined>(old.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.head = 0;
    this.buf = next;
    return next;
  }
}
