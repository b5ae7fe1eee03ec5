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
  it('are in the suite, after the Savina benchmarks, with every agent implementation', () => {
    const names = BENCHMARKS.map((b) => b.name);
    const http = BENCHMARKS.filter((b) => b.name === 'agent-step-http' || b.name === 'agent-swarm');
    expect(http.map((b) => b.name)).toEqual(['agent-step-http', 'agent-swarm']);
    expect(names.indexOf('agent-step-http')).toBeGreaterThan(names.indexOf('agent-step'));
    for (const b of http) expect(Object.keys(b.impls)).toEqual(AGENT_IMPLS);
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
