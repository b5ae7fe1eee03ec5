/**
 * Refs, timers and asks bound to what they name: a timer of an earlier incarnation never
 * reaches its successor, a ref never reaches a new spawn at its path, every ask settles the
 * moment it is lost, and a watcher that stops leaves nothing behind.
 */
import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import {
  AskDeliveryError,
  fromMachine,
  fromReceive,
  InMemoryStore,
  type ActorRef,
  type Behaviour,
  type PersistenceStore,
} from '../../index.ts';
import { nextTurn, settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

/** A machine that rings after 1 s (recording the incarnation that rang) and fails on `boom`. */
function alarm(rang: number[]) {
  const m = setup({
    types: {} as { input: { incarnation: number }; context: { incarnation: number } },
  }).createMachine({
    id: 'alarm',
    context: ({ input }) => ({ incarnation: input.incarnation }),
    initial: 'armed',
    states: {
      armed: {
        after: { 1000: 'ringing' },
        on: {
          boom: {
            actions: () => {
              throw new Error('boom');
            },
          },
        },
      },
      ringing: { entry: ({ context }) => void rang.push(context.incarnation) },
    },
  });
  return fromMachine(m, { input: (ctx) => ({ incarnation: ctx.incarnation }) });
}

/**
 * A parent that restarts its failed children and spawns what it is asked to: brutal (a
 * restart runs no stop hook) with a mailbox of one that fails the child when it overflows
 * (a failure XState does not see: its machine is never stopped, its timers stay armed).
 */
const restarter = fromReceive<null, Behaviour<any, any, any>, ActorRef<any>>(
  null,
  (s, behaviour, ctx) => {
    ctx.reply(
      ctx.spawn(behaviour, {
        name: 'child',
        shutdown: 'brutal',
        mailbox: { capacity: 1, overflow: 'fail' },
      }),
    );
    return s;
  },
  { onChildFailure: () => 'restart' },
);

describe('incarnations', () => {
  it('a brutal restart: the old machine’s timer is a dead letter, not an event of its successor', async () => {
    const t = testSystem();
    const rang: number[] = [];
    const p = t.system.spawn(restarter);
    const child = await p.ask(alarm(rang));
    await t.clock.advance(500);
    // two at once: the second overflows the mailbox of one, which fails the child
    child.tell({ type: 'noop' });
    child.tell({ type: 'noop' });
    await settle(t.system);
    // the successor armed its own timer at 500; the first incarnation's was due at 1000
    await t.clock.advance(500);
    expect(rang).toEqual([]);
    expect(t.system.deadLetters.countOf('stale-incarnation')).toBe(1);
    await t.clock.advance(500);
    expect(rang).toEqual([1]);
    await t.system.shutdown();
  });

  it('a ref and a timer of a stopped actor never reach a new actor spawned at its path', async () => {
    const t = testSystem();
    const rang: number[] = [];
    const first = t.system.spawn(alarm(rang), { name: 'a', shutdown: 'brutal' });
    await settle(t.system);
    // killed at once: its machine's timer stays armed (no stop hook ran)
    await t.system.stop(first);
    const second = t.system.spawn(
      fromReceive<string[], unknown>([], (s, m) => [...s, JSON.stringify(m)]),
      { name: 'a' },
    );
    const seen: unknown[] = [];
    t.system.subscribe(second, (u) => seen.push(u));
    await t.clock.advance(1_000);
    expect(first.tell({ type: 'boom' })).toBe('dead-letter');
    await settle(t.system);
    // the newcomer saw neither the old timer nor the old ref's message
    const last = seen.at(-1) as { snapshot: string[] };
    expect(last.snapshot).toEqual([]);
    expect(t.system.deadLetters.countOf('stopped')).toBeGreaterThanOrEqual(2);
    await t.system.shutdown();
  });
});

describe('every ask settles when it is lost', () => {
  it('an ask still queued when its actor stops rejects at once (stopped)', async () => {
    const t = testSystem();
    const slow = t.system.spawn(
      fromReceive<null, 'hold' | 'q'>(null, (s, m, ctx) => {
        if (m === 'hold') ctx.stop();
        return s;
      }),
    );
    slow.tell('hold');
    const ask = slow.ask('q', { timeout: 60_000 }).then(
      () => null,
      (err: unknown) => err,
    );
    await settle(t.system);
    const e = await ask;
    expect(e).toBeInstanceOf(AskDeliveryError);
    expect((e as AskDeliveryError).reason).toBe('stopped');
    await t.system.shutdown();
  });

  it('an ask dropped by drop-oldest rejects at once (dropped-oldest)', async () => {
    const t = testSystem();
    const a = t.system.spawn(
      fromReceive<null, string>(null, (s) => s),
      { mailbox: { capacity: 1, overflow: 'drop-oldest' } },
    );
    // starting: both queue; the second pushes the first out
    const first = a.ask('one', { timeout: 60_000 }).then(
      () => null,
      (err: unknown) => err,
    );
    a.tell('two');
    const e = await first;
    expect((e as AskDeliveryError).reason).toBe('dropped-oldest');
    await t.system.shutdown();
  });

  it('a persistent actor killed while its snapshot is saved sends nothing after Terminated', async () => {
    const t = testSystem();
    let release: (() => void) | null = null;
    const inner = new InMemoryStore();
    const store: PersistenceStore = {
      load: (k) => inner.load(k),
      save: (k, s, o) =>
        new Promise((resolve, reject) => {
          release = () => void inner.save(k, s, o).then(resolve, reject);
        }),
      delete: (k) => inner.delete(k),
    } as PersistenceStore;
    const log: string[] = [];
    const observer = t.system.spawn(
      fromReceive<null, { type: string }>(null, (s, m) => (log.push(m.type), s)),
    );
    const saver = fromReceive<null, 'go'>(null, (s) => {
      observer.tell({ type: 'sent' });
      return s;
    });
    // its parent is stopped brutally: it kills its child at once, whatever the child awaits
    const parent = t.system.spawn(
      fromReceive<null, 'spawn', ActorRef<'go'>>(
        null,
        (s, _m, ctx) => (ctx.reply(ctx.spawn(saver, { persistence: { store } })), s),
      ),
      { shutdown: 'brutal' },
    );
    const p = await parent.ask('spawn');
    await settle(t.system);
    t.system.watch(p, () => log.push('terminated'));
    p.tell('go');
    // its save never ends until released: wait for it to start, not for idleness
    for (let i = 0; i < 10 && release === null; i++) await nextTurn();
    expect(release).not.toBeNull();
    const stopped = t.system.stop(parent);
    for (let i = 0; i < 10; i++) await nextTurn();
    await stopped;
    release!();
    for (let i = 0; i < 10; i++) await nextTurn();
    expect(log).toEqual(['terminated']);
    expect(t.system.deadLetters.countOf('stopped')).toBeGreaterThanOrEqual(1);
    await t.system.shutdown();
  });
});

describe('watches', () => {
  it('a watcher that stops is removed from the watched actor; 100,000 of them leave nothing', async () => {
    const t = testSystem();
    const watched = t.system.spawn(fromReceive(null, (s) => s));
    const watcher = fromReceive<null, 'stop'>(
      (ctx) => (ctx.watch(watched), null),
      (s, _m, ctx) => (ctx.stop(), s),
    );
    const cell = (watched as unknown as { target: { watchers: Set<unknown> | null } }).target;
    for (let round = 0; round < 10; round++) {
      const refs: ActorRef<'stop'>[] = [];
      for (let i = 0; i < 10_000; i++) refs.push(t.system.spawn(watcher));
      await settle(t.system);
      expect(cell.watchers?.size).toBe(10_000);
      for (const r of refs) r.tell('stop');
      await settle(t.system);
      expect(cell.watchers?.size ?? 0).toBe(0);
    }
    await t.system.shutdown();
  });

  it('a watched actor that stops leaves nothing in its watcher to unwatch', async () => {
    const t = testSystem();
    const targets = Array.from({ length: 100 }, () => t.system.spawn(fromReceive(null, (s) => s)));
    const w = t.system.spawn(
      fromReceive<null, unknown>(
        (ctx) => {
          for (const r of targets) ctx.watch(r);
          return null;
        },
        (s) => s,
      ),
    );
    await settle(t.system);
    const cell = (w as unknown as { target: { watching: Map<string, unknown> | null } }).target;
    expect(cell.watching?.size).toBe(100);
    for (const r of targets) void t.system.stop(r);
    await settle(t.system);
    expect(cell.watching).toBeNull();
    await t.system.shutdown();
  });
});
