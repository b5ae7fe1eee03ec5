import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  createSystem,
  fromReceive,
  offloadTask,
  type ActorRef,
  type OffloadResult,
} from '../../index.ts';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

const tasks = new URL('../fixtures/offload-tasks.ts', import.meta.url);
const double = offloadTask<number, number>(tasks, 'double');
const fail = offloadTask<string, never>(tasks, 'fail');
const spin = offloadTask<{ ms: number; started: Int32Array }, number>(tasks, 'spin');
const forever = offloadTask<Int32Array, never>(tasks, 'forever');
const givesFunction = offloadTask<null, () => void>(tasks, 'givesFunction');

/** A flag a task sets when it starts running in its thread. */
const flag = (): Int32Array => new Int32Array(new SharedArrayBuffer(4));

/** Waits (real time: the task runs in another thread) until `cond` holds. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

type Msg =
  | { type: 'run'; task: 'double' | 'fail' | 'forever' | 'spin'; started?: Int32Array; ms?: number }
  | { type: 'ping' }
  | OffloadResult<unknown>;

/** An actor that offloads what it is told and records what comes back. */
function worker(results: OffloadResult<unknown>[], ids: number[]) {
  return fromReceive<null, Msg, string>(null, (s, msg, ctx) => {
    switch (msg.type) {
      case 'run':
        if (msg.task === 'double') ids.push(ctx.offload(double, 21));
        else if (msg.task === 'fail') ids.push(ctx.offload(fail, 'no luck'));
        else if (msg.task === 'spin')
          ids.push(ctx.offload(spin, { ms: msg.ms ?? 0, started: msg.started ?? flag() }));
        else ids.push(ctx.offload(forever, msg.started ?? flag(), { timeoutMs: 1_000 }));
        return s;
      case 'ping':
        ctx.reply('pong');
        return s;
      default:
        results.push(msg);
        return s;
    }
  });
}

describe('offload', () => {
  it('runs a task on the pool and resolves with its output', async () => {
    const system = createSystem();
    await expect(system.offload(double, 21)).resolves.toBe(42);
    await system.shutdown();
  });

  it('delivers the result to the actor that asked, with the id ctx.offload returned', async () => {
    const system = createSystem();
    const results: OffloadResult<unknown>[] = [];
    const ids: number[] = [];
    const a = system.spawn(worker(results, ids));
    a.tell({ type: 'run', task: 'double' });
    await until(() => results.length === 1, 'the result');
    expect(results[0]).toEqual({
      type: 'troupe.offload.done',
      id: ids[0],
      task: `double of ${tasks.href}`,
      value: 42,
    });
    await system.shutdown();
  });

  it('delivers a task that throws as troupe.offload.failed with ERR_OFFLOAD_TASK_FAILED', async () => {
    const system = createSystem();
    const results: OffloadResult<unknown>[] = [];
    const a = system.spawn(worker(results, []));
    a.tell({ type: 'run', task: 'fail' });
    await until(() => results.length === 1, 'the failure');
    const r = results[0]!;
    expect(r.type).toBe('troupe.offload.failed');
    if (r.type !== 'troupe.offload.failed') return;
    expect(r.error.code).toBe('ERR_OFFLOAD_TASK_FAILED');
    expect(r.error.message).toContain('no luck');
    await system.shutdown();
  });

  it('aborts a task past its timeout and fails it with ERR_OFFLOAD_TIMEOUT', async () => {
    const { system, clock } = testSystem();
    const results: OffloadResult<unknown>[] = [];
    const a = system.spawn(worker(results, []));
    const started = flag();
    a.tell({ type: 'run', task: 'forever', started });
    await until(() => Atomics.load(started, 0) === 1, 'the task to start');
    await clock.advance(999);
    expect(results).toEqual([]);
    await clock.advance(1);
    await until(() => results.length === 1, 'the timeout');
    const r = results[0]!;
    expect(r.type === 'troupe.offload.failed' && r.error.code).toBe('ERR_OFFLOAD_TIMEOUT');
    expect(system.offloads.inFlight).toBe(0);
    await system.shutdown();
  });

  it('aborts the tasks of an actor that stops, and delivers nothing', async () => {
    const system = createSystem();
    const results: OffloadResult<unknown>[] = [];
    const a = system.spawn(worker(results, []));
    const started = flag();
    a.tell({ type: 'run', task: 'forever', started });
    await until(() => Atomics.load(started, 0) === 1, 'the task to start');
    expect(system.offloads.inFlight).toBe(1);
    await system.stop(a);
    await until(() => system.offloads.inFlight === 0, 'the abort');
    expect(results).toEqual([]);
    await system.shutdown();
  });

  it('rejects with ERR_OFFLOAD_ABORTED when the caller aborts', async () => {
    const system = createSystem();
    const started = flag();
    const controller = new AbortController();
    const p = system.offload(forever, started, { signal: controller.signal });
    await until(() => Atomics.load(started, 0) === 1, 'the task to start');
    controller.abort();
    await expect(p).rejects.toMatchObject({ code: 'ERR_OFFLOAD_ABORTED' });
    await system.shutdown();
  });

  it('keeps the requesting actor responsive: a ping is answered while a 2-second task runs', async () => {
    const system = createSystem();
    const results: OffloadResult<unknown>[] = [];
    const a = system.spawn(worker(results, [])) as ActorRef<Msg, string>;
    const started = flag();
    a.tell({ type: 'run', task: 'spin', ms: 2_000, started });
    await until(() => Atomics.load(started, 0) === 1, 'the task to start');
    await expect(a.ask({ type: 'ping' }, { timeout: 1_000 })).resolves.toBe('pong');
    expect(results).toEqual([]); // the task is still running
    await until(() => results.length === 1, 'the task to end');
    expect(results[0]).toMatchObject({ type: 'troupe.offload.done', value: 2_000 });
    await system.shutdown();
  }, 20_000);

  it('fails a task past maxQueue at once with ERR_OFFLOAD_QUEUE_FULL', async () => {
    const system = createSystem({ offload: { maxThreads: 1, maxQueue: 1 } });
    const started = flag();
    const controller = new AbortController();
    const running = system.offload(forever, started, { signal: controller.signal });
    const queued = system.offload(double, 1);
    await expect(system.offload(double, 2)).rejects.toMatchObject({
      code: 'ERR_OFFLOAD_QUEUE_FULL',
      maxQueue: 1,
    });
    controller.abort();
    await expect(running).rejects.toMatchObject({ code: 'ERR_OFFLOAD_ABORTED' });
    await expect(queued).resolves.toBe(2);
    await system.shutdown();
  });

  it('fails an input or output that cannot cross threads with ERR_OFFLOAD_DATA', async () => {
    const system = createSystem();
    await expect(system.offload(givesFunction, null)).rejects.toMatchObject({
      code: 'ERR_OFFLOAD_DATA',
    });
    await expect(system.offload(double, (() => 1) as unknown as number)).rejects.toMatchObject({
      code: 'ERR_OFFLOAD_DATA',
    });
    await system.shutdown();
  });

  it('ends the pool at shutdown; an offload after it rejects with ERR_SYSTEM_TERMINATED', async () => {
    const system = createSystem();
    await system.offload(double, 1);
    expect(system.offloads.started).toBe(true);
    await system.shutdown();
    await expect(system.offload(double, 1)).rejects.toMatchObject({
      code: 'ERR_SYSTEM_TERMINATED',
    });
  });

  it('starts no thread for a system that never offloads', async () => {
    const system = createSystem();
    system.spawn(fromReceive(null, (s, _m: unknown) => s));
    await settle(system);
    await system.shutdown();
    expect(system.offloads.started).toBe(false);
  });

  it('refuses bad options naming the field', () => {
    expect(() => createSystem({ offload: { maxThreads: 0 } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', field: 'options.offload.maxThreads' }),
    );
    expect(() => createSystem({ offload: { timeoutMs: -1 } })).toThrow(
      expect.objectContaining({ field: 'options.offload.timeoutMs' }),
    );
    expect(() => createSystem({ offload: { queue: 1 } as object })).toThrow(
      expect.objectContaining({ field: 'options.offload.queue' }),
    );
    expect(() => offloadTask('relative/path.ts')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', field: 'module' }),
    );
    expect(() => offloadTask(tasks, '')).toThrow(expect.objectContaining({ field: 'name' }));
  });

  it('fails the actor for bad run options (its own bug), not the system', async () => {
    const { system } = testSystem();
    const a = system.spawn(
      fromReceive(null, (s, _m: 'go', ctx) => {
        ctx.offload(double, 1, { timeoutMs: -5 });
        return s;
      }),
    );
    const gone = new Promise((r) => system.watch(a, r));
    a.tell('go');
    await expect(gone).resolves.toMatchObject({ reason: 'failed' });
    expect(system.state).toBe('running');
    await system.shutdown();
  });
});
