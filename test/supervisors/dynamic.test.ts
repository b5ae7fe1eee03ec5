import { describe, expect, it } from 'vitest';
import {
  countChildren,
  deleteChild,
  fromMachine,
  fromReceive,
  InMemoryStore,
  reply,
  restartChild,
  startChild,
  supervise,
  terminateChild,
  whichChildren,
  type ActorRef,
  type RuntimeEvent,
  type SupervisorRef,
} from '../../index.ts';
import { assign, setup } from 'xstate';
import fc from 'fast-check';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';
import { worker, type WorkerMsg } from './support.ts';

describe('simple-one-for-one', () => {
  it('starts children from the template with startChild, restarts them one-for-one, and terminates them by ref', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = system.spawn(
      supervise({
        strategy: 'simple-one-for-one',
        intensity: 10,
        children: [{ id: 'job', behaviour: (arg: string) => worker(arg, log) }],
      }),
      { name: 'jobs' },
    ) as SupervisorRef;
    const a = (await startChild<WorkerMsg>(sup, 'x'))!;
    const b = (await startChild<WorkerMsg>(sup, 'y'))!;
    expect([a.path, b.path]).toEqual(['/user/jobs/job-1', '/user/jobs/job-2']);
    expect(await countChildren(sup)).toEqual({ specs: 1, active: 2, supervisors: 0, workers: 2 });
    a.tell('crash');
    await settle(system);
    expect(log).toEqual(['start:x', 'start:y', 'stop:x', 'start:x']);
    await terminateChild(sup, b);
    expect(log.at(-1)).toBe('stop:y');
    expect((await whichChildren(sup)).map((c) => c.id)).toEqual(['job-1']);
    await system.shutdown();
  });
});

type PoolOp =
  { readonly op: 'start' } | { readonly op: 'exit' | 'terminate' | 'crash'; readonly pick: number };

const poolOpArb: fc.Arbitrary<PoolOp> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ op: 'start' as const }) },
  ...(['exit', 'terminate', 'crash'] as const).map((op) => ({
    weight: 1,
    arbitrary: fc.record({ op: fc.constant(op), pick: fc.nat(1_000) }),
  })),
);

describe('simple-one-for-one bookkeeping (children kept by name, in start order)', () => {
  it('agrees with a list model on random starts, exits, terminations and crashes; stops last started first', async () => {
    // a failure prints fast-check's seed and shrunk ops; replay with fc.assert(…, { seed, path })
    await fc.assert(
      fc.asyncProperty(fc.array(poolOpArb, { maxLength: 60 }), async (ops) => {
        const { system } = testSystem();
        const log: string[] = [];
        try {
          const sup = system.spawn(
            supervise({
              strategy: 'simple-one-for-one',
              intensity: 1_000,
              children: [
                { id: 'job', restart: 'transient', behaviour: (id: string) => worker(id, log) },
              ],
            }),
            { name: 'pool' },
          ) as SupervisorRef;
          /** The model: the live children's labels, in start order. */
          const alive: { label: string; ref: ActorRef<WorkerMsg> }[] = [];
          let n = 0;
          for (const o of ops) {
            if (o.op === 'start') {
              const label = `j${n++}`;
              alive.push({ label, ref: (await startChild<WorkerMsg>(sup, label))! });
              continue;
            }
            if (alive.length === 0) continue;
            const i = o.pick % alive.length;
            const { ref } = alive[i]!;
            if (o.op === 'terminate') await terminateChild(sup, ref);
            else ref.tell(o.op === 'exit' ? 'exit' : 'crash');
            await settle(system);
            // transient: an exit or a termination forgets it; a crash restarts it in place
            if (o.op !== 'crash') {
              alive.splice(i, 1);
              await expect(terminateChild(sup, ref)).rejects.toMatchObject({
                code: 'ERR_CHILD_NOT_FOUND',
              });
            }
          }
          const listed = await whichChildren(sup);
          expect(listed.map((c) => c.ref)).toEqual(alive.map((a) => a.ref));
          expect(await countChildren(sup)).toMatchObject({ active: alive.length });
          log.length = 0;
          await system.stop(sup);
          expect(log).toEqual(alive.map((a) => `stop:${a.label}`).reverse());
        } finally {
          await system.shutdown();
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('the child API on static supervisors', () => {
  it('startChild adds a spec, refuses a taken id or a bad spec with typed codes', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = system.spawn(
      supervise({ children: [{ id: 'a', behaviour: worker('a', log) }] }),
    ) as SupervisorRef;
    const b = (await startChild(sup, { id: 'b', behaviour: worker('b', log) }))!;
    expect(b.path).toBe('/user/$0/b');
    await expect(startChild(sup, { id: 'b', behaviour: worker('b', log) })).rejects.toMatchObject({
      code: 'ERR_CHILD_EXISTS',
    });
    await expect(
      startChild(sup, { id: 'c', behaviour: worker('c', log), restart: 'sometimes' }),
    ).rejects.toMatchObject({ code: 'ERR_SUPERVISOR_SPEC' });
    expect(await whichChildren(sup)).toEqual([
      {
        id: 'a',
        ref: system.actorAt('/user/$0/a'),
        type: 'worker',
        restart: 'permanent',
        restarting: false,
      },
      { id: 'b', ref: b, type: 'worker', restart: 'permanent', restarting: false },
    ]);
    await system.shutdown();
  });

  it('terminateChild stops a child without restarting it; restartChild and deleteChild follow OTP', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = system.spawn(
      supervise({ children: [{ id: 'a', behaviour: worker('a', log) }] }),
    ) as SupervisorRef;
    await settle(system);
    await terminateChild(sup, 'a');
    expect(log).toEqual(['start:a', 'stop:a']);
    expect(await whichChildren(sup)).toEqual([
      { id: 'a', ref: undefined, type: 'worker', restart: 'permanent', restarting: false },
    ]);
    const a = (await restartChild(sup, 'a'))!;
    expect(a.path).toBe('/user/$0/a');
    await expect(restartChild(sup, 'a')).rejects.toMatchObject({ code: 'ERR_CHILD_RUNNING' });
    await expect(deleteChild(sup, 'a')).rejects.toMatchObject({ code: 'ERR_CHILD_RUNNING' });
    await terminateChild(sup, 'a');
    await deleteChild(sup, 'a');
    expect(await whichChildren(sup)).toEqual([]);
    await expect(terminateChild(sup, 'zz')).rejects.toMatchObject({ code: 'ERR_CHILD_NOT_FOUND' });
    await system.shutdown();
  });

  it('countChildren tells supervisors from workers', async () => {
    const { system } = testSystem();
    const sup = system.spawn(
      supervise({
        children: [
          { id: 'w', behaviour: worker('w', []) },
          { id: 's', behaviour: supervise({ children: [] }) },
        ],
      }),
    ) as SupervisorRef;
    expect(await countChildren(sup)).toEqual({ specs: 2, active: 2, supervisors: 1, workers: 1 });
    await system.shutdown();
  });
});

describe('significant children', () => {
  it('any-significant: the supervisor stops when a significant transient child ends normally', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = system.spawn(
      supervise({
        autoShutdown: 'any-significant',
        children: [
          { id: 'a', behaviour: worker('a', log) },
          { id: 'job', behaviour: worker('job', log), restart: 'transient', significant: true },
        ],
      }),
    );
    await settle(system);
    (system.actorAt(`${sup.path}/job`) as ActorRef<WorkerMsg>).tell('exit');
    await settle(system);
    expect(system.actorAt(sup.path)).toBeUndefined();
    expect(log).toEqual(['start:a', 'start:job', 'stop:job', 'stop:a']);
    await system.shutdown();
  });

  it('any-significant: a significant transient child that fails is restarted, not a shutdown', async () => {
    const { system } = testSystem();
    const sup = system.spawn(
      supervise({
        autoShutdown: 'any-significant',
        children: [
          { id: 'job', behaviour: worker('job', []), restart: 'transient', significant: true },
        ],
      }),
    );
    await settle(system);
    (system.actorAt(`${sup.path}/job`) as ActorRef<WorkerMsg>).tell('crash');
    await settle(system);
    expect(system.actorAt(`${sup.path}/job`)).toBeDefined();
    await system.shutdown();
  });

  it('all-significant: the supervisor stops when the last significant child has ended', async () => {
    const { system } = testSystem();
    const events: RuntimeEvent[] = [];
    system.events.subscribe((e) => events.push(e));
    const sup = system.spawn(
      supervise({
        autoShutdown: 'all-significant',
        children: [
          { id: 'j1', behaviour: worker('j1', []), restart: 'temporary', significant: true },
          { id: 'j2', behaviour: worker('j2', []), restart: 'temporary', significant: true },
        ],
      }),
    );
    await settle(system);
    (system.actorAt(`${sup.path}/j1`) as ActorRef<WorkerMsg>).tell('exit');
    await settle(system);
    expect(system.actorAt(sup.path)).toBeDefined();
    (system.actorAt(`${sup.path}/j2`) as ActorRef<WorkerMsg>).tell('crash');
    await settle(system);
    expect(system.actorAt(sup.path)).toBeUndefined();
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'auto-shutdown',
        supervisor: sup.path,
        trigger: `${sup.path}/j2`,
      }),
    );
    await system.shutdown();
  });
});

describe('backoff', () => {
  it('waits min·2ⁿ·(1 + jitter·random) before each restart; messages queue meanwhile and are handled after', async () => {
    const { system, clock } = testSystem();
    const log: string[] = [];
    system.spawn(
      supervise({
        intensity: 10,
        period: 60_000,
        backoff: { minMs: 100, maxMs: 1_000, jitter: 0.5, resetAfterMs: 10_000 },
        random: () => 0.5,
        children: [{ id: 'w', behaviour: worker('w', log) }],
      }),
      { name: 'sup' },
    );
    await settle(system);
    const w = system.actorAt('/user/sup/w') as ActorRef<WorkerMsg, number>;
    const restartsAfter = async (ms: number): Promise<number> => {
      await clock.advance(ms);
      return log.filter((l) => l === 'start:w').length - 1;
    };
    w.tell('crash');
    w.tell('ping');
    await settle(system);
    expect(await restartsAfter(124)).toBe(0); // 100 × 1.25 = 125
    expect(await restartsAfter(1)).toBe(1);
    await expect(w.ask({ type: 'get' })).resolves.toBe(1); // the ping waited for the restart
    w.tell('crash');
    await settle(system);
    expect(await restartsAfter(249)).toBe(1); // 200 × 1.25 = 250
    expect(await restartsAfter(1)).toBe(2);
    // after a quiet resetAfterMs the delay is back to minMs
    await clock.advance(10_001);
    w.tell('crash');
    await settle(system);
    expect(await restartsAfter(125)).toBe(3);
    await system.shutdown();
  });
});

describe('supervision events', () => {
  it('publishes started, failed, restarted and stopped events with paths and the error', async () => {
    // stopped: when the supervisor itself stops, each child it stopped
    const { system } = testSystem();
    const events: RuntimeEvent[] = [];
    system.events.subscribe((e) => events.push(e));
    const sup = system.spawn(supervise({ children: [{ id: 'w', behaviour: worker('w', []) }] }), {
      name: 'sup',
    });
    await settle(system);
    (system.actorAt('/user/sup/w') as ActorRef<WorkerMsg>).tell('crash');
    await settle(system);
    await system.stop(sup);
    expect(events.map((e) => e.type)).toEqual([
      'child-started',
      'child-failed',
      'child-restarted',
      'child-stopped',
    ]);
    expect(events[3]).toMatchObject({
      supervisor: '/user/sup',
      child: '/user/sup/w',
      id: 'w',
      reason: 'shutdown',
    });
    expect(events[1]).toMatchObject({
      supervisor: '/user/sup',
      child: '/user/sup/w',
      id: 'w',
      error: { message: 'w crashed' },
    });
    await system.shutdown();
  });
});

describe('restart from a snapshot', () => {
  it('a supervised machine that counted to 7 before failing resumes at 7', async () => {
    const { system } = testSystem();
    const store = new InMemoryStore();
    const counter = setup({
      types: {} as {
        context: { count: number };
        events: { type: 'inc' } | { type: 'get' } | { type: 'crash' };
      },
    }).createMachine({
      context: { count: 0 },
      on: {
        inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
        get: { actions: reply(({ context }: { context: { count: number } }) => context.count) },
        crash: {
          actions: () => {
            throw new Error('boom');
          },
        },
      },
    });
    system.spawn(
      supervise({
        children: [{ id: 'counter', behaviour: fromMachine(counter), persistence: { store } }],
      }),
      { name: 'sup' },
    );
    await settle(system);
    const c = system.actorAt('/user/sup/counter') as ActorRef<
      { type: 'inc' } | { type: 'get' } | { type: 'crash' },
      number
    >;
    for (let i = 0; i < 7; i++) c.tell({ type: 'inc' });
    c.tell({ type: 'crash' });
    await expect(c.ask({ type: 'get' })).resolves.toBe(7);
    c.tell({ type: 'inc' });
    await expect(c.ask({ type: 'get' })).resolves.toBe(8);
    await system.shutdown();
  });

  it('a plain child without persistence restarts from its initial state', async () => {
    const { system } = testSystem();
    const sup = system.spawn(
      supervise({
        children: [
          {
            id: 'n',
            behaviour: fromReceive<number, 'inc' | 'crash' | 'get', number>(0, (n, m, ctx) => {
              if (m === 'crash') throw new Error('x');
              if (m === 'get') ctx.reply(n);
              return m === 'inc' ? n + 1 : n;
            }),
          },
        ],
      }),
    );
    await settle(system);
    const n = system.actorAt(`${sup.path}/n`) as ActorRef<'inc' | 'crash' | 'get', number>;
    n.tell('inc');
    n.tell('crash');
    await expect(n.ask('get')).resolves.toBe(0);
    await system.shutdown();
  });
});
