/**
 * forkjoin-throughput (Savina "Fork Join (throughput)"): a producer sends `messages` messages
 * to each of `actors` workers, round-robin (message 1 to every worker, then message 2, …), as
 * Savina's main loop does; each worker does Savina's small computation per message (sin² of
 * a constant) and counts. msgs/s counts the actors × messages work messages.
 *
 * It stresses many mailboxes filling at once and the scheduler's fairness between busy
 * actors: every worker has work queued, and each turn handles a batch of one then moves on.
 * Workers need `mailbox: { capacity: Infinity }` (all of a worker's messages are queued
 * before its first turn, past the default bound of 10,000).
 *
 * After the work the producer asks every worker for its count (not measured as work: FIFO
 * per sender → receiver puts the question after the last message) and the run checks that
 * each worker handled exactly `messages`.
 */
import { assign, createActor, setup } from 'xstate';
import { fromMachine, fromReceive, reply, type ActorRef, type Behaviour } from '../../index.ts';
import { completion, untilIdle, withSystem } from '../fresh-system.ts';
import { expectCount, scaleCount, secondsSince, type Benchmark, type Sample } from '../harness.ts';
import { RawActor, RawScheduler } from '../raw.ts';

export interface ForkjoinThroughputParams {
  readonly actors: number;
  /** Messages each actor receives. */
  readonly messages: number;
}

export type WorkerMsg = { type: 'work' } | { type: 'get' };
type Count = { type: 'count'; count: number };
type ProducerMsg = { type: 'start' } | Count;

const WORK: WorkerMsg = { type: 'work' };
const GET: WorkerMsg = { type: 'get' };
const START: ProducerMsg = { type: 'start' };

/** Savina's argument to the per-message computation. */
const THETA = 37.2;

/** Savina's per-message work: sin²θ, checked so that it cannot be optimised away. */
export function performComputation(theta: number): number {
  const sin = Math.sin(theta);
  const res = sin * sin;
  if (res <= 0) throw new Error(`forkjoin-throughput: sin²(${theta}) = ${res}`);
  return res;
}

// ---- troupe:receive -------------------------------------------------------------------------

/** A worker as a plain function: its state is the messages it has handled. */
const worker = fromReceive<number, WorkerMsg, Count>(0, (count, msg, ctx) => {
  if (msg.type === 'work') {
    performComputation(THETA);
    return count + 1;
  }
  ctx.reply({ type: 'count', count });
  return count;
});

/** Sends the work round-robin, then a `get` to each; hands the sum of the counts to `done`. */
function producer(
  workers: readonly ActorRef<WorkerMsg>[],
  messages: number,
  done: (total: number) => void,
) {
  type Tally = { readonly answers: number; readonly total: number };
  return fromReceive<Tally, ProducerMsg>({ answers: 0, total: 0 }, (tally, msg) => {
    if (msg.type === 'start') {
      for (let m = 0; m < messages; m++) for (const w of workers) w.tell(WORK);
      for (const w of workers) w.tell(GET);
      return tally;
    }
    const next = { answers: tally.answers + 1, total: tally.total + msg.count };
    if (next.answers === workers.length) done(next.total);
    return next;
  });
}

// ---- the XState machine (troupe:machine and xstate) -----------------------------------------

/** A worker as an XState machine; `report` is provided by each implementation. */
export const workerMachine = setup({
  types: {} as { context: { count: number }; events: WorkerMsg },
  actions: {
    compute: () => void performComputation(THETA),
    report: (_, _params: { count: number }) => {
      throw new Error('workerMachine: provide the report action');
    },
  },
}).createMachine({
  id: 'worker',
  context: { count: 0 },
  on: {
    work: { actions: ['compute', assign({ count: ({ context }) => context.count + 1 })] },
    get: { actions: { type: 'report', params: ({ context }) => ({ count: context.count }) } },
  },
});

const troupeWorkerMachine = workerMachine.provide({
  actions: {
    report: reply(({ context }: { context: { count: number } }): Count => ({
      type: 'count',
      count: context.count,
    })),
  },
});

// ---- the implementations --------------------------------------------------------------------

function onTroupe(behaviour: Behaviour<WorkerMsg, any, any>) {
  return ({ actors, messages }: ForkjoinThroughputParams): Promise<Sample> =>
    withSystem(async (system) => {
      const done = completion<number>(system);
      const workers: ActorRef<WorkerMsg>[] = [];
      for (let i = 0; i < actors; i++)
        workers.push(system.spawn(behaviour, { mailbox: { capacity: Infinity } }));
      const source = system.spawn(producer(workers, messages, done.resolve));
      await untilIdle(system); // all started before the clock starts
      const t0 = performance.now();
      source.tell(START);
      const total = await done.promise;
      const seconds = secondsSince(t0);
      expectCount('messages handled by the workers', total, actors * messages);
      return { messages: actors * messages, seconds };
    });
}

/** Bare XState: the bench's loop is the producer; each send is handled before it returns. */
function onXState({ actors, messages }: ForkjoinThroughputParams): Sample {
  let total = 0;
  const machine = workerMachine.provide({
    actions: { report: (_, { count }) => void (total += count) },
  });
  const workers = [];
  for (let i = 0; i < actors; i++) workers.push(createActor(machine).start());
  const t0 = performance.now();
  for (let m = 0; m < messages; m++) for (const w of workers) w.send(WORK);
  for (const w of workers) w.send(GET);
  const seconds = secondsSince(t0);
  for (const w of workers) w.stop();
  expectCount('messages handled by the workers', total, actors * messages);
  return { messages: actors * messages, seconds };
}

async function onRaw({ actors, messages }: ForkjoinThroughputParams): Promise<Sample> {
  const scheduler = new RawScheduler();
  const { promise, resolve } = Promise.withResolvers<number>();
  const workers: RawActor<WorkerMsg>[] = [];
  for (let i = 0; i < actors; i++) {
    let count = 0;
    workers.push(
      new RawActor(scheduler, (msg: WorkerMsg) => {
        if (msg.type === 'work') {
          performComputation(THETA);
          count++;
        } else source.tell({ type: 'count', count });
      }),
    );
  }
  let answers = 0;
  let total = 0;
  const source = new RawActor(scheduler, (msg: ProducerMsg) => {
    if (msg.type === 'start') {
      for (let m = 0; m < messages; m++) for (const w of workers) w.tell(WORK);
      for (const w of workers) w.tell(GET);
    } else {
      total += msg.count;
      if (++answers === actors) resolve(total);
    }
  });
  const t0 = performance.now();
  source.tell(START);
  const handled = await promise;
  const seconds = secondsSince(t0);
  expectCount('messages handled by the workers', handled, actors * messages);
  return { messages: actors * messages, seconds };
}

export const forkjoinThroughput: Benchmark<ForkjoinThroughputParams> = {
  name: 'forkjoin-throughput',
  describe: (p) =>
    `${p.actors} actors receive ${p.messages.toLocaleString('en')} messages each, round-robin`,
  unit: 'msgs/s',
  params: { full: { actors: 60, messages: 10_000 }, quick: { actors: 60, messages: 1_000 } },
  scale: (p, f) => ({ actors: p.actors, messages: scaleCount(p.messages, f) }),
  impls: {
    raw: onRaw,
    'troupe:receive': onTroupe(worker),
    'troupe:machine': onTroupe(fromMachine(troupeWorkerMachine)),
    xstate: onXState,
  },
};
