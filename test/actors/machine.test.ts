import { describe, expect, it } from 'vitest';
import { assign, createActor, sendTo, setup, type AnyActorRef } from 'xstate';
import {
  asTarget,
  fromMachine,
  fromReceive,
  InMemoryStore,
  reply,
  spawnActor,
  type ActorRef,
  type MachineView,
  type PersistenceStore,
  type SnapshotUpdate,
  type Terminated,
} from '../../index.ts';
import { createTestProbe, nextTurn, settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

type CounterEvent = { type: 'inc' } | { type: 'get' } | { type: 'boom' };
const counterMachine = setup({
  types: {} as { context: { count: number }; events: CounterEvent },
}).createMachine({
  id: 'counter',
  context: { count: 0 },
  on: {
    inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
    get: { actions: reply(({ context }: { context: { count: number } }) => context.count) },
    boom: {
      actions: () => {
        throw new Error('machine exploded');
      },
    },
  },
});

describe('fromMachine', () => {
  it('handles messages as events and replies to an ask with the reply action', async () => {
    const { system } = testSystem();
    const ref = system.spawn(fromMachine(counterMachine));
    ref.tell({ type: 'inc' });
    ref.tell({ type: 'inc' });
    await expect(ref.ask({ type: 'get' })).resolves.toBe(2);
    await system.shutdown();
  });

  it('tells a troupe ref with XState sendTo (a troupe ref implements what sendTo calls)', async () => {
    const { system } = testSystem();
    const probe = createTestProbe(system);
    const m = setup({
      types: {} as {
        context: { peer: ActorRef<unknown> };
        input: { peer: ActorRef<unknown> };
        events: { type: 'ping'; n: number };
      },
    }).createMachine({
      context: ({ input }) => ({ peer: input.peer }),
      on: {
        ping: {
          actions: sendTo(
            ({ context }) => asTarget(context.peer),
            ({ event }) => ({ type: 'pong', n: event.n }),
          ),
        },
      },
    });
    const ref = system.spawn(fromMachine(m, { input: { peer: probe.ref } }));
    ref.tell({ type: 'ping', n: 7 });
    await probe.expectMessage({ type: 'pong', n: 7 });
    await system.shutdown();
  });

  it('pins the XState internals troupe relies on: sendTo delivers through target._send, and actor.system.scheduler exists', () => {
    const received: unknown[] = [];
    const fakeTarget = { id: 'x', _send: (e: unknown) => received.push(e) };
    const m = setup({}).createMachine({
      entry: sendTo(fakeTarget as unknown as AnyActorRef, { type: 'hello' }),
    });
    const actor = createActor(m);
    expect(
      typeof (actor.system as { scheduler?: { schedule?: unknown } }).scheduler?.schedule,
    ).toBe('function');
    actor.start();
    expect(received).toEqual([{ type: 'hello' }]);
  });

  it('spawns a supervised troupe child with spawnActor inside assign', async () => {
    const { system } = testSystem();
    type ChildMsg = { type: 'hit' } | { type: 'get' };
    const childBehaviour = fromReceive<number, ChildMsg, number>(0, (n, m, ctx) => {
      if (m.type === 'get') {
        ctx.reply(n);
        return n;
      }
      return n + 1;
    });
    const m = setup({
      types: {} as {
        context: { child: ActorRef<ChildMsg, number> | null };
        events: { type: 'start' } | { type: 'hit' } | { type: 'who' };
      },
    }).createMachine({
      context: { child: null },
      on: {
        start: { actions: assign({ child: () => spawnActor(childBehaviour, { name: 'helper' }) }) },
        hit: { actions: sendTo(({ context }) => asTarget(context.child!), { type: 'hit' }) },
        who: {
          actions: reply(
            ({ context }: { context: { child: ActorRef<unknown> | null } }) => context.child,
          ),
        },
      },
    });
    const parent = system.spawn(fromMachine(m), { name: 'parent' });
    parent.tell({ type: 'start' });
    const child = (await parent.ask({ type: 'who' })) as ActorRef<ChildMsg, number>;
    expect(child.path).toBe('/user/parent/helper');
    parent.tell({ type: 'hit' }); // relayed by the machine's sendTo
    parent.tell({ type: 'hit' });
    await settle(system);
    await expect(child.ask({ type: 'get' })).resolves.toBe(2);
    // the child is stopped with its parent
    const probe = createTestProbe(system);
    probe.watch(child);
    await settle(system);
    await system.stop(parent);
    await probe.expectMessage<Terminated>((t) => t.ref.path === '/user/parent/helper');
    await system.shutdown();
  });

  it('turns an action that throws (status error) into a failure of the actor', async () => {
    const { system } = testSystem();
    const ref = system.spawn(fromMachine(counterMachine));
    const probe = createTestProbe(system);
    probe.watch(ref);
    ref.tell({ type: 'boom' });
    const t = await probe.expectMessage<Terminated>();
    expect(t.reason).toBe('failed');
    expect((t.error as Error).message).toBe('machine exploded');
    await system.shutdown();
  });

  it('stops the actor normally when the machine reaches a final state', async () => {
    const { system } = testSystem();
    const m = setup({ types: {} as { events: { type: 'finish' } } }).createMachine({
      initial: 'working',
      states: { working: { on: { finish: 'done' } }, done: { type: 'final' } },
    });
    const ref = system.spawn(fromMachine(m));
    const probe = createTestProbe(system);
    probe.watch(ref);
    ref.tell({ type: 'finish' });
    await probe.expectMessage<Terminated>({
      type: 'troupe.terminated',
      ref,
      reason: 'normal',
      error: undefined,
    });
    await system.shutdown();
  });

  it('runs after-timers on the system clock, through the mailbox', async () => {
    const { system, clock } = testSystem();
    const m = setup({}).createMachine({
      initial: 'waiting',
      states: { waiting: { after: { 1000: 'ringing' } }, ringing: {} },
    });
    const ref = system.spawn(fromMachine(m));
    const views: unknown[] = [];
    system.subscribe<MachineView>(
      ref,
      (u) => u.type === 'troupe.snapshot' && views.push(u.snapshot.value),
    );
    await settle(system);
    await clock.advance(999);
    expect(views).toEqual(['waiting']);
    await clock.advance(1);
    expect(views).toEqual(['waiting', 'ringing']);
    await system.shutdown();
  });

  it('publishes the statechart value and context to subscribers', async () => {
    const { system } = testSystem();
    const ref = system.spawn(fromMachine(counterMachine));
    const got: SnapshotUpdate<MachineView>[] = [];
    system.subscribe<MachineView>(ref, (u) => u.type === 'troupe.snapshot' && got.push(u));
    ref.tell({ type: 'inc' });
    await settle(system);
    expect(got.at(-1)!.snapshot).toEqual({ value: {}, context: { count: 1 }, status: 'active' });
    await system.shutdown();
  });
});

describe('fromMachine with persistence', () => {
  type CountEvent = { type: 'inc' } | { type: 'get' } | { type: 'crash' };
  const persistentCounter = setup({
    types: {} as {
      context: { count: number; friend: ActorRef<unknown> | null };
      events: CountEvent | { type: 'befriend'; ref: ActorRef<unknown> };
    },
  }).createMachine({
    id: 'pc',
    context: { count: 0, friend: null },
    on: {
      inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
      befriend: { actions: assign({ friend: ({ event }) => event.ref }) },
      get: { actions: reply(({ context }: { context: unknown }) => context) },
      crash: {
        actions: () => {
          throw new Error('crash');
        },
      },
    },
  });

  it('restarts from its last snapshot: a machine that counted to 7 before failing resumes at 7', async () => {
    const { system } = testSystem();
    const store = new InMemoryStore();
    const sup = system.spawn(
      fromReceive<null, 'go', ActorRef<CountEvent, unknown>>(
        null,
        (s, _m, ctx) => (
          ctx.reply(
            ctx.spawn(fromMachine(persistentCounter), { name: 'pc', persistence: { store } }),
          ),
          s
        ),
        { onChildFailure: () => 'restart' },
      ),
    );
    const pc = await sup.ask('go');
    for (let i = 0; i < 7; i++) pc.tell({ type: 'inc' });
    pc.tell({ type: 'crash' });
    await expect(pc.ask({ type: 'get' })).resolves.toMatchObject({ count: 7 });
    await system.shutdown();
  });

  it('keeps a ref in its context through a persisted snapshot', async () => {
    const store = new InMemoryStore();
    const a = testSystem();
    const friend = a.system.spawn(
      fromReceive(null, (s, _m: unknown) => s),
      { name: 'friend' },
    );
    const pc = a.system.spawn(fromMachine(persistentCounter), {
      name: 'pc',
      persistence: { store },
    });
    pc.tell({ type: 'befriend', ref: friend });
    await settle(a.system);
    const stored = await store.load('/user/pc');
    expect((stored!.snapshot.data as { machine: { context: unknown } }).machine.context).toEqual({
      count: 0,
      friend: { $ref: 'troupe://local/user/friend' },
    });
    await a.system.shutdown();

    const b = testSystem();
    const friend2 = b.system.spawn(
      fromReceive(null, (s, _m: unknown) => s),
      { name: 'friend' },
    );
    const pc2 = b.system.spawn(fromMachine(persistentCounter), {
      name: 'pc',
      persistence: { store },
    });
    const ctx = (await pc2.ask({ type: 'get' })) as { friend: ActorRef<unknown> };
    expect(ctx.friend).toBe(friend2);
    await b.system.shutdown();
  });

  it('fires a pending after-timer of a restored machine when it is due (bare XState loses it)', async () => {
    const store = new InMemoryStore();
    const m = setup({ types: {} as { events: { type: 'arm' } } }).createMachine({
      id: 'alarm',
      initial: 'idle',
      states: {
        idle: { on: { arm: 'armed' } },
        armed: { after: { 1000: 'ringing' } },
        ringing: {},
      },
    });
    const first = testSystem();
    const ref = first.system.spawn(fromMachine(m), { name: 'alarm', persistence: { store } });
    ref.tell({ type: 'arm' });
    await settle(first.system);
    await first.clock.advance(400);
    await first.system.shutdown();

    // a new process: same store, its clock 400 ms on from where the first one stopped
    const second = testSystem();
    await second.clock.advance(first.clock.now() - second.clock.now());
    const again = second.system.spawn(fromMachine(m), { name: 'alarm', persistence: { store } });
    const values: unknown[] = [];
    second.system.subscribe<MachineView>(
      again,
      (u) => u.type === 'troupe.snapshot' && values.push(u.snapshot.value),
    );
    await settle(second.system);
    expect(values).toEqual(['armed']);
    await second.clock.advance(599);
    expect(values).toEqual(['armed']);
    await second.clock.advance(1);
    expect(values).toEqual(['armed', 'ringing']);
    // and the new state was saved after the timer fired
    const stored = await store.load('/user/alarm');
    expect(
      (stored!.snapshot.data as { machine: { value: unknown }; timers: unknown[] }).machine.value,
    ).toBe('ringing');
    expect((stored!.snapshot.data as { timers: unknown[] }).timers).toEqual([]);
    await second.system.shutdown();
  });

  it('keeps a timer’s due time across two restores with messages in between', async () => {
    const store = new InMemoryStore();
    const m = setup({ types: {} as { events: { type: 'arm' } | { type: 'noop' } } }).createMachine({
      id: 'alarm2',
      initial: 'idle',
      states: {
        idle: { on: { arm: 'armed' } },
        armed: { after: { 1000: 'ringing' }, on: { noop: {} } },
        ringing: {},
      },
    });
    const first = testSystem();
    const start = first.clock.now();
    const a = first.system.spawn(fromMachine(m), { name: 'alarm', persistence: { store } });
    a.tell({ type: 'arm' });
    await settle(first.system);
    await first.clock.advance(400);
    await first.system.shutdown();

    const second = testSystem();
    await second.clock.advance(start + 400 - second.clock.now());
    const b = second.system.spawn(fromMachine(m), { name: 'alarm', persistence: { store } });
    await settle(second.system);
    await second.clock.advance(300);
    b.tell({ type: 'noop' }); // saved again at 700: the due time must stay 1000
    await settle(second.system);
    await second.system.shutdown();

    const third = testSystem();
    await third.clock.advance(start + 800 - third.clock.now());
    const c = third.system.spawn(fromMachine(m), { name: 'alarm', persistence: { store } });
    const values: unknown[] = [];
    third.system.subscribe<MachineView>(
      c,
      (u) => u.type === 'troupe.snapshot' && values.push(u.snapshot.value),
    );
    await settle(third.system);
    await third.clock.advance(199);
    expect(values).toEqual(['armed']);
    await third.clock.advance(1);
    expect(values).toEqual(['armed', 'ringing']);
    await third.system.shutdown();
  });

  it('fires an after timer even when the mailbox is full when it is due', async () => {
    // the actor waits for a slow save (its messages queue); a noop fills its mailbox of 1;
    // then the timer is due: it must not be dropped by the full mailbox
    const { system, clock } = testSystem();
    const inner = new InMemoryStore();
    const held: (() => void)[] = [];
    const store: PersistenceStore = {
      load: (key) => inner.load(key),
      save: (key, snapshot, options) =>
        new Promise((resolve, reject) =>
          held.push(() => void inner.save(key, snapshot, options).then(resolve, reject)),
        ),
    };
    const m = setup({ types: {} as { events: { type: 'arm' } | { type: 'noop' } } }).createMachine({
      id: 'alarm-full',
      initial: 'idle',
      states: {
        idle: { on: { arm: 'armed' } },
        armed: { after: { 1000: 'ringing' }, on: { noop: {} } },
        ringing: {},
      },
    });
    const a = system.spawn(fromMachine(m), {
      name: 'alarm',
      mailbox: { capacity: 1, overflow: 'drop-newest' },
      persistence: { store },
    });
    const dead: string[] = [];
    system.deadLetters.subscribe((d) => dead.push(d.reason));
    a.tell({ type: 'arm' });
    for (let i = 0; i < 10 && held.length === 0; i++) await nextTurn();
    expect(held).toHaveLength(1); // saving after arm: the actor waits
    expect(a.tell({ type: 'noop' })).toBe('enqueued'); // the mailbox is full now
    await clock.advance(1_000);
    expect(dead).toEqual([]);
    while (held.length > 0) {
      held.shift()!();
      for (let i = 0; i < 10; i++) await nextTurn();
    }
    const values: unknown[] = [];
    system.subscribe<MachineView>(
      a,
      (u) => u.type === 'troupe.snapshot' && values.push(u.snapshot.value),
    );
    await nextTurn();
    expect(values).toEqual(['ringing']);
    expect(dead).toEqual([]);
    await system.shutdown();
  });

  it('does not fire a timer whose state was left before it was due', async () => {
    const { system, clock } = testSystem();
    const m = setup({ types: {} as { events: { type: 'cancel' } } }).createMachine({
      initial: 'armed',
      states: {
        armed: { after: { 100: 'ringing' }, on: { cancel: 'idle' } },
        ringing: {},
        idle: {},
      },
    });
    const ref = system.spawn(fromMachine(m));
    const values: unknown[] = [];
    system.subscribe<MachineView>(
      ref,
      (u) => u.type === 'troupe.snapshot' && values.push(u.snapshot.value),
    );
    ref.tell({ type: 'cancel' });
    await settle(system);
    await clock.advance(1000);
    expect(values).toEqual(['armed', 'idle']);
    expect(system.timers.size).toBe(0);
    await system.shutdown();
  });
});
