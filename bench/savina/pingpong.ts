/**
 * pingpong (Savina "Ping Pong"): two actors pass a ball back and forth for `hops` messages
 * in all. Only one message is ever in flight, so every hop goes through the whole send path
 * and a scheduler turn: enqueue the receiver, take it from the run queue, handle one
 * message, find the mailbox empty. It measures latency-bound throughput, the opposite case
 * to `counting`'s batches.
 */
import { withSystem } from '../fresh-system.ts';
import type { Benchmark } from '../harness.ts';
import { ringOnRaw, ringOnTroupe, ringOnXState } from './ball.ts';

export interface PingpongParams {
  readonly hops: number;
}

export const pingpong: Benchmark<PingpongParams> = {
  name: 'pingpong',
  describe: (p) => `2 actors, ${p.hops.toLocaleString('en')} hops`,
  unit: 'msgs/s',
  params: { full: { hops: 1_000_000 }, quick: { hops: 100_000 } },
  impls: {
    raw: ({ hops }) => ringOnRaw(2, hops),
    'troupe:receive': ({ hops }) =>
      withSystem((system) => ringOnTroupe(system, 'receive', 2, hops)),
    'troupe:machine': ({ hops }) =>
      withSystem((system) => ringOnTroupe(system, 'machine', 2, hops)),
    xstate: ({ hops }) => ringOnXState(2, hops),
  },
};
