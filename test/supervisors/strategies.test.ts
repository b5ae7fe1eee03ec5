import { describe, expect, it } from 'vitest';
import { supervise, type ActorRef, type RestartType, type Strategy } from '../../index.ts';
import { nextTurn, settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';
import { worker, type WorkerMsg } from './support.ts';

type Trigger = 'crash' | 'exit';

/**
 * What happens to children a, b, c (a and c permanent) when b, of the given restart type,
 * crashes or exits normally: the stop hooks and inits that follow, in order (OTP semantics).
 */
const table: Record<
  Exclude<Strategy, 'simple-one-for-one'>,
  Record<Trigger, Record<RestartType, string[]>>
> = {
  'one-for-one': {
    crash: {
      permanent: ['stop:b', 'start:b'],
      transient: ['stop:b', 'start:b'],
      temporary: ['stop:b'],
    },
    exit: { permanent: ['stop:b', 'start:b'], transient: ['stop:b'], temporary: ['stop:b'] },
  },
  'one-for-all': {
    crash: {
      permanent: ['stop:b', 'stop:c', 'stop:a', 'start:a', 'start:b', 'start:c'],
      transient: ['stop:b', 'stop:c', 'stop:a', 'start:a', 'start:b', 'start:c'],
      temporary: ['stop:b'],
    },
    exit: {
      permanent: ['stop:b', 'stop:c', 'stop:a', 'start:a', 'start:b', 'start:c'],
      transient: ['stop:b'],
      temporary: ['stop:b'],
    },
  },
  'rest-for-one': {
    crash: {
      permanent: ['stop:b', 'stop:c', 'start:b', 'start:c'],
      transient: ['stop:b', 'stop:c', 'start:b', 'start:c'],
      temporary: ['stop:b'],
    },
    exit: {
      permanent: ['stop:b', 'stop:c', 'start:b', 'start:c'],
      transient: ['stop:b'],
      temporary: ['stop:b'],
    },
  },
};

describe('strategies × restart types × normal/abnormal stop', () => {
  for (const [strategy, byTrigger] of Object.entries(table)) {
    for (const [trigger, byRestart] of Object.entries(byTrigger)) {
      for (const [restart, expected] of Object.entries(byRestart)) {
        it(`${strategy}: a ${restart} child that ${trigger === 'crash' ? 'fails' : 'stops normally'} → ${expected.join(', ')}`, async () => {
          const { system } = testSystem();
          const log: string[] = [];
          const sup = system.spawn(
            supervise({
              strategy: strategy as Strategy,
              children: [
                { id: 'a', behaviour: worker('a', log) },
                { id: 'b', behaviour: worker('b', log), restart: restart as RestartType },
                { id: 'c', behaviour: worker('c', log) },
              ],
            }),
            { name: 'sup' },
          );
          await settle(system);
          expect(log).toEqual(['start:a', 'start:b', 'start:c']);
          log.length = 0;
          const b = system.actorAt('/user/sup/b') as ActorRef<WorkerMsg>;
          b.tell(trigger as Trigger);
          await settle(system);
          expect(log).toEqual(expected);
          // the supervisor is still up, and b is alive exactly when it was restarted
          expect(system.actorAt(sup.path)).toBeDefined();
          expect(system.actorAt('/user/sup/b') !== undefined).toBe(expected.includes('start:b'));
          await system.shutdown();
        });
      }
    }
  }

  it('one-for-all terminates temporary siblings and does not restart them', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    system.spawn(
      supervise({
        strategy: 'one-for-all',
        children: [
          { id: 'a', behaviour: worker('a', log), restart: 'temporary' },
          { id: 'b', behaviour: worker('b', log) },
          { id: 'c', behaviour: worker('c', log), restart: 'temporary' },
        ],
      }),
      { name: 'sup' },
    );
    await settle(system);
    log.length = 0;
    (system.actorAt('/user/sup/b') as ActorRef<WorkerMsg>).tell('crash');
    await settle(system);
    expect(log).toEqual(['stop:b', 'stop:c', 'stop:a', 'start:b']);
    expect(system.actorAt('/user/sup/a')).toBeUndefined();
    expect(system.actorAt('/user/sup/c')).toBeUndefined();
    await system.shutdown();
  });

  it('a restarted child keeps its ref and its queued messages; the failing message goes to dead letters', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    system.spawn(supervise({ children: [{ id: 'w', behaviour: worker('w', log) }] }), {
      name: 'sup',
    });
    await settle(system);
    const w = system.actorAt('/user/sup/w') as ActorRef<WorkerMsg, number>;
    w.tell('ping');
    w.tell('crash');
    w.tell('ping');
    w.tell('ping');
    await expect(w.ask({ type: 'get' })).resolves.toBe(2);
    expect(system.deadLetters.recent()).toMatchObject([{ message: 'crash', reason: 'failed' }]);
    await system.shutdown();
  });

  it('one-for-all keeps the messages that queue at a sibling while it is halted', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    system.spawn(
      supervise({
        strategy: 'one-for-all',
        children: [
          {
            id: 'a',
            behaviour: worker('a', log, {
              hook: () => (log.includes('start:b') ? gate : undefined),
            }),
          },
          { id: 'b', behaviour: worker('b', log) },
        ],
      }),
      { name: 'sup' },
    );
    await settle(system);
    const a = system.actorAt('/user/sup/a') as ActorRef<WorkerMsg, number>;
    const b = system.actorAt('/user/sup/b') as ActorRef<WorkerMsg, number>;
    b.tell('crash');
    for (let i = 0; i < 20; i++) await nextTurn();
    expect(log).toEqual(['start:a', 'start:b', 'stop:b', 'stop:a']); // a is halting, its hook pending
    a.tell('ping');
    a.tell('ping');
    release();
    await settle(system);
    await expect(a.ask({ type: 'get' })).resolves.toBe(2); // handled by the new incarnation
    expect(log.slice(4)).toEqual(['start:a', 'start:b']);
    await system.shutdown();
  });
});
