import { describe, expect, it } from 'vitest';
import { supervise, type ActorRef, type RuntimeEvent } from '../../index.ts';
import { nextTurn, settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';
import { worker, type WorkerMsg } from './support.ts';

const never = (): Promise<void> => new Promise<void>(() => undefined);

describe('supervisor shutdown', () => {
  it('starts children in list order and stops them in reverse', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = system.spawn(
      supervise({ children: ['a', 'b', 'c'].map((id) => ({ id, behaviour: worker(id, log) })) }),
      { name: 'sup' },
    );
    await settle(system);
    await system.stop(sup);
    expect(log).toEqual(['start:a', 'start:b', 'start:c', 'stop:c', 'stop:b', 'stop:a']);
    await system.shutdown();
  });

  it('stops a child spawned anew after a normal exit in its place in the list, as OTP', async () => {
    // b (permanent) exits normally and is spawned again: it still stops between c and a
    const { system } = testSystem();
    const log: string[] = [];
    const sup = system.spawn(
      supervise({
        intensity: 3,
        children: ['a', 'b', 'c'].map((id) => ({ id, behaviour: worker(id, log) })),
      }),
      { name: 'sup' },
    );
    await settle(system);
    (system.actorAt('/user/sup/b') as ActorRef<WorkerMsg>).tell('exit');
    await settle(system);
    expect(log).toEqual(['start:a', 'start:b', 'start:c', 'stop:b', 'start:b']);
    await system.stop(sup);
    expect(log.slice(5)).toEqual(['stop:c', 'stop:b', 'stop:a']);
    await system.shutdown();
  });

  it('waits for a slow stop hook up to `shutdown` ms, then abandons it, logs, and goes on', async () => {
    const { system, clock, logs } = testSystem();
    const log: string[] = [];
    const events: RuntimeEvent[] = [];
    system.events.subscribe((e) => events.push(e));
    const sup = system.spawn(
      supervise({
        children: [
          { id: 'a', behaviour: worker('a', log) },
          { id: 'stubborn', behaviour: worker('stubborn', log, { hook: never }), shutdown: 2_000 },
        ],
      }),
      { name: 'sup' },
    );
    await settle(system);
    let stopped = false;
    const done = system.stop(sup).then(() => (stopped = true));
    for (let i = 0; i < 10; i++) await nextTurn();
    expect(log).toEqual(['start:a', 'start:stubborn', 'stop:stubborn']);
    await clock.advance(1_999);
    expect(stopped).toBe(false);
    await clock.advance(1);
    await done;
    expect(log).toEqual(['start:a', 'start:stubborn', 'stop:stubborn', 'stop:a']);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'shutdown-timeout',
        actor: '/user/sup/stubborn',
        shutdownMs: 2_000,
      }),
    );
    expect(logs.some((l) => l.level === 'warn' && l.message.includes('/user/sup/stubborn'))).toBe(
      true,
    );
    await system.shutdown();
  });

  it('gives workers 5,000 ms by default', async () => {
    const { system, clock } = testSystem();
    const sup = system.spawn(
      supervise({ children: [{ id: 'w', behaviour: worker('w', [], { hook: never }) }] }),
    );
    await settle(system);
    let stopped = false;
    const done = system.stop(sup).then(() => (stopped = true));
    await clock.advance(4_999);
    expect(stopped).toBe(false);
    await clock.advance(1);
    await done;
    await system.shutdown();
  });

  it('kills a brutal child at once without running its stop hook', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = system.spawn(
      supervise({
        children: [{ id: 'b', behaviour: worker('b', log, { hook: never }), shutdown: 'brutal' }],
      }),
    );
    await settle(system);
    await system.stop(sup);
    expect(log).toEqual(['start:b']);
    await system.shutdown();
  });

  it('gives supervisor children unbounded time by default: a nested supervisor waits for its own children', async () => {
    const { system, clock } = testSystem();
    const log: string[] = [];
    const inner = supervise({
      children: [{ id: 'slow', behaviour: worker('slow', log, { hook: never }), shutdown: 8_000 }],
    });
    const outer = system.spawn(supervise({ children: [{ id: 'inner', behaviour: inner }] }));
    await settle(system);
    let stopped = false;
    const done = system.stop(outer).then(() => (stopped = true));
    await clock.advance(7_999); // beyond a worker's 5,000 default: the inner supervisor is still waiting
    expect(stopped).toBe(false);
    await clock.advance(1);
    await done;
    await system.shutdown();
  });

  it('a halt during a group restart is bounded by shutdown too', async () => {
    const { system, clock } = testSystem();
    const log: string[] = [];
    system.spawn(
      supervise({
        strategy: 'one-for-all',
        children: [
          {
            id: 'slow',
            behaviour: worker('slow', log, {
              hook: () => (log.includes('start:b') ? never() : undefined),
            }),
            shutdown: 300,
          },
          { id: 'b', behaviour: worker('b', log) },
        ],
      }),
      { name: 'sup' },
    );
    await settle(system);
    (system.actorAt('/user/sup/b') as ActorRef<WorkerMsg>).tell('crash');
    for (let i = 0; i < 10; i++) await nextTurn();
    expect(log).toEqual(['start:slow', 'start:b', 'stop:b', 'stop:slow']);
    await clock.advance(300);
    expect(log).toEqual(['start:slow', 'start:b', 'stop:b', 'stop:slow', 'start:slow', 'start:b']);
    const down = system.shutdown(); // its hook hangs again: the shutdown takes its 300 ms
    await clock.advance(300);
    await down;
  });
});
