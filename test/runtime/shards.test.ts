/**
 * Shards: actors on worker threads, reached through the same refs. These run real threads
 * (real time, no simulated clock): each test starts a system with shards and shuts it down.
 */
import { threadId } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  createSystem,
  fromReceive,
  InMemoryStore,
  type ActorRef,
  type DeadLetter,
  type Terminated,
} from '../../index.ts';
import {
  counter,
  echo,
  exiter,
  failing,
  local,
  recorder,
  sender,
  type CounterMsg,
  type ExiterMsg,
  type RecorderMsg,
  type SenderMsg,
} from '../fixtures/shard-behaviours.ts';
import { slowRecorder } from '../fixtures/shard-slow.ts';

describe('shards', () => {
  it('runs an actor on another thread and reaches it with tell and ask', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const c = system.spawn(counter, { shard: 1 }) as ActorRef<CounterMsg, number>;
      expect(c.path).toBe('/user/$0');
      c.tell({ type: 'inc' });
      c.tell({ type: 'inc' });
      await expect(c.ask({ type: 'get' }, { timeout: 5_000 })).resolves.toBe(2);
      const where = await c.ask({ type: 'where' }, { timeout: 5_000 });
      expect(where).not.toBe(threadId);
      const here = system.spawn(counter, { shard: 0, name: 'here' }) as ActorRef<
        CounterMsg,
        number
      >;
      await expect(here.ask({ type: 'where' }, { timeout: 5_000 })).resolves.toBe(threadId);
    } finally {
      await system.shutdown();
    }
  });

  it('places portable behaviours round-robin and others on the main thread', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const threads = new Set<unknown>();
      for (let i = 0; i < 4; i++) {
        const c = system.spawn(counter) as ActorRef<CounterMsg, number>;
        threads.add(await c.ask({ type: 'where' }, { timeout: 5_000 }));
      }
      expect(threads.size).toBe(2);
      expect(threads.has(threadId)).toBe(true);
      const l = system.spawn(local);
      expect(l.path).toBe('/user/$4');
      expect(system.shards?.router.placements.get('/user/$4')).toBe(0);
    } finally {
      await system.shutdown();
    }
  });

  it('places on the least-loaded shard when asked', async () => {
    const system = createSystem({ shards: 3 });
    try {
      system.spawn(counter, { shard: 0 });
      system.spawn(counter, { shard: 1 });
      system.spawn(counter, { shard: 1 });
      const c = system.spawn(counter, { shard: 'least-loaded' }) as ActorRef<CounterMsg, number>;
      expect(system.shards?.router.placements.get('/user/$3')).toBe(2);
      const d = system.spawn(counter, { shard: 'least-loaded' });
      expect(system.shards?.router.placements.get(d.path)).toBe(0);
      await expect(c.ask({ type: 'get' }, { timeout: 5_000 })).resolves.toBe(0);
    } finally {
      await system.shutdown();
    }
  });

  it('passes refs inside messages: an actor on shard 1 asks one on shard 2, replies cross back', async () => {
    const system = createSystem({ shards: 3 });
    try {
      const c = system.spawn(counter, { shard: 2, name: 'c' }) as ActorRef<CounterMsg, number>;
      c.tell({ type: 'inc' });
      const s = system.spawn(sender, { shard: 1, name: 's' }) as ActorRef<SenderMsg, number>;
      await expect(s.ask({ type: 'ask', to: c }, { timeout: 5_000 })).resolves.toBe(1);
    } finally {
      await system.shutdown();
    }
  });

  it('keeps FIFO per sender→receiver pair across shards, with several senders interleaved', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 4 }),
        async (counts) => {
          const system = createSystem({ shards: 3 });
          try {
            const r = system.spawn(recorder, { shard: 2 }) as ActorRef<
              RecorderMsg,
              { from: string; seq: number }[]
            >;
            const senders = counts.map(
              (_, i) => system.spawn(sender, { shard: i % 2 }) as ActorRef<SenderMsg, number>,
            );
            await Promise.all(
              senders.map((s, i) =>
                s.ask(
                  { type: 'send', to: r, name: `s${i}`, count: counts[i]! },
                  { timeout: 5_000 },
                ),
              ),
            );
            // each sender's ask was answered after its items were sent; a dump from here
            // may still overtake items from the other shards, so wait for all of them
            let items: { from: string; seq: number }[] = [];
            const total = counts.reduce((a, b) => a + b, 0);
            for (let t = 0; t < 200 && items.length < total; t++)
              items = await r.ask({ type: 'dump' }, { timeout: 5_000 });
            expect(items).toHaveLength(total);
            counts.forEach((n, i) => {
              const mine = items.filter((x) => x.from === `s${i}`).map((x) => x.seq);
              expect(mine).toEqual(Array.from({ length: n }, (_, k) => k));
            });
          } finally {
            await system.shutdown();
          }
        },
      ),
      { numRuns: 10 },
    );
  }, 60_000);

  it('watches and stops an actor on another shard', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const c = system.spawn(counter, { shard: 1 });
      const terminated = new Promise<Terminated>((resolve) => system.watch(c, resolve));
      await system.stop(c);
      await expect(terminated).resolves.toMatchObject({
        type: 'troupe.terminated',
        reason: 'normal',
      });
      expect((await terminated).ref.path).toBe(c.path);
    } finally {
      await system.shutdown();
    }
  });

  it('reports a failure on a shard as a terminated notice, its dead letters and its log on the main thread', async () => {
    const errors: string[] = [];
    const system = createSystem({
      shards: 2,
      logger: { info() {}, warn() {}, error: (m: string) => void errors.push(m) },
    });
    try {
      const dead: DeadLetter[] = [];
      system.deadLetters.subscribe((d) => dead.push(d));
      const f = system.spawn(failing, { shard: 1, name: 'f' }) as ActorRef<string>;
      const terminated = new Promise<Terminated>((resolve) => system.watch(f, resolve));
      f.tell('go');
      await expect(terminated).resolves.toMatchObject({ reason: 'failed' });
      f.tell('after');
      for (let i = 0; i < 100 && !dead.some((d) => d.message === 'after'); i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(dead.map((d) => d.message)).toEqual(expect.arrayContaining(['go', 'after']));
      // its parent, the main thread's /user, decided (and logged) that it stops
      expect(errors.some((m) => m.startsWith('troupe: /user/f failed and was stopped'))).toBe(true);
      expect(dead.find((d) => d.message === 'go')).toMatchObject({
        recipient: 'troupe://local/user/f',
        reason: 'failed',
      });
    } finally {
      await system.shutdown();
    }
  });

  it('subscribes to the snapshots of an actor on another shard', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const c = system.spawn(counter, { shard: 1 }) as ActorRef<CounterMsg, number>;
      const seen: unknown[] = [];
      let done!: () => void;
      const three = new Promise<void>((r) => (done = r));
      const unsubscribe = system.subscribe<number>(c, (u) => {
        if (u.type !== 'troupe.snapshot') return;
        seen.push(u.snapshot);
        if (u.snapshot === 3) done();
      });
      for (let i = 0; i < 3; i++) c.tell({ type: 'inc' });
      await three;
      expect(seen).toEqual([0, 1, 2, 3]);
      unsubscribe();
    } finally {
      await system.shutdown();
    }
  });

  it('rejects at send a message that cannot cross a thread, naming the field', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const r = system.spawn(recorder, { shard: 1 }) as ActorRef<unknown>;
      expect(() => r.tell({ type: 'item', from: 'x', seq: 1, fn: () => 1 })).toThrow(
        expect.objectContaining({ code: 'ERR_NOT_SERIALIZABLE' }),
      );
    } finally {
      await system.shutdown();
    }
  });

  it('refuses bad placement options with typed errors', async () => {
    expect(() => createSystem({ shards: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', field: 'options.shards' }),
    );
    const system = createSystem({ shards: 2 });
    try {
      expect(() => system.spawn(counter, { shard: 2 })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', field: 'options.shard' }),
      );
      expect(() => system.spawn(local, { shard: 1 })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', field: 'options.shard' }),
      );
      system.spawn(counter, { shard: 1, name: 'taken' });
      expect(() => system.spawn(counter, { shard: 0, name: 'taken' })).toThrow(
        expect.objectContaining({ code: 'ERR_NAME_TAKEN' }),
      );
    } finally {
      await system.shutdown();
    }
  });

  it.each([
    ['process.exit() inside it', 'exit', 'code 3'],
    ['an uncaught error', 'throw', 'code 1'],
    ['running out of memory', 'oom', 'code 1'],
  ] as const)(
    'keeps running when a shard dies of %s: the watchers of its actors are told (shard-lost), messages to them become dead letters',
    async (_, how, code) => {
      const errors: string[] = [];
      const system = createSystem({
        shards: 3,
        shardLimits: { maxOldGenerationSizeMb: 64 },
        logger: { info() {}, warn() {}, error: (m: string) => void errors.push(m) },
      });
      try {
        const doomed = system.spawn(exiter, { shard: 1, name: 'doomed' }) as ActorRef<
          ExiterMsg,
          string
        >;
        const other = system.spawn(counter, { shard: 2 }) as ActorRef<CounterMsg, number>;
        await expect(doomed.ask('ping', { timeout: 5_000 })).resolves.toBe('pong');
        const notice = new Promise<Terminated>((resolve) => system.watch(doomed, resolve));
        doomed.tell(how);
        // its watchers are told, though the actor could not say it stopped
        await expect(notice).resolves.toMatchObject({ reason: 'shard-lost' });
        expect((await notice).ref.path).toBe('/user/doomed');
        for (let i = 0; i < 300 && system.shards!.live.includes(1); i++)
          await new Promise((r) => setTimeout(r, 10));
        expect(system.shards!.live).toEqual([0, 2]);
        expect(errors.some((m) => m.includes(`shard 1 exited (${code})`))).toBe(true);
        const dead: DeadLetter[] = [];
        system.deadLetters.subscribe((d) => dead.push(d));
        // it failed with its thread and its parent (/user) stopped it: as any stopped actor
        expect(doomed.tell('ping')).toBe('dead-letter');
        expect(dead).toMatchObject([
          { recipient: 'troupe://local/user/doomed', reason: 'stopped' },
        ]);
        other.tell({ type: 'inc' });
        await expect(other.ask({ type: 'get' }, { timeout: 5_000 })).resolves.toBe(1);
        await system.stop(doomed); // resolves: it is gone
      } finally {
        await system.shutdown();
      }
    },
  );

  it('turns what a dead shard had not handled into dead letters (shard-lost) and fails the asks that went there at once', async () => {
    const system = createSystem({ shards: 3, logger: { info() {}, warn() {}, error() {} } });
    try {
      const doomed = system.spawn(exiter, { shard: 1 }) as ActorRef<ExiterMsg, string>;
      const c = system.spawn(counter, { shard: 1, name: 'c' }) as ActorRef<CounterMsg, number>;
      for (let i = 0; i < 3; i++) c.tell({ type: 'inc' });
      await expect(c.ask({ type: 'get' }, { timeout: 5_000 })).resolves.toBe(3);
      // those were handled: once shard 1 has said so, they are no longer kept
      await new Promise((r) => setTimeout(r, 100));
      const dead: DeadLetter[] = [];
      system.deadLetters.subscribe((d) => dead.push(d));
      // the exit comes first: the five incs and the ask wait in the counter's mailbox
      doomed.tell('exit');
      for (let i = 0; i < 5; i++) c.tell({ type: 'inc' });
      const asked = c.ask({ type: 'get' }, { timeout: 60_000 });
      await expect(asked).rejects.toMatchObject({ code: 'ERR_SHARD_LOST' });
      const lost = dead.filter((d) => d.reason === 'shard-lost');
      expect(
        lost.filter((d) => d.recipient === 'troupe://local/user/c').map((d) => d.message),
      ).toEqual([...Array.from({ length: 5 }, () => ({ type: 'inc' })), { type: 'get' }]);
      expect(lost.every((d) => (d.error as { code?: string }).code === 'ERR_SHARD_LOST')).toBe(
        true,
      );
    } finally {
      await system.shutdown();
    }
  });

  it('carries refs, dates and errors inside messages across shards, as what they are', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const e = system.spawn(echo, { shard: 1 }) as ActorRef<unknown, unknown>;
      const c = system.spawn(counter, { shard: 0, name: 'c' });
      const error = Object.assign(new TypeError('no'), { code: 'ERR_NO' });
      const back = (await e.ask(
        { ref: c, at: new Date(7), error, list: [1, 'two'] },
        {
          timeout: 5_000,
        },
      )) as { msg: Record<string, unknown>; seen: unknown };
      // as the other thread saw them
      expect(back.seen).toEqual({ ref: '/user/c', at: 7, error: 'TypeError: no' });
      // and back here: the same ref, a Date, an Error with its name, message and code
      expect(back.msg.ref).toBe(c);
      expect(back.msg.at).toEqual(new Date(7));
      expect(back.msg.error).toMatchObject({ name: 'TypeError', message: 'no', code: 'ERR_NO' });
      expect(back.msg.list).toEqual([1, 'two']);
    } finally {
      await system.shutdown();
    }
  });

  it('fails a persistent actor in its turn when it tells another shard what cannot cross (not when its snapshot is saved)', async () => {
    const system = createSystem({ shards: 2, logger: { info() {}, warn() {}, error() {} } });
    try {
      const r = system.spawn(recorder, { shard: 1 }) as ActorRef<unknown>;
      const p = system.spawn(
        fromReceive<number, { to: ActorRef<unknown> }>(0, (n, m) => {
          m.to.tell({ type: 'item', when: new Map() }); // a Map cannot cross
          return n + 1;
        }),
        { shard: 0, persistence: { store: new InMemoryStore() } },
      );
      const t = await new Promise<Terminated>((resolve) => {
        system.watch(p, resolve);
        p.tell({ to: r });
      });
      expect(t).toMatchObject({
        reason: 'failed',
        error: expect.objectContaining({ code: 'ERR_NOT_SERIALIZABLE', at: '$.when' }),
      });
    } finally {
      await system.shutdown();
    }
  });

  it('lets a persistent actor reply what need not cross to an asker on its own thread, and fails at once its ask to another shard of what cannot', async () => {
    const system = createSystem({ shards: 2 });
    try {
      class Handle {
        readonly fd: number;
        constructor(fd: number) {
          this.fd = fd;
        }
      }
      const r = system.spawn(recorder, { shard: 1 }) as ActorRef<unknown>;
      const p = system.spawn(
        fromReceive<number, 'handle' | { to: ActorRef<unknown> }, unknown>(0, (n, m, ctx) => {
          if (m === 'handle') ctx.reply(new Handle(3));
          else
            void m.to.ask({ type: 'dump', when: new Map() }, { timeout: Infinity }).then(
              () => ctx.self.tell('handle'),
              (e: { code?: string }) => void asked.push(e.code),
            );
          return n + 1;
        }),
        { shard: 0, persistence: { store: new InMemoryStore() } },
      ) as ActorRef<'handle' | { to: ActorRef<unknown> }, unknown>;
      const asked: (string | undefined)[] = [];
      await expect(p.ask('handle', { timeout: 5_000 })).resolves.toEqual(new Handle(3));
      p.tell({ to: r });
      for (let i = 0; i < 100 && asked.length === 0; i++)
        await new Promise((s) => setTimeout(s, 10));
      expect(asked).toEqual(['ERR_NOT_SERIALIZABLE']);
    } finally {
      await system.shutdown();
    }
  });

  it('fails the load of an actor whose store gives what cannot reach its shard, with the reason', async () => {
    const system = createSystem({ shards: 2, logger: { info() {}, warn() {}, error() {} } });
    try {
      const store = {
        load: () =>
          Promise.resolve({ snapshot: { schemaVersion: 1, data: { f: () => 1 } }, version: 1 }),
        save: () => Promise.resolve(2),
      };
      const c = system.spawn(counter, { shard: 1, persistence: { store } });
      const t = await new Promise<Terminated>((resolve) => system.watch(c, resolve));
      // the store's answer could not be carried: the load fails with why (not the thread)
      expect(t).toMatchObject({
        reason: 'failed',
        error: expect.objectContaining({ message: expect.stringMatching(/clone/i) }),
      });
    } finally {
      await system.shutdown();
    }
  });

  it('makes messages from a shard to an address nobody lives at dead letters, once the main thread says so', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const dead: DeadLetter[] = [];
      system.deadLetters.subscribe((d) => dead.push(d));
      const s = system.spawn(sender, { shard: 1 }) as ActorRef<SenderMsg, number>;
      const nobody = system.refOf('troupe://local/user/nobody' as never) as ActorRef<RecorderMsg>;
      await s.ask({ type: 'send', to: nobody, name: 'x', count: 3 }, { timeout: 5_000 });
      for (let i = 0; i < 300 && dead.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
      expect(dead.map((d) => [d.recipient, d.reason])).toEqual(
        Array.from({ length: 3 }, () => ['troupe://local/user/nobody', 'unknown-actor']),
      );
    } finally {
      await system.shutdown();
    }
  });

  it('holds messages from the same shard for an actor whose spawn there is under way', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const dead: DeadLetter[] = [];
      system.deadLetters.subscribe((d) => dead.push(d));
      const slow = system.spawn(slowRecorder, { shard: 1 }) as ActorRef<
        RecorderMsg,
        { from: string; seq: number }[]
      >;
      const s = system.spawn(sender, { shard: 1 }) as ActorRef<SenderMsg, number>;
      await s.ask({ type: 'send', to: slow, name: 'x', count: 3 }, { timeout: 5_000 });
      await expect(slow.ask({ type: 'dump' }, { timeout: 5_000 })).resolves.toEqual([
        { from: 'x', seq: 0 },
        { from: 'x', seq: 1 },
        { from: 'x', seq: 2 },
      ]);
      expect(dead).toEqual([]);
    } finally {
      await system.shutdown();
    }
  });

  it('spawns round-robin on live shards only once one has died, and frees the names of stopped main-thread actors', async () => {
    const system = createSystem({ shards: 3, logger: { info() {}, warn() {}, error() {} } });
    try {
      const doomed = system.spawn(exiter, { shard: 1 }) as ActorRef<ExiterMsg, string>;
      await doomed.ask('ping', { timeout: 5_000 });
      const notice = new Promise<Terminated>((resolve) =>
        system.subscribe(doomed, (u) => u.type === 'troupe.terminated' && resolve(u)),
      );
      doomed.tell('exit');
      // its subscribers are told too
      await expect(notice).resolves.toMatchObject({ reason: 'shard-lost' });
      const threads = new Set<unknown>();
      for (let i = 0; i < 4; i++) {
        const c = system.spawn(counter) as ActorRef<CounterMsg, number>;
        threads.add(await c.ask({ type: 'where' }, { timeout: 5_000 }));
      }
      expect(threads.size).toBe(2);
      const x = system.spawn(counter, { shard: 0, name: 'x' });
      const before = system.shards!.router.placements.size;
      await system.stop(x);
      expect(system.shards!.router.placements.size).toBe(before - 1);
      const again = system.spawn(counter, { shard: 2, name: 'x' }) as ActorRef<CounterMsg, number>;
      await expect(again.ask({ type: 'get' }, { timeout: 5_000 })).resolves.toBe(0);
    } finally {
      await system.shutdown();
    }
  });

  it('hears every shard stop at shutdown, even one whose thread a timer keeps alive', async () => {
    const warnings: string[] = [];
    const system = createSystem({
      shards: 2,
      shardSetup: new URL('../fixtures/shard-keepalive-setup.ts', import.meta.url),
      logger: { info() {}, warn: (m: string) => void warnings.push(m), error() {} },
    });
    const c = system.spawn(counter, { shard: 1 }) as ActorRef<CounterMsg, number>;
    await c.ask({ type: 'get' }, { timeout: 5_000 }); // the shard is up
    await system.shutdown();
    expect(warnings).toEqual([]);
    expect(system.shards?.live).toEqual([0]);
  });

  it('rejects at once an ask that could not be delivered on the other shard', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const r = system.spawn(recorder, {
        shard: 1,
        mailbox: { capacity: 1, overflow: 'drop-newest' },
      });
      // 20 asks arrive in one batch at a mailbox of 1: those it drops come back at once as
      // ERR_ASK_UNDELIVERED (with no deadline, they would wait for ever)
      const asks = Array.from({ length: 20 }, () =>
        (r as ActorRef<RecorderMsg, unknown>).ask({ type: 'dump' }, { timeout: Infinity }).then(
          () => 'answered',
          (e: { code?: string }) => e.code,
        ),
      );
      const outcomes = await Promise.all(asks);
      expect(outcomes).toContain('ERR_ASK_UNDELIVERED');
      expect(outcomes.every((o) => o === 'answered' || o === 'ERR_ASK_UNDELIVERED')).toBe(true);
    } finally {
      await system.shutdown();
    }
  });

  it('ends every shard thread at shutdown', async () => {
    const system = createSystem({ shards: 3 });
    system.spawn(counter, { shard: 1 });
    system.spawn(counter, { shard: 2 });
    expect(system.shards?.live).toEqual([0, 1, 2]);
    await system.shutdown();
    expect(system.shards?.live).toEqual([0]);
  });
});
