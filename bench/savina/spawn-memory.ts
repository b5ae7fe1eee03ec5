/**
 * spawn-memory: the heap an idle actor costs. `actors` idle counters (the counting
 * benchmark's counter) are created and started; bytesPerActor is the growth of heapUsed,
 * each reading taken after a full collection, divided by `actors`. Everything an actor
 * needs to exist counts (its cell, ref, mailbox, state, registry entries, for XState its
 * actor, snapshot and system); the array slot that keeps each actor alive is allocated
 * before the first reading, so it does not.
 *
 * msgs/s here is actors spawned and started per second (the time between the readings,
 * collections excluded).
 */
import { createActor } from 'xstate';
import { fromMachine, type Behaviour } from '../../index.ts';
import { untilIdle, withSystem } from '../fresh-system.ts';
import { heapAfterGc, secondsSince, type Benchmark, type Sample } from '../harness.ts';
import { RawScheduler } from '../raw.ts';
import {
  counter,
  counterMachine,
  rawCounter,
  troupeCounterMachine,
  type CounterMsg,
} from './counting.ts';

export interface SpawnMemoryParams {
  readonly actors: number;
}

/** Creates `n` actors with `create()` and measures them; `started` waits for their start. */
async function measure(
  n: number,
  create: () => unknown,
  started: () => Promise<void> | void,
): Promise<Sample> {
  const keep = new Array<unknown>(n).fill(null);
  const before = heapAfterGc();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) keep[i] = create();
  await started();
  const seconds = secondsSince(t0);
  const after = heapAfterGc();
  if (keep.length !== n) throw new Error('spawn-memory: actors went missing');
  return { messages: n, seconds, bytesPerActor: (after - before) / n };
}

function onTroupe(behaviour: Behaviour<CounterMsg, any, any>) {
  return ({ actors }: SpawnMemoryParams): Promise<Sample> =>
    withSystem((system) =>
      measure(
        actors,
        () => system.spawn(behaviour),
        () => untilIdle(system),
      ),
    );
}

export const spawnMemory: Benchmark<SpawnMemoryParams> = {
  name: 'spawn-memory',
  describe: (p) => `${p.actors.toLocaleString('en')} idle actors, heap bytes per actor`,
  unit: 'actors/s',
  params: { full: { actors: 100_000 }, quick: { actors: 10_000 } },
  impls: {
    raw: ({ actors }) => {
      const scheduler = new RawScheduler();
      const idle = () => undefined; // never asked for its count
      return measure(
        actors,
        () => rawCounter(scheduler, idle),
        () => undefined,
      );
    },
    'troupe:receive': onTroupe(counter),
    'troupe:machine': onTroupe(fromMachine(troupeCounterMachine)),
    xstate: ({ actors }) =>
      measure(
        actors,
        () => createActor(counterMachine).start(),
        () => undefined,
      ),
  },
};
