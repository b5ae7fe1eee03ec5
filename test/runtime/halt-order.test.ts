/**
 * A group restart starts its members again in list order, also when one member's stop hook
 * settled asynchronously (its cell must not keep a stale place in the run queue).
 */
import { describe, expect, it } from 'vitest';
import { fromReceive, supervise, type ActorRef } from '../../index.ts';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

describe('group restart order', () => {
  it('starts a before b after a one-for-all restart, though only b’s stop hook was async', async () => {
    const t = testSystem();
    const log: string[] = [];
    const member = (name: string, asyncStop: boolean) =>
      fromReceive<null, 'fail'>(
        () => (log.push(`start:${name}`), null),
        () => {
          throw new Error(`${name} failed`);
        },
        {
          stop: () => {
            log.push(`stop:${name}`);
            return asyncStop ? Promise.resolve() : undefined;
          },
        },
      );
    const sup = t.system.spawn(
      supervise({
        strategy: 'one-for-all',
        intensity: 10,
        children: [
          { id: 'a', behaviour: member('a', false) },
          { id: 'b', behaviour: member('b', true) },
        ],
      }),
    );
    await settle(t.system);
    expect(log).toEqual(['start:a', 'start:b']);
    log.length = 0;
    const a = t.system.actorAt(`${sup.path}/a`) as ActorRef<'fail'>;
    a.tell('fail');
    await settle(t.system);
    expect(log.filter((l) => l.startsWith('start:'))).toEqual(['start:a', 'start:b']);
    await t.system.shutdown();
  });
});
