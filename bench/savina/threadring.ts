/**
 * threadring (Savina "Thread Ring"): `actors` actors in a ring pass a token for `hops`
 * messages. Like pingpong one message is in flight, but the receiver changes at every hop
 * and cycles through many actors, so the actor that runs is never the one that just ran:
 * it adds the cost of touching many cells (and their caches) to pingpong's.
 */
import { withSystem } from '../fresh-system.ts';
import type { Benchmark } from '../harness.ts';
import { ringOnRaw, ringOnTroupe, ringOnXState } from './ball.ts';

export interface ThreadringParams {
  readonly actors: number;
  readonly hops: number;
}

export const threadring: Benchmark<ThreadringParams> = {
  name: 'threadring',
  describe: (p) => `${p.actors} actors in a ring, ${p.hops.toLocaleString('en')} hops`,
  unit: 'msgs/s',
  params: { full: { actors: 100, hops: 1_000_000 }, quick: { actors: 100, hops: 100_000 } },
  impls: {
    raw: ({ actors, hops }) => ringOnRaw(actors, hops),
    'troupe:receive': ({ actors, hops }) =>
      withSystem((system) => ringOnTroupe(system, 'receive', actors, hops)),
    'troupe:machine': ({ actors, hops }) =>
      withSystem((system) => ringOnTroupe(system, 'machine', actors, hops)),
    xstate: ({ actors, hops }) => ringOnXState(actors, hops),
  },
};
