/**
 * `langgraph`: LangGraph JS's prebuilt ReAct agent (`createReactAgent`, an agent node and a
 * tool node) on LangChain's fake chat model (`FakeChatModel` from
 * `@langchain/core/utils/testing`, given the script: the stock fakes answer text only, never a
 * tool call), or on the mock server through `ChatOpenAI`. One compiled graph serves every agent of the pool (graphs are stateless: an
 * agent's state is its thread's checkpoint); each task is a fresh invocation.
 *
 * Step cap: `recursionLimit` counts graph steps, not model calls: a task of k model calls
 * takes 2k − 1 steps (agent, tools, agent…), so the limit is 2·STEP_CAP − 1; past it LangGraph
 * throws GraphRecursionError. LangSmith tracing stays off (bench/agents/offline.ts).
 */
import { FakeChatModel } from '@langchain/core/utils/testing';
import { AIMessage, type BaseMessage } from '@langchain/core/messages';
import type { ChatResult } from '@langchain/core/outputs';
import { tool } from '@langchain/core/tools';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { ChatOpenAI } from '@langchain/openai';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { MemorySaver, type BaseCheckpointSaver } from '@langchain/langgraph';
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
import {
  newCounter,
  type AgentPool,
  type Counter,
  type HttpPoolOptions,
  type PoolOptions,
} from './pool.ts';
import type { MemoryPeer, Peer } from './peers.ts';

/** LangGraph's limit for STEP_CAP model calls (a model call and a tool step each count). */
export const RECURSION_LIMIT = 2 * STEP_CAP - 1;

/** LangChain's fake chat model, following the script. */
export class ScriptedChatModel extends FakeChatModel {
  readonly mode: ScriptMode;
  readonly counter: Counter;

  constructor(mode: ScriptMode, counter: Counter) {
    super({});
    this.mode = mode;
    this.counter = counter;
  }

  override _generate(messages: BaseMessage[]): Promise<ChatResult> {
    const after = messages.at(-1)?.getType() === 'tool';
    const move = nextMove(this.mode, after, this.counter.modelCalls++);
    const message =
      move.kind === 'answer'
        ? new AIMessage(move.text)
        : new AIMessage({
            content: '',
            tool_calls: [
              { type: 'tool_call', id: move.id, name: TOOL_NAME, args: { ...move.arguments } },
            ],
          });
    return Promise.resolve({
      generations: [{ message, text: move.kind === 'answer' ? move.text : '' }],
    });
  }

  /** The script knows its one tool: binding changes nothing. */
  override bindTools(): this {
    return this;
  }
}

export function langGraphTool(counter: Counter) {
  return tool(() => runTool(counter), {
    name: TOOL_NAME,
    description: TOOL_DESCRIPTION,
    schema: TOOL_PARAMETERS,
  });
}

/** The compiled agent graph (shared by every agent) on `llm`, with `checkpointer` if given. */
export function langGraphAgent(
  llm: BaseChatModel,
  counter: Counter,
  checkpointer?: BaseCheckpointSaver,
) {
  return createReactAgent({
    llm,
    tools: [langGraphTool(counter)],
    prompt: INSTRUCTIONS,
    ...(checkpointer === undefined ? {} : { checkpointer }),
  });
}

export type LangGraphAgent = ReturnType<typeof langGraphAgent>;

/** One task; the last message's text. `thread`: the agent's thread, when it has a checkpointer. */
export async function langGraphRun(
  graph: LangGraphAgent,
  input: string,
  thread?: string,
): Promise<string> {
  const state = await graph.invoke(
    { messages: [{ role: 'user', content: input }] },
    {
      recursionLimit: RECURSION_LIMIT,
      ...(thread === undefined ? {} : { configurable: { thread_id: thread } }),
    },
  );
  const last = state.messages.at(-1);
  return typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content);
}

export function langGraphPool(options: PoolOptions): Promise<AgentPool> {
  const counter = newCounter();
  const graph = langGraphAgent(new ScriptedChatModel(options.mode, counter), counter);
  return Promise.resolve({
    counter,
    run: (_agent, input) => langGraphRun(graph, input),
    close: () => Promise.resolve(),
  });
}

/** On the mock server through `ChatOpenAI` (`@langchain/openai`, its `baseURL`). */
export function langGraphHttpPool(options: HttpPoolOptions): Promise<AgentPool> {
  const counter = newCounter();
  const llm = new ChatOpenAI({
    model: 'mock',
    apiKey: 'dummy',
    configuration: { baseURL: `${options.url}/v1` },
  });
  const graph = langGraphAgent(llm, counter);
  return Promise.resolve({
    counter,
    run: (_agent, input) => langGraphRun(graph, input),
    close: () => Promise.resolve(),
  });
}

/**
 * The compiled graph is shared, with one `MemorySaver`; an agent is its thread, holding the
 * checkpoints of its finished task (what `invoke` on that thread continues from).
 */
export const langGraphMemory: MemoryPeer = (counter) => {
  const llm = new ScriptedChatModel('script', counter);
  const graph = langGraphAgent(llm, counter, new MemorySaver());
  return Promise.resolve({
    async agent(i, input) {
      const thread = `agent-${i}`;
      return { answer: await langGraphRun(graph, input, thread), held: thread };
    },
    close: () => Promise.resolve(),
  });
};

export const peer: Peer = {
  pool: langGraphPool,
  memory: langGraphMemory,
  httpPool: langGraphHttpPool,
};
