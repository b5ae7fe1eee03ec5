/**
 * agent-step (issue 24): framework overhead per model step. Each implementation runs `tasks`
 * two-step tasks (a tool call, then the answer: bench/agents/task.ts) over a pool of `pool`
 * agents, `pool` at once, on its framework's in-process fake model (no HTTP): troupe's
 * `scriptedModel`, LangChain's fake chat model, an Agents SDK `Model`, the AI SDK's
 * `MockLanguageModelV4` for both Mastra and the AI SDK. msgs/s counts model steps per second
 * (two per task); p50Us/p99Us are task completion times; `extra.tasks` the tasks finished.
 * Every run is checked (pool.ts): each task ended with the final answer after two model calls
 * and one tool run. A peer whose run fails is recorded with `extra.error` (guarded.ts).
 */
import { percentile, scaleCount, type Benchmark, type Impl, type Sample } from '../harness.ts';
import { runTasks } from './pool.ts';
import { guarded } from './guarded.ts';
import { AGENT_IMPLS, loadPeer, type AgentImplId } from './peers.ts';
import { taskInput } from './task.ts';

export interface AgentStepParams {
  readonly tasks: number;
  /** Agents in the pool, and tasks at once. */
  readonly pool: number;
}

/** The longest one run may take before it is recorded as failed (the harness's is 120 s). */
export const AGENT_STEP_TIMEOUT_MS = 100_000;
/** The longest one task may take (troupe's ask timeout). */
const TASK_TIMEOUT_MS = 30_000;

/** One run of `id`: a fresh pool, the tasks, the checks. */
export async function agentStepRun(id: AgentImplId, params: AgentStepParams): Promise<Sample> {
  const peer = await loadPeer(id);
  const pool = await peer.pool({
    size: params.pool,
    tasksPerAgent: Math.ceil(params.tasks / params.pool),
    mode: 'script',
    taskTimeoutMs: TASK_TIMEOUT_MS,
  });
  try {
    const r = await runTasks(pool, params.pool, params.tasks, taskInput);
    const us = r.latencyMs.map((ms) => ms * 1000);
    return {
      messages: r.modelCalls,
      seconds: r.seconds,
      p50Us: percentile(us, 50),
      p99Us: percentile(us, 99),
      counts: { tasks: params.tasks },
    };
  } finally {
    await pool.close();
  }
}

function impl(id: AgentImplId): Impl<AgentStepParams> {
  return (params) => guarded(AGENT_STEP_TIMEOUT_MS, () => agentStepRun(id, params));
}

export const agentStep: Benchmark<AgentStepParams> = {
  name: 'agent-step',
  describe: (p) =>
    `${p.tasks} two-step tasks (tool call, answer) over ${p.pool} agents, ${p.pool} at once, in-process fake models`,
  unit: 'steps/s',
  params: { full: { tasks: 10_000, pool: 100 }, quick: { tasks: 600, pool: 100 } },
  scale: (p, f) => ({ tasks: scaleCount(p.tasks, f), pool: p.pool }),
  impls: Object.fromEntries(AGENT_IMPLS.map((id) => [id, impl(id)])),
};
