/**
 * Supervision across shards (runtime/shards/remote.ts): children placed on another shard than
 * their parent, failures, directives and restarts crossing threads, and shards that die.
 * Real threads, real time: each test starts a system with shards and shuts it down.
 */
import { threadId } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  createSystem,
  fromReceive,
  InMemoryStore,
  supervise,
  whichChildren,
  type ActorContext,
  type ActorRef,
  type ActorSystem,
  type Behaviour,
  type DeadLetter,
  type RuntimeEvent,
  type SupervisorRef,
  type Terminated,
} from '../../index.ts';
import { exiter, type ExiterMsg } from '../fixtures/shard-behaviours.ts';
import {
  busy,
  flaky,
  fragileSupervisor,
  parent,
  supervisorOfMain,
  type FlakyMsg,
  type ParentMsg,
} from '../fixtures/shard-supervision.ts';
import { broken } from '../fixtures/shard-broken.ts';

const quiet = { info() {}, warn() {}, error() {} };
const ASK = { timeout: 5_000 };

/** The first event that matches, published on the node's stream (from any shard). */
function nextEvent(
  system: ActorSystem,
  match: (e: RuntimeEvent) => boolean,
  timeoutMs = 5_000,
): Promise<RuntimeEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no matching event within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = system.events.subscribe((e) => {
      if (!match(e)) return;
      clearTimeout(timer);
      stop();
      resolve(e);
    });
  });
}

/** The thread id of each worker shard, by shard id (asked of a counter placed there). */
async function threadsOf(system: ActorSystem, shards: number): Promise<Map<number, number>> {
  const out = new Map<number, number>([[0, threadId]]);
  for (let s = 1; s < shards; s++) {
    const probe = system.spawn(flaky, { shard: s }) as ActorRef<FlakyMsg, number>;
    out.set(s, await probe.ask({ type: 'where' }, ASK));
    await system.stop(probe);
  }
  return out;
}

describe('supervision across shards', () => {
  it('runs a supervisor’s child on the shard its spec names, among the supervisor’s children', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const threads = await threadsOf(system, 2);
      const sup = system.spawn(supervise({ children: [{ id: 'w', behaviour: flaky, shard: 1 }] }), {
        name: 'sup',
        shard: 0,
      }) as SupervisorRef;
      const [child] = await whichChildren(sup);
      expect(child).toMatchObject({ id: 'w', type: 'worker' });
      const w = child!.ref as ActorRef<FlakyMsg, number>;
      expect(w.path).toBe('/user/sup/w');
      await expect(w.ask({ type: 'where' }, ASK)).resolves.toBe(threads.get(1));
      // reached by its address from anywhere, like any actor
      const byAddress = system.refOf(w.address) as ActorRef<FlakyMsg, number>;
      byAddress.tell({ type: 'inc' });
      await expect(w.ask({ type: 'get' }, ASK)).resolves.toBe(1);
    } finally {
      await system.shutdown();
    }
  });

  it('restarts a failed child on another shard where it ran, at the same address; the failing message is a dead letter', async () => {
    const system = createSystem({ shards: 2, logger: quiet });
    try {
      const threads = await threadsOf(system, 2);
      const dead: DeadLetter[] = [];
      system.deadLetters.subscribe((d) => dead.push(d));
      const events: RuntimeEvent[] = [];
      system.events.subscribe((e) => events.push(e));
      const sup = system.spawn(
        supervise({ intensity: 3, children: [{ id: 'w', behaviour: flaky, shard: 1 }] }),
        { name: 'sup', shard: 0 },
      ) as SupervisorRef;
      const w = (await whichChildren(sup))[0]!.ref as ActorRef<FlakyMsg, number>;
      w.tell({ type: 'inc' });
      w.tell({ type: 'inc' });
      await expect(w.ask({ type: 'get' }, ASK)).resolves.toBe(2);
      const restarted = nextEvent(system, (e) => e.type === 'child-restarted');
      w.tell({ type: 'boom' });
      await restarted;
      await expect(w.ask({ type: 'get' }, ASK)).resolves.toBe(0);
      await expect(w.ask({ type: 'where' }, ASK)).resolves.toBe(threads.get(1));
      expect(events.map((e) => e.type)).toEqual(
        expect.arrayContaining(['child-started', 'child-failed', 'child-restarted']),
      );
      expect(events.find((e) => e.type === 'child-failed')).toMatchObject({
        supervisor: '/user/sup',
        child: '/user/sup/w',
      });
      expect(dead).toMatchObject([
        { message: { type: 'boom' }, recipient: 'troupe://local/user/sup/w', reason: 'failed' },
      ]);
    } finally {
      await system.shutdown();
    }
  });

  it('restarts a one-for-all group spread over three shards: every member starts again', async () => {
    const system = createSystem({ shards: 3, logger: quiet });
    try {
      const sup = system.spawn(
        supervise({
          strategy: 'one-for-all',
          intensity: 3,
          children: [
            { id: 'a', behaviour: flaky, shard: 1 },
            { id: 'b', behaviour: flaky, shard: 2 },
            { id: 'c', behaviour: flaky },
          ],
        }),
        { name: 'sup', shard: 0 },
      ) as SupervisorRef;
      const refs = (await whichChildren(sup)).map((c) => c.ref as ActorRef<FlakyMsg, number>);
      for (const r of refs) r.tell({ type: 'inc' });
      expect(await Promise.all(refs.map((r) => r.ask({ type: 'get' }, ASK)))).toEqual([1, 1, 1]);
      const restarts: string[] = [];
      const allThree = new Promise<void>((resolve) =>
        system.events.subscribe((e) => {
          if (e.type === 'child-restarted') restarts.push(e.id);
          if (restarts.length === 3) resolve();
        }),
      );
      refs[1]!.tell({ type: 'boom' });
      await allThree;
      expect(restarts).toEqual(['a', 'b', 'c']);
      expect(await Promise.all(refs.map((r) => r.ask({ type: 'get' }, ASK)))).toEqual([0, 0, 0]);
    } finally {
      await system.shutdown();
    }
  });

  it('lets a supervisor on a worker shard supervise a child on the main thread', async () => {
    const system = createSystem({ shards: 2, logger: quiet });
    try {
      const sup = system.spawn(supervisorOfMain, { name: 'sup', shard: 1 }) as SupervisorRef;
      const w = (await whichChildren(sup))[0]!.ref as ActorRef<FlakyMsg, number>;
      expect(w.path).toBe('/user/sup/w');
      await expect(w.ask({ type: 'where' }, ASK)).resolves.toBe(threadId);
      w.tell({ type: 'inc' });
      await expect(w.ask({ type: 'get' }, ASK)).resolves.toBe(1);
      // the supervisor's events reach the node's stream from its shard
      const restarted = nextEvent(system, (e) => e.type === 'child-restarted');
      w.tell({ type: 'boom' });
      await expect(restarted).resolves.toMatchObject({ supervisor: '/user/sup', id: 'w' });
      await expect(w.ask({ type: 'get' }, ASK)).resolves.toBe(0);
      await expect(w.ask({ type: 'where' }, ASK)).resolves.toBe(threadId);
    } finally {
      await system.shutdown();
    }
  });

  it('escalates across shards: a child supervisor on a worker that gives up is stopped (not restarted) by its transient spec', async () => {
    const system = createSystem({ shards: 3, logger: quiet });
    try {
      const top = system.spawn(
        supervise({
          intensity: 5,
          children: [{ id: 'mid', behaviour: fragileSupervisor, shard: 1, restart: 'transient' }],
        }),
        { name: 'top', shard: 0 },
      ) as SupervisorRef;
      const mid = (await whichChildren(top))[0]!.ref as SupervisorRef;
      const w = (await whichChildren(mid))[0]!.ref as ActorRef<FlakyMsg, number>;
      expect(w.path).toBe('/user/top/mid/w');
      const failed = nextEvent(
        system,
        (e) => e.type === 'child-failed' && e.supervisor === '/user/top',
      );
      const midStopped = nextEvent(
        system,
        (e) => e.type === 'child-stopped' && e.supervisor === '/user/top',
      );
      w.tell({ type: 'boom' });
      await nextEvent(system, (e) => e.type === 'child-restarted' && e.id === 'w');
      w.tell({ type: 'boom' });
      // mid gave up: its failure crossed to top with its code, which OTP counts as shutdown
      await expect(failed).resolves.toMatchObject({
        child: '/user/top/mid',
        error: expect.objectContaining({ code: 'ERR_MAX_RESTART_INTENSITY' }),
      });
      await midStopped;
      expect(await whichChildren(top)).toMatchObject([{ id: 'mid', ref: undefined }]);
    } finally {
      await system.shutdown();
    }
  });

  it('spawns children on another shard from an actor on a worker shard, and frees their names when they stop', async () => {
    const system = createSystem({ shards: 3 });
    try {
      const threads = await threadsOf(system, 3);
      const p = system.spawn(parent, { name: 'p', shard: 1 }) as ActorRef<ParentMsg, unknown>;
      const c = (await p.ask({ type: 'spawn', shard: 2, name: 'c' }, ASK)) as ActorRef<
        FlakyMsg,
        number
      >;
      expect(c.path).toBe('/user/p/c');
      await expect(c.ask({ type: 'where' }, ASK)).resolves.toBe(threads.get(2));
      await expect(p.ask({ type: 'children' }, ASK)).resolves.toEqual(['/user/p/c']);
      await system.stop(c);
      // its parent, on another shard, hears of it just after (then the name is free there)
      let children: unknown = null;
      for (let i = 0; i < 100 && (children as unknown[] | null)?.length !== 0; i++)
        children = await p.ask({ type: 'children' }, ASK);
      expect(children).toEqual([]);
      const again = (await p.ask({ type: 'spawn', shard: 0, name: 'c' }, ASK)) as ActorRef<
        FlakyMsg,
        number
      >;
      await expect(again.ask({ type: 'where' }, ASK)).resolves.toBe(threadId);
      // a top-level name on a worker shard is free again once its actor stopped
      await system.stop(p);
      const p2 = system.spawn(parent, { name: 'p', shard: 2 }) as ActorRef<ParentMsg, unknown>;
      await expect(p2.ask({ type: 'where' }, ASK)).resolves.toBe(threads.get(2));
    } finally {
      await system.shutdown();
    }
  });

  it('reaches a child spawned on another shard from any shard at once, even before the spawn reached that shard', async () => {
    const system = createSystem({ shards: 3 });
    try {
      const dead: DeadLetter[] = [];
      system.deadLetters.subscribe((d) => dead.push(d));
      const p = system.spawn(parent, { name: 'p', shard: 1 }) as ActorRef<ParentMsg, unknown>;
      const hold = system.spawn(busy, { shard: 2 }) as ActorRef<{ ms: number }>;
      await p.ask({ type: 'where' }, ASK);
      for (let round = 0; round < 5; round++) {
        // shard 2 is busy while shard 1 spawns children there and the main thread, told of
        // them by shard 1, asks them: the asks and the spawns reach shard 2 on two ports
        hold.tell({ ms: 100 });
        await sleep(10);
        const children = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            p.ask({ type: 'spawn', shard: 2, name: `c${round}-${i}` }, ASK),
          ),
        );
        const counts = await Promise.all(
          children.map((c) => (c as ActorRef<FlakyMsg, number>).ask({ type: 'get' }, ASK)),
        );
        expect(counts).toEqual(children.map(() => 0));
      }
      expect(dead).toEqual([]);
    } finally {
      await system.shutdown();
    }
  });

  it('fails a child whose module cannot load on its shard, as any failure of that child', async () => {
    const system = createSystem({ shards: 2, logger: quiet });
    try {
      const failed = nextEvent(system, (e) => e.type === 'child-failed');
      const stopped = nextEvent(system, (e) => e.type === 'child-stopped');
      system.spawn(
        supervise({ children: [{ id: 'b', behaviour: broken, shard: 1, restart: 'transient' }] }),
        { name: 'sup', shard: 0 },
      );
      // a transient child that failed is restarted: it fails again, past the intensity (1)
      await expect(failed).resolves.toMatchObject({
        child: '/user/sup/b',
        error: expect.objectContaining({ code: 'ERR_REMOTE_SPAWN' }),
      });
      await expect(stopped).resolves.toMatchObject({ child: '/user/sup/b', reason: 'failed' });
    } finally {
      await system.shutdown();
    }
  });

  it.each([
    ['process.exit() inside it', 'exit'],
    ['an uncaught error', 'throw'],
    ['running out of memory', 'oom'],
  ] as const)(
    'restarts the supervised actors of a shard that died of %s on a live shard within 1 s, persistent ones from their snapshots',
    async (_, how) => {
      const system = createSystem({
        shards: 3,
        shardLimits: { maxOldGenerationSizeMb: 64 },
        logger: quiet,
      });
      try {
        const threads = await threadsOf(system, 3);
        const store = new InMemoryStore();
        const sup = system.spawn(
          supervise({
            intensity: 3,
            children: [
              { id: 'doomed', behaviour: exiter, shard: 1 },
              { id: 'counter', behaviour: flaky, shard: 1 },
              { id: 'kept', behaviour: flaky, shard: 1, persistence: { store } },
            ],
          }),
          { name: 'sup', shard: 0 },
        ) as SupervisorRef;
        const [doomed, counter, kept] = (await whichChildren(sup)).map((c) => c.ref) as [
          ActorRef<ExiterMsg, string>,
          ActorRef<FlakyMsg, number>,
          ActorRef<FlakyMsg, number>,
        ];
        for (const c of [counter, kept]) {
          c.tell({ type: 'inc' });
          c.tell({ type: 'inc' });
          await expect(c.ask({ type: 'get' }, ASK)).resolves.toBe(2);
        }
        await expect(counter.ask({ type: 'where' }, ASK)).resolves.toBe(threads.get(1));
        const failures: RuntimeEvent[] = [];
        system.events.subscribe((e) => e.type === 'child-failed' && failures.push(e));
        let restarted = 0;
        const allRestarted = new Promise<void>((resolve) =>
          system.events.subscribe((e) => {
            if (e.type === 'child-restarted' && ++restarted === 3) resolve();
          }),
        );
        const detected = nextEvent(system, (e) => e.type === 'child-failed');
        doomed.tell(how);
        // from the moment its death is known (dying out of memory takes a while itself)
        await detected;
        await Promise.race([
          allRestarted,
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error('not restarted within 1 s')), 1_000),
          ),
        ]);
        expect(failures.map((f) => (f as { error: { code: string } }).error.code)).toEqual([
          'ERR_SHARD_LOST',
          'ERR_SHARD_LOST',
          'ERR_SHARD_LOST',
        ]);
        // started again on the live shard, at the same addresses: from their initial state,
        // or from their snapshot
        await expect(counter.ask({ type: 'where' }, ASK)).resolves.toBe(threads.get(2));
        await expect(counter.ask({ type: 'get' }, ASK)).resolves.toBe(0);
        await expect(kept.ask({ type: 'where' }, ASK)).resolves.toBe(threads.get(2));
        await expect(kept.ask({ type: 'get' }, ASK)).resolves.toBe(2);
        // its snapshots are still kept by the main thread's store, under its path
        kept.tell({ type: 'inc' });
        await expect(kept.ask({ type: 'get' }, ASK)).resolves.toBe(3);
        expect(store.keys()).toEqual(['/user/sup/kept']);
        await expect(store.load('/user/sup/kept')).resolves.toMatchObject({
          snapshot: { data: 3 },
        });
        await expect(doomed.ask('ping', ASK)).resolves.toBe('pong');
        expect(system.shards!.live).toEqual([0, 2]);
      } finally {
        await system.shutdown();
      }
    },
  );

  it('keeps the messages sent to a lost actor while its supervisor restarts it, and delivers them in order', async () => {
    const system = createSystem({ shards: 3, logger: quiet });
    try {
      // a backoff keeps the child down a while after its shard died
      const sup = system.spawn(
        supervise({
          intensity: 3,
          backoff: { minMs: 200, maxMs: 200, jitter: 0 },
          children: [
            { id: 'doomed', behaviour: exiter, shard: 1 },
            { id: 'counter', behaviour: flaky, shard: 1 },
          ],
        }),
        { name: 'sup', shard: 0 },
      ) as SupervisorRef;
      const [doomed, counter] = (await whichChildren(sup)).map((c) => c.ref) as [
        ActorRef<ExiterMsg, string>,
        ActorRef<FlakyMsg, number>,
      ];
      await counter.ask({ type: 'get' }, ASK);
      const failed = nextEvent(system, (e) => e.type === 'child-failed' && e.id === 'counter');
      doomed.tell('exit');
      await failed;
      for (let i = 0; i < 5; i++) counter.tell({ type: 'inc' });
      await expect(counter.ask({ type: 'get' }, ASK)).resolves.toBe(5);
    } finally {
      await system.shutdown();
    }
  });

  it('fails an actor on another shard whose save conflicts with a newer snapshot, with the conflict’s code', async () => {
    const system = createSystem({ shards: 2, logger: quiet });
    try {
      const store = new InMemoryStore();
      const failed = nextEvent(system, (e) => e.type === 'child-failed');
      const restarted = nextEvent(system, (e) => e.type === 'child-restarted');
      const sup = system.spawn(
        supervise({
          intensity: 3,
          children: [{ id: 'c', behaviour: flaky, shard: 1, persistence: { store, key: 'k' } }],
        }),
        { name: 'sup', shard: 0 },
      ) as SupervisorRef;
      const c = (await whichChildren(sup))[0]!.ref as ActorRef<FlakyMsg, number>;
      c.tell({ type: 'inc' });
      await expect(c.ask({ type: 'get' }, ASK)).resolves.toBe(1);
      // another writer saves first: the actor's next save conflicts
      const { version } = (await store.load('k'))!;
      await store.save('k', { schemaVersion: 1, data: 10 }, { expectedVersion: version });
      c.tell({ type: 'inc' });
      await expect(failed).resolves.toMatchObject({
        child: '/user/sup/c',
        error: expect.objectContaining({ code: 'ERR_PERSISTENCE_CONFLICT' }),
      });
      // restarted from the newer snapshot
      await restarted;
      await expect(c.ask({ type: 'get' }, ASK)).resolves.toBe(10);
    } finally {
      await system.shutdown();
    }
  });

  it('kills the children on other shards of an actor whose shard died (nobody supervises them)', async () => {
    const system = createSystem({ shards: 3, logger: quiet });
    try {
      const p = system.spawn(parent, { name: 'p', shard: 1 }) as ActorRef<ParentMsg, unknown>;
      const c = (await p.ask({ type: 'spawn', shard: 2, name: 'c' }, ASK)) as ActorRef<
        FlakyMsg,
        number
      >;
      await c.ask({ type: 'get' }, ASK); // it runs
      const doomed = system.spawn(exiter, { shard: 1 }) as ActorRef<ExiterMsg, string>;
      await doomed.ask('ping', ASK);
      const orphan = new Promise<Terminated>((resolve) => system.watch(c, resolve));
      doomed.tell('exit');
      await expect(orphan).resolves.toMatchObject({ reason: 'shutdown' });
      const dead: DeadLetter[] = [];
      system.deadLetters.subscribe((d) => dead.push(d));
      c.tell({ type: 'inc' });
      for (let i = 0; i < 100 && dead.length === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(dead).toMatchObject([{ recipient: 'troupe://local/user/p/c' }]);
    } finally {
      await system.shutdown();
    }
  });

  it('does not start a child whose parent’s shard died while its module loaded', async () => {
    const system = createSystem({ shards: 3, logger: quiet });
    try {
      const p = system.spawn(parent, { name: 'p', shard: 1 }) as ActorRef<ParentMsg, unknown>;
      const doomed = system.spawn(exiter, { shard: 1 }) as ActorRef<ExiterMsg, string>;
      await doomed.ask('ping', ASK);
      // its module takes 300 ms to load on shard 2; shard 1 dies meanwhile
      const c = (await p.ask({ type: 'spawn', shard: 2, name: 'c', slow: true }, ASK)) as ActorRef<
        unknown,
        unknown
      >;
      const dead: DeadLetter[] = [];
      system.deadLetters.subscribe((d) => dead.push(d));
      c.tell({ type: 'item', from: 'x', seq: 0 });
      doomed.tell('exit');
      const t = await new Promise<Terminated>((resolve) => system.watch(c, resolve));
      expect(['unknown-actor', 'shard-lost']).toContain(t.reason);
      await sleep(500); // past the module's load
      await expect(c.ask({ type: 'dump' }, ASK)).rejects.toMatchObject({
        code: 'ERR_ASK_UNDELIVERED',
      });
      expect(dead.map((d) => d.recipient)).toContain('troupe://local/user/p/c');
    } finally {
      await system.shutdown();
    }
  });

  it('does not take the late end of a child killed on another shard for the end of its next spawn', async () => {
    const system = createSystem({ shards: 2, logger: quiet });
    try {
      const ends: string[] = [];
      // a parent with a child on shard 1; restarted, it kills its children (brutal) at once
      const parentOf = {
        kind: 'parent',
        init(ctx: ActorContext<string>) {
          ctx.spawn(flaky, { name: 'c', shard: 1 });
          return null;
        },
        receive(s: null, m: string) {
          if (m === 'boom') throw new Error('parent boom');
          return s;
        },
        onChildTerminated(
          child: ActorRef<unknown>,
          reason: string,
          s: null,
          ctx: ActorContext<string>,
        ) {
          ends.push(`incarnation ${ctx.incarnation}: ${child.path} ${reason}`);
        },
      } satisfies Behaviour<string, unknown, null>;
      const restarted = nextEvent(system, (e) => e.type === 'child-restarted');
      const top = system.spawn(
        supervise({
          intensity: 5,
          children: [{ id: 'p', behaviour: parentOf, shutdown: 'brutal' }],
        }),
        { name: 'top', shard: 0 },
      ) as SupervisorRef;
      const p = (await whichChildren(top))[0]!.ref as ActorRef<string>;
      const c = system.refOf('troupe://local/user/top/p/c' as never) as ActorRef<FlakyMsg, number>;
      await expect(c.ask({ type: 'get' }, ASK)).resolves.toBe(0);
      p.tell('boom');
      await restarted;
      // the killed child's own end arrives after the new one was spawned
      await sleep(300);
      expect(ends).toEqual([]);
      await expect(c.ask({ type: 'get' }, ASK)).resolves.toBe(0); // the new child runs
    } finally {
      await system.shutdown();
    }
  });

  it('does not take the late end of a child killed on another shard for a child of this thread with its name', async () => {
    const system = createSystem({ shards: 2, logger: quiet });
    try {
      // incarnation 0 has its child on shard 1; the next one has it on its own thread
      const parentOf = {
        kind: 'parent',
        init(ctx: ActorContext<string>) {
          ctx.spawn(flaky, { name: 'c', shard: ctx.incarnation === 0 ? 1 : 0 });
          return null;
        },
        receive(s: null, m: string, ctx: ActorContext<string>) {
          if (m === 'boom') throw new Error('parent boom');
          ctx.reply(ctx.children.map((c) => c.path));
          return s;
        },
      } satisfies Behaviour<string, unknown, null>;
      const restarted = nextEvent(system, (e) => e.type === 'child-restarted');
      const top = system.spawn(
        supervise({
          intensity: 5,
          children: [{ id: 'p', behaviour: parentOf, shutdown: 'brutal' }],
        }),
        { name: 'top', shard: 0 },
      ) as SupervisorRef;
      const p = (await whichChildren(top))[0]!.ref as ActorRef<string, string[]>;
      const c = system.refOf('troupe://local/user/top/p/c' as never) as ActorRef<FlakyMsg, number>;
      await expect(c.ask({ type: 'where' }, ASK)).resolves.not.toBe(threadId);
      p.tell('boom');
      await restarted;
      await sleep(300); // the killed child's own end has come by now
      await expect(p.ask('children', ASK)).resolves.toEqual(['/user/top/p/c']);
      await expect(c.ask({ type: 'where' }, ASK)).resolves.toBe(threadId);
    } finally {
      await system.shutdown();
    }
  });

  it('refuses a shard that does not exist and a behaviour that cannot be placed, naming the option', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const local = fromReceive<null, unknown>(null, (s) => s);
      const spawner = system.spawn(
        fromReceive<null, { shard: number; portable: boolean }, string>(null, (s, m, ctx) => {
          try {
            ctx.spawn(m.portable ? flaky : local, { shard: m.shard });
            ctx.reply('ok');
          } catch (e) {
            ctx.reply(`${(e as { code: string }).code} ${(e as { field: string }).field}`);
          }
          return s;
        }),
        { shard: 0 },
      );
      await expect(spawner.ask({ shard: 5, portable: true }, ASK)).resolves.toBe(
        'ERR_INVALID_OPTION options.shard',
      );
      await expect(spawner.ask({ shard: 1, portable: false }, ASK)).resolves.toBe(
        'ERR_INVALID_OPTION options.shard',
      );
      await expect(spawner.ask({ shard: 1, portable: true }, ASK)).resolves.toBe('ok');
      expect(() =>
        system.spawn(supervise({ children: [{ id: 'w', behaviour: flaky, shard: -1 }] })),
      ).toThrow(
        expect.objectContaining({ code: 'ERR_SUPERVISOR_SPEC', field: 'children[0].shard' }),
      );
    } finally {
      await system.shutdown();
    }
  });
});
