/**
 * `ai-sdk`: a hand-rolled agent on the Vercel AI SDK — `generateText` with the tool and
 * `stopWhen: stepCountIs(STEP_CAP)` (its default is one step), on one shared model object (the
 * fake, or `@ai-sdk/openai-compatible`'s on the mock server; a
 * provider model is ~82 KB: an agent holds its messages, not a model). The SDK has no agent
 * object to pool: an agent of the pool is its slot. At the cap it stops silently with
 * `finishReason: 'tool-calls'`, so a run that ends on a tool call is not finished.
 *
 * Never a string model id: those go to a hosted gateway.
 */
import {
  generateText,
  jsonSchema,
  stepCountIs,
  tool,
  type LanguageModel,
  type ModelMessage,
} from 'ai';
import {
  INSTRUCTIONS,
  runTool,
  STEP_CAP,
  TOOL_DESCRIPTION,
  TOOL_NAME,
  TOOL_PARAMETERS,
  type ToolArguments,
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

export function aiSdkTools(counter: Counter) {
  return {
    [TOOL_NAME]: tool({
      description: TOOL_DESCRIPTION,
      inputSchema: jsonSchema<ToolArguments>(TOOL_PARAMETERS),
      execute: () => runTool(counter),
    }),
  };
}

/**
 * One task on the AI SDK, continuing `history` (the messages before it); the final text and
 * the conversation after it, or an error when it stopped on a tool call.
 */
export async function aiSdkRun(
  model: LanguageModel,
  tools: ReturnType<typeof aiSdkTools>,
  input: string,
  history: readonly ModelMessage[] = [],
): Promise<{ readonly text: string; readonly messages: ModelMessage[] }> {
  const messages: ModelMessage[] = [...history, { role: 'user', content: input }];
  const result = await generateText({
    model,
    system: INSTRUCTIONS,
    messages,
    tools,
    stopWhen: stepCountIs(STEP_CAP),
  });
  if (result.finishReason !== 'stop')
    throw new Error(
      `stopped with finishReason ${result.finishReason} after ${result.steps.length} steps`,
    );
  return { text: result.text, messages: [...messages, ...result.response.messages] };
}

export function aiSdkPool(options: PoolOptions): Promise<AgentPool> {
  const counter = newCounter();
  const model = aiSdkModel(options.mode, counter);
  const tools = aiSdkTools(counter);
  return Promise.resolve({
    counter,
    run: (_agent, input) => aiSdkRun(model, tools, input).then((r) => r.text),
    close: () => Promise.resolve(),
  });
}

/** An agent is its messages (the model object and the tools are shared). */
export const aiSdkMemory: MemoryPeer = (counter) => {
  const model = aiSdkModel('script', counter);
  const tools = aiSdkTools(counter);
  return Promise.resolve({
    async agent(_i, input) {
      const { text, messages } = await aiSdkRun(model, tools, input);
      return { answer: text, held: messages };
    },
    close: () => Promise.resolve(),
  });
};

/** On the mock server through `@ai-sdk/openai-compatible`, one provider model shared. */
export function aiSdkHttpPool(options: HttpPoolOptions): Promise<AgentPool> {
  const counter = newCounter();
  const provider = createOpenAICompatible({
    name: 'mock',
    baseURL: `${options.url}/v1`,
    apiKey: 'dummy',
    includeUsage: true,
  });
  const model = provider('mock');
  const tools = aiSdkTools(counter);
  return Promise.resolve({
    counter,
    run: (_agent, input) => aiSdkRun(model, tools, input).then((r) => r.text),
    close: () => Promise.resolve(),
  });
}

export const peer: Peer = { pool: aiSdkPool, memory: aiSdkMemory, httpPool: aiSdkHttpPool };
