/**
 * The scheduler's fairness to the event loop (runtime/core/scheduler.ts), driven directly: the
 * runnables here advance a clock the test controls as they run, so "10 ms of work" is ten
 * batches of 1 ms, and what runs before the next macrotask is counted, never timed. The last
 * tests use the real event loop and the real clock, and assert only what ran before what.
 */
import { describe, expect, it } from 'vitest';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type { Clock } from '../../runtime/core/clock.ts';
import { systemClock } from '../../runtime/core/clock.ts';
import {
  CLOCK_CHECK_MAX_BATCHES,
  MAX_BATCHES_PER_SLICE,
  Scheduler,
  type Runnable,
} from '../../runtime/core/scheduler.ts';
import { createSystem, fromReceive } from '../../index.ts';

/**
 * A clock that moves only when a runnable says so (`tick`), at once, in the middle of a turn
 * (SimulatedClock moves in `advance`, which is async and runs between turns); the scheduler
 * arms no timer.
 */
class ManualClock implements Clock {
  time = 1_700_000_000_000;
  now(): number {
    return this.time;
  }
  tick(ms: number): void {
    this.time += ms;
  }
  setTimeout(): unknown {
    throw new Error('the scheduler arms no timer');
  }
  clearTimeout(): void {
    throw new Error('the scheduler arms no timer');
  }
}

const SLICE_MS = 10;

/**
 * A runnable that takes `costMs` of the clock per batch and asks for another batch after
 * each: at once (`'sync'`, it still has mail) or from a promise continuation (`'microtask'`,
 * its async work resolved at once). It stops after `limit` batches so that a scheduler that
 * never yields fails the test instead of hanging it.
 */
class Worker implements Runnable {
  batches = 0;
  stopped = false;
  costMs: number;
  private readonly scheduler: Scheduler;
  private readonly clock: ManualClock;
  private readonly again: 'sync' | 'microtask';
  private readonly limit: number;

  constructor(
    scheduler: Scheduler,
    clock: ManualClock,
    options: { costMs: number; again: 'sync' | 'microtask'; limit?: number },
  ) {
    this.scheduler = scheduler;
    this.clock = clock;
    this.costMs = options.costMs;
    this.again = options.again;
    this.limit = options.limit ?? 1_000_000;
  }

  process(): void {
    this.batches++;
    this.clock.tick(this.costMs);
    if (this.stopped || this.batches >= this.limit) return;
    if (this.again === 'sync') this.scheduler.enqueue(this);
    else void Promise.resolve().then(() => this.scheduler.enqueue(this));
  }
}

function setup(costMs: number, again: 'sync' | 'microtask', limit?: number) {
  const clock = new ManualClock();
  const scheduler = new Scheduler(clock, SLICE_MS, () => {});
  const worker = new Worker(scheduler, clock, { costMs, again, limit });
  return { clock, scheduler, worker };
}

/** Batches the worker had run at each of the next `n` macrotasks; then stops it. */
async function batchesAtMacrotasks(worker: Worker, n: number): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < n; i++) {
    await nextMacrotask();
    seen.push(worker.batches);
  }
  worker.stopped = true;
  return seen;
}

describe('Scheduler: turns', () => {
  it('starts a turn as a microtask, right after the code that enqueued', async () => {
    const { scheduler, worker } = setup(0, 'sync', 1);
    const order: string[] = [];
    scheduler.enqueue(worker);
    queueMicrotask(() => order.push(`microtask after ${worker.batches} batch`));
    setImmediate(() => order.push('macrotask'));
    expect(worker.batches).toBe(0);
    await nextMacrotask();
    await nextMacrotask();
    expect(order).toEqual(['microtask after 1 batch', 'macrotask']);
    expect(scheduler.idle).toBe(true);
  });

  it('starts a new slice at a turn after the event loop ran: a stale start defers nothing', async () => {
    const { clock, scheduler, worker } = setup(1, 'sync', 1);
    scheduler.enqueue(worker);
    await nextMacrotask();
    await nextMacrotask(); // the first slice's macrotask has run
    clock.tick(10 * SLICE_MS);
    const more = new Worker(scheduler, clock, { costMs: 1, again: 'sync', limit: 1 });
    scheduler.enqueue(more);
    let seen = -1;
    queueMicrotask(() => (seen = more.batches));
    await nextMacrotask();
    expect(seen).toBe(1);
  });
});

describe('Scheduler: the time slice', () => {
  it('hands control back with a macrotask once the slice is spent, then goes on', async () => {
    const { scheduler, worker } = setup(1, 'sync');
    scheduler.enqueue(worker);
    // 1 ms per batch, a 10 ms slice: 10 batches, then the event loop, then 10 more
    expect(await batchesAtMacrotasks(worker, 3)).toEqual([10, 20, 30]);
    await nextMacrotask();
    expect(scheduler.idle).toBe(true);
  });

  it('ends the slice after one batch when one batch outlasts it', async () => {
    const { scheduler, worker } = setup(2 * SLICE_MS, 'sync');
    scheduler.enqueue(worker);
    expect(await batchesAtMacrotasks(worker, 3)).toEqual([1, 2, 3]);
  });

  it('goes on while the slice has time left and stops when it has none', async () => {
    const { scheduler, worker } = setup(SLICE_MS / 2, 'sync');
    scheduler.enqueue(worker);
    // 5 ms batches: after one, 5 ms left; after two, none
    expect(await batchesAtMacrotasks(worker, 2)).toEqual([2, 4]);
  });

  it('is not idle while a turn waits for its macrotask', async () => {
    const { scheduler, worker } = setup(SLICE_MS, 'sync', 2);
    scheduler.enqueue(worker);
    await Promise.resolve();
    expect(worker.batches).toBe(1);
    expect(scheduler.idle).toBe(false);
    await nextMacrotask();
    expect(worker.batches).toBe(2);
    await nextMacrotask();
    expect(scheduler.idle).toBe(true);
  });

  it('adapts its clock reads when batches turn slow: only the slice where they turned overruns', async () => {
    const { scheduler, worker } = setup(0, 'sync');
    // fast batches first (time stands still): the reads spread out to every 128 batches
    const fast = 1_000;
    const slowAfter = { at: fast, costMs: 1 };
    const process = worker.process.bind(worker);
    worker.process = () => {
      if (worker.batches === slowAfter.at) worker.costMs = slowAfter.costMs;
      process();
    };
    scheduler.enqueue(worker);
    const seen = await batchesAtMacrotasks(worker, 3);
    const perSlice = [seen[0]!, seen[1]! - seen[0]!, seen[2]! - seen[1]!];
    // the first slice ran past 1,000 to its next read, at most 128 batches later
    expect(perSlice[0]).toBeGreaterThan(fast + SLICE_MS);
    expect(perSlice[0]).toBeLessThanOrEqual(fast + CLOCK_CHECK_MAX_BATCHES);
    // after that read the interval has shrunk: the next slices keep their 10 ms
    expect(perSlice.slice(1)).toEqual([SLICE_MS, SLICE_MS]);
  });

  it('ends a slice after MAX_BATCHES_PER_SLICE batches even when the clock does not move', async () => {
    const { scheduler, worker } = setup(0, 'sync');
    scheduler.enqueue(worker);
    const [first, second] = await batchesAtMacrotasks(worker, 2);
    expect(first).toBeGreaterThanOrEqual(MAX_BATCHES_PER_SLICE);
    expect(first).toBeLessThan(MAX_BATCHES_PER_SLICE + CLOCK_CHECK_MAX_BATCHES);
    expect(second! - first!).toBeGreaterThanOrEqual(MAX_BATCHES_PER_SLICE);
  });

  it('with a slice of 0 ms runs one batch per macrotask', async () => {
    const clock = new ManualClock();
    const scheduler = new Scheduler(clock, 0, () => {});
    const worker = new Worker(scheduler, clock, { costMs: 1, again: 'sync' });
    scheduler.enqueue(worker);
    expect(await batchesAtMacrotasks(worker, 3)).toEqual([1, 2, 3]);
  });
});

describe('Scheduler: turns started from microtasks', () => {
  it('cannot run turns past the slice without a macrotask in between', async () => {
    const { scheduler, worker } = setup(1, 'microtask');
    scheduler.enqueue(worker);
    // each turn is one 1 ms batch, started from a promise continuation: the tenth spends
    // the slice, and the eleventh waits for the macrotask
    expect(await batchesAtMacrotasks(worker, 3)).toEqual([10, 20, 30]);
    expect(scheduler.turns).toBe(30);
  });

  it('counts the batches of every turn since the last macrotask toward the slice', async () => {
    const { scheduler, worker } = setup(0, 'microtask');
    scheduler.enqueue(worker);
    const [first] = await batchesAtMacrotasks(worker, 1);
    expect(first).toBe(MAX_BATCHES_PER_SLICE);
  });

  it('leaves a turn that finds the slice spent to the slice macrotask, before later immediates', async () => {
    const { scheduler, worker } = setup(SLICE_MS, 'microtask', 2);
    const order: string[] = [];
    scheduler.enqueue(worker);
    await Promise.resolve();
    await Promise.resolve();
    setImmediate(() => order.push(`an immediate armed after it: ${worker.batches} batches`));
    await nextMacrotask();
    await nextMacrotask();
    expect(order).toEqual(['an immediate armed after it: 2 batches']);
  });
});

describe('Scheduler on the real event loop', () => {
  /** Where a runnable that was never interrupted gives up (so a failure ends, not hangs). */
  const LIMIT = 10_000_000;

  it('lets a setImmediate callback run between the turns of a runnable that re-enqueues itself', async () => {
    const scheduler = new Scheduler(systemClock, 1, () => {});
    const order: string[] = [];
    let batches = 0;
    let stop = false;
    const busy: Runnable = {
      process() {
        batches++;
        if (!stop && batches < LIMIT) scheduler.enqueue(busy);
      },
    };
    scheduler.enqueue(busy);
    setImmediate(() => {
      order.push(batches < LIMIT ? 'immediate while busy ran' : 'immediate after busy gave up');
      stop = true;
    });
    while (!scheduler.idle) await nextMacrotask();
    order.push('busy stopped');
    expect(order).toEqual(['immediate while busy ran', 'busy stopped']);
    expect(batches).toBeGreaterThan(0);
  });

  it('lets a due timer run while a runnable loops on resolved promises', async () => {
    const scheduler = new Scheduler(systemClock, 1, () => {});
    let batches = 0;
    let firedAfter = -1;
    const looper: Runnable = {
      process() {
        batches++;
        if (firedAfter < 0 && batches < LIMIT)
          void Promise.resolve().then(() => scheduler.enqueue(looper));
      },
    };
    scheduler.enqueue(looper);
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        firedAfter = batches;
        resolve();
      }, 1),
    );
    expect(firedAfter).toBeGreaterThan(0);
    expect(firedAfter).toBeLessThan(LIMIT);
  });

  it('an actor whose async step resolves at once does not starve a timer', async () => {
    const system = createSystem();
    let steps = 0;
    let fired = false;
    const looper = system.spawn(
      fromReceive<null, 'step'>(null, (state, _msg, ctx) => {
        steps++;
        if (!fired && steps < LIMIT) void Promise.resolve().then(() => ctx.self.tell('step'));
        return state;
      }),
    );
    looper.tell('step');
    const stepsWhenFired = await new Promise<number>((resolve) =>
      setTimeout(() => {
        fired = true;
        resolve(steps);
      }, 1),
    );
    expect(stepsWhenFired).toBeGreaterThan(0);
    expect(stepsWhenFired).toBeLessThan(LIMIT);
    await system.shutdown();
  });
});
