/**
 * The call board's guard timing (sandbox/board.ts): when the guard looks again at a call.
 * A pure function of what it read: no thread, no clock.
 */
import { describe, expect, it } from 'vitest';
import { GUARD_TICK_MS, guardNapMs, type RunningCall } from '../../sandbox/board.ts';

const call = (elapsedMs: number, budgetMs = 50): RunningCall => ({
  seq: 1,
  id: 1,
  elapsedMs,
  budgetMs,
  limit: 'cpu',
});

describe('guardNapMs', () => {
  it('sleeps a tick when no call runs', () => {
    expect(guardNapMs(undefined)).toBe(GUARD_TICK_MS);
  });

  it('sleeps a tick while the budget is a tick or more away', () => {
    expect(guardNapMs(call(0))).toBe(GUARD_TICK_MS);
    expect(guardNapMs(call(40))).toBe(GUARD_TICK_MS);
  });

  it('wakes when the call reaches its budget, not a tick after', () => {
    expect(guardNapMs(call(41))).toBe(9);
    expect(guardNapMs(call(49.5))).toBe(0.5);
  });

  it('at the budget and past it, wakes at the next tick of the call past its budget', () => {
    expect(guardNapMs(call(50))).toBe(GUARD_TICK_MS);
    expect(guardNapMs(call(51))).toBe(9);
    expect(guardNapMs(call(59))).toBe(1);
    expect(guardNapMs(call(60))).toBe(GUARD_TICK_MS);
  });

  it('so a grace that is a multiple of the tick is looked at once it is spent', () => {
    // the default: budget 50, grace 250: the look falls at 300 whatever the last one was
    for (const at of [292.5, 295, 299.9]) expect(at + guardNapMs(call(at))).toBeCloseTo(300, 9);
  });
});
