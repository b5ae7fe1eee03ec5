/**
 * agent-runaway (issue 25): a model that always calls a tool, with arguments that change
 * every call (so loop detection does not end it first), given one task by an agent with
 * `maxSteps` 10. The step cap must end it: one last call without tools makes the answer.
 * msgs/s counts model calls per second; `extra.modelCalls` (model calls of the task; target
 * ≤ 11) and `extra.wallMs` (the task from its start to its answer). Before the step cap such
 * a model made 11,375 calls in 8 s, until a wall-time budget ended it.
 */
import { createSystem } from '../../index.ts';
import { createAgent, defineTool, type ModelProvider } from '../../actors/agent/index.ts';
import type { Benchmark, Sample } from '../harness.ts';

export interface AgentRunawayParams {
  /** Tasks, each on a fresh agent (the figures are their medians). */
  readonly tasks: number;
  readonly maxSteps: number;
}

/** A model that asks for the tool while it has tools, with new arguments each time. */
function runawayModel(): ModelProvider & { calls: number } {
  const model = {
    name: 'runaway',
    calls: 0,
    complete: (req: { tools: readonly unknown[] }) => {
      model.calls++;
      return Promise.resolve(
        req.tools.length > 0
          ? {
              content: '',
              toolCalls: [
                { id: `c${model.calls}`, name: 'probe', arguments: `{"n":${model.calls}}` },
              ],
              usage: { inputTokens: 10, outputTokens: 5 },
            }
          : {
              content: 'the best I have',
              toolCalls: [],
              usage: { inputTokens: 10, outputTokens: 5 },
            },
      );
    },
  };
  return model;
}

const probe = defineTool<{ n: number }>({
  name: 'probe',
  description: 'probes once more',
  parameters: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
  run: ({ n }) => `probed ${n}`,
});

export async function agentRunawayRun({ tasks, maxSteps }: AgentRunawayParams): Promise<Sample> {
  const system = createSystem();
  try {
    const calls: number[] = [];
    const wall: number[] = [];
    let totalCalls = 0;
    const t0 = performance.now();
    for (let i = 0; i < tasks; i++) {
      const model = runawayModel();
      const agent = system.spawn(createAgent({ model, tools: [probe], maxSteps }));
      const t = performance.now();
      const done = (await agent.ask(
        { type: 'task', input: 'find the end' },
        { timeout: 30_000 },
      )) as {
        stopReason?: string;
        answer?: string;
      };
      wall.push(performance.now() - t);
      if (done.stopReason !== 'max_steps' || done.answer !== 'the best I have')
        throw new Error(`the task ended with ${JSON.stringify(done)}, not at its step cap`);
      calls.push(model.calls);
      totalCalls += model.calls;
      await system.stop(agent);
    }
    const seconds = (performance.now() - t0) / 1000;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    return {
      messages: totalCalls,
      seconds,
      counts: { modelCalls: median(calls), wallMs: Math.round(median(wall) * 1000) / 1000 },
    };
  } finally {
    await system.shutdown();
  }
}

export const agentRunaway: Benchmark<AgentRunawayParams> = {
  name: 'agent-runaway',
  describe: (p) =>
    `${p.tasks} tasks, each on a model that always calls a tool with new arguments, maxSteps ${p.maxSteps}`,
  unit: 'model calls/s',
  params: { full: { tasks: 200, maxSteps: 10 }, quick: { tasks: 20, maxSteps: 10 } },
  impls: { 'troupe:agent': agentRunawayRun },
};
