import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../testing.ts';
import { systemClock } from '../../runtime/core/clock.ts';
import { backgroundTimeout, every } from '../../runtime/core/clock-timers.ts';

describe('timers on a Clock', () => {
  it('a background timeout fires once at its time on a simulated clock', async () => {
    const clock = new SimulatedClock(0);
    const fired: number[] = [];
    backgroundTimeout(clock, () => fired.push(clock.now()), 100);
    await clock.advance(99);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual([100]);
    await clock.advance(1_000);
    expect(fired).toEqual([100]);
  });

  it('a background timeout of the real clock does not hold the process open', () => {
    const handle = backgroundTimeout(systemClock, () => undefined, 60_000) as NodeJS.Timeout;
    try {
      expect(handle.hasRef()).toBe(false);
    } finally {
      systemClock.clearTimeout(handle);
    }
  });

  it('repeats every period until stopped, and stops from inside its callback too', async () => {
    const clock = new SimulatedClock(0);
    const at: number[] = [];
    const r = every(clock, 50, () => {
      at.push(clock.now());
      if (at.length === 3) r.stop();
    });
    await clock.advance(49);
    expect(at).toEqual([]);
    await clock.advance(1_000);
    expect(at).toEqual([50, 100, 150]);
    expect(clock.pending).toBe(0);
    r.stop();
  });

  it('goes on after a callback that throws', async () => {
    const clock = new SimulatedClock(0);
    let runs = 0;
    const r = every(clock, 10, () => {
      runs++;
      throw new Error('boom');
    });
    await expect(clock.advance(10)).rejects.toThrow('boom');
    await expect(clock.advance(10)).rejects.toThrow('boom');
    expect(runs).toBe(2);
    r.stop();
    await clock.advance(100);
    expect(runs).toBe(2);
  });
});
