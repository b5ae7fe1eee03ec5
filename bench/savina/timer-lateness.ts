/**
 * timer-lateness (issue 21): does the scheduler give the event loop its turn while actors
 * keep it busy? Two actors run for the whole run:
 * - `looper` loops on resolved promises, as an agent whose model and tools answer at once:
 *   each step hands the busy actor a burst of work, then starts an async step that resolves
 *   at once (`await` of a resolved promise), whose continuation tells the looper its next
 *   step. Microtasks only: nothing in this loop ever waits for the event loop.
 * - `busy` handles each burst of `burst` messages as fast as it can: each message it handles
 *   tells it the next (its batches are full `throughput` batches).
 * Between two bursts the run queue is empty for a moment and the next turn is started from
 * a microtask, so a scheduler that bounds only the turn it is in (not the time since the
 * event loop last ran) never yields: a due timer waits for the whole run.
 *
 * Meanwhile a `timerMs` setTimeout is armed again and again, one at a time: each firing is
 * one sample of lateness (when it ran − when it was due). After each firing the busy actor
 * arms the next from inside its turn, at a random moment within the next `timerMs` (a
 * timer armed from the timer phase would fire in step with the scheduler's slices and see
 * only their overrun). A scheduler that keeps its time slice (10 ms by default) runs a due
 * timer within about one slice. Target: p99 ≤ 20 ms.
 *
 * msgs/s is the busy actor's rate (its messages over the run's wall time); p50Us/p99Us are
 * percentiles of the timers' lateness. `extra` has `timers` (samples taken; when none fired
 * during the run, the one armed is waited for, and its lateness is the one sample) and
 * `loopSteps` (the looper's steps), each the median over the runs. The run checks that the
 * busy actor handled exactly `messages` and the looper made exactly one step per burst, and
 * fails on any dead letter.
 */
import { fromReceive, type ActorRef } from '../../index.ts';
import { completion, untilIdle, withSystem } from '../fresh-system.ts';
import {
  expectCount,
  percentile,
  scaleCount,
  secondsSince,
  type Benchmark,
  type Sample,
} from '../harness.ts';
import { Random } from './random.ts';

export interface TimerLatenessParams {
  /** Messages the busy actor handles in a run (a multiple of `burst`). */
  readonly messages: number;
  /** Messages per burst: what one step of the looper hands the busy actor. */
  readonly burst: number;
  /** The delay of each sampled timer, in milliseconds. */
  readonly timerMs: number;
}

type BusyMsg = { type: 'burst' } | { type: 'work' };
type LoopMsg = { type: 'step' };

const BURST: BusyMsg = { type: 'burst' };
const WORK: BusyMsg = { type: 'work' };
const STEP: LoopMsg = { type: 'step' };

/** The busy actor looks at the clock (to arm the next timer) once per this many messages. */
const ARM_CHECK_EVERY = 256;

/** The sampled timers: one armed at a time; the busy actor arms the next (`armIfDue`). */
class Sampler {
  readonly latenciesUs: number[] = [];
  private readonly timerMs: number;
  private readonly random = new Random(21);
  /** performance.now() from which the next timer may be armed; Infinity while one is armed. */
  private armAfter = Infinity;
  private due = 0;
  private timer: NodeJS.Timeout | undefined;
  private fired: (() => void) | null = null;
  private stopped = false;

  constructor(timerMs: number) {
    this.timerMs = timerMs;
  }

  /** Arms a timer now. */
  arm(): void {
    this.armAfter = Infinity;
    this.due = performance.now() + this.timerMs;
    this.timer = setTimeout(this.fire, this.timerMs);
  }

  /** Called by the busy actor during its turn. */
  armIfDue(): void {
    if (performance.now() >= this.armAfter) this.arm();
  }

  /**
   * Ends the sampling: clears the armed timer, unless none has fired yet: then it resolves
   * when that one fires (its lateness is the run's one sample).
   */
  stop(): Promise<void> {
    this.stopped = true;
    if (this.latenciesUs.length > 0 || this.armAfter !== Infinity) {
      clearTimeout(this.timer);
      return Promise.resolve();
    }
    return new Promise((resolve) => (this.fired = resolve));
  }

  private readonly fire = (): void => {
    const now = performance.now();
    this.latenciesUs.push((now - this.due) * 1000);
    if (!this.stopped) this.armAfter = now + (this.random.next() / 2 ** 32) * this.timerMs;
    this.fired?.();
  };
}

/** What the actors counted, read by the bench after the run. */
interface Counts {
  handled: number;
  steps: number;
}

/**
 * Handles every message; a burst owes `burst - 1` more, told to itself one at a time (each
 * `work` it handles tells the next). Calls `done` at the `total`-th message.
 */
function busyActor(
  burst: number,
  total: number,
  counts: Counts,
  sampler: Sampler,
  done: () => void,
) {
  let owed = 0;
  let chained = false;
  return fromReceive<null, BusyMsg>(null, (state, msg, ctx) => {
    const handled = ++counts.handled;
    if (msg.type === 'work') chained = false;
    else owed += burst - 1;
    if (!chained && owed > 0) {
      owed--;
      chained = true;
      ctx.self.tell(WORK);
    }
    if (handled % ARM_CHECK_EVERY === 0) sampler.armIfDue();
    if (handled === total) done();
    return state;
  });
}

/** One async step that resolves at once (a model or tool that answers immediately). */
async function resolvedStep(self: ActorRef<LoopMsg>): Promise<void> {
  await Promise.resolve();
  self.tell(STEP);
}

/** Each step hands `busy` a burst and starts the next step; `bursts` steps in all. */
function looperActor(
  busy: ActorRef<BusyMsg>,
  bursts: number,
  counts: Counts,
  fail: (e: unknown) => void,
) {
  return fromReceive<number, LoopMsg>(bursts, (left, _msg, ctx) => {
    if (left === 0) return 0;
    counts.steps++;
    busy.tell(BURST);
    resolvedStep(ctx.self).catch(fail);
    return left - 1;
  });
}

async function onTroupe({ messages, burst, timerMs }: TimerLatenessParams): Promise<Sample> {
  return withSystem(async (system) => {
    const done = completion<void>(system);
    const counts: Counts = { handled: 0, steps: 0 };
    const sampler = new Sampler(timerMs);
    const failures: unknown[] = [];
    const bursts = messages / burst;
    const busy = system.spawn(busyActor(burst, messages, counts, sampler, done.resolve));
    const looper = system.spawn(looperActor(busy, bursts, counts, (e) => failures.push(e)));
    await untilIdle(system); // both started before the clock starts
    const t0 = performance.now();
    sampler.arm();
    looper.tell(STEP);
    await done.promise;
    const seconds = secondsSince(t0);
    await sampler.stop();
    await untilIdle(system);
    if (failures.length > 0)
      throw new Error('timer-lateness: a step of the looper failed', { cause: failures[0] });
    expectCount('busy actor: messages handled', counts.handled, messages);
    expectCount('looper: steps', counts.steps, bursts);
    const lateness = sampler.latenciesUs;
    return {
      messages,
      seconds,
      p50Us: percentile([...lateness], 50),
      p99Us: percentile([...lateness], 99),
      counts: { timers: lateness.length, loopSteps: counts.steps },
    };
  });
}

/** `messages` × `factor`, a whole number of bursts (at least one). */
function scaleParams(p: TimerLatenessParams, factor: number): TimerLatenessParams {
  return { ...p, messages: scaleCount(p.messages / p.burst, factor) * p.burst };
}

export const timerLateness: Benchmark<TimerLatenessParams> = {
  name: 'timer-lateness',
  describe: (p) =>
    `lateness of a ${p.timerMs} ms timer beside 1 actor looping on resolved promises and 1 handling its ${p.messages.toLocaleString('en')} messages in bursts of ${p.burst.toLocaleString('en')}`,
  unit: 'msgs/s',
  params: {
    full: { messages: 100_000_000, burst: 1_000, timerMs: 10 },
    quick: { messages: 10_000_000, burst: 1_000, timerMs: 10 },
  },
  scale: scaleParams,
  impls: { 'troupe:receive': onTroupe },
};
