/**
 * `langgraph` at a crash: the prebuilt ReAct agent (`createReactAgent`, `ChatOpenAI` on the
 * mock server) with `PostgresSaver` (`@langchain/langgraph-checkpoint-postgres`, a schema per
 * run, dropped after) and `durability: 'sync'` (a checkpoint is written before the next step
 * starts; the default `'async'` may lose the last ones). Execution i is thread `exec-<i>`.
 * After the restart, a thread whose checkpoint has a next step is resumed with
 * `invoke(null)`; one without a checkpoint was never saved and is lost.
 */
import { tool } from '@langchain/core/tools';
import { ChatOpenAI } from '@langchain/openai';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { RECURSION_LIMIT } from '../langgraph.ts';
import { MOCK_ANSWER } from '../http.ts';
import {
  INSTRUCTIONS,
  TOOL_DESCRIPTION,
  TOOL_NAME,
  TOOL_PARAMETERS,
  TOOL_RESULT,
  taskInput,
} from '../task.ts';
import { staggered, type CrashContext, type CrashPeer } from './child.ts';
import { dropSchema, PG_URL } from './pg.ts';

async function agent(ctx: CrashContext) {
  const checkpointer = PostgresSaver.fromConnString(PG_URL, { schema: ctx.runId });
  await checkpointer.setup();
  const llm = new ChatOpenAI({
    model: 'mock',
    apiKey: 'dummy',
    configuration: { baseURL: `${ctx.url}/v1` },
  });
  const lookup = tool(
    (_args, config: { configurable?: { thread_id?: string } }) => {
      const thread = config.configurable?.thread_id;
      ctx.effect(thread === undefined ? undefined : Number(thread.slice('exec-'.length)));
      return TOOL_RESULT;
    },
    { name: TOOL_NAME, description: TOOL_DESCRIPTION, schema: TOOL_PARAMETERS },
  );
  const graph = createReactAgent({ llm, tools: [lookup], prompt: INSTRUCTIONS, checkpointer });
  const options = (i: number) => ({
    recursionLimit: RECURSION_LIMIT,
    durability: 'sync' as const,
    configurable: { thread_id: `exec-${i}` },
  });
  const answer = (state: { messages: { content: unknown }[] }) => state.messages.at(-1)?.content;
  return { graph, options, answer };
}

export const crashPeer: CrashPeer = {
  durable: "PostgresSaver with durability: 'sync', resumed with invoke(null)",
  async start(ctx) {
    const { graph, options, answer } = await agent(ctx);
    await staggered(ctx, async (i) => {
      const state = await graph.invoke(
        { messages: [{ role: 'user', content: taskInput(i) }] },
        options(i),
      );
      if (answer(state) === MOCK_ANSWER) ctx.done(i);
    });
  },
  async resume(ctx) {
    const { graph, options, answer } = await agent(ctx);
    const all: Promise<void>[] = [];
    for (let i = 0; i < ctx.executions; i++) {
      all.push(
        (async () => {
          const saved = await graph.getState(options(i));
          if (saved.values === undefined || !('messages' in saved.values)) return;
          const state = saved.next.length > 0 ? await graph.invoke(null, options(i)) : saved.values;
          if (answer(state as { messages: { content: unknown }[] }) === MOCK_ANSWER) ctx.done(i);
        })(),
      );
    }
    await Promise.all(all);
  },
  clean: dropSchema,
};
