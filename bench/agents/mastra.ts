/**
 * `mastra`: Mastra's `Agent` (`@mastra/core/agent`) with the tool made by `createTool`, on the
 * AI SDK's fake model (bench/agents/ai-sdk-model.ts: Mastra runs AI SDK models; its loop
 * streams, so the fake answers `doStream`), or on the mock server through
 * `@ai-sdk/openai-compatible`. An `Agent` per agent of the pool, each task a
 * fresh `generate` (no memory: Mastra's memory is a separate package with its own store).
 * Telemetry is off (MASTRA_TELEMETRY_DISABLED, bench/agents/offline.ts); no `Mastra`
 * instance is made, so no observability exporter either.
 *
 * Step cap: `maxSteps` counts model calls; at it Mastra stops silently with
 * `finishReason: 'tool-calls'`, so a run that ends on a tool call is not finished.
 */
import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
import type { MastraModelConfig } from '@mastra/core/llm';
import { MockMemory } from '@mastra/core/memory';
import { InMemoryStore } from '@mastra/core/storage';
import {
  INSTRUCTIONS,
  runTool,
  STEP_CAP,
  TOOL_DESCRIPTION,
  TOOL_NAME,
  TOOL_PARAMETERS,
} from './task.ts';
import { aiSdkModel } from './ai-sdk-model.ts';
import {
  newCounter,
  type AgentPool,
  type Counter,
  type HttpPoolOptions,
  type PoolOptions,
} from './pool.ts';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { MemoryPeer, Peer } from './peers.ts';

export function mastraTool(counter: Counter) {
  return createTool({
    id: TOOL_NAME,
    description: TOOL_DESCRIPTION,
    inputSchema: TOOL_PARAMETERS as never,
    execute: () => Promise.resolve(runTool(counter)),
  });
}

type MastraTools = Record<string, ReturnType<typeof mastraTool>>;

export function mastraAgent(
  name: string,
  model: MastraModelConfig,
  tools: MastraTools,
  memory?: MockMemory,
): Agent {
  return new Agent({
    id: name,
    name,
    instructions: INSTRUCTIONS,
    model,
    tools,
    ...(memory === undefined ? {} : { memory }),
  });
}

/** One task (in the memory thread `thread`, if given); the final text, or an error when it stopped on a tool call. */
export async function mastraRun(agent: Agent, input: string, thread?: string): Promise<string> {
  const result = await agent.generate(input, {
    maxSteps: STEP_CAP,
    ...(thread === undefined ? {} : { memory: { thread, resource: thread } }),
  });
  if (result.finishReason !== 'stop')
    throw new Error(
      `stopped with finishReason ${String(result.finishReason)} after ${result.steps.length} steps`,
    );
  return result.text;
}

export function mastraPool(options: PoolOptions): Promise<AgentPool> {
  const counter = newCounter();
  const model = aiSdkModel(options.mode, counter) as unknown as MastraModelConfig;
  const tools = { [TOOL_NAME]: mastraTool(counter) };
  const agents = Array.from({ length: options.size }, (_, i) =>
    mastraAgent(`agent-${i}`, model, tools),
  );
  return Promise.resolve({
    counter,
    run: (agent, input) => mastraRun(agents[agent]!, input),
    close: () => Promise.resolve(),
  });
}

/**
 * An `Agent` with memory: Mastra's in-process `MockMemory` on an `InMemoryStore` (shared, as
 * an app's store is), the agent's conversation in its own thread.
 */
export const mastraMemory: MemoryPeer = (counter) => {
  const model = aiSdkModel('script', counter) as unknown as MastraModelConfig;
  const tools = { [TOOL_NAME]: mastraTool(counter) };
  const memory = new MockMemory({ storage: new InMemoryStore() });
  return Promise.resolve({
    async agent(i, input) {
      const agent = mastraAgent(`agent-${i}`, model, tools, memory);
      return { answer: await mastraRun(agent, input, `agent-${i}`), held: agent };
    },
    close: () => Promise.resolve(),
  });
};

/** On the mock server through `@ai-sdk/openai-compatible` (Mastra streams its calls). */
export function mastraHttpPool(options: HttpPoolOptions): Promise<AgentPool> {
  const counter = newCounter();
  const provider = createOpenAICompatible({
    name: 'mock',
    baseURL: `${options.url}/v1`,
    apiKey: 'dummy',
    includeUsage: true,
  });
  const model = provider('mock') as unknown as MastraModelConfig;
  const tools = { [TOOL_NAME]: mastraTool(counter) };
  const agents = Array.from({ length: options.size }, (_, i) =>
    mastraAgent(`agent-${i}`, model, tools),
  );
  return Promise.resolve({
    counter,
    run: (agent, input) => mastraRun(agents[agent]!, input),
    close: () => Promise.resolve(),
  });
}

export const peer: Peer = { pool: mastraPool, memory: mastraMemory, httpPool: mastraHttpPool };
