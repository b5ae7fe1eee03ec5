/**
 * The crash module of a framework without a durable option (the AI SDK; the OpenAI Agents
 * SDK, whose `RunState` is saved only at an approval interruption, which this task has none
 * of): the first process runs the executions on the framework's HTTP pool (bench/agents/),
 * the restarted one finds nothing to resume. The pool's tool counts its runs in its
 * `counter.toolRuns`; each increment is the effect, written with the execution it ran for
 * (kept in an AsyncLocalStorage around each run, `?` if the framework lost the context).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AgentPool } from '../pool.ts';
import { loadPeer, type AgentImplId } from '../peers.ts';
import { MOCK_ANSWER } from '../http.ts';
import { taskInput } from '../task.ts';
import { staggered, type CrashContext, type CrashPeer } from './child.ts';

const TASK_TIMEOUT_MS = 60_000;

/** Makes every tool run of `pool` an effect of the execution in `current`. */
function countEffects(pool: AgentPool, ctx: CrashContext, current: AsyncLocalStorage<number>) {
  let runs = pool.counter.toolRuns;
  Object.defineProperty(pool.counter, 'toolRuns', {
    get: () => runs,
    set: (v: number) => {
      ctx.effect(current.getStore());
      runs = v;
    },
  });
}

export function pooledCrashPeer(id: AgentImplId, durable: string): CrashPeer {
  return {
    durable,
    async start(ctx) {
      const peer = await loadPeer(id);
      const pool = await peer.httpPool({
        url: ctx.url,
        size: ctx.executions,
        tasksPerAgent: 1,
        mode: 'script',
        taskTimeoutMs: TASK_TIMEOUT_MS,
      });
      const current = new AsyncLocalStorage<number>();
      countEffects(pool, ctx, current);
      await staggered(ctx, (i) =>
        current.run(i, async () => {
          if ((await pool.run(i, taskInput(i))) === MOCK_ANSWER) ctx.done(i);
        }),
      );
    },
    // nothing was kept: there is nothing to resume
    resume: () => Promise.resolve(),
  };
}
