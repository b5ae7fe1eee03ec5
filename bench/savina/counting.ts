/**
 * counting (Savina "Counting Actor"): a producer actor sends `messages` increments to one
 * counter actor in one go, then a `get`; the counter answers the producer with its total and
 * the run checks it. It stresses the one-actor hot path: tell → mailbox → scheduler → behaviour, with
 * a mailbox that fills to `messages` before the counter's first turn.
 *
 * The increment is one shared message object (no allocation per message in any
 * implementation). troupe's counter needs `mailbox: { capacity: Infinity }`: the default
 * bound (10,000, drop-newest) would drop the increments beyond it.
 */
import { assign, createActor, setup } from 'xstate';
import { fromMachine, fromReceive, reply, type ActorRef, type Behaviour } from '../../index.ts';
import { completion, untilIdle, withSystem } from '../fresh-system.ts';
import { expectCount, secondsSince, type Benchmark, type Sample } from '../harness.ts';
import { RawActor, RawScheduler } from '../raw.ts';

export interface CountingParams {
  readonly messages: number;
}

export type CounterMsg = { type: 'inc' } | { type: 'get' };
export type Total = { type: 'total'; count: number };
type ProducerMsg = { type: 'start' } | Total;

const INC: CounterMsg = { type: 'inc' };
const GET: CounterMsg = { type: 'get' };
const START: ProducerMsg = { type: 'start' };

// ---- troupe:receive -------------------------------------------------------------------------

/** The counter as a plain function: the state is the count; `get` answers the sender. */
export const counter = fromReceive<number, CounterMsg, Total>(0, (count, msg, ctx) => {
  if (msg.type === 'inc') return count + 1;
  ctx.reply({ type: 'total', count });
  return count;
});

/** Sends `n` increments then a `get` to `target`; hands the total it gets back to `done`. */
function producer(target: ActorRef<CounterMsg>, n: number, done: (count: number) => void) {
  return fromReceive<null, ProducerMsg>(null, (state, msg) => {
    if (msg.type === 'start') {
      for (let i = 0; i < n; i++) target.tell(INC);
      target.tell(GET);
    } else done(msg.count);
    return state;
  });
}

// ---- the XState machine (troupe:machine and xstate) -----------------------------------------

/** The counter as an XState machine; `report` is provided by each implementation. */
export const counterMachine = setup({
  types: {} as { context: { count: number }; events: CounterMsg },
  actions: {
    report: (_, _params: { count: number }) => {
      throw new Error('counterMachine: provide the report action');
    },
  },
}).createMachine({
  id: 'counter',
  context: { count: 0 },
  on: {
    inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
    get: { actions: { type: 'report', params: ({ context }) => ({ count: context.count }) } },
  },
});

/** In troupe the machine answers the asking actor with troupe's `reply` action. */
export const troupeCounterMachine = counterMachine.provide({
  actions: {
    report: reply(({ context }: { context: { count: number } }): Total => ({
      type: 'total',
      count: context.count,
    })),
  },
});

// ---- the implementations --------------------------------------------------------------------

export function onTroupe(counterBehaviour: Behaviour<CounterMsg, any, any>) {
  return ({ messages }: CountingParams): Promise<Sample> =>
    withSystem(async (system) => {
      const done = completion<number>(system);
      const target = system.spawn(counterBehaviour, { mailbox: { capacity: Infinity } });
      const source = system.spawn(producer(target, messages, done.resolve));
      await untilIdle(system); // both started before the clock starts
      const t0 = performance.now();
      source.tell(START);
      const total = await done.promise;
      const seconds = secondsSince(t0);
      expectCount('counter total', total, messages);
      return { messages, seconds };
    });
}

/** Bare XState has no scheduler: the bench's loop is the producer; each send is handled at once. */
function onXState({ messages }: CountingParams): Sample {
  let total = -1;
  const actor = createActor(
    counterMachine.provide({ actions: { report: (_, { count }) => (total = count) } }),
  ).start();
  const t0 = performance.now();
  for (let i = 0; i < messages; i++) actor.send(INC);
  actor.send(GET);
  const seconds = secondsSince(t0);
  actor.stop();
  expectCount('counter total', total, messages);
  return { messages, seconds };
}

/** The counter as a raw actor: its count lives in its closure; `get` hands it to `report`. */
export function rawCounter(
  scheduler: RawScheduler,
  report: (count: number) => void,
): RawActor<CounterMsg> {
  let count = 0;
  return new RawActor(scheduler, (msg: CounterMsg) => {
    if (msg.type === 'inc') count++;
    else report(count);
  });
}

async function onRaw({ messages }: CountingParams): Promise<Sample> {
  const scheduler = new RawScheduler();
  const { promise, resolve } = Promise.withResolvers<number>();
  const target = rawCounter(scheduler, (count) => source.tell({ type: 'total', count }));
  const source = new RawActor(scheduler, (msg: ProducerMsg) => {
    if (msg.type === 'start') {
      for (let i = 0; i < messages; i++) target.tell(INC);
      target.tell(GET);
    } else resolve(msg.count);
  });
  const t0 = performance.now();
  source.tell(START);
  const total = await promise;
  const seconds = secondsSince(t0);
  expectCount('counter total', total, messages);
  return { messages, seconds };
}

export const counting: Benchmark<CountingParams> = {
  name: 'counting',
  describe: (p) => `1 actor receives ${p.messages.toLocaleString('en')} messages`,
  unit: 'msgs/s',
  params: { full: { messages: 1_000_000 }, quick: { messages: 100_000 } },
  impls: {
    raw: onRaw,
    'troupe:receive': onTroupe(counter),
    'troupe:machine': onTroupe(fromMachine(troupeCounterMachine)),
    xstate: onXState,
  },
};
