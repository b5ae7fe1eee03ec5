/**
 * agent-runaway measures what it claims: the step cap ends a model that never stops calling
 * its tool, after maxSteps steps and one last call without tools.
 */
import { describe, expect, it } from 'vitest';
import { agentRunaway, agentRunawayRun } from '../../bench/agents/runaway.ts';
import { BENCHMARKS } from '../../bench/suite.ts';

describe('agent-runaway', () => {
  it('is in the suite, for troupe:agent', () => {
    expect(BENCHMARKS.find((b) => b.name === 'agent-runaway')).toBe(agentRunaway);
    expect(Object.keys(agentRunaway.impls)).toEqual(['troupe:agent']);
  });

  it('ends each task at maxSteps + 1 model calls', async () => {
    for (const maxSteps of [1, 4]) {
      const s = await agentRunawayRun({ tasks: 3, maxSteps });
      expect(s.counts?.modelCalls).toBe(maxSteps + 1);
      expect(s.messages).toBe(3 * (maxSteps + 1));
      expect(s.counts?.wallMs).toBeGreaterThan(0);
    }
  });
});
