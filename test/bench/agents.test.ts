/**
 * The agent benches do the work they claim, for every implementation: agent-step's runs end
 * with the script's final answer after two model calls and one tool run per task (the run
 * checks it, and a failed run would carry `error`), each framework's step cap stops a model
 * that never stops calling its tool at STEP_CAP model calls, and agent-memory gives troupe's
 * agent a positive bytes figure.
 */
import { describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { agentStepRun } from '../../bench/agents/step.ts';
import { agentMemoryRun } from '../../bench/agents/memory.ts';
import { AGENT_IMPLS, loadPeer } from '../../bench/agents/peers.ts';
import { runTasks } from '../../bench/agents/pool.ts';
import { FINAL_ANSWER, STEP_CAP, taskInput } from '../../bench/agents/task.ts';
import { BENCHMARKS } from '../../bench/suite.ts';

describe('the agent benches', () => {
  it('are in the suite, after the others, with every agent implementation', () => {
    const agents = BENCHMARKS.filter((b) => b.name === 'agent-step' || b.name === 'agent-memory');
    expect(agents.map((b) => b.name)).toEqual(['agent-step', 'agent-memory']);
    for (const b of agents) expect(Object.keys(b.impls)).toEqual(AGENT_IMPLS);
  });

  it.each(AGENT_IMPLS)(
    'agent-step %s finishes every task with the final answer',
    async (id) => {
      const s = await agentStepRun(id, { tasks: 20, pool: 4 });
      expect(s.error).toBeUndefined();
      expect(s.messages).toBe(40);
      expect(s.counts).toEqual({ tasks: 20 });
    },
    15_000,
  );

  it.each(AGENT_IMPLS.filter((id) => id !== 'troupe:agent'))(
    '%s stops a model that always calls its tool at STEP_CAP model calls',
    async (id) => {
      const pool = await (
        await loadPeer(id)
      ).pool({ size: 1, tasksPerAgent: 1, mode: 'loop', taskTimeoutMs: 2_000 });
      await expect(pool.run(0, 'loop')).rejects.toThrow();
      expect(pool.counter.modelCalls).toBe(STEP_CAP);
      await pool.close();
    },
  );

  it("troupe's agent stops at its modelCalls budget, STEP_CAP × its tasks", async () => {
    const pool = await (
      await loadPeer('troupe:agent')
    ).pool({ size: 1, tasksPerAgent: 1, mode: 'loop', taskTimeoutMs: 500 });
    await expect(pool.run(0, 'loop')).rejects.toThrow();
    expect(pool.counter.modelCalls).toBe(STEP_CAP);
    await pool.close();
  });

  it('runTasks gives each agent of a pool its tasks and counts the model calls', async () => {
    const pool = await (
      await loadPeer('ai-sdk')
    ).pool({ size: 2, tasksPerAgent: 2, mode: 'script', taskTimeoutMs: 2_000 });
    expect(await pool.run(0, taskInput(0))).toBe(FINAL_ANSWER);
    const r = await runTasks(pool, 2, 4, taskInput);
    expect(r.modelCalls).toBe(8);
    await pool.close();
  });

  it("agent-memory gives troupe's agent a positive bytes figure", async () => {
    if (typeof globalThis.gc !== 'function') {
      setFlagsFromString('--expose-gc');
      globalThis.gc = runInNewContext('gc') as typeof globalThis.gc;
    }
    // enough agents that their ~800 B each outweigh what a collection leaves behind
    const s = await agentMemoryRun('troupe:agent', { agents: 500, pool: 50 });
    expect(s.error).toBeUndefined();
    expect(s.messages).toBe(500);
    expect(s.bytesPerActor).toBeGreaterThan(0);
    expect(s.counts?.rehydrateUs).toBeGreaterThan(0);
  });
});
