import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TimerQueue, type TimerEntry } from '../../runtime/core/timers.ts';
import type { Clock } from '../../runtime/core/clock.ts';

interface FakeTimer {
  readonly id: number;
  readonly due: number;
  readonly callback: () => void;
}

/**
 * A clock that only moves when told, and counts what the queue asks of it. Its timers fire
 * in due order during advance(), with now() set to each timer's due time as it fires.
 */
class FakeClock implements Clock {
  time = 1_000;
  setTimeoutCalls = 0;
  clearTimeoutCalls = 0;
  /** The most timers pending at the same time, ever. */
  maxPending = 0;
  private nextId = 1;
  private readonly pending = new Map<number, FakeTimer>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, delayMs: number): unknown {
    this.setTimeoutCalls++;
    const id = this.nextId++;
    this.pending.set(id, { id, due: this.time + delayMs, callback });
    this.maxPending = Math.max(this.maxPending, this.pending.size);
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.clearTimeoutCalls++;
    this.pending.delete(handle as number);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Due time of the only pending timer (undefined when none). */
  get nextDue(): number | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.pending.values()) if (best === undefined || t.due < best.due) best = t;
    return best?.due;
  }

  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const t of this.pending.values())
        if (
          t.due <= target &&
          (next === undefined || t.due < next.due || (t.due === next.due && t.id < next.id))
        )
          next = t;
      if (next === undefined) break;
      this.pending.delete(next.id);
      this.time = Math.max(this.time, next.due);
      next.callback();
    }
    this.time = target;
  }
}

function setup(): { clock: FakeClock; timers: TimerQueue; fired: string[] } {
  const clock = new FakeClock();
  return { clock, timers: new TimerQueue(clock), fired: [] };
}

describe('TimerQueue', () => {
  it('is empty and arms no clock timer when nothing is scheduled', () => {
    const { clock, timers } = setup();
    expect(timers.size).toBe(0);
    expect(clock.setTimeoutCalls).toBe(0);
    expect(timers.clock).toBe(clock);
  });

  it('fires a callback once its delay has passed, not a millisecond before', () => {
    const { clock, timers, fired } = setup();
    timers.schedule(() => fired.push('a'), 100);
    clock.advance(99);
    expect(fired).toEqual([]);
    expect(timers.size).toBe(1);
    clock.advance(1);
    expect(fired).toEqual(['a']);
    expect(timers.size).toBe(0);
    clock.advance(1_000);
    expect(fired).toEqual(['a']);
  });

  it('fires entries in order of due time, whatever order they were armed in', () => {
    const { clock, timers, fired } = setup();
    timers.schedule(() => fired.push('300'), 300);
    timers.schedule(() => fired.push('100'), 100);
    timers.schedule(() => fired.push('200'), 200);
    timers.schedule(() => fired.push('50'), 50);
    clock.advance(150);
    expect(fired).toEqual(['50', '100']);
    clock.advance(150);
    expect(fired).toEqual(['50', '100', '200', '300']);
  });

  it('fires entries due at the same time in the order they were armed', () => {
    const { clock, timers, fired } = setup();
    for (const name of ['a', 'b', 'c', 'd', 'e']) timers.schedule(() => fired.push(name), 10);
    clock.advance(10);
    expect(fired).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('treats a delay of 0 or below as due now', () => {
    const { clock, timers, fired } = setup();
    const e1 = timers.schedule(() => fired.push('zero'), 0);
    const e2 = timers.schedule(() => fired.push('negative'), -50);
    expect(e1.due).toBe(clock.now());
    expect(e2.due).toBe(clock.now());
    clock.advance(0);
    expect(fired).toEqual(['zero', 'negative']);
  });

  it('does not fire a cancelled entry', () => {
    const { clock, timers, fired } = setup();
    const e = timers.schedule(() => fired.push('cancelled'), 100);
    timers.schedule(() => fired.push('kept'), 100);
    timers.cancel(e);
    expect(timers.size).toBe(1);
    clock.advance(100);
    expect(fired).toEqual(['kept']);
  });

  it('disarms its clock timer when the last live entry is cancelled', () => {
    const { clock, timers } = setup();
    const e = timers.schedule(() => {}, 100);
    expect(clock.pendingCount).toBe(1);
    timers.cancel(e);
    expect(timers.size).toBe(0);
    expect(clock.pendingCount).toBe(0);
  });

  it('ignores a second cancel and a cancel after firing', () => {
    const { clock, timers, fired } = setup();
    const a = timers.schedule(() => fired.push('a'), 10);
    const b = timers.schedule(() => fired.push('b'), 20);
    timers.schedule(() => fired.push('c'), 30);
    timers.cancel(a);
    timers.cancel(a);
    expect(timers.size).toBe(2);
    clock.advance(20);
    expect(fired).toEqual(['b']);
    timers.cancel(b);
    expect(timers.size).toBe(1);
    clock.advance(10);
    expect(fired).toEqual(['b', 'c']);
  });

  it('after the earliest entry is cancelled, fires the next one at its own due time', () => {
    const { clock, timers, fired } = setup();
    const first = timers.schedule(() => fired.push('first'), 100);
    timers.schedule(() => fired.push('second'), 250);
    timers.cancel(first);
    clock.advance(100);
    expect(fired).toEqual([]);
    expect(clock.pendingCount).toBe(1);
    expect(clock.nextDue).toBe(clock.now() + 150);
    clock.advance(149);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['second']);
    expect(clock.pendingCount).toBe(0);
  });

  it('re-arms for an entry earlier than the one armed, replacing the clock timer', () => {
    const { clock, timers, fired } = setup();
    timers.schedule(() => fired.push('late'), 500);
    expect(clock.nextDue).toBe(1_500);
    timers.schedule(() => fired.push('early'), 100);
    expect(clock.pendingCount).toBe(1);
    expect(clock.nextDue).toBe(1_100);
    expect(clock.clearTimeoutCalls).toBe(1);
    clock.advance(100);
    expect(fired).toEqual(['early']);
    expect(clock.nextDue).toBe(1_500);
  });

  it('does not touch the clock timer for an entry due after the one armed', () => {
    const { clock, timers } = setup();
    timers.schedule(() => {}, 100);
    for (let i = 1; i <= 50; i++) timers.schedule(() => {}, 100 + i);
    expect(clock.setTimeoutCalls).toBe(1);
    expect(clock.clearTimeoutCalls).toBe(0);
  });

  it('holds only one clock timer at a time, however many entries it has', () => {
    const { clock, timers, fired } = setup();
    const entries: TimerEntry[] = [];
    for (let i = 0; i < 200; i++) {
      const delay = (i * 37) % 101; // mixed order, with repeats
      entries.push(timers.schedule(() => fired.push(String(i)), delay));
      expect(clock.pendingCount).toBeLessThanOrEqual(1);
    }
    for (let i = 0; i < 200; i += 3) timers.cancel(entries[i]!);
    expect(clock.pendingCount).toBe(1);
    expect(clock.setTimeoutCalls - clock.clearTimeoutCalls).toBeLessThanOrEqual(1);
    for (let t = 0; t <= 101; t++) {
      clock.advance(1);
      expect(clock.pendingCount).toBeLessThanOrEqual(1);
    }
    expect(clock.maxPending).toBe(1);
    expect(fired).toHaveLength(200 - 67);
    expect(timers.size).toBe(0);
    expect(clock.pendingCount).toBe(0);
  });

  it('lets a callback schedule another entry, which fires at its own time', () => {
    const { clock, timers, fired } = setup();
    timers.schedule(() => {
      fired.push('outer');
      timers.schedule(() => fired.push('inner'), 50);
    }, 10);
    timers.schedule(() => fired.push('other'), 100);
    clock.advance(10);
    expect(fired).toEqual(['outer']);
    expect(clock.pendingCount).toBe(1);
    clock.advance(49);
    expect(fired).toEqual(['outer']);
    clock.advance(1);
    expect(fired).toEqual(['outer', 'inner']);
    clock.advance(40);
    expect(fired).toEqual(['outer', 'inner', 'other']);
    expect(clock.maxPending).toBe(1);
  });

  it('lets a callback cancel a later entry due at the same time', () => {
    const { clock, timers, fired } = setup();
    let b: TimerEntry | null = null;
    timers.schedule(() => {
      fired.push('a');
      timers.cancel(b!);
    }, 10);
    b = timers.schedule(() => fired.push('b'), 10);
    clock.advance(10);
    expect(fired).toEqual(['a']);
    expect(timers.size).toBe(0);
  });

  it('counts live entries in size: armed minus fired minus cancelled', () => {
    const { clock, timers } = setup();
    const a = timers.schedule(() => {}, 10);
    timers.schedule(() => {}, 20);
    timers.schedule(() => {}, 30);
    expect(timers.size).toBe(3);
    timers.cancel(a);
    expect(timers.size).toBe(2);
    clock.advance(20);
    expect(timers.size).toBe(1);
    clock.advance(10);
    expect(timers.size).toBe(0);
  });

  it('close() cancels every entry and disarms the clock timer', () => {
    const { clock, timers, fired } = setup();
    const entries = [10, 20, 30].map((d) => timers.schedule(() => fired.push(String(d)), d));
    timers.close();
    expect(timers.size).toBe(0);
    expect(clock.pendingCount).toBe(0);
    for (const e of entries) expect(e.callback).toBeNull();
    clock.advance(100);
    expect(fired).toEqual([]);
  });

  it('after close(), refuses new entries: they never fire and arm nothing', () => {
    const { clock, timers, fired } = setup();
    timers.close();
    const calls = clock.setTimeoutCalls;
    const e = timers.schedule(() => fired.push('late'), 10);
    expect(e.callback).toBeNull();
    expect(timers.size).toBe(0);
    expect(clock.setTimeoutCalls).toBe(calls);
    timers.cancel(e); // harmless
    expect(timers.size).toBe(0);
    clock.advance(100);
    expect(fired).toEqual([]);
  });

  it('close() from inside a callback stops the entries still due', () => {
    const { clock, timers, fired } = setup();
    // A guard so that a queue that keeps looping fails this test instead of hanging the run:
    // no correct fire() pops more entries than were ever armed.
    const q = timers as unknown as { pop: () => void };
    const pop = q.pop;
    let pops = 0;
    q.pop = function (this: unknown) {
      if (++pops > 1_000) throw new Error('fire() is still popping after 1,000 pops');
      pop.call(this);
    };
    timers.schedule(() => {
      fired.push('a');
      timers.close();
    }, 10);
    timers.schedule(() => fired.push('b'), 10);
    timers.schedule(() => fired.push('c'), 20);
    expect(() => clock.advance(50)).not.toThrow();
    expect(fired).toEqual(['a']);
    expect(timers.size).toBe(0);
    expect(clock.pendingCount).toBe(0);
  });

  it('does not keep cancelled entries once nothing is live', () => {
    const { timers } = setup();
    for (let i = 0; i < 10_000; i++) timers.cancel(timers.schedule(() => {}, 5_000));
    expect(timers.size).toBe(0);
    // every entry was cancelled before its time: none should be held any more
    const heap = (timers as unknown as { heap: TimerEntry[] }).heap;
    expect(heap.length).toBe(0);
  });

  it('fires exactly the non-cancelled entries due by now, in (due, arming) order, over any sequence', () => {
    type Op =
      | { op: 'schedule'; delay: number }
      | { op: 'cancel'; pick: number }
      | { op: 'advance'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          op: fc.constant('schedule' as const),
          delay: fc.integer({ min: -5, max: 60 }),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }),
      },
      {
        weight: 3,
        arbitrary: fc.record({
          op: fc.constant('advance' as const),
          ms: fc.integer({ min: 0, max: 40 }),
        }),
      },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const clock = new FakeClock();
        const timers = new TimerQueue(clock);
        interface ModelEntry {
          id: number;
          due: number;
          seq: number;
          entry: TimerEntry;
          cancelled: boolean;
          fired: boolean;
        }
        const model: ModelEntry[] = [];
        const fired: number[] = [];
        const expected: number[] = [];
        for (const o of ops) {
          if (o.op === 'schedule') {
            const id = model.length;
            const entry = timers.schedule(() => fired.push(id), o.delay);
            model.push({
              id,
              due: clock.now() + Math.max(0, o.delay),
              seq: id,
              entry,
              cancelled: false,
              fired: false,
            });
          } else if (o.op === 'cancel') {
            if (model.length === 0) continue;
            const m = model[o.pick % model.length]!;
            timers.cancel(m.entry);
            if (!m.fired) m.cancelled = true;
          } else {
            clock.advance(o.ms);
            const now = clock.now();
            const due = model
              .filter((m) => !m.cancelled && !m.fired && m.due <= now)
              .sort((a, b) => a.due - b.due || a.seq - b.seq);
            for (const m of due) {
              m.fired = true;
              expected.push(m.id);
            }
          }
          expect(fired).toEqual(expected);
          const live = model.filter((m) => !m.cancelled && !m.fired).length;
          expect(timers.size).toBe(live);
          expect(clock.pendingCount).toBeLessThanOrEqual(1);
          if (live > 0) expect(clock.pendingCount).toBe(1);
        }
      }),
      { numRuns: 300 },
    );
  });
});
