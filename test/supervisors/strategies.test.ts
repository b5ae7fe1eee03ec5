import { describe, expect, it } from 'vitest';
import {
  supervise,
  terminateChild,
  whichChildren,
  type ActorRef,
  type RestartType,
  type RuntimeEvent,
  type Strategy,
  type SupervisorRef,
} from '../../index.ts';
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

/** A stop hook that hangs on its `n`-th call (1-based) until `release`, else returns at once. */
function gatedOnce(n: number) {
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  return { hook: () => (++calls === n ? gate : undefined), release: () => release() };
}

describe('during a group restart', () => {
  it('one-for-all: a sibling that crashes while the group is going down is absorbed, not counted', async () => {
    // intensity 1: c's crash is the one restart allowed; counting a's too would give up
    const { system } = testSystem();
    const log: string[] = [];
    const events: RuntimeEvent[] = [];
    system.events.subscribe((e) => events.push(e));
    const b = gatedOnce(1);
    system.spawn(
      supervise({
        strategy: 'one-for-all',
        intensity: 1,
        children: [
          { id: 'a', behaviour: worker('a', log) },
          { id: 'b', behaviour: worker('b', log, { hook: b.hook }) },
          { id: 'c', behaviour: worker('c', log) },
        ],
      }),
      { name: 'sup' },
    );
    await settle(system);
    (system.actorAt('/user/sup/c') as ActorRef<WorkerMsg>).tell('crash');
    for (let i = 0; i < 20; i++) await nextTurn();
    expect(log.slice(3)).toEqual(['stop:c', 'stop:b']); // b's hook hangs; a still runs
    (system.actorAt('/user/sup/a') as ActorRef<WorkerMsg>).tell('crash');
    for (let i = 0; i < 20; i++) await nextTurn();
    b.release();
    await settle(system);
    expect(log.slice(3, 6)).toEqual(['stop:c', 'stop:b', 'stop:a']);
    // all start again (the order of their inits is the scheduler's: b's hook settled late)
    expect(log.slice(6).sort()).toEqual(['start:a', 'start:b', 'start:c']);
    expect(system.actorAt('/user/sup')).toBeDefined();
    expect(events.filter((e) => e.type === 'intensity-reached')).toEqual([]);
    expect(events.filter((e) => e.type === 'child-restarted').map((e) => e.id)).toEqual([
      'a',
      'b',
      'c',
    ]);
    // and the window holds c's restart only: one more is one too many
    (system.actorAt('/user/sup/b') as ActorRef<WorkerMsg>).tell('crash');
    await system.whenTerminated;
    expect(events.filter((e) => e.type === 'intensity-reached')).toHaveLength(1);
  });

  it('rest-for-one: a member that stops by itself meanwhile is absorbed, not counted', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const d = gatedOnce(1);
    system.spawn(
      supervise({
        strategy: 'rest-for-one',
        intensity: 1,
        children: [
          { id: 'a', behaviour: worker('a', log) },
          { id: 'b', behaviour: worker('b', log) },
          { id: 'c', behaviour: worker('c', log) },
          { id: 'd', behaviour: worker('d', log, { hook: d.hook }) },
        ],
      }),
      { name: 'sup' },
    );
    await settle(system);
    (system.actorAt('/user/sup/b') as ActorRef<WorkerMsg>).tell('crash');
    for (let i = 0; i < 20; i++) await nextTurn();
    expect(log.slice(4)).toEqual(['stop:b', 'stop:d']); // d's hook hangs; c still runs
    (system.actorAt('/user/sup/c') as ActorRef<WorkerMsg>).tell('exit'); // permanent: a restart
    for (let i = 0; i < 20; i++) await nextTurn();
    d.release();
    await settle(system);
    expect(log.slice(4, 7)).toEqual(['stop:b', 'stop:d', 'stop:c']);
    expect(log.slice(7).sort()).toEqual(['start:b', 'start:c', 'start:d']);
    expect(system.actorAt('/user/sup')).toBeDefined();
    expect(system.actorAt('/user/sup/c')).toBeDefined();
    await system.shutdown();
  });

  it('rest-for-one: a child before the group that fails meanwhile is a restart of its own', async () => {
    // intensity 1: b's restart and a's make two: the supervisor gives up
    const { system } = testSystem();
    const log: string[] = [];
    const c = gatedOnce(1);
    system.spawn(
      supervise({
        strategy: 'rest-for-one',
        intensity: 1,
        children: [
          { id: 'a', behaviour: worker('a', log) },
          { id: 'b', behaviour: worker('b', log) },
          { id: 'c', behaviour: worker('c', log, { hook: c.hook }) },
        ],
      }),
      { name: 'sup' },
    );
    await settle(system);
    (system.actorAt('/user/sup/b') as ActorRef<WorkerMsg>).tell('crash');
    for (let i = 0; i < 20; i++) await nextTurn();
    (system.actorAt('/user/sup/a') as ActorRef<WorkerMsg>).tell('crash');
    for (let i = 0; i < 20; i++) await nextTurn();
    c.release();
    const report = await system.whenTerminated;
    expect(report).toMatchObject({
      reason: 'failure',
      error: { code: 'ERR_MAX_RESTART_INTENSITY' },
    });
  });

  it.each(['one-for-all', 'rest-for-one'] as const)(
    '%s: terminateChild sticks: the restart under way does not bring the child back',
    async (strategy) => {
      const { system } = testSystem();
      const log: string[] = [];
      const b = gatedOnce(1);
      const sup = system.spawn(
        supervise({
          strategy,
          intensity: 3,
          children: [
            { id: 'a', behaviour: worker('a', log) },
            { id: 'b', behaviour: worker('b', log, { hook: b.hook }) },
            { id: 'c', behaviour: worker('c', log) },
            { id: 'd', behaviour: worker('d', log) },
          ],
        }),
        { name: 'sup' },
      ) as SupervisorRef;
      await settle(system);
      (system.actorAt('/user/sup/a') as ActorRef<WorkerMsg>).tell('crash');
      for (let i = 0; i < 20; i++) await nextTurn();
      expect(log.slice(4)).toEqual(['stop:a', 'stop:d', 'stop:c', 'stop:b']); // b hangs
      // d is halted, b halting, a halted (the trigger): terminate one of each kind
      const done = Promise.all([
        terminateChild(sup, 'd'),
        terminateChild(sup, 'b'),
        terminateChild(sup, 'a'),
      ]);
      for (let i = 0; i < 20; i++) await nextTurn();
      b.release();
      await done;
      await settle(system);
      expect(log.slice(8)).toEqual(['start:c']);
      expect((await whichChildren(sup)).map((c) => [c.id, c.ref !== undefined])).toEqual([
        ['a', false],
        ['b', false],
        ['c', true],
        ['d', false],
      ]);
      await system.shutdown();
    },
  );

  it('terminateChild during a backoff sticks: the delayed restart does not bring the child back', async () => {
    const { system, clock } = testSystem();
    const log: string[] = [];
    const sup = system.spawn(
      supervise({
        intensity: 5,
        backoff: { minMs: 100, maxMs: 100, jitter: 0 },
        children: [
          { id: 'failed', behaviour: worker('failed', log) },
          { id: 'exited', behaviour: worker('exited', log) },
        ],
      }),
      { name: 'sup' },
    ) as SupervisorRef;
    await settle(system);
    (system.actorAt('/user/sup/failed') as ActorRef<WorkerMsg>).tell('crash');
    (system.actorAt('/user/sup/exited') as ActorRef<WorkerMsg>).tell('exit');
    await settle(system);
    await terminateChild(sup, 'failed'); // halted, waiting out its backoff
    await terminateChild(sup, 'exited'); // stopped, waiting to be spawned again
    await clock.advance(1_000);
    expect(log.slice(2).sort()).toEqual(['stop:exited', 'stop:failed']);
    expect(await whichChildren(sup)).toMatchObject([
      { id: 'failed', ref: undefined, restarting: false },
      { id: 'exited', ref: undefined, restarting: false },
    ]);
    await system.shutdown();
  });
});
