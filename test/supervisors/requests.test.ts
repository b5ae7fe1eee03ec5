/**
 * The supervisor's requests (supervisors/requests.ts, through supervisors/api.ts): what
 * whichChildren, countChildren, getChildSpec and checkChildSpecs answer, and what becomes of
 * a temporary child's spec.
 */
import { describe, expect, it } from 'vitest';
import {
  checkChildSpecs,
  countChildren,
  deleteChild,
  getChildSpec,
  restartChild,
  startChild,
  supervise,
  terminateChild,
  whichChildren,
  type ActorRef,
  type ChildSpec,
  type SupervisorRef,
} from '../../index.ts';
import { nextTurn, settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';
import { worker, type WorkerMsg } from './support.ts';

describe('temporary children (OTP: their specs are not kept)', () => {
  it.each(['terminateChild', 'a normal exit', 'a failure'] as const)(
    'after %s its spec is gone: whichChildren does not list it, restartChild answers ERR_CHILD_NOT_FOUND',
    async (how) => {
      const { system } = testSystem();
      const log: string[] = [];
      const sup = system.spawn(
        supervise({
          children: [
            { id: 'a', behaviour: worker('a', log) },
            { id: 't', behaviour: worker('t', log), restart: 'temporary' },
          ],
        }),
      ) as SupervisorRef;
      await settle(system);
      const t = system.actorAt(`${sup.path}/t`) as ActorRef<WorkerMsg>;
      if (how === 'terminateChild') await terminateChild(sup, 't');
      else t.tell(how === 'a normal exit' ? 'exit' : 'crash');
      await settle(system);
      expect(log).toEqual(['start:a', 'start:t', 'stop:t']);
      expect((await whichChildren(sup)).map((c) => c.id)).toEqual(['a']);
      await expect(restartChild(sup, 't')).rejects.toMatchObject({ code: 'ERR_CHILD_NOT_FOUND' });
      await expect(terminateChild(sup, 't')).rejects.toMatchObject({
        code: 'ERR_CHILD_NOT_FOUND',
      });
      await expect(deleteChild(sup, 't')).rejects.toMatchObject({ code: 'ERR_CHILD_NOT_FOUND' });
      expect(await countChildren(sup)).toMatchObject({ specs: 1, active: 1 });
      await system.shutdown();
    },
  );

  it('a permanent child terminated by request keeps its spec (the contrast)', async () => {
    const { system } = testSystem();
    const sup = system.spawn(
      supervise({ children: [{ id: 'p', behaviour: worker('p', []) }] }),
    ) as SupervisorRef;
    await settle(system);
    await terminateChild(sup, 'p');
    expect(await whichChildren(sup)).toMatchObject([{ id: 'p', ref: undefined }]);
    await system.shutdown();
  });
});

describe('child types', () => {
  it("whichChildren and countChildren report a template's declared type, not always worker", async () => {
    const { system } = testSystem();
    const sup = system.spawn(
      supervise({
        strategy: 'simple-one-for-one',
        children: [{ id: 'pool', type: 'supervisor', behaviour: () => supervise({}) }],
      }),
    ) as SupervisorRef;
    await startChild(sup, undefined);
    await startChild(sup, undefined);
    expect((await whichChildren(sup)).map((c) => c.type)).toEqual(['supervisor', 'supervisor']);
    expect(await countChildren(sup)).toEqual({ specs: 1, active: 2, supervisors: 2, workers: 0 });
    await system.shutdown();
  });

  it('a static factory is a worker unless it says supervisor; a behaviour object is what it is', async () => {
    const { system } = testSystem();
    const sup = system.spawn(
      supervise({
        children: [
          { id: 'f', behaviour: () => worker('f', []) },
          { id: 'fs', type: 'supervisor', behaviour: () => supervise({}) },
          { id: 's', behaviour: supervise({}) },
          { id: 'w', behaviour: worker('w', []) },
        ],
      }),
    ) as SupervisorRef;
    expect((await whichChildren(sup)).map((c) => [c.id, c.type])).toEqual([
      ['f', 'worker'],
      ['fs', 'supervisor'],
      ['s', 'supervisor'],
      ['w', 'worker'],
    ]);
    expect(await countChildren(sup)).toEqual({ specs: 4, active: 4, supervisors: 2, workers: 2 });
    await system.shutdown();
  });
});

describe('restarting (OTP restarting marker)', () => {
  it('a child in backoff is `restarting` in whichChildren and not active in countChildren', async () => {
    const { system, clock } = testSystem();
    const log: string[] = [];
    const sup = system.spawn(
      supervise({
        intensity: 5,
        backoff: { minMs: 100, maxMs: 1_000, jitter: 0 },
        children: [
          { id: 'a', behaviour: worker('a', log) },
          { id: 'b', behaviour: worker('b', log) },
        ],
      }),
    ) as SupervisorRef;
    await settle(system);
    const b = system.actorAt(`${sup.path}/b`) as ActorRef<WorkerMsg, number>;
    b.tell('crash');
    await settle(system);
    expect(await whichChildren(sup)).toMatchObject([
      { id: 'a', restarting: false },
      { id: 'b', ref: b, restarting: true },
    ]);
    expect(await countChildren(sup)).toMatchObject({ specs: 2, active: 1 });
    await expect(restartChild(sup, 'b')).rejects.toMatchObject({ code: 'ERR_CHILD_RESTARTING' });
    await expect(deleteChild(sup, 'b')).rejects.toMatchObject({ code: 'ERR_CHILD_RESTARTING' });
    await clock.advance(99);
    expect(log).toEqual(['start:a', 'start:b', 'stop:b']);
    await clock.advance(1);
    expect(log).toEqual(['start:a', 'start:b', 'stop:b', 'start:b']);
    expect(await whichChildren(sup)).toMatchObject([
      { id: 'a', restarting: false },
      { id: 'b', ref: b, restarting: false },
    ]);
    expect(await countChildren(sup)).toMatchObject({ active: 2 });
    await system.shutdown();
  });

  it('simple-one-for-one: a child in backoff is not active', async () => {
    const { system, clock } = testSystem();
    const sup = system.spawn(
      supervise({
        strategy: 'simple-one-for-one',
        intensity: 5,
        backoff: { minMs: 50, maxMs: 50, jitter: 0 },
        children: [{ id: 'job', behaviour: (id: string) => worker(id, []) }],
      }),
    ) as SupervisorRef;
    const x = (await startChild<WorkerMsg>(sup, 'x'))!;
    await startChild(sup, 'y');
    x.tell('crash');
    await settle(system);
    expect(await countChildren(sup)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 2 });
    expect((await whichChildren(sup)).map((c) => c.restarting)).toEqual([true, false]);
    await clock.advance(50);
    expect(await countChildren(sup)).toMatchObject({ active: 2 });
    await system.shutdown();
  });

  it('a child whose start failed has no ref and is `restarting` until its retry (after the backoff)', async () => {
    const { system, clock } = testSystem();
    let calls = 0;
    const sup = system.spawn(
      supervise({
        intensity: 5,
        backoff: { minMs: 200, maxMs: 200, jitter: 0 },
        children: [
          {
            id: 'w',
            behaviour: () => {
              if (calls++ === 0) throw new Error('not yet');
              return worker('w', []);
            },
          },
        ],
      }),
    ) as SupervisorRef;
    await settle(system);
    expect(await whichChildren(sup)).toEqual([
      { id: 'w', ref: undefined, type: 'worker', restart: 'permanent', restarting: true },
    ]);
    expect(await countChildren(sup)).toMatchObject({ active: 0 });
    await clock.advance(200);
    expect(await whichChildren(sup)).toMatchObject([{ id: 'w', restarting: false }]);
    expect((await whichChildren(sup))[0]!.ref).toBeDefined();
    await system.shutdown();
  });
});

describe('getChildSpec (OTP get_childspec)', () => {
  it('answers a static child spec with its defaults, usable again as a spec', async () => {
    const { system } = testSystem();
    const w = worker('a', []);
    const sup = system.spawn(
      supervise({
        children: [
          { id: 'a', behaviour: w, shutdown: 300 },
          { id: 's', behaviour: supervise({}), restart: 'transient' },
        ],
      }),
    ) as SupervisorRef;
    expect(await getChildSpec(sup, 'a')).toEqual({
      id: 'a',
      behaviour: w,
      type: 'worker',
      restart: 'permanent',
      significant: false,
      shutdown: 300,
    });
    expect(await getChildSpec(sup, 's')).toMatchObject({
      id: 's',
      type: 'supervisor',
      restart: 'transient',
    });
    const spec = await getChildSpec(sup, 'a');
    expect(() => checkChildSpecs([spec])).not.toThrow();
    await expect(startChild(sup, { ...spec, id: 'copy' })).resolves.toBeDefined();
    await expect(getChildSpec(sup, 'nope')).rejects.toMatchObject({
      code: 'ERR_CHILD_NOT_FOUND',
    });
    await system.shutdown();
  });

  it("simple-one-for-one: a child's ref, or the template id, gives the template", async () => {
    const { system } = testSystem();
    const factory = (id: string) => worker(id, []);
    const sup = system.spawn(
      supervise({
        strategy: 'simple-one-for-one',
        children: [{ id: 'job', behaviour: factory, restart: 'transient' }],
      }),
    ) as SupervisorRef;
    const x = (await startChild(sup, 'x'))!;
    const template = {
      id: 'job',
      behaviour: factory,
      type: 'worker',
      restart: 'transient',
      significant: false,
    };
    expect(await getChildSpec(sup, x)).toEqual(template);
    expect(await getChildSpec(sup, 'job')).toEqual(template);
    await terminateChild(sup, x);
    await expect(getChildSpec(sup, x)).rejects.toMatchObject({ code: 'ERR_CHILD_NOT_FOUND' });
    await system.shutdown();
  });
});

describe('checkChildSpecs (OTP check_childspecs)', () => {
  const w = worker('w', []);

  it('returns nothing for good specs', () => {
    expect(
      checkChildSpecs([
        { id: 'a', behaviour: w },
        { id: 'b', behaviour: () => w, restart: 'transient', shutdown: 'brutal' },
      ]),
    ).toBeUndefined();
    expect(checkChildSpecs([], { strategy: 'one-for-all' })).toBeUndefined();
  });

  const bad: [string, readonly unknown[], object, { field: string; rule?: string }][] = [
    [
      'an unknown key',
      [{ id: 'a', behaviour: w, restrat: 'x' }],
      {},
      { field: 'children[0].restrat' },
    ],
    [
      'a bad restart',
      [{ id: 'a', behaviour: w, restart: 'never' }],
      {},
      { field: 'children[0].restart' },
    ],
    [
      'a duplicate id',
      [
        { id: 'a', behaviour: w },
        { id: 'a', behaviour: w },
      ],
      {},
      { field: 'children[1].id', rule: 'duplicate-id' },
    ],
    [
      'two templates for simple-one-for-one',
      [
        { id: 'a', behaviour: w },
        { id: 'b', behaviour: w },
      ],
      { strategy: 'simple-one-for-one' },
      { field: 'children', rule: 'simple-one-template' },
    ],
    [
      'a significant child for autoShutdown never',
      [{ id: 'a', behaviour: w, restart: 'transient', significant: true }],
      { autoShutdown: 'never' },
      { field: 'children[0].significant', rule: 'significant-without-auto' },
    ],
    ['an unknown option', [], { strategy: 'one-for-one', order: 1 }, { field: 'order' }],
    ['an unknown strategy', [], { strategy: 'two-for-one' }, { field: 'strategy' }],
  ];
  for (const [what, specs, options, expected] of bad)
    it(`throws ERR_SUPERVISOR_SPEC for ${what} (${expected.field})`, () => {
      expect(() =>
        checkChildSpecs(specs as ChildSpec[], options as Parameters<typeof checkChildSpecs>[1]),
      ).toThrow(expect.objectContaining({ code: 'ERR_SUPERVISOR_SPEC', ...expected }));
    });

  it('accepts a significant child with the autoShutdown it is meant for', () => {
    expect(() =>
      checkChildSpecs([{ id: 'a', behaviour: w, restart: 'transient', significant: true }], {
        autoShutdown: 'any-significant',
      }),
    ).not.toThrow();
  });
});

describe('countChildren while a child is being stopped', () => {
  it('a child that terminateChild is stopping is still active until it has stopped', async () => {
    const { system } = testSystem();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sup = system.spawn(
      supervise({
        children: [
          { id: 'a', behaviour: worker('a', []) },
          { id: 'slow', behaviour: worker('slow', [], { hook: () => gate }) },
        ],
      }),
    ) as SupervisorRef;
    await settle(system);
    const done = terminateChild(sup, 'slow');
    expect(await countChildren(sup)).toMatchObject({ active: 2 });
    release();
    await done;
    expect(await countChildren(sup)).toMatchObject({ active: 1 });
    await system.shutdown();
  });

  it('a failed temporary child being stopped is not active', async () => {
    const { system } = testSystem();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sup = system.spawn(
      supervise({
        children: [
          { id: 'a', behaviour: worker('a', []) },
          { id: 't', restart: 'temporary', behaviour: worker('t', [], { hook: () => gate }) },
        ],
      }),
    ) as SupervisorRef;
    await settle(system);
    (system.actorAt(`${sup.path}/t`) as ActorRef<WorkerMsg>).tell('crash');
    for (let i = 0; i < 20; i++) await nextTurn(); // its stop hook hangs: not settled
    expect(await countChildren(sup)).toMatchObject({ specs: 2, active: 1 });
    release();
    await settle(system);
    expect(await countChildren(sup)).toMatchObject({ specs: 1, active: 1 });
    await system.shutdown();
  });
});
