/**
 * Sandboxed behaviours, in both modes: what the code can do (its capabilities), what it
 * cannot, how failures reach supervisors, and where it runs. The escape suite is
 * escape.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActorFailedError,
  configureSandboxes,
  SANDBOX_MAX_IN_FLIGHT,
  createSystem,
  fromReceive,
  InMemoryStore,
  InvalidOptionError,
  sandboxed,
  sandboxStats,
  SandboxCapabilityError,
  SandboxCodeError,
  SandboxHostLostError,
  SandboxLimitError,
  SandboxModeError,
  SandboxSourceError,
  supervise,
  type ActorRef,
  type ActorSystem,
  type DeadLetter,
  type Logger,
  type RuntimeEvent,
  type SandboxEmitted,
  type SandboxMode,
} from '../../index.ts';
import { sandboxHost } from '../../sandbox/host-link.ts';
import { until } from '../support/until.ts';

const COUNTER = `
  function init(input) { return { n: input.start } }
  function receive(state, msg, ctx) {
    if (msg.type === 'inc') return { n: state.n + 1 };
    if (msg.type === 'get') ctx.reply(state.n);
    if (msg.type === 'throw') throw new TypeError('asked to throw');
    return state;
  }`;

type Msg = { type: string; [k: string]: unknown };

/** A recorder: keeps what it gets; `get` answers with the list. */
function recorder(system: ActorSystem, name: string) {
  const got: unknown[] = [];
  const ref = system.spawn(
    fromReceive<null, unknown>(null, (s, m) => {
      got.push(m);
      return s;
    }),
    { name },
  );
  return { ref, got };
}

/** A supervised child's ref, once its supervisor has started it. */
async function child(system: ActorSystem, path: string): Promise<ActorRef<unknown>> {
  await until(() => system.actorAt(path) !== undefined);
  return system.actorAt(path)!;
}

function failures(system: ActorSystem): Extract<RuntimeEvent, { type: 'child-failed' }>[] {
  const seen: Extract<RuntimeEvent, { type: 'child-failed' }>[] = [];
  system.events.subscribe((e) => {
    if (e.type === 'child-failed') seen.push(e);
  });
  return seen;
}

describe.each(['thread', 'process'] as SandboxMode[])('sandboxed, mode %s', (mode) => {
  beforeAll(() => configureSandboxes({ mode }));
  afterAll(() => configureSandboxes({ mode: 'process' }));

  it('keeps its state inside and answers asks', async () => {
    const system = createSystem();
    try {
      const c = system.spawn(sandboxed({ source: COUNTER, input: { start: 40 } }), {
        name: 'c',
      }) as ActorRef<Msg, number>;
      c.tell({ type: 'inc' });
      c.tell({ type: 'inc' });
      await expect(c.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(42);
      expect((await sandboxStats()).mode).toBe(mode);
    } finally {
      await system.shutdown();
    }
  });

  it('tells only the refs it holds: granted, in messages, its sender; a forged one fails it', async () => {
    const system = createSystem();
    const seen = failures(system);
    try {
      const a = recorder(system, 'a');
      const b = recorder(system, 'b');
      const secret = recorder(system, 'secret');
      const source = `
        function receive(state, msg, ctx) {
          if (msg.type === 'to-a') ctx.tell(ctx.refs.a, { hello: 'a', me: ctx.self });
          if (msg.type === 'to-given') ctx.tell(msg.target, { hello: 'given' });
          if (msg.type === 'to-sender') ctx.tell(ctx.sender, { hello: 'sender' });
          if (msg.type === 'forge') ctx.tell({ $ref: msg.address }, { hello: 'forged' });
          return state;
        }`;
      const sup = system.spawn(
        supervise({
          children: [
            {
              id: 'sb',
              behaviour: sandboxed({ source, capabilities: { tell: true, refs: { a: a.ref } } }),
            },
          ],
        }),
        { name: 'sup' },
      );
      void sup;
      const sb = (await child(system, '/user/sup/sb')) as ActorRef<Msg>;
      sb.tell({ type: 'to-a' });
      sb.tell({ type: 'to-given', target: b.ref });
      await until(() => a.got.length === 1 && b.got.length === 1);
      expect(a.got[0]).toEqual({ hello: 'a', me: sb });
      // its sender: an actor that tells it
      const asker = system.spawn(
        fromReceive<null, unknown>(null, (s, m) => {
          if (m === 'go') sb.tell({ type: 'to-sender' });
          else b.got.push({ via: 'asker', m });
          return s;
        }),
      );
      asker.tell('go');
      await until(() => b.got.length === 2);
      expect(b.got[1]).toEqual({ via: 'asker', m: { hello: 'sender' } });
      sb.tell({ type: 'forge', address: secret.ref.address });
      await until(() => seen.length === 1);
      expect(seen[0]!.error).toBeInstanceOf(SandboxCapabilityError);
      expect(secret.got).toEqual([]);
    } finally {
      await system.shutdown();
    }
  });

  it('emits events to the granted ref and logs to the system logger, with its path', async () => {
    const lines: string[] = [];
    const logger: Logger = {
      info: (m) => lines.push(m),
      warn: () => undefined,
      error: () => undefined,
    };
    const system = createSystem({ logger });
    try {
      const events = recorder(system, 'events');
      const sb = system.spawn(
        sandboxed({
          source: `function receive(s, msg, ctx) { ctx.emit({ saw: msg.n }); ctx.log('saw', msg.n, { n: msg.n }); return s }`,
          capabilities: { emit: events.ref as ActorRef<SandboxEmitted>, log: true },
        }),
        { name: 'sb' },
      );
      sb.tell({ n: 7 });
      await until(() => events.got.length === 1 && lines.length === 1);
      expect(events.got[0]).toEqual({
        type: 'troupe.sandbox.emitted',
        from: sb,
        event: { saw: 7 },
      });
      expect(lines[0]).toBe('/user/sb: saw 7 {"n":7}');
    } finally {
      await system.shutdown();
    }
  });

  it('has no capability it was not granted', async () => {
    const system = createSystem();
    try {
      const sb = system.spawn(
        sandboxed({
          source: `function receive(s, msg, ctx) { ctx.reply([typeof ctx.tell, typeof ctx.emit, typeof ctx.log, typeof ctx.refs]); return s }`,
        }),
      );
      await expect(sb.ask('what', { timeout: 3_000 })).resolves.toEqual([
        'undefined',
        'undefined',
        'undefined',
        'undefined',
      ]);
    } finally {
      await system.shutdown();
    }
  });

  it('a throw of the code is a SandboxCodeError for the supervisor; the restart starts afresh', async () => {
    const system = createSystem();
    const seen = failures(system);
    try {
      system.spawn(
        supervise({
          children: [{ id: 'c', behaviour: sandboxed({ source: COUNTER, input: { start: 0 } }) }],
        }),
        { name: 'sup' },
      );
      const c = (await child(system, '/user/sup/c')) as ActorRef<Msg, number>;
      c.tell({ type: 'inc' });
      c.tell({ type: 'throw' });
      await until(() => seen.length === 1);
      const e = seen[0]!.error as SandboxCodeError;
      expect(e).toBeInstanceOf(SandboxCodeError);
      expect(e.thrown).toBe('TypeError');
      expect(e.path).toBe('/user/sup/c');
      expect(e.message).toContain('asked to throw');
      await expect(c.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(0);
    } finally {
      await system.shutdown();
    }
  });

  it('a CPU limit hit disposes the isolate, fails with SandboxLimitError and dead-letters nothing silently', async () => {
    // isolated-vm stops the loop, not the watchdog: a grace no loaded machine can use up
    configureSandboxes({ mode, watchdogGraceMs: 60_000 });
    const system = createSystem();
    const seen = failures(system);
    const dead: DeadLetter[] = [];
    system.deadLetters.subscribe((d) => dead.push(d));
    try {
      system.spawn(
        supervise({
          children: [
            {
              id: 'c',
              behaviour: sandboxed({
                source: `function receive(s, msg) { if (msg.type === 'spin') for (;;) {} return s + 1 }`,
                input: 0,
                limits: { cpuMs: 30 },
              }),
            },
          ],
        }),
        { name: 'sup' },
      );
      const c = (await child(system, '/user/sup/c')) as ActorRef<Msg>;
      const before = (await sandboxStats()).disposed;
      c.tell({ type: 'spin' });
      c.tell({ type: 'after' });
      await until(() => seen.length === 1);
      const e = seen[0]!.error as SandboxLimitError;
      expect(e).toBeInstanceOf(SandboxLimitError);
      expect(e.limit).toBe('cpu');
      expect(e.value).toBeGreaterThanOrEqual(30);
      expect((await sandboxStats()).disposed).toBe(before + 1);
      // the message that hit the limit is a dead letter; in mode 'process' so is the one sent
      // to the sandbox after it (it was handed over, never run)
      await until(() => dead.some((d) => d.reason === 'failed'));
      if (mode === 'process')
        expect(dead.find((d) => d.reason === 'sandbox-failed')?.message).toEqual({
          type: 'after',
        });
    } finally {
      await system.shutdown();
      configureSandboxes({ mode });
    }
  });

  it('a message over the copy limit fails it before it is copied', async () => {
    const system = createSystem();
    const seen = failures(system);
    try {
      system.spawn(
        supervise({
          children: [
            {
              id: 'c',
              behaviour: sandboxed({
                source: COUNTER,
                input: { start: 0 },
                limits: { copyBytes: 1_000 },
              }),
            },
          ],
        }),
      );
      const c = (await child(system, '/user/$0/c')) as ActorRef<Msg>;
      c.tell({ type: 'inc', pad: 'x'.repeat(2_000) });
      await until(() => seen.length === 1);
      expect(seen[0]!.error).toMatchObject({ limit: 'copy', path: '/user/$0/c' });
    } finally {
      await system.shutdown();
    }
  });

  it('a source that does not compile or defines no receive fails with SandboxSourceError', async () => {
    const system = createSystem();
    const seen = failures(system);
    try {
      system.spawn(
        supervise({
          intensity: 0,
          children: [
            { id: 'bad', behaviour: sandboxed({ source: 'function receive( {' }) },
            { id: 'none', behaviour: sandboxed({ source: 'const x = 1;' }) },
          ],
        }),
      );
      await until(() => seen.length >= 1);
      expect(seen[0]!.error).toBeInstanceOf(SandboxSourceError);
    } finally {
      await system.shutdown();
    }
  });

  it('snapshot subscribers see its state (through view when it has one)', async () => {
    const system = createSystem();
    try {
      const c = system.spawn(
        sandboxed({
          source: `${COUNTER}\nfunction view(state) { return { count: state.n } }`,
          input: { start: 1 },
        }),
      ) as ActorRef<Msg, number>;
      const views: unknown[] = [];
      system.subscribe(c, (u) => u.type === 'troupe.snapshot' && views.push(u.snapshot));
      await until(() => views.some((v) => (v as { count?: number } | null)?.count === 1));
      c.tell({ type: 'inc' });
      await until(() => views.some((v) => (v as { count?: number } | null)?.count === 2));
    } finally {
      await system.shutdown();
    }
  });
});

describe('sandboxed: options', () => {
  it('refuses bad options at once, naming the field', () => {
    const bad: [unknown, string][] = [
      [{}, 'options.source'],
      [{ source: 'x', snapshot: 'AAAA' }, 'options.snapshot'],
      [{ source: 'x', cachedData: new Uint8Array(1) }, 'options.cachedData'],
      [{ source: 'x', limits: { cpuMs: -1 } }, 'options.limits.cpuMs'],
      [{ source: 'x', limits: { memoryMb: 4 } }, 'options.limits.memoryMb'],
      [{ source: 'x', limits: { gpu: 1 } }, 'options.limits.gpu'],
      [{ source: 'x', capabilities: { tell: 'yes' } }, 'options.capabilities.tell'],
      [{ source: 'x', capabilities: { fs: true } }, 'options.capabilities.fs'],
      [
        { source: 'x', capabilities: { refs: { a: { $ref: 'troupe://x/y' } } } },
        'options.capabilities.refs.a',
      ],
      [{ source: 'x', capabilities: { emit: 'somewhere' } }, 'options.capabilities.emit'],
      [{ source: 'x', domain: '' }, 'options.domain'],
    ];
    for (const [options, field] of bad) {
      let error: unknown;
      try {
        sandboxed(options as never);
      } catch (e) {
        error = e;
      }
      expect(error, field).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).message, field).toContain(field);
    }
    expect(() => configureSandboxes({ mode: 'vm' as never })).toThrow(/options\.mode/);
    expect(() => configureSandboxes({ pool: { maxIsolates: 0 } })).toThrow(
      /options\.pool\.maxIsolates/,
    );
  });
});

describe('sandboxed: mode thread only', () => {
  beforeAll(() => configureSandboxes({ mode: 'thread' }));
  afterAll(() => configureSandboxes({ mode: 'process' }));

  it('persists its state and restores it after a restart', async () => {
    const system = createSystem();
    const store = new InMemoryStore();
    try {
      system.spawn(
        supervise({
          children: [
            {
              id: 'c',
              behaviour: sandboxed({ source: COUNTER, input: { start: 0 } }),
              persistence: { store, key: 'c' },
            },
          ],
        }),
        { name: 'sup' },
      );
      const c = (await child(system, '/user/sup/c')) as ActorRef<Msg, number>;
      c.tell({ type: 'inc' });
      c.tell({ type: 'inc' });
      c.tell({ type: 'throw' });
      await expect(c.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(2);
    } finally {
      await system.shutdown();
    }
  });

  it('a message that fails has no effects', async () => {
    const system = createSystem();
    try {
      const r = recorder(system, 'r');
      const sb = system.spawn(
        sandboxed({
          source: `function receive(s, msg, ctx) { ctx.tell(ctx.refs.r, msg.n); if (msg.fail) throw new Error('no'); return s }`,
          capabilities: { tell: true, refs: { r: r.ref } },
        }),
      );
      sb.tell({ n: 1, fail: true });
      await until(() => system.actorAt(sb.path) === undefined);
      expect(r.got).toEqual([]);
    } finally {
      await system.shutdown();
    }
  });
});

describe('sandboxed: mode process only', () => {
  beforeAll(() => configureSandboxes({ mode: 'process' }));

  it('refuses persistence with SandboxModeError', async () => {
    const system = createSystem();
    const seen = failures(system);
    try {
      system.spawn(
        supervise({
          intensity: 0,
          children: [
            {
              id: 'c',
              behaviour: sandboxed({ source: COUNTER, input: { start: 0 } }),
              persistence: { store: new InMemoryStore(), key: 'c' },
            },
          ],
        }),
      );
      await until(() => seen.length >= 1);
      expect(seen[0]!.error).toBeInstanceOf(SandboxModeError);
    } finally {
      await system.shutdown();
    }
  });

  it('the loss of the host process fails its sandboxes with SandboxHostLostError; restarts get a new host', async () => {
    const system = createSystem();
    const seen = failures(system);
    try {
      system.spawn(
        supervise({
          children: [{ id: 'c', behaviour: sandboxed({ source: COUNTER, input: { start: 5 } }) }],
        }),
        { name: 'sup' },
      );
      const c = (await child(system, '/user/sup/c')) as ActorRef<Msg, number>;
      await expect(c.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(5);
      const host = sandboxHost();
      const pid = host.pid;
      host.kill();
      await until(() => seen.length === 1);
      expect(seen[0]!.error).toBeInstanceOf(SandboxHostLostError);
      c.tell({ type: 'inc' });
      await expect(c.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(6);
      expect(host.pid).not.toBe(pid);
    } finally {
      await system.shutdown();
    }
  });
});

describe('sandboxed on a shard', () => {
  it('runs on another thread (its definition crosses as data)', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const r = recorder(system, 'r');
      const sb = system.spawn(
        sandboxed({
          source: `function receive(s, msg, ctx) { if (msg.type === 'get') ctx.reply(s); else ctx.tell(ctx.refs.r, s + 1); return s + 1 }`,
          input: 10,
          capabilities: { tell: true, refs: { r: r.ref } },
        }),
        { shard: 1, name: 'sb' },
      ) as ActorRef<Msg, number>;
      sb.tell({ type: 'inc' });
      await until(() => r.got.length === 1);
      expect(r.got).toEqual([11]);
      await expect(sb.ask({ type: 'get' }, { timeout: 5_000 })).resolves.toBe(11);
    } finally {
      await system.shutdown();
    }
  });
});

describe('sandboxed: receive is synchronous', () => {
  beforeAll(() => configureSandboxes({ mode: 'thread' }));
  afterAll(() => configureSandboxes({ mode: 'process' }));

  it('ctx used in a promise callback after receive returned fails that message, never answering the next asker', async () => {
    const system = createSystem();
    const seen = failures(system);
    try {
      system.spawn(
        supervise({
          children: [
            {
              id: 'late',
              behaviour: sandboxed({
                source: `function receive(s, msg, ctx) {
                  if (msg === 'late') Promise.resolve().then(() => ctx.reply('late answer'));
                  else ctx.reply('on time');
                  return s;
                }`,
              }),
            },
          ],
        }),
        { name: 'sup' },
      );
      const late = (await child(system, '/user/sup/late')) as ActorRef<string, string>;
      late.tell('late');
      // the late reply is refused inside (it would go to the next asker): the message that
      // left it fails, and the restarted sandbox answers the next ask
      await until(() => seen.length === 1);
      expect(seen[0]!.error).toBeInstanceOf(SandboxCodeError);
      expect((seen[0]!.error as Error).message).toContain('usable only while receive');
      await expect(late.ask('now', { timeout: 3_000 })).resolves.toBe('on time');
    } finally {
      await system.shutdown();
    }
  });

  it('a receive that returns a promise fails with SandboxCodeError', async () => {
    const system = createSystem();
    const seen = failures(system);
    try {
      system.spawn(
        supervise({
          intensity: 0,
          children: [
            {
              id: 'async',
              behaviour: sandboxed({ source: `async function receive(s) { return s }` }),
            },
          ],
        }),
      );
      const a = await child(system, '/user/$0/async');
      a.tell('x');
      await until(() => seen.length === 1);
      expect((seen[0]!.error as Error).message).toContain('not a promise');
    } finally {
      await system.shutdown();
    }
  });
});

describe.each(['thread', 'process'] as SandboxMode[])('sandboxed failures, mode %s', (mode) => {
  beforeAll(() => configureSandboxes({ mode }));
  afterAll(() => configureSandboxes({ mode: 'process' }));

  it('a supervisor that resumes keeps its state; the asker of the failed message gets ActorFailedError', async () => {
    const system = createSystem();
    try {
      // resume: a plain parent decides
      const parent = system.spawn(
        fromReceive<ActorRef<Msg, number> | null, Msg>(
          (ctx) =>
            ctx.spawn(sandboxed({ source: COUNTER, input: { start: 0 } }), {
              name: 'r',
            }) as ActorRef<Msg, number>,
          (s) => s,
          { onChildFailure: () => 'resume' },
        ),
        { name: 'p' },
      );
      void parent;
      const r = (await child(system, '/user/p/r')) as ActorRef<Msg, number>;
      r.tell({ type: 'inc' });
      await expect(r.ask({ type: 'throw' }, { timeout: 3_000 })).rejects.toThrow(ActorFailedError);
      r.tell({ type: 'inc' });
      await expect(r.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(2);
    } finally {
      await system.shutdown();
    }
  });

  it('one sandbox cannot harm another with what it sends (an invalid date)', async () => {
    const system = createSystem();
    try {
      const b = system.spawn(sandboxed({ source: COUNTER, input: { start: 100 } }), {
        name: 'b',
      }) as ActorRef<Msg, number>;
      const a = system.spawn(
        sandboxed({
          source: `function receive(s, m, ctx) { ctx.tell(ctx.refs.b, { type: 'inc', at: { $date: 'garbage' } }); return s }`,
          capabilities: { tell: true, refs: { b } },
        }),
        { name: 'a' },
      );
      a.tell('go');
      await until(() => system.actorAt('/user/a') === undefined);
      b.tell({ type: 'inc' });
      await expect(b.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(101);
    } finally {
      await system.shutdown();
    }
  });

  it('an ask whose message is undefined settles when a later message fails the actor (found by the fuzzer)', async () => {
    const system = createSystem({ logger: { info() {}, warn() {}, error() {} } });
    try {
      const sb = system.spawn(
        sandboxed({
          source: `function receive(s, m, ctx) { ctx.reply(m === undefined ? 'u' : m); return s }`,
        }),
      );
      const cyclic: Record<string, unknown> = {};
      cyclic.c = cyclic;
      const asked = sb.ask(undefined, { timeout: 10_000 });
      sb.tell(cyclic); // cannot be copied in: the actor fails, with the ask in flight (process)
      const outcome = await asked.then(
        (v: unknown) => ({ v }),
        (e: unknown) => ({ e }),
      );
      if ('e' in outcome) expect(outcome.e).toBeInstanceOf(ActorFailedError);
      else expect(outcome.v).toBe(mode === 'thread' ? null : 'u');
    } finally {
      await system.shutdown();
    }
  });

  it('counts what it copies out in UTF-8 bytes', async () => {
    const system = createSystem();
    const seen = failures(system);
    try {
      system.spawn(
        supervise({
          intensity: 0,
          children: [
            {
              id: 'c',
              behaviour: sandboxed({
                source: `function receive(s, m, ctx) { ctx.reply('€'.repeat(400)); return s }`,
                limits: { copyBytes: 1_000 },
              }),
            },
          ],
        }),
      );
      const c = await child(system, '/user/$0/c');
      c.tell('x');
      await until(() => seen.length === 1);
      expect(seen[0]!.error).toMatchObject({ limit: 'copy' });
      expect((seen[0]!.error as SandboxLimitError).value).toBeGreaterThan(1_000);
    } finally {
      await system.shutdown();
    }
  });

  it('a view that throws fails the actor in its turn, and nothing else', async () => {
    const system = createSystem();
    const seen = failures(system);
    try {
      system.spawn(
        supervise({
          children: [
            {
              id: 'v',
              behaviour: sandboxed({
                source: `${COUNTER}\nfunction view(s) { if (s.n > 0) throw new Error('view says no'); return s }`,
                input: { start: 0 },
              }),
            },
          ],
        }),
      );
      const v = (await child(system, '/user/$0/v')) as ActorRef<Msg, number>;
      system.subscribe(v, () => undefined);
      v.tell({ type: 'inc' });
      await until(() => seen.length >= 1);
      expect((seen[0]!.error as Error).message).toContain('view says no');
      const other = system.spawn(
        fromReceive<number, string, number>(0, (n, _m, ctx) => {
          ctx.reply(n + 1);
          return n + 1;
        }),
      );
      await expect(other.ask('x', { timeout: 1_000 })).resolves.toBe(1);
    } finally {
      await system.shutdown();
    }
  });
});

describe('sandboxed, mode process: in flight', () => {
  beforeAll(() => configureSandboxes({ mode: 'process' }));

  it('a restart fails the asks forwarded and not yet answered, and dead-letters them (stopped)', async () => {
    const system = createSystem();
    const dead: DeadLetter[] = [];
    system.deadLetters.subscribe((d) => dead.push(d));
    try {
      const slow = `function receive(s, m, ctx) { let x = 0; for (let i = 0; i < 2e6; i++) x += i; ctx.reply(m.n); return s }`;
      system.spawn(
        supervise({
          strategy: 'one-for-all',
          children: [
            // limits no loaded machine reaches: the restart, not a limit, must end the asks
            {
              id: 's',
              behaviour: sandboxed({ source: slow, limits: { cpuMs: 10_000, wallMs: 10_000 } }),
            },
            {
              id: 'f',
              behaviour: fromReceive(null, () => {
                throw new Error('sibling');
              }),
            },
          ],
        }),
      );
      const s = await child(system, '/user/$0/s');
      const f = await child(system, '/user/$0/f');
      const asks = [1, 2, 3].map((n) => s.ask({ n }, { timeout: 5_000 }));
      f.tell('fail');
      const results = await Promise.allSettled(asks);
      for (const r of results)
        if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ActorFailedError);
      const failed = results.filter((r) => r.status === 'rejected').length;
      expect(failed).toBeGreaterThan(0);
      expect(dead.filter((d) => d.reason === 'stopped').length).toBeGreaterThanOrEqual(failed);
    } finally {
      await system.shutdown();
    }
  });

  it('keeps at most SANDBOX_MAX_IN_FLIGHT in the host; beyond that and its mailbox capacity, dead letters', async () => {
    const system = createSystem();
    const dead: DeadLetter[] = [];
    system.deadLetters.subscribe((d) => dead.push(d));
    try {
      const c = system.spawn(sandboxed({ source: COUNTER, input: { start: 0 } }), {
        mailbox: { capacity: 100 },
      }) as ActorRef<Msg, number>;
      await c.ask({ type: 'get' }, { timeout: 3_000 });
      const total = SANDBOX_MAX_IN_FLIGHT + 5_000;
      for (let i = 0; i < total; i++) c.tell({ type: 'inc' });
      const n = await c.ask({ type: 'get' }, { timeout: 10_000 }).catch(() => -1);
      const lost = dead.filter((d) => d.reason === 'mailbox-full').length;
      expect(lost).toBeGreaterThan(0);
      if (n >= 0) expect(n + lost).toBe(total);
    } finally {
      await system.shutdown();
    }
  });
});
