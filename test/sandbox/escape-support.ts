/**
 * Helpers of the escape suite (escape.test.ts): a system per case with a sandboxed child under
 * a one-for-one supervisor, an echo actor, a victim actor no sandbox is ever given, and the
 * checks every case ends with (the host is unharmed: no global gained, no prototype polluted,
 * the sandbox host process is the same one, every lease given back).
 *
 * The untrusted side: PRELUDE defines `probe(F, how)`, which takes what an escape reached as a
 * Function constructor and reports what that constructor's global holds ('HOST …' when it is a
 * host realm: process, require, Buffer…); an escape returns or stores such verdicts.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { types } from 'node:util';
import { expect } from 'vitest';
import {
  createSystem,
  fromReceive,
  isActorRef,
  sandboxed,
  sandboxStats,
  SandboxCapabilityError,
  SandboxCodeError,
  SandboxLimitError,
  SandboxSourceError,
  supervise,
  type ActorRef,
  type ActorSystem,
  type Logger,
  type RuntimeEvent,
  type SandboxedOptions,
  type SandboxLimitName,
  type SandboxMode,
  type SandboxStats,
} from '../../index.ts';

export type ChildFailed = Extract<RuntimeEvent, { type: 'child-failed' }>;

/** A failure seen on system.events, with when it was seen (performance.now()). */
export interface Failure {
  readonly event: ChildFailed;
  readonly at: number;
}

/** The sandboxed child's path in every case. */
export const SB = '/user/sup/sb';

/** What a host realm's global has and a sandbox's must not. */
export const HOST_NAMES = [
  'process',
  'require',
  'module',
  'exports',
  'Buffer',
  'global',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'performance',
  'fetch',
  'structuredClone',
  'SharedArrayBuffer',
  'Atomics',
  'WebAssembly',
  '__dirname',
  '__filename',
  '_ivm',
  'ivm',
  'driver',
];

/**
 * Untrusted-side helpers, prepended to escape sources. `probe(F, how)`: F is what an escape got
 * as a Function constructor; it runs `return this` with it and looks at that global. A host
 * realm's global is marked (`__troupeEscaped`) so that the host can see it was reached.
 */
export const PRELUDE = `
var HOST_NAMES = ${JSON.stringify(HOST_NAMES)};
function probe(F, how) {
  if (typeof F !== 'function') return how + ': no function (' + typeof F + ')';
  var g;
  try { g = F('return this')(); } catch (e) { return how + ': threw ' + (e && e.name); }
  if (g === null || typeof g !== 'object') return how + ': no global (' + typeof g + ')';
  var seen = HOST_NAMES.filter(function (n) { try { return typeof g[n] !== 'undefined'; } catch (e) { return true; } });
  if (seen.length > 0) {
    try { g.__troupeEscaped = how; } catch (e) {}
    return 'HOST ' + how + ': ' + seen.join(',');
  }
  return how + ': isolate';
}
function leak(f) { return typeof f === 'function' && /^(driver|put|json|take|codeFault|grant|addressOf)$/.test(f.name) ? 'LEAK ' + f.name : ''; }
`;

/**
 * A sandboxed source for an escape `body` (a function body, `this` the receive's, `ctx` in
 * scope): message 'go' runs it and keeps its verdict (a promise's when it returns one), message
 * 'report' answers the verdict as a string.
 */
export function escapeSource(body: string): string {
  return `${PRELUDE}
var verdict = 'not run';
function keep(v) { verdict = Array.isArray(v) ? v.join(' | ') : String(v); }
function receive(state, msg, ctx) {
  if (msg === 'go') {
    verdict = 'ran, no verdict';
    var r = (function (ctx) {
${body}
    }).call(this, ctx);
    if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
      verdict = 'pending';
      r.then(keep, function (e) { verdict = 'rejected: ' + (e && e.name) + ' ' + (e && e.message); });
    } else if (r !== undefined) keep(r);
  }
  if (msg === 'report') ctx.reply(verdict);
  return state;
}`;
}

/** A recorder actor: keeps what it gets. */
export function recorder(system: ActorSystem, name: string) {
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

/** Polls `check` every few ms until it holds; fails after `ms`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 3_000,
): Promise<void> {
  const end = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`not in time: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A CPU limit no honest call of these tests can reach, however loaded the machine: for the
 * cases that are not about the CPU limit (isolated-vm's timeout counts wall time while a call
 * runs, so a machine short of CPU stops a call sooner).
 */
export const GENEROUS_CPU_MS = 10_000;
/** The limits of those cases: the wall limit bounds each call too, when it is the shorter. */
export const GENEROUS = { cpuMs: GENEROUS_CPU_MS, wallMs: GENEROUS_CPU_MS } as const;

/** Whether process `pid` is alive (a zombie, dead but not reaped, is not). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return true;
  }
}

/** What runInChild saw: how the child ended, and what its runUntrusted came to. */
export interface ChildRun {
  readonly code: number | null;
  readonly signal: string | null;
  readonly result: {
    ok?: unknown;
    error?: string;
    limit?: string;
    thrown?: string;
    hostRestarts?: number;
  } | null;
  readonly stderr: string;
}

/**
 * Runs `runUntrusted(source)` in a node child process of its own (mode `mode`), for attacks
 * that may crash the process that holds the isolate: a crash there must not end the test
 * run. The child is killed (by its pid) after `ms`.
 */
export function runInChild(
  mode: SandboxMode,
  source: string,
  limits: Record<string, number>,
  ms = 15_000,
): Promise<ChildRun> {
  const index = new URL('../../index.ts', import.meta.url).href;
  const script = `
    import { configureSandboxes, runUntrusted, sandboxStats } from ${JSON.stringify(index)};
    configureSandboxes({ mode: ${JSON.stringify(mode)} });
    let result;
    try { result = { ok: await runUntrusted(${JSON.stringify(source)}, null, ${JSON.stringify(limits)}) }; }
    catch (e) { result = { error: e?.constructor?.name, limit: e?.limit, thrown: e?.thrown }; }
    const s = await sandboxStats();
    console.log('RESULT ' + JSON.stringify({ ...result, hostRestarts: s.hostRestarts ?? 0 }));
    process.exit(0);`;
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--no-node-snapshot', '--no-warnings', '--input-type=module', '-e', script],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      resolve({
        code,
        signal,
        result: line === undefined ? null : (JSON.parse(line.slice(7)) as ChildRun['result']),
        stderr: err.slice(0, 2_000),
      });
    });
  });
}

/** The checks of a value copied out of a sandbox: plain data, nothing that can run host-side. */
export function expectPlainData(v: unknown, at = '$'): void {
  if (isActorRef(v)) return; // a ref the runtime revived: the host's own object
  if (v === null || typeof v !== 'object') {
    expect(typeof v, at).not.toBe('function');
    expect(typeof v, at).not.toBe('symbol');
    return;
  }
  expect(types.isProxy(v), `${at} is a Proxy`).toBe(false);
  const proto = Object.getPrototypeOf(v) as unknown;
  if (Array.isArray(v)) expect(proto, at).toBe(Array.prototype);
  else expect(proto === Object.prototype || v instanceof Error || v instanceof Date, at).toBe(true);
  expect(Object.getOwnPropertySymbols(v), `${at} symbols`).toEqual([]);
  for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(v))) {
    expect(d.get, `${at}.${k} getter`).toBeUndefined();
    expect(d.set, `${at}.${k} setter`).toBeUndefined();
    expectPlainData(d.value, `${at}.${k}`);
  }
}

/** The sandbox's typed errors: what a supervisor may get from a sandboxed child. */
export function isSandboxError(e: unknown): boolean {
  return (
    e instanceof SandboxLimitError ||
    e instanceof SandboxCodeError ||
    e instanceof SandboxCapabilityError ||
    e instanceof SandboxSourceError
  );
}

interface HostBaseline {
  readonly globals: (string | symbol)[];
  readonly objectProto: (string | symbol)[];
  readonly arrayProto: (string | symbol)[];
  readonly functionProto: (string | symbol)[];
  readonly stats: SandboxStats;
}

async function baseline(): Promise<HostBaseline> {
  return {
    globals: Reflect.ownKeys(globalThis),
    objectProto: Reflect.ownKeys(Object.prototype),
    arrayProto: Reflect.ownKeys(Array.prototype),
    functionProto: Reflect.ownKeys(Function.prototype),
    stats: await sandboxStats(),
  };
}

const added = (before: (string | symbol)[], now: (string | symbol)[]) =>
  now.filter((k) => !before.includes(k)).map(String);

/** One case's system and its checks (see the top of this file). */
export class Harness {
  readonly mode: SandboxMode;
  readonly system: ActorSystem;
  readonly failures: Failure[] = [];
  readonly events: RuntimeEvent[] = [];
  readonly logs: string[] = [];
  readonly echo: ActorRef<unknown, unknown>;
  /** An actor no sandbox is given: it must receive nothing. */
  readonly victim: ReturnType<typeof recorder>;
  /** An actor sandboxes are given (as ctx.refs.sink and the emit target). */
  readonly sink: ReturnType<typeof recorder>;
  /** This case may end with its host killed by the watchdog (a violation of a time limit). */
  watchdogMayFire = false;
  readonly #base: HostBaseline;
  readonly #waiters: { n: number; resolve: (f: Failure) => void }[] = [];

  private constructor(mode: SandboxMode, base: HostBaseline) {
    this.mode = mode;
    this.#base = base;
    const logger: Logger = {
      info: (m) => this.logs.push(m),
      warn: (m) => this.logs.push(m),
      error: (m) => this.logs.push(m),
    };
    this.system = createSystem({ logger });
    this.system.events.subscribe((e) => {
      this.events.push(e);
      if (e.type !== 'child-failed') return;
      const f = { event: e, at: performance.now() };
      this.failures.push(f);
      for (const w of [...this.#waiters])
        if (this.failures.length > w.n) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(this.failures[w.n]!);
        }
    });
    this.echo = this.system.spawn(
      fromReceive<null, unknown>(null, (s, m, ctx) => {
        ctx.reply(m);
        return s;
      }),
      { name: 'echo' },
    );
    this.victim = recorder(this.system, 'victim');
    this.sink = recorder(this.system, 'sink');
  }

  static async open(mode: SandboxMode): Promise<Harness> {
    return new Harness(mode, await baseline());
  }

  get hostPid(): number | undefined {
    return this.#base.stats.hostPid;
  }

  /** The next child-failed event from now on (call it before the tell). */
  nextFailure(ms = 15_000): Promise<Failure> {
    const n = this.failures.length;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no child-failed event in ${ms} ms`)), ms);
      this.#waiters.push({
        n,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** Spawns `options` as child 'sb' of a one-for-one supervisor at /user/sup; its ref once started. */
  async sandbox(options: SandboxedOptions): Promise<ActorRef<unknown, unknown>> {
    this.supervise(options);
    await until(() => this.system.actorAt(SB) !== undefined, 'the sandbox started');
    return this.system.actorAt(SB)!;
  }

  /** Spawns the supervisor with `options` as its child 'sb' (not waiting for it to start). */
  supervise(options: SandboxedOptions): ActorRef<unknown, unknown> {
    return this.system.spawn(
      supervise({
        strategy: 'one-for-one',
        intensity: 20,
        children: [{ id: 'sb', behaviour: sandboxed(options) }],
      }),
      { name: 'sup' },
    ) as ActorRef<unknown, unknown>;
  }

  /** The default capabilities of a hostile sandbox: everything, with the sink as its only ref. */
  get allCapabilities() {
    return {
      tell: true,
      refs: { sink: this.sink.ref },
      emit: this.sink.ref as never,
      log: true,
    };
  }

  /** Other actors keep answering: the echo answers an ask (how soon is bench/'s business). */
  async expectEchoAnswers(): Promise<void> {
    await expect(this.echo.ask({ ping: 1 }, { timeout: 5_000 })).resolves.toEqual({ ping: 1 });
  }

  /**
   * Tells `msg` to the sandbox and checks the violation: the supervisor got SandboxLimitError of
   * `limit`, the isolate was disposed (or, for a call that isolated-vm could not stop in time,
   * its host was killed by the watchdog) and no isolate leaked, and the echo still answers.
   * Returns the error.
   */
  async expectViolation(
    sb: ActorRef<unknown, unknown>,
    msg: unknown,
    limit: SandboxLimitName | readonly SandboxLimitName[],
  ): Promise<SandboxLimitError> {
    const limits = typeof limit === 'string' ? [limit] : limit;
    // a call that overruns its CPU or wall limit may be stopped by the watchdog instead
    if (limits.some((l) => l !== 'copy')) this.watchdogMayFire = true;
    const before = await sandboxStats();
    const failed = this.nextFailure();
    sb.tell(msg);
    const f = await failed;
    expect(f.event.child).toBe(SB);
    const e = f.event.error as SandboxLimitError;
    expect(e, String(e)).toBeInstanceOf(SandboxLimitError);
    expect(limits, e.message).toContain(e.limit);
    expect(e.path).toBe(SB);
    await this.expectDisposed(before);
    await this.expectEchoAnswers();
    return e;
  }

  /**
   * After a violation: one more isolate disposed, and the live count back where it was; or the
   * host was killed by the watchdog (then every isolate in it went with it).
   */
  async expectDisposed(before: SandboxStats): Promise<void> {
    await until(async () => {
      const now = await sandboxStats();
      return now.disposed > before.disposed || now.hostKills > before.hostKills;
    }, 'sandboxStats().disposed grew (or the watchdog killed the host)');
    await until(async () => {
      const now = await sandboxStats();
      return now.hostKills > before.hostKills || now.live <= before.live;
    }, `live isolates back to ${before.live}`);
  }

  /**
   * Runs an escape (escapeSource) in a sandbox with every capability: its verdict, or the
   * failure it ended with (then a SandboxCodeError: the code threw inside).
   */
  async escape(body: string): Promise<{ verdict?: string; error?: unknown }> {
    const sb = await this.sandbox({
      source: escapeSource(body),
      limits: { ...GENEROUS, memoryMb: 32 },
      capabilities: this.allCapabilities,
    });
    const failed = this.nextFailure();
    sb.tell('go');
    const report = sb.ask('report', { timeout: 3_000 }) as Promise<string>;
    const outcome = await Promise.race([
      report.then((verdict) => ({ verdict })),
      failed.then((f) => ({ error: f.event.error })),
    ]);
    report.catch(() => undefined);
    failed.catch(() => undefined);
    return outcome;
  }

  /** Ends the case: the system shuts down and the host is checked unharmed. */
  async close(): Promise<void> {
    await this.system.shutdown();
    const b = this.#base;
    const now = await sandboxStats();
    expect((globalThis as Record<string, unknown>).__troupeEscaped, 'host global marked').toBe(
      undefined,
    );
    expect(added(b.globals, Reflect.ownKeys(globalThis)), 'host globals added').toEqual([]);
    expect(added(b.objectProto, Reflect.ownKeys(Object.prototype)), 'Object.prototype').toEqual([]);
    expect(added(b.arrayProto, Reflect.ownKeys(Array.prototype)), 'Array.prototype').toEqual([]);
    expect(
      added(b.functionProto, Reflect.ownKeys(Function.prototype)),
      'Function.prototype',
    ).toEqual([]);
    expect(now.mode).toBe(this.mode);
    // (a host ended on purpose, a while after a shutdown left nothing in it, is no loss)
    if (now.hostRestarts !== b.stats.hostRestarts)
      // only a case whose violation is a time limit may see its host killed, and only by the
      // watchdog: a host lost otherwise (a crash) fails every case
      expect(
        this.watchdogMayFire && now.hostKills > b.stats.hostKills,
        `the sandbox host process was lost (restarts ${b.stats.hostRestarts} → ${now.hostRestarts}, kills ${b.stats.hostKills} → ${now.hostKills})`,
      ).toBe(true);
    await until(
      async () => (await sandboxStats()).leased <= b.stats.leased,
      'every lease given back',
    );
    expect(this.victim.got, 'the victim received nothing').toEqual([]);
  }
}
