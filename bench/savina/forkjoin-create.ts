/**
 * forkjoin-create (Savina "Fork Join (actor creation)"): a spawner creates `actors`
 * actors, sends each one message, and each answers the spawner once; the run ends when the
 * spawner has every answer. msgs/s here is actors/s: the cost of an actor's whole short life
 * (create, register, start, one message, one reply), the pattern of a fan-out of short
 * tasks. The spawner's mailbox is unbounded: the answers arrive faster than it runs.
 */
import { createActor, setup } from 'xstate';
import { fromMachine, fromReceive, reply, type Behaviour } from '../../index.ts';
import { completion, untilIdle, withSystem } from '../fresh-system.ts';
import { expectCount, secondsSince, type Benchmark, type Sample } from '../harness.ts';
import { RawActor, RawScheduler } from '../raw.ts';
import { counterMachine, type CounterMsg } from './counting.ts';

export interface ForkjoinParams {
  readonly actors: number;
}

type Work = { type: 'work' };
type Done = { type: 'done' };
type SpawnerMsg = { type: 'start' } | Done;

const WORK: Work = { type: 'work' };
const DONE: Done = { type: 'done' };
const START: SpawnerMsg = { type: 'start' };
const INC: CounterMsg = { type: 'inc' };

// ---- troupe:receive -------------------------------------------------------------------------

/** A worker as a plain function: answers its one message. */
const worker = fromReceive<null, Work, Done>(null, (state, _msg, ctx) => {
  ctx.reply(DONE);
  return state;
});

/** Spawns `n` children of `child`, sends each one `work`; calls `finished` at the n-th answer. */
function spawner(child: Behaviour<Work, any, any>, n: number, finished: (answers: number) => void) {
  return fromReceive<number, SpawnerMsg>(0, (answers, msg, ctx) => {
    if (msg.type === 'start') {
      for (let i = 0; i < n; i++) ctx.spawn(child).tell(WORK);
      return answers;
    }
    if (answers + 1 === n) finished(answers + 1);
    return answers + 1;
  });
}

// ---- the XState machine (troupe:machine and xstate) -----------------------------------------

/** A worker as an XState machine; `report` is provided by each implementation. */
export const workerMachine = setup({
  types: {} as { events: Work },
  actions: {
    report: () => {
      throw new Error('workerMachine: provide the report action');
    },
  },
}).createMachine({ id: 'worker', on: { work: { actions: 'report' } } });

// ---- the implementations --------------------------------------------------------------------

function onTroupe(child: Behaviour<Work, any, any>) {
  return ({ actors }: ForkjoinParams): Promise<Sample> =>
    withSystem(async (system) => {
      const done = completion<number>(system);
      const parent = system.spawn(spawner(child, actors, done.resolve), {
        mailbox: { capacity: Infinity },
      });
      await untilIdle(system); // the spawner has started before the clock starts
      const t0 = performance.now();
      parent.tell(START);
      const answers = await done.promise;
      const seconds = secondsSince(t0);
      expectCount('answers', answers, actors);
      return { messages: actors, seconds };
    });
}

/** Bare XState has no spawner actor with a mailbox: a counter machine collects the answers. */
function onXState({ actors }: ForkjoinParams): Sample {
  const collector = createActor(counterMachine).start();
  const machine = workerMachine.provide({ actions: { report: () => collector.send(INC) } });
  const workers = [];
  const t0 = performance.now();
  for (let i = 0; i < actors; i++) {
    const w = createActor(machine).start();
    w.send(WORK);
    workers.push(w);
  }
  const seconds = secondsSince(t0);
  for (const w of workers) w.stop();
  expectCount('answers', collector.getSnapshot().context.count, actors);
  return { messages: actors, seconds };
}

async function onRaw({ actors }: ForkjoinParams): Promise<Sample> {
  const scheduler = new RawScheduler();
  const { promise, resolve } = Promise.withResolvers<number>();
  let answers = 0;
  const answer = () => parent.tell(DONE);
  const parent: RawActor<SpawnerMsg> = new RawActor(scheduler, (msg: SpawnerMsg) => {
    if (msg.type === 'start') {
      for (let i = 0; i < actors; i++) new RawActor<Work>(scheduler, answer).tell(WORK);
    } else if (++answers === actors) resolve(answers);
  });
  const t0 = performance.now();
  parent.tell(START);
  const total = await promise;
  const seconds = secondsSince(t0);
  expectCount('answers', total, actors);
  return { messages: actors, seconds };
}

export const forkjoinCreate: Benchmark<ForkjoinParams> = {
  name: 'forkjoin-create',
  describe: (p) =>
    `${p.actors.toLocaleString('en')} actors spawned, one message and one answer each`,
  unit: 'actors/s',
  params: { full: { actors: 100_000 }, quick: { actors: 10_000 } },
  impls: {
    raw: onRaw,
    'troupe:receive': onTroupe(worker),
    'troupe:machine': onTroupe(
      fromMachine(workerMachine.provide({ actions: { report: reply((): Done => DONE) } })),
    ),
    xstate: onXState,
  },
};
