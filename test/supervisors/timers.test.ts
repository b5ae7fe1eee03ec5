/**
 * The supervisor's own timers (backoff delays, retries): tokens unique in the system, so a
 * restarted supervisor ignores the timers of its earlier incarnation; and a `random` that
 * misbehaves costs the jitter, not the supervisor.
 */
import { describe, expect, it } from 'vitest';
import { fromReceive, supervise, type ActorRef } from '../../index.ts';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';
import { worker, type WorkerMsg } from './support.ts';

describe('supervisor timers', () => {
  it('a restarted supervisor ignores a backoff timer armed by its previous incarnation', async () => {
    const { system, clock } = testSystem();
    const log: string[] = [];
    const supFailures: unknown[] = [];
    // the parent restarts its supervisor when it gives up; the supervisor keeps its mailbox
    system.spawn(
      fromReceive<null, never>(
        (ctx) => {
          ctx.spawn(
            supervise({
              intensity: 1,
              period: 10_000,
              backoff: { minMs: 100, maxMs: 100, jitter: 0 },
              children: [
                { id: 'w1', behaviour: worker('w1', log) },
                { id: 'w2', behaviour: worker('w2', log) },
              ],
            }),
            { name: 'sup' },
          );
          return null;
        },
        (s) => s,
        { onChildFailure: (f) => (supFailures.push(f.error), 'restart') },
      ),
      { name: 'top' },
    );
    await settle(system);
    const w1 = (): ActorRef<WorkerMsg> => system.actorAt('/user/top/sup/w1') as ActorRef<WorkerMsg>;
    const w2 = system.actorAt('/user/top/sup/w2') as ActorRef<WorkerMsg>;
    // t=0: w1 fails (a timer for t=100), then w2: one restart too many, the supervisor gives
    // up and its parent restarts it, afresh (w1, w2 started again)
    w1().tell('crash');
    await settle(system);
    w2.tell('crash');
    await settle(system);
    expect(supFailures).toMatchObject([{ code: 'ERR_MAX_RESTART_INTENSITY' }]);
    const restartedAt = log.length;
    expect(log.slice(-2)).toEqual(['start:w1', 'start:w2']);
    // t=50: w1 fails in the new incarnation: its restart is due at t=150
    await clock.advance(50);
    w1().tell('crash');
    await settle(system);
    expect(log.slice(restartedAt)).toEqual(['stop:w1']);
    // t=100: the old incarnation's timer fires into the new one: it must not start w1
    await clock.advance(50);
    expect(log.slice(restartedAt)).toEqual(['stop:w1']);
    await clock.advance(49);
    expect(log.slice(restartedAt)).toEqual(['stop:w1']);
    await clock.advance(1);
    expect(log.slice(restartedAt)).toEqual(['stop:w1', 'start:w1']);
    await system.shutdown();
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('no entropy');
      },
    ],
    ['returns 7', () => 7],
    ['returns NaN', () => NaN],
  ])('a random() that %s is logged and that restart gets no jitter', async (_what, random) => {
    const { system, clock, logs } = testSystem();
    const log: string[] = [];
    system.spawn(
      supervise({
        intensity: 5,
        backoff: { minMs: 100, maxMs: 100, jitter: 1 },
        random,
        children: [{ id: 'w', behaviour: worker('w', log) }],
      }),
      { name: 'sup' },
    );
    await settle(system);
    (system.actorAt('/user/sup/w') as ActorRef<WorkerMsg>).tell('crash');
    await settle(system);
    await clock.advance(99);
    expect(log).toEqual(['start:w', 'stop:w']);
    await clock.advance(1);
    expect(log).toEqual(['start:w', 'stop:w', 'start:w']);
    expect(logs.some((l) => l.level === 'error' && l.message.includes('random()'))).toBe(true);
    expect(system.actorAt('/user/sup')).toBeDefined();
    await system.shutdown();
  });
});
