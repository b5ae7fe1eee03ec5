/**
 * agent-memory (issue 24): bytes per agent holding one finished two-step conversation, with
 * what its framework needs to continue it — troupe: the agent, hibernated; LangGraph: its thread's checkpoints in a `MemorySaver` (the compiled graph shared);
 * Agents SDK: an `Agent` and its `MemorySession`; Mastra: an `Agent` and its thread in a
 * `MockMemory` on an `InMemoryStore`; AI SDK: the messages (model and tools shared).
 *
 * Method, per run: what the agents share is made first, and a few agents are run before the
 * baseline (lazy module state, compiled code), not counted; then two forced collections,
 * heap + external (`process.memoryUsage()`: external includes ArrayBuffers, so state moved
 * off-heap does not hide) is the baseline; `agents` agents are made and each runs its task to
 * its end, `pool` at once, and all are kept; two collections again. bytesPerActor is the
 * growth over `agents`; `extra.heapBytesPerAgent` and `extra.externalBytesPerAgent` split it.
 * Every conversation is checked to end with the final answer. troupe's idle agents hibernate
 * (they are entities, passivated to their snapshot in an in-process store, which the heap
 * counts) before the measure; `extra.rehydrateUs` (troupe) is the p99 time a hibernated agent
 * takes to answer its next message (a `status` ask: activated from its snapshot) over up to
 * TOUCHES agents. msgs/s counts agents made and run per second.
 */
import {
  collectGarbage,
  percentile,
  scaleCount,
  type Benchmark,
  type Impl,
  type Sample,
} from '../harness.ts';
import { guarded } from './guarded.ts';
import { newCounter, UnfinishedRunError } from './pool.ts';
import { AGENT_IMPLS, loadPeer, type AgentImplId, type MemoryHolder } from './peers.ts';
import { FINAL_ANSWER, STEPS_PER_TASK, taskInput } from './task.ts';

export interface AgentMemoryParams {
  readonly agents: number;
  /** Agents made and run at once. */
  readonly pool: number;
}

export const AGENT_MEMORY_TIMEOUT_MS = 100_000;
/** Agents run before the baseline (not counted). */
const WARM_AGENTS = 20;
/** Idle agents whose next message is timed (troupe). */
const TOUCHES = 500;

function memoryNow(): { heap: number; external: number } {
  collectGarbage();
  collectGarbage();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
}

/** Makes and runs agents `from` … `to − 1`, `pool` at once, into `held`. */
async function fill(
  holder: MemoryHolder,
  held: unknown[],
  from: number,
  to: number,
  pool: number,
): Promise<void> {
  let next = from;
  const lane = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      const h = await holder.agent(i, taskInput(i));
      if (h.answer !== FINAL_ANSWER)
        throw new UnfinishedRunError(`agent ${i} answered ${JSON.stringify(h.answer)}`);
      held[i] = h.held;
    }
  };
  await Promise.all(Array.from({ length: Math.min(pool, to - from) }, lane));
}

export async function agentMemoryRun(
  id: AgentImplId,
  { agents, pool }: AgentMemoryParams,
): Promise<Sample> {
  const peer = await loadPeer(id);
  const counter = newCounter();
  const holder = await peer.memory(counter);
  try {
    const warm: unknown[] = [];
    await fill(holder, warm, 0, WARM_AGENTS, pool);
    await holder.settle?.();
    const held: unknown[] = new Array<unknown>(WARM_AGENTS + agents);
    const before = memoryNow();
    const t0 = performance.now();
    await fill(holder, held, WARM_AGENTS, WARM_AGENTS + agents, pool);
    const seconds = (performance.now() - t0) / 1000;
    await holder.settle?.();
    const after = memoryNow();
    const expected = (WARM_AGENTS + agents) * STEPS_PER_TASK;
    if (counter.modelCalls !== expected)
      throw new UnfinishedRunError(`${counter.modelCalls} model calls, expected ${expected}`);
    const heap = (after.heap - before.heap) / agents;
    const external = (after.external - before.external) / agents;
    const counts: Record<string, number> = {
      heapBytesPerAgent: Math.round(heap),
      externalBytesPerAgent: Math.round(external),
    };
    if (holder.touch !== undefined) {
      const n = Math.min(TOUCHES, agents);
      const us = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        const t = performance.now();
        await holder.touch(held[WARM_AGENTS + Math.floor((k * agents) / n)]);
        us[k] = (performance.now() - t) * 1000;
      }
      counts.rehydrateUs = Math.round(percentile(us, 99) * 10) / 10;
    }
    return { messages: agents, seconds, bytesPerActor: heap + external, counts };
  } finally {
    await holder.close();
  }
}

function impl(id: AgentImplId): Impl<AgentMemoryParams> {
  return (params) => guarded(AGENT_MEMORY_TIMEOUT_MS, () => agentMemoryRun(id, params));
}

export const agentMemory: Benchmark<AgentMemoryParams> = {
  name: 'agent-memory',
  describe: (p) =>
    `${p.agents} agents, each holding one finished two-step conversation (heap + external per agent)`,
  unit: 'agents/s',
  params: { full: { agents: 2_000, pool: 100 }, quick: { agents: 300, pool: 100 } },
  scale: (p, f) => ({ agents: scaleCount(p.agents, f), pool: p.pool }),
  impls: Object.fromEntries(AGENT_IMPLS.map((id) => [id, impl(id)])),
};
