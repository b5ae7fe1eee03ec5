/**
 * A simulated clock: time moves only when a test says so. Timers armed through it fire in
 * due order during `advance(ms)`; between timers the actors' work runs to idle, so a test
 * reads as a timeline: "after 1,000 ms the machine is in `done`", with no sleeps.
 *
 * The scheduler's turns still run on the event loop (as microtasks and immediates); only
 * time is simulated.
 */
import type { Clock } from '../core/index.ts';

interface SimTimer {
  due: number;
  seq: number;
  callback: (() => void) | null;
}

export class SimulatedClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: SimTimer[] = [];

  /** `start`: the initial time, epoch ms (default 1,700,000,000,000 — any fixed value works). */
  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, delayMs: number): unknown {
    const t: SimTimer = { due: this.time + Math.max(0, delayMs), seq: this.seq++, callback };
    this.timers.push(t);
    return t;
  }

  clearTimeout(handle: unknown): void {
    const t = handle as SimTimer;
    t.callback = null;
    this.timers = this.timers.filter((x) => x !== t);
  }

  /** Due time of the earliest armed timer, if any. */
  nextDue(): number | undefined {
    return this.earliest()?.due;
  }

  /** Timers armed and not yet fired. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing each timer at its due time; `settle` runs between timers. */
  async advance(ms: number, settle: () => Promise<void> = nextTurn): Promise<void> {
    const end = this.time + ms;
    await settle();
    for (;;) {
      const next = this.earliest();
      if (next === undefined || next.due > end) break;
      this.time = Math.max(this.time, next.due);
      this.timers = this.timers.filter((x) => x !== next);
      const cb = next.callback;
      next.callback = null;
      cb?.();
      await settle();
    }
    this.time = end;
    await settle();
  }

  private earliest(): SimTimer | undefined {
    let best: SimTimer | undefined;
    for (const t of this.timers)
      if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq))
        best = t;
    return best;
  }
}

/** Lets queued microtasks and one round of immediates run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
