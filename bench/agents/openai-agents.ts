/**
 * `openai-agents`: the OpenAI Agents SDK (`@openai/agents`): an `Agent` per agent of the pool,
 * run with `run(agent, input, { maxTurns })`, on a `Model` implementation of the SDK's own
 * interface that follows the script (in-process: no client, no HTTP), or on the mock server
 * through its chat completions model and the official `openai` client. Each task is a fresh
 * run. Tracing is off (`setTracingDisabled(true)`, bench/agents/offline.ts): it would export
 * traces to OpenAI with OPENAI_API_KEY from the environment.
 *
 * Step cap: `maxTurns` counts model calls; past it `run` throws MaxTurnsExceededError.
 */
import OpenAI from 'openai';
import {
  Agent,
  MemorySession,
  OpenAIChatCompletionsModel,
  run,
  setTracingDisabled,
  tool,
  Usage,
  type Model,
  type ModelRequest,
} from '@openai/agents';
import type { ModelResponse } from '@openai/agents';
import {
  INSTRUCTIONS,
  nextMove,
  runTool,
  STEP_CAP,
  TOOL_DESCRIPTION,
  TOOL_NAME,
  TOOL_PARAMETERS,
  type ScriptMode,
} from './task.ts';
import type { MemoryPeer, Peer } from './peers.ts';
import {
  newCounter,
  type AgentPool,
  type Counter,
  type HttpPoolOptions,
  type PoolOptions,
} from './pool.ts';

setTracingDisabled(true);

/** The Agents SDK's model interface, answering from the script. */
export class ScriptedAgentsModel implements Model {
  readonly mode: ScriptMode;
  readonly counter: Counter;

  constructor(mode: ScriptMode, counter: Counter) {
    this.mode = mode;
    this.counter = counter;
  }

  getResponse(request: ModelRequest): Promise<ModelResponse> {
    const last = Array.isArray(request.input) ? request.input.at(-1) : undefined;
    const after = last?.type === 'function_call_result';
    const move = nextMove(this.mode, after, this.counter.modelCalls++);
    const usage = new Usage({ requests: 1, inputTokens: 10, outputTokens: 10, totalTokens: 20 });
    return Promise.resolve({
      usage,
      output:
        move.kind === 'answer'
          ? [
              {
                type: 'message',
                role: 'assistant',
                status: 'completed',
                content: [{ type: 'output_text', text: move.text }],
              },
            ]
          : [
              {
                type: 'function_call',
                callId: move.id,
                name: TOOL_NAME,
                arguments: JSON.stringify(move.arguments),
                status: 'completed',
              },
            ],
    });
  }

  /** The bench never streams. */
  getStreamedResponse(): AsyncIterable<never> {
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => Promise.reject(new Error('the scripted model does not stream')),
      }),
    };
  }
}

export function agentsTool(counter: Counter) {
  return tool({
    name: TOOL_NAME,
    description: TOOL_DESCRIPTION,
    parameters: TOOL_PARAMETERS,
    strict: true,
    execute: () => runTool(counter),
  });
}

type AgentsTool = ReturnType<typeof agentsTool>;

/** An agent named `name` on `model` (a Model, or a model name for the default provider). */
export function agentsAgent(name: string, model: Model | string, tools: AgentsTool[]) {
  return new Agent({ name, instructions: INSTRUCTIONS, model, tools });
}

/** One task (in `session`, if given); the final output as text. */
export async function agentsRun(
  agent: Agent,
  input: string,
  session?: MemorySession,
): Promise<string> {
  const result = await run(agent, input, {
    maxTurns: STEP_CAP,
    ...(session === undefined ? {} : { session }),
  });
  return String(result.finalOutput);
}

export function agentsPool(options: PoolOptions): Promise<AgentPool> {
  const counter = newCounter();
  const model = new ScriptedAgentsModel(options.mode, counter);
  const tools = [agentsTool(counter)];
  const agents = Array.from({ length: options.size }, (_, i) =>
    agentsAgent(`agent-${i}`, model, tools),
  );
  return Promise.resolve({
    counter,
    run: (agent, input) => agentsRun(agents[agent]!, input),
    close: () => Promise.resolve(),
  });
}

/** An agent and its `MemorySession`, holding the conversation of one finished task. */
export const agentsMemory: MemoryPeer = (counter) => {
  const model = new ScriptedAgentsModel('script', counter);
  const tools = [agentsTool(counter)];
  return Promise.resolve({
    async agent(i, input) {
      const agent = agentsAgent(`agent-${i}`, model, tools);
      const session = new MemorySession();
      return { answer: await agentsRun(agent, input, session), held: { agent, session } };
    },
    close: () => Promise.resolve(),
  });
};

/**
 * On the mock server: the SDK's chat completions model (its default is the Responses API) on
 * an `OpenAI` client with the server's `baseURL` — what `setOpenAIAPI('chat_completions')`
 * and `setDefaultOpenAIClient` set globally, given to the agents instead.
 */
export function agentsHttpPool(options: HttpPoolOptions): Promise<AgentPool> {
  const counter = newCounter();
  const client = new OpenAI({ baseURL: `${options.url}/v1`, apiKey: 'dummy' });
  const model = new OpenAIChatCompletionsModel(client as never, 'mock');
  const tools = [agentsTool(counter)];
  const agents = Array.from({ length: options.size }, (_, i) =>
    agentsAgent(`agent-${i}`, model, tools),
  );
  return Promise.resolve({
    counter,
    run: (agent, input) => agentsRun(agents[agent]!, input),
    close: () => Promise.resolve(),
  });
}

export const peer: Peer = { pool: agentsPool, memory: agentsMemory, httpPool: agentsHttpPool };
