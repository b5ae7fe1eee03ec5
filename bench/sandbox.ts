/**
 * The sandbox in the bench (issue 6).
 *
 * `counting` gains two implementations: the counter is a `sandboxed` behaviour (the same
 * counter, as untrusted JavaScript in an isolated-vm isolate, under the default limits: each
 * message runs under its own CPU limit of 100 ms); the producer is a plain troupe actor.
 *   troupe:sandboxed          isolates in the node's thread (configureSandboxes mode 'thread'):
 *                             one synchronous call into the isolate per message
 *   troupe:sandboxed@process  isolates in the sandbox host process (mode 'process', the
 *                             default): messages go over IPC, batched per turn, each run under
 *                             its own limit there; answers come back through the mailbox
 *
 * `sandbox-acquire`: the time to get a ready sandbox (an isolate with a fresh context, the
 * bootstrap run and the capabilities configured: `new Sandbox(...)` of sandbox/engine.ts).
 *   troupe:pooled  from this thread's pool, prepared ahead: before each acquire the run waits
 *                  (untimed) until the pool has a ready one, as a system at rest would
 *   troupe:cold    a pool that keeps nothing ready: a new isolate, context and bootstrap
 * Its msgs/s is acquires per second of acquiring (1 / the mean time of one, waits left out);
 * p50Us/p99Us are percentiles of the acquire times.
 *
 * `sandbox-recovery`: how long a hostile call keeps a thread's sandboxes from answering. An
 * attacker and a bystander, both `sandboxed` under one supervisor in mode 'process' (the
 * default); the attacker is told `Array.prototype.indexOf.call({ length: 2 ** 53 - 1 })`
 * under cpuMs 50, which isolated-vm cannot interrupt, so the watchdog kills their host (at
 * the limit plus its grace, SANDBOX_WATCHDOG_GRACE_MS); from that tell, the bystander is
 * asked again and again (an ask that fails with the lost host is asked again) until it
 * answers from a fresh host (the spare host, SANDBOX_SPARE_HOST: started ahead by default).
 *   troupe:sandboxed@process  p50Us/p99Us: percentiles of the time from the hostile tell to
 *                             the bystander's answer; msgs/s is recoveries per second of
 *                             recovering. Each attack starts with the system at rest (the
 *                             bystander answered, untimed) and must cost exactly one host.
 */
import {
  configureSandboxes,
  createSystem,
  sandboxed,
  sandboxStats,
  supervise,
  type ActorRef,
  type Behaviour,
} from '../index.ts';
import { Sandbox } from '../sandbox/engine.ts';
import { DEFAULT_LIMITS } from '../sandbox/limits.ts';
import { IsolatePool } from '../sandbox/pool.ts';
import { percentile, type Benchmark, type Impl, type Sample } from './harness.ts';
import { onTroupe, type CountingParams } from './savina/counting.ts';

/** The counting counter as untrusted code: the state is the count; `get` answers the asker. */
export const SANDBOXED_COUNTER_SOURCE = `
function receive(count, msg, ctx) {
  if (msg.type === 'inc') return count + 1;
  ctx.reply({ type: 'total', count });
  return count;
}`;

const counter = (): Behaviour<any, any, any> =>
  sandboxed({ source: SANDBOXED_COUNTER_SOURCE, input: 0 });

/** counting with the counter sandboxed, its isolate where `mode` says. */
export function countingSandboxed(mode: 'thread' | 'process'): Impl<CountingParams> {
  const run = onTroupe(counter());
  return async (params) => {
    configureSandboxes({ mode });
    try {
      return await run(params);
    } finally {
      configureSandboxes({ mode: 'process' });
    }
  };
}

export interface AcquireParams {
  readonly acquires: number;
}

/** The same key for every acquire: one domain, the default memory limit. */
const DOMAIN = 'bench';

async function pooled({ acquires }: AcquireParams): Promise<Sample> {
  const pool = new IsolatePool({ maxIsolates: 8, warm: 1 });
  try {
    const times = new Float64Array(acquires);
    let total = 0;
    for (let i = 0; i < acquires; i++) {
      await pool.prewarm(DOMAIN, DEFAULT_LIMITS.memoryMb);
      const t0 = performance.now();
      const sandbox = new Sandbox('/bench', DEFAULT_LIMITS, 't', DOMAIN, pool);
      const us = (performance.now() - t0) * 1000;
      times[i] = us;
      total += us;
      sandbox.release();
    }
    if (pool.stats().cold > 1) throw new Error(`pooled: ${pool.stats().cold} cold starts`);
    return summary(acquires, total, times);
  } finally {
    pool.close();
  }
}

async function cold({ acquires }: AcquireParams): Promise<Sample> {
  const pool = new IsolatePool({ maxIsolates: 8, warm: 0 });
  try {
    const times = new Float64Array(acquires);
    let total = 0;
    for (let i = 0; i < acquires; i++) {
      const t0 = performance.now();
      const sandbox = new Sandbox('/bench', DEFAULT_LIMITS, 't', DOMAIN, pool);
      const us = (performance.now() - t0) * 1000;
      times[i] = us;
      total += us;
      // not given back: the next acquire finds no isolate and makes one
      sandbox.abandon(new Error('cold bench'));
      if (i % 64 === 63) await new Promise((r) => setImmediate(r));
    }
    if (pool.stats().cold !== acquires) throw new Error('cold: an acquire found an isolate');
    return summary(acquires, total, times);
  } finally {
    pool.close();
  }
}

function summary(acquires: number, totalUs: number, times: Float64Array): Sample {
  return {
    messages: acquires,
    seconds: totalUs / 1e6,
    p50Us: Math.round(percentile(times, 50) * 10) / 10,
    p99Us: Math.round(percentile(times, 99) * 10) / 10,
  };
}

export const sandboxAcquire: Benchmark<AcquireParams> = {
  name: 'sandbox-acquire',
  describe: (p) => `${p.acquires.toLocaleString('en')} ready sandboxes acquired one at a time`,
  unit: 'acquires/s',
  params: { full: { acquires: 2_000 }, quick: { acquires: 200 } },
  scale: (p, f) => ({ acquires: Math.max(1, Math.round(p.acquires * f)) }),
  impls: { 'troupe:pooled': pooled, 'troupe:cold': cold },
};

export interface RecoveryParams {
  readonly attacks: number;
}

/** The attacker: a builtin V8 does not interrupt, on an object whose length is huge. */
const ATTACKER_SOURCE = `function receive(s) { Array.prototype.indexOf.call({ length: 2 ** 53 - 1 }, 1); return s; }`;
const BYSTANDER_SOURCE = `function receive(n, msg, ctx) { ctx.reply(n); return n + 1; }`;

/** Asks `ref` until it answers (an ask that fails, its host lost, is asked again). */
async function answered(ref: ActorRef<unknown>): Promise<void> {
  for (;;) {
    try {
      await ref.ask('get', { timeout: 30_000 });
      return;
    } catch {
      // it failed with its host, or is restarting
    }
  }
}

async function recovery({ attacks }: RecoveryParams): Promise<Sample> {
  configureSandboxes({ mode: 'process' }); // the defaults: a spare host, a 250 ms grace
  const system = createSystem();
  try {
    system.spawn(
      supervise({
        intensity: 10 * attacks + 10,
        period: 60_000,
        children: [
          {
            id: 'attacker',
            behaviour: sandboxed({ source: ATTACKER_SOURCE, limits: { cpuMs: 50 } }),
          },
          { id: 'bystander', behaviour: sandboxed({ source: BYSTANDER_SOURCE, input: 0 }) },
        ],
      }),
      { name: 'sup' },
    );
    while (system.actorAt('/user/sup/bystander') === undefined)
      await new Promise((r) => setTimeout(r, 5));
    const attacker = system.actorAt('/user/sup/attacker')!;
    const bystander = system.actorAt('/user/sup/bystander')!;
    const kills = (await sandboxStats()).hostKills;
    const times = new Float64Array(attacks);
    let total = 0;
    for (let i = 0; i < attacks; i++) {
      await answered(bystander); // at rest: its host is up
      const t0 = performance.now();
      attacker.tell('attack');
      await answered(bystander);
      const us = (performance.now() - t0) * 1000;
      times[i] = us;
      total += us;
    }
    const killed = (await sandboxStats()).hostKills - kills;
    if (killed !== attacks)
      throw new Error(`sandbox-recovery: ${killed} hosts killed for ${attacks} attacks`);
    return summary(attacks, total, times);
  } finally {
    await system.shutdown();
  }
}

export const sandboxRecovery: Benchmark<RecoveryParams> = {
  name: 'sandbox-recovery',
  describe: (p) =>
    `${p.attacks.toLocaleString('en')} hostile calls V8 cannot interrupt, each until another sandbox answers`,
  unit: 'recoveries/s',
  params: { full: { attacks: 20 }, quick: { attacks: 5 } },
  scale: (p, f) => ({ attacks: Math.max(1, Math.round(p.attacks * f)) }),
  impls: { 'troupe:sandboxed@process': recovery },
};
