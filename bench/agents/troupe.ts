/**
 * `troupe:agent`: troupe's agent (`createAgent`, actors/agent/) on its in-process fake model
 * (`scriptedModel`), or on the mock server through its OpenAI provider (`openAIModel`, the
 * official SDK, streamed); one actor per agent of the pool in one system; a task is an ask of
 * `{ type: 'task', input }`, answered with `agent.done`.
 *
 * Each task starts from the instructions alone (`conversation: 'per-task'`), as the peers run
 * each task as a fresh conversation; an agent's default is to keep its conversation from task
 * to task.
 *
 * Step cap: until the execution controller lands, the only cap is the agent's `modelCalls`
 * budget, which counts over the agent's life: it is STEP_CAP × the tasks the agent will be
 * given, so a task that loops ends the agent (a failure for its supervisor) after that many
 * calls, not after STEP_CAP of its own.
 */
import { createSystem, type ActorRef } from '../../index.ts';
import { createAgent, defineTool, openAIModel, scriptedModel } from '../../actors/agent/index.ts';
import type { ModelProvider, ModelRequest, ScriptStep, Tool } from '../../actors/agent/index.ts';
import {
  INSTRUCTIONS,
  nextMove,
  runTool,
  STEP_CAP,
  TOOL_DESCRIPTION,
  TOOL_NAME,
  TOOL_PARAMETERS,
  type ScriptMode,
  type ToolArguments,
} from './task.ts';
import {
  newCounter,
  type AgentPool,
  type Counter,
  type HttpPoolOptions,
  type PoolOptions,
} from './pool.ts';
import type { MemoryPeer, Peer } from './peers.ts';

/** The script as one step that repeats: its move decided from the request. */
export function troupeModel(mode: ScriptMode, counter: Counter) {
  const step = (req: ModelRequest): ScriptStep => {
    const move = nextMove(mode, req.messages.at(-1)?.role === 'tool', counter.modelCalls++);
    return move.kind === 'answer'
      ? { content: move.text }
      : { toolCalls: [{ name: TOOL_NAME, arguments: move.arguments, id: move.id }] };
  };
  return scriptedModel([step]);
}

export function troupeTool(counter: Counter) {
  return defineTool<ToolArguments>({
    name: TOOL_NAME,
    description: TOOL_DESCRIPTION,
    parameters: TOOL_PARAMETERS,
    run: () => runTool(counter),
  });
}

interface Done {
  readonly type: string;
  readonly answer?: unknown;
  readonly stopReason?: string;
}

/**
 * The agents' config: one behaviour for every agent of a run, as the peers share their
 * compiled graph or agent definition; each agent is named after its actor (`agent-<i>`).
 */
function agentConfig(model: ModelProvider, tools: Tool[], tasks: number) {
  return {
    model,
    tools,
    instructions: INSTRUCTIONS,
    // each task from the instructions alone, as the peers run theirs
    conversation: 'per-task' as const,
    budget: { modelCalls: STEP_CAP * tasks },
  };
}

/** One task on `agent`; its answer. */
async function ask(agent: ActorRef<any>, input: string, timeout: number): Promise<string> {
  const reply = (await agent.ask({ type: 'task', input }, { timeout })) as Done;
  if (reply.type !== 'agent.done') throw new Error(`${agent.address} answered ${reply.type}`);
  // a task its budget (the step cap of these benches) ended has no answer
  if (reply.stopReason !== undefined && reply.stopReason !== 'answer')
    throw new Error(`${agent.address} stopped: ${reply.stopReason}`);
  return String(reply.answer);
}

function pool(options: PoolOptions, model: ModelProvider, counter: Counter): AgentPool {
  const system = createSystem();
  const tools = [troupeTool(counter)];
  const agents: ActorRef<any>[] = [];
  const behaviour = createAgent(agentConfig(model, tools, options.tasksPerAgent));
  for (let i = 0; i < options.size; i++)
    agents.push(system.spawn(behaviour, { name: `agent-${i}` }));
  return {
    counter,
    run: (agent, input) => ask(agents[agent]!, input, options.taskTimeoutMs),
    close: () => system.shutdown().then(() => undefined),
  };
}

export function troupePool(options: PoolOptions): Promise<AgentPool> {
  const counter = newCounter();
  return Promise.resolve(pool(options, troupeModel(options.mode, counter), counter));
}

/** On the mock server through troupe's OpenAI provider (the official SDK, streamed). */
export function troupeHttpPool(options: HttpPoolOptions): Promise<AgentPool> {
  const model = openAIModel({ baseURL: `${options.url}/v1`, apiKey: 'dummy' });
  return Promise.resolve(pool(options, model, newCounter()));
}

/** Ask timeout of the memory bench's tasks and touches. */
const MEMORY_ASK_MS = 30_000;

/** Idle milliseconds before a finished agent hibernates (the memory bench). */
const HIBERNATE_AFTER_MS = 20;

/**
 * An agent that has finished one task, hibernated: agents are entities (virtual actors), an
 * idle one is passivated to its snapshot (in the system's in-process store, on the heap) and
 * activated from it by its next message, a `status` ask.
 */
export const troupeMemory: MemoryPeer = (counter) => {
  const system = createSystem();
  const model = troupeModel('script', counter);
  system.define('agent', createAgent(agentConfig(model, [troupeTool(counter)], 1)), {
    passivateAfterMs: HIBERNATE_AFTER_MS,
  });
  return Promise.resolve({
    async agent(i, input) {
      const ref = system.entity('agent', `agent-${i}`);
      return { answer: await ask(ref, input, MEMORY_ASK_MS), held: ref };
    },
    async settle() {
      // every agent hibernated (real time: the bench runs on the real clock)
      const end = performance.now() + MEMORY_ASK_MS;
      while (system.entities.activeCount > 0) {
        if (performance.now() > end) throw new Error('the agents did not hibernate');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async touch(held) {
      await (held as ActorRef<any>).ask({ type: 'status' }, { timeout: MEMORY_ASK_MS });
    },
    close: () => system.shutdown().then(() => undefined),
  });
};

export const peer: Peer = { pool: troupePool, memory: troupeMemory, httpPool: troupeHttpPool };
