/**
 * `troupe:agent` at a crash: each execution is an agent spawned with persistence
 * (`system.spawn(createAgent(...), { name, persistence: { store, key } })`) on a
 * RedisSnapshotStore (Redis on 127.0.0.1:6379, keys under the run's prefix, deleted after).
 * The agent saves its snapshot after each message it handles; after the restart the same
 * agents are spawned with the same keys and pick up where their snapshot was (`agent.resume`:
 * in `thinking` the model is called again, in `acting` the calls without a recorded result
 * are run again). The restarted process asks each agent's `status` until it has an answer.
 * An execution with no snapshot (killed before its task was saved) is not known to anyone:
 * it counts as lost.
 */
import { Redis } from 'ioredis';
import { createSystem, RedisSnapshotStore, type ActorRef } from '../../../index.ts';
import { createAgent, defineTool, openAIModel } from '../../../actors/agent/index.ts';
import {
  INSTRUCTIONS,
  STEP_CAP,
  TOOL_DESCRIPTION,
  TOOL_NAME,
  TOOL_PARAMETERS,
  TOOL_RESULT,
  taskInput,
  type ToolArguments,
} from '../task.ts';
import { sleep, staggered, type CrashContext, type CrashPeer } from './child.ts';

const REDIS = { host: '127.0.0.1', port: 6379 };
const STATUS_POLL_MS = 20;
const ASK_TIMEOUT_MS = 60_000;

function agents(ctx: CrashContext) {
  const redis = new Redis({ ...REDIS, maxRetriesPerRequest: 1 });
  const store = new RedisSnapshotStore(redis, ctx.runId);
  const system = createSystem();
  const model = openAIModel({ baseURL: `${ctx.url}/v1`, apiKey: 'dummy' });
  const spawn = (i: number): ActorRef<any> => {
    const tool = defineTool<ToolArguments>({
      name: TOOL_NAME,
      description: TOOL_DESCRIPTION,
      parameters: TOOL_PARAMETERS,
      run: () => {
        ctx.effect(i);
        return TOOL_RESULT;
      },
    });
    const behaviour = createAgent({
      model,
      tools: [tool],
      instructions: INSTRUCTIONS,
      budget: { modelCalls: STEP_CAP },
    });
    return system.spawn(behaviour, { name: `exec-${i}`, persistence: { store, key: `exec-${i}` } });
  };
  return { store, spawn, redis };
}

export const crashPeer: CrashPeer = {
  durable: 'persistence on RedisSnapshotStore: snapshot after each message, resumed on respawn',
  async start(ctx) {
    const { spawn } = agents(ctx);
    await staggered(ctx, async (i) => {
      const reply = (await spawn(i).ask(
        { type: 'task', input: taskInput(i) },
        { timeout: ASK_TIMEOUT_MS },
      )) as { type: string };
      if (reply.type === 'agent.done') ctx.done(i);
    });
  },
  async resume(ctx) {
    const { store, spawn } = agents(ctx);
    const deadline = performance.now() + ctx.resumeTimeoutMs;
    const waits: Promise<void>[] = [];
    for (let i = 0; i < ctx.executions; i++) {
      if ((await store.load(`exec-${i}`)) === undefined) continue;
      const ref = spawn(i);
      waits.push(
        (async () => {
          while (performance.now() < deadline) {
            const s = (await ref.ask({ type: 'status' }, { timeout: ASK_TIMEOUT_MS })) as {
              answer: unknown;
            };
            if (s.answer !== null && s.answer !== undefined) return ctx.done(i);
            await sleep(STATUS_POLL_MS);
          }
        })(),
      );
    }
    await Promise.all(waits);
  },
  async clean(runId) {
    const redis = new Redis({ ...REDIS, maxRetriesPerRequest: 1 });
    try {
      const keys = await redis.keys(`*${runId}*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  },
};
