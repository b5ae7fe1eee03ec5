import { describe, expect, it } from 'vitest';
import {
  createSystem,
  fromReceive,
  type ActorRef,
  type Address,
  type SnapshotUpdate,
  type Terminated,
} from '../../index.ts';
import { createTestProbe, nextTurn, settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

const idle = () => fromReceive(null, (s, _m: unknown) => s);

describe('spawning', () => {
  it('gives each actor an address made of the node id and its path', async () => {
    const { system } = testSystem({ nodeId: 'n1' });
    const ref = system.spawn(idle(), { name: 'a' });
    expect(ref.path).toBe('/user/a');
    expect(ref.address).toBe('troupe://n1/user/a');
    // encoded with the uid of its spawn (runtime/core/ref.ts)
    const json = JSON.parse(JSON.stringify({ r: ref })) as { r: { $ref: string; $uid: number } };
    expect(Object.keys(json.r)).toEqual(['$ref', '$uid']);
    expect(json.r.$ref).toBe('troupe://n1/user/a');
    expect(Number.isSafeInteger(json.r.$uid) && json.r.$uid > 0).toBe(true);
    await system.shutdown();
  });

  it('names unnamed actors $ and a base-36 number, found by path; other $ names find nothing', async () => {
    const { system } = testSystem();
    const refs = Array.from({ length: 37 }, () => system.spawn(idle()));
    const named = system.spawn(idle(), { name: 'n' });
    const after = system.spawn(idle());
    expect(refs[0]!.path).toBe('/user/$0');
    expect(refs[35]!.path).toBe('/user/$z');
    expect(refs[36]!.address).toBe('troupe://local/user/$10');
    expect(after.path).toBe('/user/$11');
    expect(system.actorAt('/user/$z')).toBe(refs[35]);
    expect(system.actorAt('/user/n')).toBe(named);
    expect(system.refOf('troupe://local/user/$10' as Address)).toBe(refs[36]);
    for (const p of ['/user/$', '/user/$010', '/user/$Z', '/user/$-1', '/user/$1.5', '/user/$12'])
      expect(system.actorAt(p)).toBeUndefined();
    await system.shutdown();
  });

  it('refuses a name already taken by a live sibling with ERR_NAME_TAKEN', async () => {
    const { system } = testSystem();
    system.spawn(idle(), { name: 'a' });
    expect(() => system.spawn(idle(), { name: 'a' })).toThrow(
      expect.objectContaining({ code: 'ERR_NAME_TAKEN', path: '/user/a' }),
    );
    await system.shutdown();
  });

  it('frees a name as soon as its actor has stopped', async () => {
    const { system } = testSystem();
    const a = system.spawn(idle(), { name: 'a' });
    await system.stop(a);
    expect(() => system.spawn(idle(), { name: 'a' })).not.toThrow();
    await system.shutdown();
  });

  it('refuses bad names with ERR_INVALID_ACTOR_NAME and non-behaviours with ERR_INVALID_BEHAVIOUR', async () => {
    const { system } = testSystem();
    for (const name of ['', 'a/b', '$x', 'a b'])
      expect(() => system.spawn(idle(), { name })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ACTOR_NAME' }),
      );
    expect(() => system.spawn({} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_BEHAVIOUR' }),
    );
    expect(() => system.spawn(null as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_BEHAVIOUR' }),
    );
    expect(() => system.spawn(idle(), { nmae: 'x' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', field: 'options.nmae' }),
    );
    await system.shutdown();
  });

  it('refuses to spawn a child of a stopping actor with ERR_ACTOR_STOPPED', async () => {
    const { system } = testSystem();
    const errors: unknown[] = [];
    const a = system.spawn(
      fromReceive(
        null,
        (s, _m: 'go', ctx) => {
          ctx.stop();
          return s;
        },
        {
          stop: (_s, ctx) => {
            try {
              ctx.spawn(idle());
            } catch (e) {
              errors.push(e);
            }
          },
        },
      ),
    );
    a.tell('go');
    await settle(system);
    expect(errors).toMatchObject([{ code: 'ERR_ACTOR_STOPPED', path: a.path }]);
    await system.shutdown();
  });

  it('refuses to spawn after shutdown with ERR_SYSTEM_TERMINATED', async () => {
    const { system } = testSystem();
    await system.shutdown();
    expect(() => system.spawn(idle())).toThrow(
      expect.objectContaining({ code: 'ERR_SYSTEM_TERMINATED' }),
    );
  });

  it('refuses unknown system options naming the field', () => {
    expect(() => createSystem({ thruput: 5 } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', field: 'options.thruput' }),
    );
    expect(() => createSystem({ nodeId: 'a b' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', field: 'options.nodeId' }),
    );
  });
});

describe('stopping and deathwatch', () => {
  it('stops an actor from outside; watchers get troupe.terminated with reason normal', async () => {
    const { system } = testSystem();
    const a = system.spawn(idle(), { name: 'a' });
    const probe = createTestProbe(system);
    probe.watch(a);
    await settle(system);
    await system.stop(a);
    await probe.expectMessage<Terminated>({
      type: 'troupe.terminated',
      ref: a,
      reason: 'normal',
      error: undefined,
    });
    await system.shutdown();
  });

  it('stops an actor from inside after the current message; the rest go to dead letters', async () => {
    const { system } = testSystem();
    const handled: string[] = [];
    const a = system.spawn(
      fromReceive(null, (s, m: string, ctx) => {
        handled.push(m);
        if (m === 'quit') ctx.stop();
        return s;
      }),
    );
    const probe = createTestProbe(system);
    probe.watch(a);
    a.tell('one');
    a.tell('quit');
    a.tell('two');
    await probe.expectTerminated(a);
    expect(handled).toEqual(['one', 'quit']);
    expect(system.deadLetters.recent()).toMatchObject([{ message: 'two', reason: 'stopped' }]);
    await system.shutdown();
  });

  it('delivers troupe.terminated at once to a watch made after the actor stopped', async () => {
    const { system } = testSystem();
    const a = system.spawn(idle());
    await system.stop(a);
    const probe = createTestProbe(system);
    const t = await probe.expectTerminated(a);
    expect(t.reason).toBe('normal');
    await system.shutdown();
  });

  it('delivers troupe.terminated with reason unknown-actor to a watch of an address nobody lives at', async () => {
    const { system } = testSystem();
    const probe = createTestProbe(system);
    const t = await probe.expectTerminated(system.refOf(system.addressOf('/user/none' as never)));
    expect(t.reason).toBe('unknown-actor');
    await system.shutdown();
  });

  it('lets an actor watch another and unwatch it', async () => {
    const { system } = testSystem();
    const got: string[] = [];
    const target1 = system.spawn(idle(), { name: 't1' });
    const target2 = system.spawn(idle(), { name: 't2' });
    const watcher = system.spawn(
      fromReceive(
        null,
        (s, m: { op: 'watch' | 'unwatch'; ref: ActorRef<unknown> } | Terminated, ctx) => {
          if ('op' in m) {
            if (m.op === 'watch') ctx.watch(m.ref);
            else ctx.unwatch(m.ref);
          } else got.push(m.ref.path);
          return s;
        },
      ),
    );
    watcher.tell({ op: 'watch', ref: target1 });
    watcher.tell({ op: 'watch', ref: target2 });
    watcher.tell({ op: 'unwatch', ref: target2 });
    await settle(system);
    await system.stop(target1);
    await system.stop(target2);
    await settle(system);
    expect(got).toEqual(['/user/t1']);
    await system.shutdown();
  });

  it('shutdown stops children before parents, siblings in reverse start order, and resolves whenTerminated', async () => {
    const { system } = testSystem();
    const order: string[] = [];
    const leaf = () =>
      fromReceive(null, (s, _m: unknown) => s, { stop: (_s, ctx) => void order.push(ctx.path) });
    const node = (kids: string[]) =>
      fromReceive(
        (ctx) => {
          for (const k of kids) ctx.spawn(leaf(), { name: k });
          return null;
        },
        (s, _m: unknown) => s,
        { stop: (_s, ctx) => void order.push(ctx.path) },
      );
    system.spawn(node(['a1', 'a2']), { name: 'a' });
    system.spawn(node(['b1', 'b2', 'b3']), { name: 'b' });
    await settle(system);
    const report = await system.shutdown();
    expect(report).toEqual({ reason: 'shutdown' });
    await expect(system.whenTerminated).resolves.toEqual({ reason: 'shutdown' });
    expect(order).toEqual([
      '/user/b/b3',
      '/user/b/b2',
      '/user/b/b1',
      '/user/b',
      '/user/a/a2',
      '/user/a/a1',
      '/user/a',
    ]);
    expect(system.state).toBe('terminated');
  });

  it('a child that stops itself and then its parent does not make its siblings stop at once', async () => {
    // c stops itself and its parent in one turn: its own child-terminated must not count as
    // a sibling's, so b's async stop hook still finishes before a's begins
    const { system } = testSystem();
    const order: string[] = [];
    const releases: (() => void)[] = [];
    const slow = (name: string) =>
      fromReceive(null, (s, _m: unknown) => s, {
        stop: () =>
          new Promise<void>((resolve) => {
            order.push(`begin:${name}`);
            releases.push(() => {
              order.push(`end:${name}`);
              resolve();
            });
          }),
      });
    const quitter = fromReceive(null, (s, _m: 'go', ctx) => {
      ctx.stop();
      ctx.stop(system.actorAt('/user/p')!);
      return s;
    });
    const parentRef = system.spawn(
      fromReceive(
        (ctx) => {
          ctx.spawn(slow('a'), { name: 'a' });
          ctx.spawn(slow('b'), { name: 'b' });
          ctx.spawn(quitter, { name: 'c' });
          return null;
        },
        (s, _m: unknown) => s,
      ),
      { name: 'p' },
    );
    await settle(system);
    const gone = new Promise<void>((r) => system.watch(parentRef, () => r()));
    (system.actorAt('/user/p/c') as ActorRef<'go'>).tell('go');
    for (let i = 0; i < 20; i++) await nextTurn();
    expect(order).toEqual(['begin:b']);
    releases.shift()!();
    for (let i = 0; i < 20; i++) await nextTurn();
    expect(order).toEqual(['begin:b', 'end:b', 'begin:a']);
    expect(system.actorAt('/user/p')).toBeDefined();
    releases.shift()!();
    await gone;
    expect(order).toEqual(['begin:b', 'end:b', 'begin:a', 'end:a']);
    await system.shutdown();
  });

  it('waits for an async stop hook before the actor is gone', async () => {
    const { system } = testSystem();
    let release!: () => void;
    const hookDone = new Promise<void>((r) => (release = r));
    const a = system.spawn(fromReceive(null, (s, _m: unknown) => s, { stop: () => hookDone }));
    await settle(system);
    let stopped = false;
    const p = system.stop(a).then(() => (stopped = true));
    for (let i = 0; i < 20; i++) await nextTurn(); // settle() would wait for the hook itself
    expect(stopped).toBe(false);
    expect(system.isIdle).toBe(false);
    release();
    await p;
    expect(stopped).toBe(true);
    await system.shutdown();
  });
});

describe('snapshot subscriptions', () => {
  it('sends the current snapshot at once, then each change with a version one higher, then troupe.terminated', async () => {
    const { system } = testSystem();
    const counter = system.spawn(
      fromReceive(0, (n: number, m: 'inc' | 'noop') => (m === 'inc' ? n + 1 : n)),
    );
    const updates: (SnapshotUpdate | Terminated)[] = [];
    system.subscribe(counter, (u) => updates.push(u));
    await settle(system);
    counter.tell('inc');
    counter.tell('noop');
    counter.tell('inc');
    await settle(system);
    await system.stop(counter);
    await settle(system);
    expect(
      updates.map((u) => (u.type === 'troupe.snapshot' ? [u.version, u.snapshot] : u.type)),
    ).toEqual([[1, 0], [2, 1], [3, 2], 'troupe.terminated']);
    await system.shutdown();
  });

  it('stops sending after unsubscribe, and an actor can subscribe with its ref', async () => {
    const { system } = testSystem();
    const counter = system.spawn(fromReceive(0, (n: number, _m: 'inc') => n + 1));
    const seen: number[] = [];
    const off = system.subscribe<number>(
      counter,
      (u) => u.type === 'troupe.snapshot' && seen.push(u.snapshot),
    );
    const probe = createTestProbe(system);
    (counter as unknown as { sendSystem(m: unknown): void }).sendSystem({
      type: 'subscribe',
      subscriber: probe.ref,
    });
    await probe.expectMessage<SnapshotUpdate>(
      (u) => u.type === 'troupe.snapshot' && u.snapshot === 0,
    );
    counter.tell('inc');
    await settle(system);
    off();
    counter.tell('inc');
    await settle(system);
    expect(seen).toEqual([0, 1]);
    await probe.expectMessage<SnapshotUpdate>((u) => u.snapshot === 1);
    await probe.expectMessage<SnapshotUpdate>((u) => u.snapshot === 2);
    await system.shutdown();
  });
});

describe('dead letters', () => {
  it('counts every dead letter by reason and isolates a listener that throws', async () => {
    const { system, logs } = testSystem();
    const got: string[] = [];
    system.deadLetters.subscribe(() => {
      throw new Error('bad listener');
    });
    system.deadLetters.subscribe((d) => got.push(d.reason));
    system.refOf(system.addressOf('/user/x' as never)).tell(1);
    expect(got).toEqual(['unknown-actor']);
    expect(system.deadLetters.count).toBe(1);
    expect(logs.some((l) => l.level === 'error')).toBe(true);
    await system.shutdown();
  });
});
