/**
 * `mastra` at a crash: `createDurableAgent` around the agent, in a `Mastra` instance with a
 * `PostgresStore` (`@mastra/pg`, a schema per run, dropped after) and
 * `recovery: { durableAgents: 'auto' }` (without it only paused or suspended runs are
 * persisted, not running ones). Each execution is a durable `stream()`, read to its text.
 * After the restart, `recoverActiveRuns()` restarts the runs it finds active; each one that
 * restarts successfully counts as finished (Mastra names it by its run id, not our execution).
 */
import { Agent } from '@mastra/core/agent';
import { createDurableAgent } from '@mastra/core/agent/durable';
import { Mastra } from '@mastra/core';
import { createTool } from '@mastra/core/tools';
import { PostgresStore } from '@mastra/pg';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import {
  INSTRUCTIONS,
  STEP_CAP,
  TOOL_DESCRIPTION,
  TOOL_NAME,
  TOOL_PARAMETERS,
  TOOL_RESULT,
  taskInput,
} from '../task.ts';
import { MOCK_ANSWER } from '../http.ts';
import { staggered, type CrashContext, type CrashPeer } from './child.ts';
import { dropSchema, PG_URL } from './pg.ts';

function durableAgent(ctx: CrashContext) {
  const provider = createOpenAICompatible({
    name: 'mock',
    baseURL: `${ctx.url}/v1`,
    apiKey: 'dummy',
  });
  const lookup = createTool({
    id: TOOL_NAME,
    description: TOOL_DESCRIPTION,
    inputSchema: TOOL_PARAMETERS as never,
    execute: () => {
      ctx.effect(undefined);
      return Promise.resolve(TOOL_RESULT);
    },
  });
  const agent = new Agent({
    id: 'crash',
    name: 'crash',
    instructions: INSTRUCTIONS,
    model: provider.chatModel('mock') as never,
    tools: { [TOOL_NAME]: lookup },
  });
  const durable = createDurableAgent({ agent } as never);
  const storage = new PostgresStore({
    id: 'crash',
    connectionString: PG_URL,
    schemaName: ctx.runId,
  } as never);
  new Mastra({
    agents: { crash: durable },
    storage,
    recovery: { durableAgents: 'auto' },
    logger: false,
  } as never);
  return durable as unknown as {
    stream(input: string, options: object): Promise<{ output: { text: Promise<string> } }>;
    recoverActiveRuns(): Promise<{ succeeded?: number; recovered?: unknown }>;
  };
}

export const crashPeer: CrashPeer = {
  durable:
    "createDurableAgent + PostgresStore, recovery: { durableAgents: 'auto' }, recoverActiveRuns()",
  async start(ctx) {
    const agent = durableAgent(ctx);
    await staggered(ctx, async (i) => {
      const r = await agent.stream(taskInput(i), { maxSteps: STEP_CAP });
      if ((await r.output.text) === MOCK_ANSWER) ctx.done(i);
    });
  },
  async resume(ctx) {
    const agent = durableAgent(ctx);
    const r = await agent.recoverActiveRuns();
    for (let n = 0; n < (r.succeeded ?? 0); n++) ctx.done(`run${n}`);
  },
  clean: dropSchema,
};
