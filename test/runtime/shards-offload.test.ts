/**
 * One offload pool for the node (runtime/shards/offload-link.ts): actors on worker shards
 * offload to the main thread's pool. Real threads and time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createSystem, offloadTask, type ActorRef, type ActorSystem } from '../../index.ts';
import { offloader, type OffloaderMsg, type Outcome } from '../fixtures/shard-offload.ts';

const ASK = { timeout: 5_000 };
const tasks = new URL('../fixtures/offload-tasks.ts', import.meta.url);
const forever = offloadTask<Int32Array, never>(tasks, 'forever');
const flag = (): Int32Array => new Int32Array(new SharedArrayBuffer(4));

/** The outcomes the actor has received, once there are `n`. */
async function outcomes(a: ActorRef<OffloaderMsg, unknown>, n: number): Promise<Outcome[]> {
  for (let i = 0; i < 500; i++) {
    const r = (await a.ask({ type: 'results' }, ASK)) as Outcome[];
    if (r.length >= n) return r;
    await sleep(10);
  }
  throw new Error(`fewer than ${n} outcomes`);
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(10);
  if (!cond()) throw new Error('timed out');
}

function onShard1(system: ActorSystem): ActorRef<OffloaderMsg, unknown> {
  return system.spawn(offloader, { shard: 1 }) as ActorRef<OffloaderMsg, unknown>;
}

describe('offload from a worker shard', () => {
  it('runs the task on the main thread’s pool and delivers the result to the actor', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const a = onShard1(system);
      const id = await a.ask({ type: 'run', task: 'double' }, ASK);
      await expect(outcomes(a, 1)).resolves.toEqual([{ id, value: 42 }]);
      // the node's one pool is the main thread's
      expect(system.offloads.started).toBe(true);
    } finally {
      await system.shutdown();
    }
  });

  it('delivers a task that throws, one past its timeout, and an input that cannot cross as failures with their codes', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const a = onShard1(system);
      const failed = await a.ask({ type: 'run', task: 'fail' }, ASK);
      const timedOut = await a.ask({ type: 'run', task: 'forever' }, ASK);
      const data = await a.ask({ type: 'run', task: 'function' }, ASK);
      const r = await outcomes(a, 3);
      expect(r).toEqual(
        expect.arrayContaining([
          { id: failed, code: 'ERR_OFFLOAD_TASK_FAILED' },
          { id: timedOut, code: 'ERR_OFFLOAD_TIMEOUT' },
          { id: data, code: 'ERR_OFFLOAD_DATA' },
        ]),
      );
    } finally {
      await system.shutdown();
    }
  });

  it('aborts the tasks of an actor on a shard that stops: the pool thread is freed', async () => {
    const system = createSystem({ shards: 2 });
    try {
      const a = onShard1(system);
      await a.ask({ type: 'run', task: 'hang' }, ASK);
      // the task runs on the main thread's pool, and would for ever
      await until(() => system.offloads.inFlight === 1);
      await system.stop(a);
      await until(() => system.offloads.inFlight === 0);
    } finally {
      await system.shutdown();
    }
  });

  it('shares the node’s limits: with one thread and no queue, a shard’s task fails while the main thread’s runs', async () => {
    const system = createSystem({ shards: 2, offload: { maxThreads: 1, maxQueue: 0 } });
    try {
      const started = flag();
      const hog = new AbortController();
      const running = system
        .offload(forever, started, { signal: hog.signal })
        .catch((e: { code: string }) => e.code);
      await until(() => Atomics.load(started, 0) === 1);
      const a = onShard1(system);
      const id = await a.ask({ type: 'run', task: 'double' }, ASK);
      await expect(outcomes(a, 1)).resolves.toEqual([{ id, code: 'ERR_OFFLOAD_QUEUE_FULL' }]);
      // the actor keeps answering meanwhile
      await expect(a.ask({ type: 'ping' }, ASK)).resolves.toBe('pong');
      hog.abort();
      await expect(running).resolves.toBe('ERR_OFFLOAD_ABORTED');
    } finally {
      await system.shutdown();
    }
  });
});
