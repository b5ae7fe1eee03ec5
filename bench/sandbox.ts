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
 */
import { configureSandboxes, sandboxed, type Behaviour } from '../index.ts';
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
