/**
 * The agent benches through the mock model server (bench/mock-model/, in a child process:
 * mock-process.ts), each framework with its official client: troupe's `openAIModel` (the
 * `openai` SDK, streamed), LangChain's `ChatOpenAI`, the Agents SDK's chat completions model
 * on an `OpenAI` client, `@ai-sdk/openai-compatible` for Mastra (streamed) and the AI SDK.
 * The server answers the same script as the fakes (a tool call until a tool result came
 * back, then `done: <the result>`); its `/stats` counts the model calls the checks compare.
 *
 * - `agent-step-http`: `tasks` two-step tasks over a pool of `pool` agents, `pool` at once,
 *   no latency; msgs/s = model steps per second; p50Us/p99Us task completion.
 * - `agent-swarm`: `agents` agents at once, each one task — model call, tool, model call: the
 *   three steps — at `latencyMs` per reply; msgs/s = tasks completed per second, p99Us task
 *   completion, `extra.heapMB` the peak heap during the run (sampled every HEAP_SAMPLE_MS),
 *   `extra.heapGrowthMB` its growth over the heap before the agents were made.
 *
 * A peer whose run fails is recorded with `extra.error` (guarded.ts).
 */
import { getHeapStatistics } from 'node:v8';
import { percentile, scaleCount, type Benchmark, type Impl, type Sample } from '../harness.ts';
import { guarded } from './guarded.ts';
import { mockServer } from './mock-process.ts';
import { runTasks } from './pool.ts';
import { AGENT_IMPLS, loadPeer, type AgentImplId } from './peers.ts';
import { taskInput, TOOL_RESULT } from './task.ts';

/** What the mock server answers once the tool result is in (bench/mock-model/reply.ts). */
export const MOCK_ANSWER = `done: ${TOOL_RESULT}`;
export const AGENT_HTTP_TIMEOUT_MS = 110_000;
const HEAP_SAMPLE_MS = 20;
const MB = 2 ** 20;

interface HttpRunParams {
  readonly tasks: number;
  readonly pool: number;
  readonly latencyMs: number;
  readonly taskTimeoutMs: number;
}

/** One run of `id` on the mock server: the tasks, the checks, the heap's peak. */
export async function httpRun(id: AgentImplId, p: HttpRunParams): Promise<Sample> {
  const peer = await loadPeer(id);
  const mock = await mockServer(p.latencyMs);
  // the heap from V8 itself: process.memoryUsage() reads /proc for the RSS, and throws EMFILE
  // when 10,000 agents' sockets have used every descriptor, which killed the whole suite
  const heapBefore = getHeapStatistics().used_heap_size;
  let heapPeak = heapBefore;
  const sampler = setInterval(() => {
    heapPeak = Math.max(heapPeak, getHeapStatistics().used_heap_size);
  }, HEAP_SAMPLE_MS);
  try {
    const pool = await peer.httpPool({
      url: mock.url,
      size: p.pool,
      tasksPerAgent: Math.ceil(p.tasks / p.pool),
      mode: 'script',
      taskTimeoutMs: p.taskTimeoutMs,
    });
    try {
      const r = await runTasks(pool, p.pool, p.tasks, taskInput, {
        answer: MOCK_ANSWER,
        modelCalls: async () => (await mock.stats()).calls.chatCompletions,
      });
      heapPeak = Math.max(heapPeak, getHeapStatistics().used_heap_size);
      const us = r.latencyMs.map((ms) => ms * 1000);
      return {
        messages: r.modelCalls,
        seconds: r.seconds,
        p50Us: percentile(us, 50),
        p99Us: percentile(us, 99),
        counts: {
          tasks: p.tasks,
          heapMB: Math.round((heapPeak / MB) * 10) / 10,
          heapGrowthMB: Math.round(((heapPeak - heapBefore) / MB) * 10) / 10,
        },
      };
    } finally {
      await pool.close();
    }
  } finally {
    clearInterval(sampler);
  }
}

export interface AgentStepHttpParams {
  readonly tasks: number;
  readonly pool: number;
}

function stepImpl(id: AgentImplId): Impl<AgentStepHttpParams> {
  return (p) =>
    guarded(AGENT_HTTP_TIMEOUT_MS, () =>
      httpRun(id, { ...p, latencyMs: 0, taskTimeoutMs: 30_000 }),
    );
}

export const agentStepHttp: Benchmark<AgentStepHttpParams> = {
  name: 'agent-step-http',
  describe: (p) =>
    `${p.tasks} two-step tasks over ${p.pool} agents, ${p.pool} at once, through the mock model server`,
  unit: 'steps/s',
  params: { full: { tasks: 2_000, pool: 100 }, quick: { tasks: 200, pool: 100 } },
  scale: (p, f) => ({ tasks: scaleCount(p.tasks, f), pool: p.pool }),
  impls: Object.fromEntries(AGENT_IMPLS.map((id) => [id, stepImpl(id)])),
};

export interface AgentSwarmParams {
  readonly agents: number;
  readonly latencyMs: number;
}

function swarmImpl(id: AgentImplId): Impl<AgentSwarmParams> {
  return async (p) => {
    const s = await guarded(AGENT_HTTP_TIMEOUT_MS, () =>
      httpRun(id, {
        tasks: p.agents,
        pool: p.agents,
        latencyMs: p.latencyMs,
        taskTimeoutMs: 90_000,
      }),
    );
    // msgs/s here counts tasks: a task is two model calls
    return s.error === undefined ? { ...s, messages: s.messages / 2 } : s;
  };
}

export const agentSwarm: Benchmark<AgentSwarmParams> = {
  name: 'agent-swarm',
  describe: (p) =>
    `${p.agents} agents at once, each a tool call, a tool run and an answer, through the mock model server at ${p.latencyMs} ms a reply`,
  unit: 'tasks/s',
  params: { full: { agents: 10_000, latencyMs: 50 }, quick: { agents: 200, latencyMs: 50 } },
  scale: (p, f) => ({ agents: scaleCount(p.agents, f), latencyMs: p.latencyMs }),
  impls: Object.fromEntries(AGENT_IMPLS.map((id) => [id, swarmImpl(id)])),
};
