/**
 * restart (issue 3): how fast a supervisor brings a failed child back. One worker runs under
 * a one-for-one supervisor (`supervise`, with an intensity that the run cannot reach). A
 * driver actor sends the worker `fail`, which makes it throw, and at once `next`, stamped
 * with the time the `fail` was sent. The supervisor restarts the worker; the restarted
 * worker keeps its mailbox, so `next` is the first message its new incarnation handles:
 * it records the latency (now − the stamp) and tells the driver, which sends the next pair.
 * `failures` times, one failure in flight at a time.
 *
 * msgs/s is **restarts/s**; p50Us/p99Us are percentiles of the latency from sending the
 * failing message to the restarted worker handling its next message: the failure, the
 * report to the supervisor, its decision, the worker's teardown and new start, and one
 * message.
 *
 * A failing message goes to dead letters (reason `failed`), as troupe's rule says. The run
 * counts those — exactly `failures`, each a `fail` — and fails on any other dead letter.
 * The worker checks that each `next` finds a new incarnation.
 */
import {
  createSystem,
  fromReceive,
  supervise,
  whichChildren,
  type ActorRef,
  type SupervisorRef,
} from '../../index.ts';
import { LostMessageError, untilIdle } from '../fresh-system.ts';
import {
  expectCount,
  percentile,
  scaleCount,
  secondsSince,
  type Benchmark,
  type Sample,
} from '../harness.ts';

export interface RestartParams {
  readonly failures: number;
}

type Fail = { type: 'fail' };
/** `failedAt`: performance.now() when the `fail` before it was sent. */
type Next = { type: 'next'; failedAt: number };
type WorkerMsg = Fail | Next;
type Restarted = { type: 'restarted' };
type DriverMsg = { type: 'start' } | Restarted;

const FAIL: Fail = { type: 'fail' };
const RESTARTED: Restarted = { type: 'restarted' };

/** Thrown by the worker on `fail`: the failure the supervisor answers with a restart. */
class InducedFailure extends Error {
  readonly code = 'ERR_BENCH_INDUCED_FAILURE';
}

/** Where the worker writes what it saw; one per run, outside the actors (the bench reads it). */
interface Observations {
  readonly latenciesUs: Float64Array;
  handled: number;
  /** `next` messages handled by the incarnation that failed (not restarted). */
  stale: number;
  lastIncarnation: number;
}

/** The worker: fails on `fail`; on `next`, records the latency and tells whoever sent it. */
function worker(record: Observations) {
  return fromReceive<null, WorkerMsg, Restarted>(null, (state, msg, ctx) => {
    if (msg.type === 'fail') throw new InducedFailure('restart bench: induced failure');
    if (ctx.incarnation <= record.lastIncarnation) record.stale++;
    record.lastIncarnation = ctx.incarnation;
    record.latenciesUs[record.handled++] = (performance.now() - msg.failedAt) * 1000;
    ctx.reply(RESTARTED);
    return state;
  });
}

/** Sends `fail` then `next`, `failures` times, each after the last restart; then `done`. */
function driver(target: ActorRef<WorkerMsg>, failures: number, done: () => void) {
  return fromReceive<number, DriverMsg>(0, (sent, msg) => {
    if (msg.type === 'restarted' && sent === failures) {
      done();
      return sent;
    }
    const failedAt = performance.now();
    target.tell(FAIL);
    target.tell({ type: 'next', failedAt });
    return sent + 1;
  });
}

async function onTroupe({ failures }: RestartParams): Promise<Sample> {
  const system = createSystem();
  try {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    let failed = 0;
    system.deadLetters.subscribe((letter) => {
      if (letter.reason === 'failed' && letter.message === FAIL) failed++;
      else reject(new LostMessageError(letter));
    });
    const record: Observations = {
      latenciesUs: new Float64Array(failures),
      handled: 0,
      stale: 0,
      lastIncarnation: 0,
    };
    const sup: SupervisorRef = system.spawn(
      supervise({
        strategy: 'one-for-one',
        intensity: failures, // never reached: the bench measures restarts, not giving up
        period: 5_000, // OTP's default window
        children: [{ id: 'worker', behaviour: worker(record) }],
      }),
      { name: 'sup' },
    );
    const [child] = await whichChildren(sup);
    const target = child!.ref as ActorRef<WorkerMsg>;
    const drive = system.spawn(driver(target, failures, resolve));
    await untilIdle(system);
    const t0 = performance.now();
    drive.tell({ type: 'start' });
    await promise;
    const seconds = secondsSince(t0);
    expectCount('failing messages in dead letters', failed, failures);
    expectCount('messages handled after a restart', record.handled, failures);
    expectCount('messages handled by a worker that had failed', record.stale, 0);
    expectCount('restarts', record.lastIncarnation, failures);
    return {
      messages: failures,
      seconds,
      p50Us: percentile(record.latenciesUs, 50),
      p99Us: percentile(record.latenciesUs, 99),
    };
  } finally {
    await system.shutdown();
  }
}

export const restart: Benchmark<RestartParams> = {
  name: 'restart',
  describe: (p) =>
    `${p.failures.toLocaleString('en')} failures of a child under a one-for-one supervisor`,
  unit: 'restarts/s',
  params: { full: { failures: 10_000 }, quick: { failures: 1_000 } },
  scale: (p, f) => ({ failures: scaleCount(p.failures, f) }),
  impls: { 'troupe:receive': onTroupe },
};
