/**
 * Starting children (supervisors/children.ts): a factory that throws or makes no behaviour,
 * a spawn that refuses, and IGNORE. A bad start is a typed answer or that child's failure,
 * never the supervisor's.
 */
import { describe, expect, it } from 'vitest';
import {
  countChildren,
  fromReceive,
  IGNORE,
  restartChild,
  startChild,
  supervise,
  terminateChild,
  whichChildren,
  type ActorRef,
  type ChildFailure,
  type RuntimeEvent,
  type SupervisorRef,
} from '../../index.ts';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';
import { rejection, worker, type WorkerMsg } from './support.ts';

/** A parent that records its supervisor's failures (and stops it). */
function parentOf(sup: ReturnType<typeof supervise>, failures: ChildFailure[]) {
  return fromReceive<null, 'go', ActorRef<unknown>>(
    null,
    (s, _m, ctx) => (ctx.reply(ctx.spawn(sup, { name: 'sup' })), s),
    { onChildFailure: (f) => (failures.push(f), 'stop') },
  );
}

describe('a simple-one-for-one start that fails', () => {
  it('a factory that throws on a bad argument answers ERR_START_CHILD; the pool and its children go on', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = system.spawn(
      supervise({
        strategy: 'simple-one-for-one',
        intensity: 0, // a failed start is not a restart: the pool must not give up
        children: [
          {
            id: 'job',
            behaviour: (arg: string) => {
              if (arg === 'bad') throw new RangeError(`no job ${arg}`);
              return worker(arg, log);
            },
          },
        ],
      }),
      { name: 'jobs' },
    ) as SupervisorRef;
    const a = (await startChild<WorkerMsg>(sup, 'a'))!;
    const e = await rejection(startChild(sup, 'bad'));
    expect(e).toMatchObject({ code: 'ERR_START_CHILD', supervisor: '/user/jobs' });
    expect(e.cause).toBeInstanceOf(RangeError);
    expect((e.cause as Error).message).toBe('no job bad');
    const b = (await startChild<WorkerMsg>(sup, 'b'))!;
    a.tell('ping');
    await expect(a.ask({ type: 'get' })).resolves.toBe(1);
    await expect(b.ask({ type: 'get' })).resolves.toBe(0);
    expect((await whichChildren(sup)).map((c) => c.ref)).toEqual([a, b]);
    expect(await countChildren(sup)).toMatchObject({ active: 2, workers: 2 });
    expect(log).toEqual(['start:a', 'start:b']);
    await system.shutdown();
  });

  it('a factory that returns something that is not a behaviour answers ERR_START_CHILD (cause ERR_INVALID_BEHAVIOUR)', async () => {
    const { system } = testSystem();
    const sup = system.spawn(
      supervise({
        strategy: 'simple-one-for-one',
        intensity: 0,
        children: [
          {
            id: 'job',
            behaviour: (arg: unknown) => (arg === 'ok' ? worker('ok', []) : arg) as never,
          },
        ],
      }),
    ) as SupervisorRef;
    for (const bad of [undefined, 42, {}, { kind: 'receive', init: 1 }]) {
      const e = await rejection(startChild(sup, bad));
      expect(e.code).toBe('ERR_START_CHILD');
      expect(e.cause).toMatchObject({ code: 'ERR_INVALID_BEHAVIOUR' });
    }
    await expect(startChild(sup, 'ok')).resolves.toBeDefined();
    expect(await whichChildren(sup)).toHaveLength(1);
    expect(system.actorAt(sup.path)).toBeDefined();
    await system.shutdown();
  });
});

describe('a static startChild that fails', () => {
  it('answers ERR_START_CHILD when the factory throws or spawn refuses, keeps nothing, and the supervisor goes on', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = system.spawn(
      supervise({ intensity: 0, children: [{ id: 'a', behaviour: worker('a', log) }] }),
    ) as SupervisorRef;
    await settle(system);
    const thrown = await rejection(
      startChild(sup, {
        id: 'b',
        behaviour: () => {
          throw new Error('no b today');
        },
      }),
    );
    expect(thrown).toMatchObject({ code: 'ERR_START_CHILD' });
    expect((thrown.cause as Error).message).toBe('no b today');
    // the spec passes validation; spawn refuses the mailbox
    const refused = await rejection(
      startChild(sup, { id: 'b', behaviour: worker('b', log), mailbox: { capacity: -1 } }),
    );
    expect(refused).toMatchObject({ code: 'ERR_START_CHILD' });
    expect(refused.cause).toMatchObject({ code: 'ERR_INVALID_OPTION' });
    expect((await whichChildren(sup)).map((c) => c.id)).toEqual(['a']);
    // nothing was kept: the id is free
    await expect(startChild(sup, { id: 'b', behaviour: worker('b', log) })).resolves.toBeDefined();
    expect(log).toEqual(['start:a', 'start:b']);
    await system.shutdown();
  });

  it('restartChild whose factory throws answers ERR_START_CHILD and keeps the spec, not running', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    let broken = false;
    const sup = system.spawn(
      supervise({
        children: [
          {
            id: 'a',
            behaviour: () => {
              if (broken) throw new Error('broken');
              return worker('a', log);
            },
          },
        ],
      }),
    ) as SupervisorRef;
    await settle(system);
    await terminateChild(sup, 'a');
    broken = true;
    await expect(restartChild(sup, 'a')).rejects.toMatchObject({ code: 'ERR_START_CHILD' });
    expect(await whichChildren(sup)).toMatchObject([
      { id: 'a', ref: undefined, restarting: false },
    ]);
    broken = false;
    const a = await restartChild(sup, 'a');
    expect(a?.path).toBe(`${sup.path}/a`);
    expect(log).toEqual(['start:a', 'stop:a', 'start:a']);
    await system.shutdown();
  });
});

describe('a start the supervisor makes itself that fails', () => {
  it('is a failure of that child: reported, counted, tried again, and the child then runs', async () => {
    const { system } = testSystem();
    const events: RuntimeEvent[] = [];
    system.events.subscribe((e) => events.push(e));
    const log: string[] = [];
    let calls = 0;
    const sup = system.spawn(
      supervise({
        intensity: 1,
        children: [
          { id: 'a', behaviour: worker('a', log) },
          {
            id: 'b',
            behaviour: () => {
              if (calls++ === 0) throw new Error('not yet');
              return worker('b', log);
            },
          },
        ],
      }),
      { name: 'sup' },
    ) as SupervisorRef;
    await settle(system);
    expect(calls).toBe(2);
    expect(log).toEqual(['start:a', 'start:b']);
    expect(events.map((e) => [e.type, 'id' in e ? e.id : undefined])).toEqual([
      ['child-started', 'a'],
      ['child-failed', 'b'],
      ['child-started', 'b'],
      ['child-restarted', 'b'],
    ]);
    expect(events[1]).toMatchObject({
      child: '/user/sup/b',
      error: { code: 'ERR_START_CHILD', cause: { message: 'not yet' } },
    });
    expect(await countChildren(sup)).toMatchObject({ specs: 2, active: 2 });
    await system.shutdown();
  });

  it('past the intensity the supervisor gives up, as for any failing child', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const failures: ChildFailure[] = [];
    let calls = 0;
    const top = system.spawn(
      parentOf(
        supervise({
          intensity: 2,
          children: [
            { id: 'a', behaviour: worker('a', log) },
            {
              id: 'b',
              behaviour: () => {
                calls++;
                throw new Error('never');
              },
            },
          ],
        }),
        failures,
      ),
    );
    await top.ask('go');
    await settle(system);
    expect(calls).toBe(3); // the start and two retries: the third failure is one too many
    expect(failures).toMatchObject([{ error: { code: 'ERR_MAX_RESTART_INTENSITY' } }]);
    expect(log).toEqual(['start:a', 'stop:a']);
    await system.shutdown();
  });

  it('a temporary child that cannot start is dropped, not retried and not counted', async () => {
    const { system } = testSystem();
    const sup = system.spawn(
      supervise({
        intensity: 0,
        children: [
          { id: 'a', behaviour: worker('a', []) },
          {
            id: 't',
            restart: 'temporary',
            behaviour: () => {
              throw new Error('no');
            },
          },
        ],
      }),
    ) as SupervisorRef;
    await settle(system);
    expect(system.actorAt(sup.path)).toBeDefined();
    expect((await whichChildren(sup)).map((c) => c.id)).toEqual(['a']);
    await system.shutdown();
  });

  it('a child that cannot be spawned again after a normal exit is retried, then runs', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    let broken = false;
    const sup = system.spawn(
      supervise({
        intensity: 3,
        children: [
          {
            id: 'w',
            behaviour: () => {
              if (broken) {
                broken = false;
                throw new Error('once');
              }
              return worker('w', log);
            },
          },
        ],
      }),
    ) as SupervisorRef;
    await settle(system);
    broken = true;
    (system.actorAt(`${sup.path}/w`) as ActorRef<WorkerMsg>).tell('exit');
    await settle(system);
    expect(log).toEqual(['start:w', 'stop:w', 'start:w']);
    expect(await whichChildren(sup)).toMatchObject([{ id: 'w', restarting: false }]);
    await system.shutdown();
  });
});

describe('IGNORE (OTP ignore)', () => {
  it('simple-one-for-one: startChild resolves undefined and keeps nothing', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = system.spawn(
      supervise({
        strategy: 'simple-one-for-one',
        children: [
          { id: 'job', behaviour: (arg: string) => (arg === 'skip' ? IGNORE : worker(arg, log)) },
        ],
      }),
    ) as SupervisorRef;
    const a = await startChild(sup, 'a');
    await expect(startChild(sup, 'skip')).resolves.toBeUndefined();
    expect((await whichChildren(sup)).map((c) => c.ref)).toEqual([a]);
    expect(await countChildren(sup)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
    expect(log).toEqual(['start:a']);
    await system.shutdown();
  });

  it('static, at init: the spec is kept, not running, until restartChild starts it', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    let wanted = false;
    const sup = system.spawn(
      supervise({
        children: [
          { id: 'a', behaviour: worker('a', log) },
          { id: 'opt', behaviour: () => (wanted ? worker('opt', log) : IGNORE) },
          { id: 'tmp', behaviour: () => IGNORE, restart: 'temporary' },
        ],
      }),
    ) as SupervisorRef;
    await settle(system);
    // a temporary child that is ignored is not kept (OTP)
    expect(await whichChildren(sup)).toMatchObject([
      { id: 'a', ref: system.actorAt(`${sup.path}/a`) },
      { id: 'opt', ref: undefined, restarting: false },
    ]);
    expect(await countChildren(sup)).toEqual({ specs: 2, active: 1, supervisors: 0, workers: 2 });
    await expect(restartChild(sup, 'opt')).resolves.toBeUndefined();
    wanted = true;
    const opt = await restartChild(sup, 'opt');
    expect(opt?.path).toBe(`${sup.path}/opt`);
    expect(log).toEqual(['start:a', 'start:opt']);
    await system.shutdown();
  });

  it('static startChild: resolves undefined and keeps the spec (the id stays taken), not a temporary one', async () => {
    const { system } = testSystem();
    const sup = system.spawn(supervise({})) as SupervisorRef;
    await expect(startChild(sup, { id: 'x', behaviour: () => IGNORE })).resolves.toBeUndefined();
    await expect(startChild(sup, { id: 'x', behaviour: () => IGNORE })).rejects.toMatchObject({
      code: 'ERR_CHILD_EXISTS',
    });
    await expect(
      startChild(sup, { id: 't', behaviour: () => IGNORE, restart: 'temporary' }),
    ).resolves.toBeUndefined();
    expect(await whichChildren(sup)).toMatchObject([{ id: 'x', ref: undefined }]);
    await system.shutdown();
  });

  it('a permanent child whose factory ignores when it is spawned again stays stopped, not restarted', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    let starts = 0;
    const sup = system.spawn(
      supervise({
        intensity: 5,
        children: [{ id: 'w', behaviour: () => (starts++ === 0 ? worker('w', log) : IGNORE) }],
      }),
    ) as SupervisorRef;
    await settle(system);
    (system.actorAt(`${sup.path}/w`) as ActorRef<WorkerMsg>).tell('exit');
    await settle(system);
    expect(starts).toBe(2);
    expect(await whichChildren(sup)).toMatchObject([
      { id: 'w', ref: undefined, restarting: false },
    ]);
    expect(log).toEqual(['start:w', 'stop:w']);
    await system.shutdown();
  });
});
