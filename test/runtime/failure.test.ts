import { describe, expect, it } from 'vitest';
import {
  fromReceive,
  type Behaviour,
  type ChildFailure,
  type Directive,
  type ActorRef,
} from '../../index.ts';
import { createTestProbe, settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

type WorkerMsg = { type: 'add'; n: number } | { type: 'fail' } | { type: 'get' };

/** A counter that fails on `fail`; `init` counts its starts. */
function worker(starts: { count: number }, stopped: string[] = []) {
  return fromReceive<number, WorkerMsg, number>(
    () => (starts.count++, 0),
    (n, msg, ctx) => {
      if (msg.type === 'fail') throw new Error('worker failed');
      if (msg.type === 'get') {
        ctx.reply(n);
        return n;
      }
      return n + msg.n;
    },
    { stop: (_n, ctx) => void stopped.push(ctx.path) },
  );
}

type ParentMsg = { type: 'spawn'; name: string } | { type: 'child'; name: string };

/** A parent that applies `decide` to its children's failures and records them. */
function parent(
  decide: (f: ChildFailure) => Directive,
  seen: ChildFailure[],
  starts: { count: number },
) {
  return fromReceive<null, ParentMsg, ActorRef<WorkerMsg, number> | undefined>(
    null,
    (s, msg, ctx) => {
      if (msg.type === 'spawn') ctx.reply(ctx.spawn(worker(starts), { name: msg.name }));
      else ctx.reply(ctx.child(msg.name) as ActorRef<WorkerMsg, number> | undefined);
      return s;
    },
    {
      onChildFailure: (f) => {
        seen.push(f);
        return decide(f);
      },
    },
  );
}

async function setup(decide: (f: ChildFailure) => Directive) {
  const t = testSystem();
  const seen: ChildFailure[] = [];
  const starts = { count: 0 };
  const p = t.system.spawn(parent(decide, seen, starts), { name: 'parent' });
  const child = (await p.ask({ type: 'spawn', name: 'w' }))!;
  return { ...t, parent: p, child, seen, starts };
}

describe('the failure protocol', () => {
  it('tells the parent failed { child, incarnation, error, message } and sends the failing message to dead letters', async () => {
    const { system, child, seen } = await setup(() => 'resume');
    child.tell({ type: 'fail' });
    await settle(system);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.child).toBe(child);
    expect(seen[0]!.incarnation).toBe(0);
    expect((seen[0]!.error as Error).message).toBe('worker failed');
    expect(seen[0]!.message).toEqual({ type: 'fail' });
    expect(system.deadLetters.recent()).toMatchObject([
      { message: { type: 'fail' }, reason: 'failed' },
    ]);
    await system.shutdown();
  });

  it('resume: the child keeps its state and goes on with its mailbox', async () => {
    const { system, child, starts } = await setup(() => 'resume');
    child.tell({ type: 'add', n: 5 });
    child.tell({ type: 'fail' });
    child.tell({ type: 'add', n: 1 });
    await expect(child.ask({ type: 'get' })).resolves.toBe(6);
    expect(starts.count).toBe(1);
    await system.shutdown();
  });

  it('restart: the child starts from init, keeps its ref and mailbox, and its incarnation grows', async () => {
    const { system, child, starts, seen } = await setup(() => 'restart');
    child.tell({ type: 'add', n: 5 });
    child.tell({ type: 'fail' });
    child.tell({ type: 'add', n: 1 });
    await expect(child.ask({ type: 'get' })).resolves.toBe(1);
    expect(starts.count).toBe(2);
    child.tell({ type: 'fail' });
    await settle(system);
    expect(seen.map((f) => f.incarnation)).toEqual([0, 1]);
    await system.shutdown();
  });

  it('restart with delayMs: messages keep queueing during the delay and are handled after', async () => {
    const { system, clock, child, starts } = await setup(() => ({ name: 'restart', delayMs: 500 }));
    child.tell({ type: 'fail' });
    child.tell({ type: 'add', n: 2 });
    await settle(system);
    expect(starts.count).toBe(1);
    await clock.advance(499);
    expect(starts.count).toBe(1);
    await clock.advance(1);
    expect(starts.count).toBe(2);
    await expect(child.ask({ type: 'get' })).resolves.toBe(2);
    await system.shutdown();
  });

  it('stop: the child stops and its watchers get troupe.terminated with reason failed', async () => {
    const { system, child } = await setup(() => 'stop');
    const probe = createTestProbe(system);
    probe.watch(child);
    await settle(system);
    child.tell({ type: 'fail' });
    const t = await probe.expectMessage<{ type: string; reason: string; error: Error }>();
    expect(t.type).toBe('troupe.terminated');
    expect(t.reason).toBe('failed');
    expect(t.error.message).toBe('worker failed');
    await system.shutdown();
  });

  it('escalate: the parent fails with EscalatedError and its own parent decides', async () => {
    const t = testSystem();
    const { system } = t;
    const seenTop: ChildFailure[] = [];
    const seenMid: ChildFailure[] = [];
    const starts = { count: 0 };
    const top = system.spawn(
      fromReceive<
        null,
        { type: 'spawn' },
        ActorRef<ParentMsg, ActorRef<WorkerMsg, number> | undefined>
      >(
        null,
        (s, _m, ctx) => (
          ctx.reply(
            ctx.spawn(
              parent(() => 'escalate', seenMid, starts),
              { name: 'mid' },
            ),
          ),
          s
        ),
        { onChildFailure: (f) => (seenTop.push(f), 'stop') },
      ),
      { name: 'top' },
    );
    const mid = await top.ask({ type: 'spawn' });
    const leaf = (await mid.ask({ type: 'spawn', name: 'leaf' }))!;
    const probe = createTestProbe(system);
    probe.watch(leaf);
    probe.watch(mid);
    await settle(system);
    leaf.tell({ type: 'fail' });
    await settle(system);
    expect(seenMid).toHaveLength(1);
    expect(seenTop).toHaveLength(1);
    expect(seenTop[0]!.child).toBe(mid);
    expect(seenTop[0]!.error).toMatchObject({ code: 'ERR_ESCALATED', child: '/user/top/mid/leaf' });
    // top stops mid: the suspended leaf stops first, then mid
    const first = await probe.expectMessage<{ ref: ActorRef<unknown> }>();
    const second = await probe.expectMessage<{ ref: ActorRef<unknown> }>();
    expect([first.ref.path, second.ref.path]).toEqual(['/user/top/mid/leaf', '/user/top/mid']);
    await system.shutdown();
  });

  it('escalate then resume: the parent resumes and resumes its suspended child', async () => {
    const { system } = testSystem();
    const starts = { count: 0 };
    const top = system.spawn(
      fromReceive<
        null,
        { type: 'spawn' },
        ActorRef<ParentMsg, ActorRef<WorkerMsg, number> | undefined>
      >(
        null,
        (s, _m, ctx) => (
          ctx.reply(
            ctx.spawn(
              parent(() => 'escalate', [], starts),
              { name: 'mid' },
            ),
          ),
          s
        ),
        { onChildFailure: () => 'resume' },
      ),
    );
    const mid = await top.ask({ type: 'spawn' });
    const leaf = (await mid.ask({ type: 'spawn', name: 'leaf' }))!;
    leaf.tell({ type: 'add', n: 3 });
    leaf.tell({ type: 'fail' });
    await expect(leaf.ask({ type: 'get' })).resolves.toBe(3);
    await system.shutdown();
  });

  it('a parent without onChildFailure stops the failed child and logs it once', async () => {
    const { system, logs } = testSystem();
    const starts = { count: 0 };
    const ref = system.spawn(worker(starts), { name: 'lonely' });
    const probe = createTestProbe(system);
    probe.watch(ref);
    ref.tell({ type: 'fail' });
    ref.tell({ type: 'add', n: 1 });
    await probe.expectMessage({
      type: 'troupe.terminated',
      ref,
      reason: 'failed',
      error: new Error('worker failed'),
    });
    expect(logs.filter((l) => l.level === 'error')).toHaveLength(1);
    expect(logs[0]!.message).toContain('/user/lonely');
    expect(system.deadLetters.countOf('stopped')).toBe(1);
    await system.shutdown();
  });

  it('a failure in init is a failure like any other: restart retries init', async () => {
    const { system } = testSystem();
    let attempts = 0;
    const flaky: Behaviour<'get', number, number> = fromReceive<number, 'get', number>(
      () => {
        if (++attempts < 3) throw new Error('not yet');
        return attempts;
      },
      (n, _m, ctx) => (ctx.reply(n), n),
    );
    const sup = system.spawn(
      fromReceive<null, 'go', ActorRef<'get', number>>(
        null,
        (s, _m, ctx) => (ctx.reply(ctx.spawn(flaky)), s),
        {
          onChildFailure: () => 'restart',
        },
      ),
    );
    const child = await sup.ask('go');
    await expect(child.ask('get')).resolves.toBe(3);
    await system.shutdown();
  });

  it('a supervisor returning something that is not a directive fails itself with ERR_INVALID_DIRECTIVE', async () => {
    const { system } = testSystem();
    const seen: ChildFailure[] = [];
    const top = system.spawn(
      fromReceive<null, 'go', ActorRef<ParentMsg, ActorRef<WorkerMsg, number> | undefined>>(
        null,
        (s, _m, ctx) => (
          ctx.reply(
            ctx.spawn(
              parent(() => 'bogus' as Directive, [], { count: 0 }),
              { name: 'mid' },
            ),
          ),
          s
        ),
        { onChildFailure: (f) => (seen.push(f), 'stop') },
      ),
    );
    const mid = await top.ask('go');
    const leaf = (await mid.ask({ type: 'spawn', name: 'leaf' }))!;
    leaf.tell({ type: 'fail' });
    await settle(system);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.error).toMatchObject({ code: 'ERR_INVALID_DIRECTIVE', directive: 'bogus' });
    await system.shutdown();
  });

  it('the /user guardian stops a top-level actor that escalates, and the system keeps running', async () => {
    const { system } = testSystem();
    const top = system.spawn(
      fromReceive<null, 'go', ActorRef<WorkerMsg, number>>(
        null,
        (s, _m, ctx) => (ctx.reply(ctx.spawn(worker({ count: 0 }))), s),
        {
          onChildFailure: () => 'escalate',
        },
      ),
      { name: 'top' },
    );
    const leaf = await top.ask('go');
    leaf.tell({ type: 'fail' });
    await settle(system);
    expect(system.actorAt('/user/top')).toBeUndefined();
    expect(system.state).toBe('running');
    await system.shutdown();
  });
});
