/**
 * The agent benches through the mock model server do the work they claim, for every
 * implementation: each task ends with the server's answer after two model calls (the
 * server's count) and one tool run, and the swarm reports its tasks and its heap.
 */
import { describe, expect, it } from 'vitest';
import { httpRun } from '../../bench/agents/http.ts';
import { AGENT_IMPLS } from '../../bench/agents/peers.ts';
import { BENCHMARKS } from '../../bench/suite.ts';

describe('the agent benches through the mock model server', () => {
  it('are in the suite, last, with every agent implementation', () => {
    const last = BENCHMARKS.slice(-2);
    expect(last.map((b) => b.name)).toEqual(['agent-step-http', 'agent-swarm']);
    for (const b of last) expect(Object.keys(b.impls)).toEqual(AGENT_IMPLS);
  });

  it.each(AGENT_IMPLS)(
    '%s finishes every task with the server’s answer',
    async (id) => {
      const s = await httpRun(id, { tasks: 6, pool: 3, latencyMs: 1, taskTimeoutMs: 5_000 });
      expect(s.error).toBeUndefined();
      expect(s.messages).toBe(12);
      expect(s.counts?.tasks).toBe(6);
      expect(s.counts?.heapMB).toBeGreaterThan(0);
      expect(s.p99Us).toBeGreaterThan(0);
    },
    15_000,
  );
});
