import { describe, expect, it } from 'vitest';
import {
  recordRestart,
  restartWindow,
  restartsIn,
  supervise,
  fromReceive,
  type ActorRef,
  type ChildFailure,
  type RuntimeEvent,
} from '../../index.ts';
import { nextTurn, settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';
import { worker, type WorkerMsg } from './support.ts';

describe('recordRestart (the sliding window)', () => {
  it('allows `intensity` restarts within the period and refuses one more', () => {
    const w = restartWindow();
    for (let i = 0; i < 3; i++) expect(recordRestart(w, 1000 + i, 3, 5000)).toBe(false);
    expect(recordRestart(w, 1003, 3, 5000)).toBe(true);
  });

  it('slides: restarts older than the period drop out, one exactly period old still counts', () => {
    const a = restartWindow();
    recordRestart(a, 0, 1, 5000);
    expect(recordRestart(a, 5000, 1, 5000)).toBe(true);
    expect(restartsIn(a)).toBe(2);
    const b = restartWindow();
    recordRestart(b, 0, 1, 5000);
    expect(recordRestart(b, 5001, 1, 5000)).toBe(false);
    expect(restartsIn(b)).toBe(1);
  });

  it('with intensity 0, any restart is one too many', () => {
    expect(recordRestart(restartWindow(), 0, 0, 5000)).toBe(true);
  });

  it('keeps only the stamps within the period, however many restarts it has seen', () => {
    const w = restartWindow();
    for (let t = 0; t < 100_000; t++) recordRestart(w, t, 1_000_000, 100);
    expect(restartsIn(w)).toBe(101);
    expect(w.stamps.length).toBeLessThan(400);
  });
});

/** A parent that records its supervisor's failures (and stops it). */
function parentOf(sup: ReturnType<typeof supervise>, failures: ChildFailure[]) {
  return fromReceive<null, 'go', ActorRef<unknown>>(
    null,
    (s, _m, ctx) => (ctx.reply(ctx.spawn(sup, { name: 'sup' })), s),
    {
      onChildFailure: (f) => (failures.push(f), 'stop'),
    },
  );
}

describe('restart intensity', () => {
  it('restarts N failures inside the period and gives up at N+1, escalating to its parent', async () => {
    const { system, clock } = testSystem();
    const log: string[] = [];
    const failures: ChildFailure[] = [];
    const events: RuntimeEvent[] = [];
    system.events.subscribe((e) => events.push(e));
    const top = system.spawn(
      parentOf(
        supervise({
          intensity: 3,
          period: 1000,
          children: [{ id: 'w', behaviour: worker('w', log) }],
        }),
        failures,
      ),
    );
    await top.ask('go');
    const w = system.actorAt('/user/$0/sup/w') as ActorRef<WorkerMsg>;
    for (let i = 0; i < 3; i++) {
      w.tell('crash');
      await settle(system);
      await clock.advance(100);
    }
    expect(log.filter((l) => l === 'start:w')).toHaveLength(4);
    expect(failures).toHaveLength(0);
    w.tell('crash');
    await settle(system);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.error).toMatchObject({
      code: 'ERR_MAX_RESTART_INTENSITY',
      intensity: 3,
      periodMs: 1000,
      supervisor: '/user/$0/sup',
    });
    expect(events.filter((e) => e.type === 'intensity-reached')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'escalated')).toEqual([
      expect.objectContaining({
        supervisor: '/user/$0/sup',
        error: expect.objectContaining({ code: 'ERR_MAX_RESTART_INTENSITY' }),
      }),
    ]);
    // the parent stopped the supervisor: its child stopped first
    expect(system.actorAt('/user/$0/sup')).toBeUndefined();
    expect(log.at(-1)).toBe('stop:w');
    await system.shutdown();
  });

  it('does not give up when failures are spread wider than the period', async () => {
    const { system, clock } = testSystem();
    const log: string[] = [];
    const failures: ChildFailure[] = [];
    const top = system.spawn(
      parentOf(
        supervise({
          intensity: 1,
          period: 1000,
          children: [{ id: 'w', behaviour: worker('w', log) }],
        }),
        failures,
      ),
    );
    await top.ask('go');
    const w = system.actorAt('/user/$0/sup/w') as ActorRef<WorkerMsg>;
    for (let i = 0; i < 10; i++) {
      w.tell('crash');
      await settle(system);
      await clock.advance(1001);
    }
    expect(failures).toHaveLength(0);
    expect(log.filter((l) => l === 'start:w')).toHaveLength(11);
    await system.shutdown();
  });

  it('uses OTP defaults: 1 restart in 5,000 ms', async () => {
    const { system, clock } = testSystem();
    const failures: ChildFailure[] = [];
    const top = system.spawn(
      parentOf(supervise({ children: [{ id: 'w', behaviour: worker('w', []) }] }), failures),
    );
    await top.ask('go');
    const w = system.actorAt('/user/$0/sup/w') as ActorRef<WorkerMsg>;
    w.tell('crash');
    await settle(system);
    await clock.advance(4999);
    w.tell('crash');
    await settle(system);
    expect(failures).toHaveLength(1);
    await system.shutdown();
  });

  it('a failure climbs a deep tree exactly as far as the intensities allow', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const failures: ChildFailure[] = [];
    // depth 4: top (not a supervisor) > s1 (intensity 5) > s2 (intensity 0) > s3 (intensity 0) > leaf
    const s3 = supervise({
      intensity: 0,
      children: [{ id: 'leaf', behaviour: worker('leaf', log) }],
    });
    const s2 = supervise({ intensity: 0, children: [{ id: 's3', behaviour: s3 }] });
    const s1 = supervise({ intensity: 5, children: [{ id: 's2', behaviour: s2 }] });
    const top = system.spawn(parentOf(s1, failures));
    await top.ask('go');
    await settle(system);
    log.length = 0;
    const events: RuntimeEvent[] = [];
    system.events.subscribe((e) => events.push(e));
    (system.actorAt('/user/$0/sup/s2/s3/leaf') as ActorRef<WorkerMsg>).tell('crash');
    await settle(system);
    // s3 gives up (intensity 0), s2 gives up, s1 restarts s2 (which restarts s3 and the leaf)
    expect(
      events
        .filter((e) => e.type === 'intensity-reached')
        .map((e) => (e as { supervisor: string }).supervisor),
    ).toEqual(['/user/$0/sup/s2/s3', '/user/$0/sup/s2']);
    expect(
      events.filter((e) => e.type === 'child-restarted').map((e) => (e as { child: string }).child),
    ).toEqual(['/user/$0/sup/s2']);
    expect(failures).toHaveLength(0);
    expect(log).toEqual(['stop:leaf', 'start:leaf']);
    expect(system.actorAt('/user/$0/sup/s2/s3/leaf')).toBeDefined();
    await system.shutdown();
  });

  it('a supervisor that gives up stops the failed child first, then the others in reverse order', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const stopped: { child: string; reason: string }[] = [];
    system.events.subscribe(
      (e) => e.type === 'child-stopped' && stopped.push({ child: e.id, reason: e.reason }),
    );
    system.spawn(
      supervise({
        intensity: 0,
        children: ['a', 'b', 'c'].map((id) => ({ id, behaviour: worker(id, log) })),
      }),
      { name: 'root' },
    );
    await settle(system);
    (system.actorAt('/user/root/b') as ActorRef<WorkerMsg>).tell('crash');
    await system.whenTerminated;
    // as in OTP, where b is dead (its terminate ran) when the supervisor gives up
    expect(log).toEqual(['start:a', 'start:b', 'start:c', 'stop:b', 'stop:c', 'stop:a']);
    expect(stopped).toEqual([
      { child: 'b', reason: 'failed' },
      { child: 'c', reason: 'shutdown' },
      { child: 'a', reason: 'shutdown' },
    ]);
  });

  it('a supervisor that gives up fails only once the failed child has stopped, and restarts nothing meanwhile', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const failures: ChildFailure[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const top = system.spawn(
      parentOf(
        supervise({
          intensity: 0,
          children: [
            { id: 'a', behaviour: worker('a', log, { hook: () => gate }) },
            { id: 'b', behaviour: worker('b', log) },
          ],
        }),
        failures,
      ),
    );
    await top.ask('go');
    (system.actorAt('/user/$0/sup/a') as ActorRef<WorkerMsg>).tell('crash');
    for (let i = 0; i < 20; i++) await nextTurn();
    expect(log).toEqual(['start:a', 'start:b', 'stop:a']); // a's stop hook is pending
    expect(failures).toHaveLength(0);
    // a sibling that fails meanwhile just stops: it is not restarted
    (system.actorAt('/user/$0/sup/b') as ActorRef<WorkerMsg>).tell('crash');
    for (let i = 0; i < 20; i++) await nextTurn();
    expect(log).toEqual(['start:a', 'start:b', 'stop:a', 'stop:b']);
    expect(failures).toHaveLength(0);
    release();
    await settle(system);
    expect(failures).toMatchObject([{ error: { code: 'ERR_MAX_RESTART_INTENSITY' } }]);
    expect(system.actorAt('/user/$0/sup')).toBeUndefined();
    expect(log).toEqual(['start:a', 'start:b', 'stop:a', 'stop:b']);
    await system.shutdown();
  });

  it('a root supervisor that gives up ends the system with a report', async () => {
    const { system } = testSystem();
    system.spawn(supervise({ intensity: 0, children: [{ id: 'w', behaviour: worker('w', []) }] }), {
      name: 'root',
    });
    await settle(system);
    (system.actorAt('/user/root/w') as ActorRef<WorkerMsg>).tell('crash');
    const report = await system.whenTerminated;
    expect(report).toMatchObject({
      reason: 'failure',
      path: '/user/root',
      error: { code: 'ERR_MAX_RESTART_INTENSITY' },
    });
    expect(system.state).toBe('terminated');
  });
});
