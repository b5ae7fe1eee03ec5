/**
 * The sandbox watchdog, in both modes: calls that V8 cannot interrupt (a builtin on an object
 * whose `length` is huge ignores isolated-vm's timeout) get their host killed from outside;
 * the offender fails with SandboxLimitError, every other sandbox of the host with
 * SandboxHostLostError, the next call gets a fresh host, and no host outlives its node or a
 * system's shutdown. Outcomes only: how soon the next sandbox answers is bench/'s
 * (`sandbox-recovery`).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configureSandboxes,
  createSystem,
  fromReceive,
  runUntrusted,
  sandboxed,
  sandboxStats,
  SandboxHostLostError,
  SandboxLimitError,
  supervise,
  type ActorRef,
  type ActorSystem,
  type RuntimeEvent,
  type SandboxMode,
} from '../../index.ts';
import { SANDBOX_SPARE_HOST } from '../../sandbox/config.ts';
import { grantLetters } from '../../sandbox/engine.ts';
import { sandboxHost, SandboxHostLink } from '../../sandbox/host-link.ts';
import { SANDBOX_HOST_STALL_MS } from '../../sandbox/host-watch.ts';
import { resolveLimits } from '../../sandbox/limits.ts';
import { alive } from './escape-support.ts';

/**
 * The attacks, each a call V8 does not interrupt (`join` throws at once for 2 ** 53 - 1, so it
 * gets the largest array length instead).
 */
const ATTACKS: readonly (readonly [string, string])[] = [
  ['indexOf', 'Array.prototype.indexOf.call({ length: 2 ** 53 - 1 }, 1)'],
  ['includes', 'Array.prototype.includes.call({ length: 2 ** 53 - 1 }, 1)'],
  ['lastIndexOf', 'Array.prototype.lastIndexOf.call({ length: 2 ** 53 - 1 }, 1)'],
  ['join', 'Array.prototype.join.call({ length: 2 ** 32 - 1 })'],
  ['reverse', 'Array.prototype.reverse.call({ length: 2 ** 53 - 1 })'],
  ['copyWithin', 'Array.prototype.copyWithin.call({ length: 2 ** 53 - 1 }, 1, 0)'],
  ['fill', 'Array.prototype.fill.call({ length: 2 ** 53 - 1 }, 1)'],
];

/** A sandbox that runs the attack its message names. */
const ATTACKER = `
  var ATTACKS = { ${ATTACKS.map(([n, body]) => `${n}: function () { return ${body}; }`).join(', ')} };
  function receive(s, msg) { ATTACKS[msg.attack](); return s; }`;
const COUNTER = `function receive(n, msg, ctx) { if (msg === 'get') ctx.reply(n); return n + 1 }`;

type ChildFailed = Extract<RuntimeEvent, { type: 'child-failed' }>;

/** Polls `check` until it holds; fails after `ms` (real time: real processes are watched). */
async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 15_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not in time: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function failuresOf(system: ActorSystem): ChildFailed[] {
  const seen: ChildFailed[] = [];
  system.events.subscribe((e) => {
    if (e.type === 'child-failed') seen.push(e);
  });
  return seen;
}

/** The sandbox answers an ask (asks made while it restarts may fail: they are retried). */
async function answers(ref: ActorRef<unknown>): Promise<unknown> {
  let got: { value: unknown } | null = null;
  await eventually(async () => {
    try {
      got = { value: await ref.ask('get', { timeout: 5_000 }) };
    } catch {
      // failed with its host, or restarting: ask again
    }
    return got !== null;
  }, `${ref.path} answers`);
  return got!.value;
}

describe.each(['process', 'thread'] as SandboxMode[])('the sandbox watchdog, mode %s', (mode) => {
  beforeAll(() => configureSandboxes({ mode }));
  afterAll(() => configureSandboxes({ mode: 'process' }));

  it.each(ATTACKS)(
    'Array.prototype.%s on { length: huge } under cpuMs 50: the offender fails with SandboxLimitError, its host is killed and replaced, another sandbox answers after, and no host is left after shutdown',
    async (name) => {
      const system = createSystem();
      const failed = failuresOf(system);
      const echo = system.spawn(
        fromReceive<null, unknown>(null, (s, m, ctx) => {
          ctx.reply(m);
          return s;
        }),
      );
      system.spawn(
        supervise({
          intensity: 100,
          children: [
            { id: 'attacker', behaviour: sandboxed({ source: ATTACKER, limits: { cpuMs: 50 } }) },
            { id: 'bystander', behaviour: sandboxed({ source: COUNTER, input: 0 }) },
          ],
        }),
        { name: 'sup' },
      );
      let lastPid = 0;
      try {
        await eventually(() => system.actorAt('/user/sup/bystander') !== undefined, 'started');
        const bystander = system.actorAt('/user/sup/bystander')!;
        const attacker = system.actorAt('/user/sup/attacker')!;
        await expect(bystander.ask('get', { timeout: 15_000 })).resolves.toBe(0);
        const before = await sandboxStats();

        attacker.tell({ attack: name });
        await eventually(
          () => failed.some((f) => f.child === attacker.path),
          'the offender failed',
        );
        const offence = failed.find((f) => f.child === attacker.path)!.error as SandboxLimitError;
        expect(offence, String(offence)).toBeInstanceOf(SandboxLimitError);
        expect(offence.limit).toBe('cpu');
        expect(offence.path).toBe(attacker.path);

        // the other sandbox of the thread was in the killed host: it fails with it, restarts
        // in a fresh host and answers
        await expect(answers(bystander)).resolves.toBe(0);
        const lost = failed.find((f) => f.child === bystander.path)?.error;
        expect(lost, String(lost)).toBeInstanceOf(SandboxHostLostError);
        await expect(echo.ask('ping', { timeout: 5_000 })).resolves.toBe('ping');

        const after = await sandboxStats();
        expect(after.hostKills).toBe(before.hostKills + 1);
        expect(after.hostPid).not.toBe(before.hostPid);
        await eventually(() => !alive(before.hostPid), 'the killed host is gone');
        lastPid = after.hostPid;
      } finally {
        await system.shutdown();
      }
      // nothing else uses the host: it ends after the shutdown
      await eventually(() => !alive(lastPid), 'no host is left after system.shutdown()');
    },
  );

  it.each(ATTACKS)(
    'runUntrusted of Array.prototype.%s on { length: huge } rejects with SandboxLimitError; the next run answers',
    async (_name, body) => {
      const attack = runUntrusted(`return ${body}`, null, { cpuMs: 50, wallMs: 200 });
      const e = await attack.then(
        () => null,
        (x: unknown) => x,
      );
      expect(e, String(e)).toBeInstanceOf(SandboxLimitError);
      expect(['cpu', 'wall']).toContain((e as SandboxLimitError).limit);
      await expect(runUntrusted('return 6 * 7')).resolves.toBe(42);
    },
  );

  it('checks watchdogGraceMs and spareHost, naming the field', () => {
    expect(() => configureSandboxes({ mode, watchdogGraceMs: -1 })).toThrow(
      /options\.watchdogGraceMs/,
    );
    expect(() => configureSandboxes({ mode, watchdogGraceMs: Infinity })).toThrow(
      /options\.watchdogGraceMs/,
    );
    expect(() => configureSandboxes({ mode, spareHost: 'yes' as never })).toThrow(
      /options\.spareHost/,
    );
    configureSandboxes({ mode });
  });
});

/** Reads a process's CPU time (ms) from /proc (Linux). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime, in clock ticks of 10 ms
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * A node in a process of its own whose sandbox is stuck in an attack: its watchdog's grace is
 * one minute, so that only the host's own parent-death detection can end the host. Resolves
 * with the node and its host's pid once the host has spun STUCK_CPU_MS of CPU since it was up
 * (an idle host spins none).
 */
async function stuckNode(mode: SandboxMode) {
  const STUCK_CPU_MS = 300;
  const index = new URL('../../index.ts', import.meta.url).href;
  const script = `
    import { configureSandboxes, createSystem, sandboxed, sandboxStats } from ${JSON.stringify(index)};
    configureSandboxes({ mode: ${JSON.stringify(mode)}, watchdogGraceMs: 60_000 });
    const system = createSystem();
    const sb = system.spawn(sandboxed({ source: ${JSON.stringify(ATTACKER)}, limits: { cpuMs: 50 } }));
    console.log('HOST ' + (await sandboxStats()).hostPid);
    process.stdin.once('data', () => sb.tell({ attack: 'indexOf' }));`;
  const node = spawn(
    process.execPath,
    ['--no-node-snapshot', '--input-type=module', '-e', script],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  let out = '';
  node.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await eventually(() => /HOST (\d+)/.test(out), 'the node printed its host');
  const host = Number(/HOST (\d+)/.exec(out)![1]);
  const idle = cpuMsOf(host);
  node.stdin.write('go\n');
  await eventually(() => !alive(host) || cpuMsOf(host) - idle >= STUCK_CPU_MS, 'the host is stuck');
  return { node, host };
}

describe.skipIf(!existsSync('/proc/self/stat'))('no host outlives its node', () => {
  it.each(['process', 'thread'] as SandboxMode[])(
    'mode %s: a host stuck in a call dies when its node is killed (SIGKILL)',
    async (mode) => {
      const { node, host } = await stuckNode(mode);
      expect(alive(host)).toBe(true);
      node.kill('SIGKILL');
      await eventually(() => !alive(host), 'the host died with its node');
    },
  );

  it('mode process: a host stuck in a call dies when its node exits', async () => {
    const { node, host } = await stuckNode('process');
    // the node's own thread is free in mode 'process': it can end itself
    node.kill('SIGTERM');
    await eventually(() => !alive(host), 'the host died with its node');
  });
});

/** A link of its own (not the thread's): it starts from no host, whatever ran before. */
function freshLink() {
  const link = new SandboxHostLink();
  const limits = resolveLimits('limits', { cpuMs: 50 });
  const grants = grantLetters({ tell: false, emit: false, log: false, clock: false });
  const pids = new Set<number>();
  /** A runUntrusted of `return <body>` on this link. */
  const run = async (body: string): Promise<unknown> => {
    const source = `(async function (input, log) {\nreturn ${body}\n})`;
    const r = await link.request(limits, (id) => ['u', id, source, 'null', limits, grants, 'd']);
    pids.add(link.pid);
    if (link.sparePid !== undefined) pids.add(link.sparePid);
    return r[1];
  };
  /** Ends it; resolves when none of the hosts it had is left. */
  const end = async (): Promise<void> => {
    link.release();
    for (const pid of pids) await eventually(() => !alive(pid), `host ${pid} ended`);
  };
  return { link, run, end };
}

describe('mode process: spareHost', () => {
  afterAll(() => configureSandboxes({ mode: 'process' }));

  it('is on by default: a spare host is started once the first is up; both end on release', async () => {
    expect(SANDBOX_SPARE_HOST).toBe(true);
    configureSandboxes({ mode: 'process' });
    const { link, run, end } = freshLink();
    try {
      await expect(run('1')).resolves.toBe('t');
      expect(link.sparePid).toBeDefined();
      expect(link.sparePid).not.toBe(link.pid);
    } finally {
      await end();
    }
  });

  it('with spareHost false keeps none; a call past its limit starts the next host, which takes over', async () => {
    configureSandboxes({ mode: 'process', spareHost: false });
    const { link, run, end } = freshLink();
    try {
      await expect(run('1')).resolves.toBe('t');
      const first = link.pid;
      expect(link.sparePid).toBeUndefined();
      const attack = run(ATTACKS[0]![1]);
      await eventually(() => link.sparePid !== undefined, 'the next host started at the overrun');
      const next = link.sparePid!;
      await expect(attack).rejects.toBeInstanceOf(SandboxLimitError);
      await expect(run('2')).resolves.toBe('t');
      expect(link.pid).toBe(next);
      expect(link.pid).not.toBe(first);
      expect(link.sparePid).toBeUndefined();
    } finally {
      await end();
    }
  });

  it('keeps a second host started; the sandboxes of a killed host go on in it', async () => {
    configureSandboxes({ mode: 'process', spareHost: true });
    const host = sandboxHost();
    await expect(runUntrusted('return 1')).resolves.toBe(1);
    await eventually(() => host.sparePid !== undefined, 'a spare host is started');
    const spare = host.sparePid!;
    await expect(
      runUntrusted(`return ${ATTACKS[0]![1]}`, null, { cpuMs: 50 }),
    ).rejects.toBeInstanceOf(SandboxLimitError);
    await expect(runUntrusted('return 2')).resolves.toBe(2);
    expect(host.pid).toBe(spare);
    // and the next spare is started beside it
    await eventually(() => host.sparePid !== undefined && host.sparePid !== spare, 'a new spare');
  });
});

describe('a frozen host', () => {
  beforeAll(() => configureSandboxes({ mode: 'process' }));

  it(
    `is killed when it says nothing for SANDBOX_HOST_STALL_MS while answers are owed; its callers get SandboxHostLostError`,
    async () => {
      const host = sandboxHost();
      await expect(runUntrusted('return 1')).resolves.toBe(1);
      const pid = host.pid;
      const kills = host.kills;
      process.kill(pid, 'SIGSTOP'); // the host and its guard thread stop: no reports, no answers
      try {
        await expect(runUntrusted('return 2')).rejects.toBeInstanceOf(SandboxHostLostError);
      } finally {
        if (alive(pid)) process.kill(pid, 'SIGCONT');
      }
      expect(host.kills).toBe(kills + 1);
      await expect(runUntrusted('return 3')).resolves.toBe(3);
    },
    SANDBOX_HOST_STALL_MS + 15_000,
  );
});
