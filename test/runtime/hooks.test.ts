/**
 * Every call into a behaviour's code goes through one boundary (runtime/core/cell.ts): a throw is
 * that actor's failure, named by its hook, and nothing else is harmed.
 */
import { describe, expect, it } from 'vitest';
import {
  fromReceive,
  type ActorRef,
  type Behaviour,
  type ChildFailure,
  type Directive,
  type SnapshotUpdate,
  type Terminated,
} from '../../index.ts';
import { settle } from '../../testing.ts';
import { testSystem, type TestSystem } from '../support/system.ts';

type Msg = { type: 'set'; v: number } | { type: 'get' } | { type: 'fail' };
interface State {
  readonly v: number;
}

/** A cell whose view throws when v is `badView`; `views` records every state it was given. */
function viewed(badView: number, views: unknown[]): Behaviour<Msg, number, State> {
  return fromReceive<State, Msg, number>(
    { v: 0 },
    (s, msg, ctx) => {
      if (msg.type === 'fail') throw new Error('induced');
      if (msg.type === 'get') {
        ctx.reply(s.v);
        return s;
      }
      return { v: msg.v };
    },
    {
      view: (s) => {
        views.push(s);
        if (s.v === badView) throw new Error('bad view');
        return s;
      },
    },
  );
}

type ParentMsg = { type: 'spawn'; behaviour: Behaviour<any, any, any> };

/** A parent that records its children's failures and answers each with `decide`. */
function parent(seen: ChildFailure[], decide: (f: ChildFailure) => Directive) {
  return fromReceive<null, ParentMsg, ActorRef<any, any>>(
    null,
    (s, msg, ctx) => {
      ctx.reply(ctx.spawn(msg.behaviour, { name: 'child' }));
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

async function withChild(
  behaviour: Behaviour<any, any, any>,
  decide: (f: ChildFailure) => Directive = () => 'restart',
): Promise<TestSystem & { child: ActorRef<any, any>; seen: ChildFailure[] }> {
  const t = testSystem();
  const seen: ChildFailure[] = [];
  const p = t.system.spawn(parent(seen, decide), { name: 'p' });
  const child = await p.ask({ type: 'spawn', behaviour });
  return { ...t, child, seen };
}

describe('the boundary around user code', () => {
  it('a view that throws after a message fails the actor with hook view; the system goes on', async () => {
    const views: unknown[] = [];
    const t = await withChild(viewed(2, views));
    const updates: unknown[] = [];
    t.system.subscribe(t.child, (u) => updates.push(u));
    await settle(t.system);
    t.child.tell({ type: 'set', v: 2 });
    await settle(t.system);
    expect(t.system.current).toBeNull();
    expect(t.seen).toHaveLength(1);
    expect(t.seen[0]!.hook).toBe('view');
    expect((t.seen[0]!.error as Error).message).toBe('bad view');
    // the message itself was handled: it is no failed message
    expect(t.seen[0]!.message).toBeUndefined();
    // restarted from init: it answers, and subscribers see its first view again
    expect(await t.child.ask({ type: 'get' })).toBe(0);
    const snaps = updates.filter((u) => (u as SnapshotUpdate).type === 'troupe.snapshot');
    expect((snaps.at(-1) as SnapshotUpdate<State>).snapshot).toEqual({ v: 0 });
    // another actor is unharmed
    const other = t.system.spawn(viewed(99, []));
    other.tell({ type: 'set', v: 5 });
    expect(await other.ask({ type: 'get' })).toBe(5);
  });

  it('a view that throws at the first subscription fails the actor, not the subscriber', async () => {
    const t = await withChild(viewed(0, []), () => 'stop');
    const got: unknown[] = [];
    t.system.subscribe(t.child, (u) => got.push(u));
    await settle(t.system);
    expect(t.seen.map((f) => f.hook)).toEqual(['view']);
    expect(got.map((u) => (u as Terminated).type)).toEqual(['troupe.terminated']);
    expect(t.system.current).toBeNull();
  });

  it('subscribing to an actor in restart backoff never calls view(undefined)', async () => {
    const views: unknown[] = [];
    const t = await withChild(viewed(-1, views), () => ({ name: 'restart', delayMs: 1_000 }));
    t.child.tell({ type: 'fail' });
    await settle(t.system);
    expect(t.seen).toHaveLength(1);
    // in backoff now: a new subscriber, locally (the gateway subscribes the same way)
    const got: SnapshotUpdate<State>[] = [];
    t.system.subscribe(t.child, (u) => got.push(u as SnapshotUpdate<State>));
    await settle(t.system);
    expect(views.every((v) => v !== undefined)).toBe(true);
    await t.clock.advance(1_000);
    await settle(t.system);
    expect(views.every((v) => v !== undefined)).toBe(true);
    expect(got.at(-1)!.snapshot).toEqual({ v: 0 });
    expect(await t.child.ask({ type: 'get' })).toBe(0);
  });

  it('a subscriber whose listener throws is unsubscribed and logged; the others go on', async () => {
    const t = await withChild(viewed(-1, []));
    let bad = 0;
    const good: unknown[] = [];
    t.system.subscribe(t.child, () => {
      bad++;
      throw new Error('listener bug');
    });
    t.system.subscribe(t.child, (u) => good.push(u));
    await settle(t.system);
    t.child.tell({ type: 'set', v: 1 });
    await settle(t.system);
    t.child.tell({ type: 'set', v: 2 });
    await settle(t.system);
    expect(bad).toBe(1);
    expect(good).toHaveLength(3);
    expect(t.seen).toHaveLength(0);
    expect(t.logs.some((l) => l.level === 'error' && /unsubscribed/.test(l.message))).toBe(true);
  });

  it('an event listener that throws is unsubscribed; the actor goes on emitting', async () => {
    const t = testSystem();
    const emitter = t.system.spawn(
      fromReceive<null, string>(null, (s, msg, ctx) => {
        ctx.emit(msg);
        return s;
      }),
    );
    let bad = 0;
    const good: unknown[] = [];
    t.system.subscribeEvents(emitter, () => {
      bad++;
      throw new Error('listener bug');
    });
    t.system.subscribeEvents(emitter, (e) => good.push(e));
    await settle(t.system);
    emitter.tell('a');
    emitter.tell('b');
    await settle(t.system);
    expect(bad).toBe(1);
    expect(good).toHaveLength(2);
  });

  it('init, onChildTerminated and restore that throw name their hook', async () => {
    const init = await withChild(
      fromReceive<null, Msg>(
        () => {
          throw new Error('init bug');
        },
        (s) => s,
      ),
      () => 'stop',
    );
    await settle(init.system);
    expect(init.seen.map((f) => f.hook)).toEqual(['init']);

    const t = testSystem();
    const seen: ChildFailure[] = [];
    const grand = fromReceive<null, 'go'>(
      null,
      (s, _msg, ctx) => {
        ctx.stop(ctx.spawn(fromReceive(null, (x) => x)));
        return s;
      },
      {
        onChildTerminated: () => {
          throw new Error('hook bug');
        },
      },
    );
    const p = t.system.spawn(
      parent(seen, () => 'stop'),
      { name: 'p' },
    );
    const c = await p.ask({ type: 'spawn', behaviour: grand });
    c.tell('go');
    await settle(t.system);
    expect(seen.map((f) => f.hook)).toEqual(['onChildTerminated']);
    expect(t.system.current).toBeNull();
  });

  it('a stop hook whose thenable throws from then() still lets the actor stop', async () => {
    const t = testSystem();
    const hostile = {
      get then(): never {
        throw new Error('hostile then');
      },
    };
    const a = t.system.spawn(
      fromReceive<null, Msg>(null, (s) => s, {
        stop: () => hostile as unknown as Promise<void>,
      }),
    );
    await settle(t.system);
    const stopped = t.system.stop(a);
    await settle(t.system);
    await stopped;
    expect(t.logs.some((l) => /hook stop/.test(l.message))).toBe(true);
  });

  it("the inspector's view of an actor whose view throws is undefined; the actor fails", async () => {
    const t = await withChild(viewed(0, []), () => 'stop');
    await settle(t.system);
    const cell = (t.child as unknown as { target: { inspectView(): unknown } }).target;
    expect(cell.inspectView()).toBeUndefined();
    await settle(t.system);
    expect(t.seen.map((f) => f.hook)).toEqual(['view']);
  });
});
