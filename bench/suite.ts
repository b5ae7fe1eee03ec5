/**
 * The suite: every benchmark in the order it runs, and the Erlang/OTP peer added beside
 * troupe's implementations (bench/peers/erlang.ts). bench/main.ts runs it; tests read it.
 */
import { scaleCount, type Benchmark, type Impl, type ImplId } from './harness.ts';
import { counting } from './savina/counting.ts';
import { pingpong } from './savina/pingpong.ts';
import { threadring } from './savina/threadring.ts';
import { forkjoinThroughput } from './savina/forkjoin-throughput.ts';
import { forkjoinCreate } from './savina/forkjoin-create.ts';
import { fib } from './savina/fib.ts';
import { chameneos } from './savina/chameneos.ts';
import { big } from './savina/big.ts';
import { concdict } from './savina/concdict.ts';
import { banking } from './savina/banking.ts';
import { spawnMemory } from './savina/spawn-memory.ts';
import { restart } from './savina/restart.ts';
import { timerLateness } from './savina/timer-lateness.ts';
import { supervisorChildren } from './savina/supervisor-children.ts';
import { erlangImpls } from './peers/erlang.ts';
import { countingSandboxed, sandboxAcquire, sandboxRecovery } from './sandbox.ts';
import { askRtt, countingTwoNodes, pingpongTwoNodes } from './nodes.ts';
import { entityActivateBench, failoverBench } from './cluster.ts';
import { gatewayFanoutBench } from './gateway.ts';
import { agentStep } from './agents/step.ts';
import { agentMemory } from './agents/memory.ts';
import { agentStepHttp, agentSwarm } from './agents/http.ts';
import { agentCrash } from './agents/crash.ts';
import {
  bigPartitioned,
  bigSharded,
  countingSharded,
  forkjoinThroughputPartitioned,
  forkjoinThroughputSharded,
  pingpongSharded,
  threadringSharded,
} from './savina/sharded.ts';

import { agentRunaway } from './agents/runaway.ts';
import { agentProviderDown } from './agents/provider-down.ts';
import { agentTpm } from './agents/tpm.ts';
/** Every benchmark, in the order the suite runs them (troupe's and the JavaScript peers). */
export const BENCHMARKS: readonly Benchmark<any>[] = [
  withScale(
    withImpl(
      withImpl(pingpong, 'troupe:receive@2shards', pingpongSharded),
      'troupe:receive@2nodes',
      pingpongTwoNodes,
    ),
    (p, f) => ({ hops: scaleCount(p.hops, f) }),
  ),
  withScale(
    withImpl(
      withImpl(
        withImpl(
          withImpl(counting, 'troupe:receive@2shards', countingSharded),
          'troupe:receive@2nodes',
          countingTwoNodes,
        ),
        'troupe:sandboxed',
        countingSandboxed('thread'),
      ),
      'troupe:sandboxed@process',
      countingSandboxed('process'),
    ),
    (p, f) => ({ messages: scaleCount(p.messages, f) }),
  ),
  withScale(withImpl(threadring, 'troupe:receive@2shards', threadringSharded), (p, f) => ({
    actors: p.actors,
    hops: scaleCount(p.hops, f),
  })),
  withImpl(
    withImpl(forkjoinThroughput, 'troupe:receive@2shards', forkjoinThroughputSharded),
    'troupe:receive@2shards-partitioned',
    forkjoinThroughputPartitioned,
  ),
  withScale(forkjoinCreate, (p, f) => ({ actors: scaleCount(p.actors, f) })),
  fib,
  chameneos,
  withImpl(
    withImpl(big, 'troupe:receive@2shards', bigSharded),
    'troupe:receive@2shards-partitioned',
    bigPartitioned,
  ),
  concdict,
  banking,
  withScale(spawnMemory, (p, f) => ({ actors: scaleCount(p.actors, f) })),
  restart,
  sandboxAcquire,
  askRtt,
  entityActivateBench,
  failoverBench,
  gatewayFanoutBench,
  timerLateness,
  supervisorChildren,
  sandboxRecovery,
  agentStep,
  agentMemory,
  agentStepHttp,
  agentSwarm,
  agentCrash,
  agentRunaway,
  agentProviderDown,
  agentTpm,
];

/** The benchmark with the Erlang/OTP implementations beside troupe's (none without `erl`). */
export function withErlang<P>(b: Benchmark<P>): Benchmark<P> {
  const erlang = erlangImpls(b.name) as Partial<Record<'erlang' | 'erlang@1', Impl<P>>>;
  return { ...b, impls: { ...b.impls, ...erlang } };
}

/** The benchmark with one more implementation (the sharded ones live in savina/sharded.ts). */
function withImpl<P>(b: Benchmark<P>, id: ImplId, impl: Impl<P>): Benchmark<P> {
  return { ...b, impls: { ...b.impls, [id]: impl } };
}

/** The first benchmarks were written before `--scale`: their scaling is given here. */
function withScale<P>(b: Benchmark<P>, scale: (params: P, factor: number) => P): Benchmark<P> {
  return { ...b, scale };
}
