/**
 * One timer structure per system: every ask deadline and every actor timer (XState `after`
 * transitions, delayed sends) is an entry in one binary min-heap ordered by due time, and
 * only the earliest entry holds a real timer of the Clock. Arming or cancelling an entry is
 * O(log n) and allocates one small entry object: no `setTimeout` per ask.
 *
 * Cancelled entries are removed lazily (marked, skipped when they reach the top).
 * Entries due at the same time fire in the order they were armed.
 */
import type { Clock } from './clock.ts';

export class TimerEntry {
  due: number;
  seq: number;
  callback: (() => void) | null;
  constructor(due: number, seq: number, callback: () => void) {
    this.due = due;
    this.seq = seq;
    this.callback = callback;
  }
}

export class TimerQueue {
  readonly clock: Clock;
  private heap: TimerEntry[] = [];
  private seq = 0;
  private armedFor = Infinity;
  private handle: unknown = null;
  private live = 0;
  private closed = false;
  private readonly onFire = (): void => this.fire();

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Number of armed, not yet fired or cancelled entries. */
  get size(): number {
    return this.live;
  }

  /** Arms `callback` to run after `delayMs` (clamped at 0). Returns a handle for cancel(). */
  schedule(callback: () => void, delayMs: number): TimerEntry {
    const due = this.clock.now() + (delayMs > 0 ? delayMs : 0);
    const entry = new TimerEntry(due, this.seq++, callback);
    if (this.closed) {
      entry.callback = null;
      return entry;
    }
    this.push(entry);
    this.live++;
    if (due < this.armedFor) this.arm(due);
    return entry;
  }

  cancel(entry: TimerEntry): void {
    if (entry.callback === null) return;
    entry.callback = null;
    this.live--;
    if (this.live === 0) {
      // nothing live: drop the cancelled entries rather than keep them until they come due
      this.heap = [];
      this.disarm();
    }
  }

  /** Cancels everything and refuses new entries (system shutdown). */
  close(): void {
    this.closed = true;
    for (const e of this.heap) e.callback = null;
    this.heap = [];
    this.live = 0;
    this.disarm();
  }

  private arm(due: number): void {
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.armedFor = due;
    this.handle = this.clock.setTimeout(this.onFire, Math.max(0, due - this.clock.now()));
  }

  private disarm(): void {
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.handle = null;
    this.armedFor = Infinity;
  }

  private fire(): void {
    this.handle = null;
    this.armedFor = Infinity;
    const now = this.clock.now();
    try {
      // a callback may cancel, arm or close: always read this.heap afresh
      while (!this.closed && this.heap.length > 0) {
        const top = this.heap[0]!;
        if (top.callback !== null && top.due > now) break;
        this.pop();
        const cb = top.callback;
        if (cb === null) continue;
        top.callback = null;
        this.live--;
        cb();
      }
    } finally {
      // even when a callback threw, the entries left keep a clock timer
      if (!this.closed) {
        while (this.heap.length > 0 && this.heap[0]!.callback === null) this.pop();
        if (this.heap.length > 0 && this.handle === null) this.arm(this.heap[0]!.due);
      }
    }
  }

  private less(a: TimerEntry, b: TimerEntry): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(e: TimerEntry): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(e, heap[p]!)) break;
      heap[i] = heap[p]!;
      i = p;
    }
    heap[i] = e;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(heap[r]!, heap[l]!) ? r : l;
      if (!this.less(heap[c]!, last)) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
  }
}
