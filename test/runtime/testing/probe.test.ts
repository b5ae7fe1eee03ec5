import { describe, expect, it } from 'vitest';
import { fromReceive } from '../../../index.ts';
import { SimulatedClock, createTestProbe } from '../../../testing.ts';
import { createSystem } from '../../../index.ts';
import { testSystem } from '../../support/system.ts';

describe('the test probe', () => {
  it('expectMessage takes messages in order and checks them by value or predicate', async () => {
    const { system } = testSystem();
    const probe = createTestProbe<number>(system);
    probe.ref.tell(1);
    probe.ref.tell(2);
    await expect(probe.expectMessage(1)).resolves.toBe(1);
    await expect(probe.expectMessage((n: number) => n === 2)).resolves.toBe(2);
    await system.shutdown();
  });

  it('expectMessage fails on a different message', async () => {
    const { system } = testSystem();
    const probe = createTestProbe<number>(system);
    probe.ref.tell(3);
    await expect(probe.expectMessage(4)).rejects.toThrow();
    await system.shutdown();
  });

  it('expectMessage advances simulated time to timers: a message sent after 10 s arrives without sleeping', async () => {
    const { system, clock } = testSystem();
    const probe = createTestProbe<string>(system);
    const start = clock.now();
    system.timers.schedule(() => probe.ref.tell('late'), 10_000);
    await expect(probe.expectMessage('late', { within: 20_000 })).resolves.toBe('late');
    expect(clock.now() - start).toBe(10_000);
    await system.shutdown();
  });

  it('expectMessage fails after `within` ms of simulated time with no message', async () => {
    const { system, clock } = testSystem();
    const probe = createTestProbe(system);
    const start = clock.now();
    await expect(probe.expectMessage(undefined, { within: 500 })).rejects.toThrow(/within 500 ms/);
    expect(clock.now() - start).toBe(500);
    await system.shutdown();
  });

  it('expectNoMessage passes on silence and fails when something arrives within the window', async () => {
    const { system } = testSystem();
    const probe = createTestProbe<string>(system);
    await probe.expectNoMessage(1_000);
    system.timers.schedule(() => probe.ref.tell('noise'), 300);
    await expect(probe.expectNoMessage(1_000)).rejects.toThrow(/expected no message/);
    await system.shutdown();
  });

  it('expectTerminated resolves when the watched actor stops', async () => {
    const { system } = testSystem();
    const a = system.spawn(fromReceive(null, (s, _m: unknown, ctx) => (ctx.stop(), s)));
    const probe = createTestProbe(system);
    a.tell('stop');
    await expect(probe.expectTerminated(a)).resolves.toMatchObject({
      type: 'troupe.terminated',
      reason: 'normal',
    });
    await system.shutdown();
  });

  it('works on the real clock too, waiting real time only until the message comes', async () => {
    const system = createSystem();
    const probe = createTestProbe<string>(system);
    setTimeout(() => probe.ref.tell('real'), 5);
    await expect(probe.expectMessage('real', { within: 2_000 })).resolves.toBe('real');
    await system.shutdown();
  });

  it('SimulatedClock fires timers in due order and never goes back', async () => {
    const clock = new SimulatedClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => fired.push('a'), 10);
    const c = clock.setTimeout(() => fired.push('c'), 15);
    clock.clearTimeout(c);
    await clock.advance(25);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.now()).toBe(25);
    expect(clock.pending).toBe(0);
  });
});
