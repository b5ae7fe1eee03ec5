/**
 * agent-crash (bench/agents/crash.ts) at a tiny scale: troupe's crash module in a real child
 * process on the mock model server and Redis, SIGKILLed after two tool effects and restarted.
 * The test checks that the figures are consistent, not what they are (bench/README.md has them).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { crashRun } from '../../bench/agents/crash.ts';
import { mockServer } from '../../bench/agents/mock-process.ts';

// the mock server crashRun started (one per latency, kept for the process) ends with the file
afterAll(async () => (await mockServer(300)).close());

describe('agent-crash', () => {
  it('reports figures for troupe that add up: recovered ≤ interrupted ≤ executions', async () => {
    const executions = 5;
    const f = await crashRun('troupe:agent', {
      executions,
      latencyMs: 300,
      staggerMs: 10,
      killAfterEffects: 2,
      resumeTimeoutMs: 5_000,
    });
    expect(f.killed).toBe(1);
    expect(f.interrupted).toBeLessThanOrEqual(executions);
    expect(f.recovered).toBeGreaterThanOrEqual(0);
    expect(f.recovered).toBeLessThanOrEqual(f.interrupted);
    expect(f.duplicateEffects).toBeGreaterThanOrEqual(0);
    expect(f.effects).toBeGreaterThanOrEqual(2);
    expect(f.duplicateEffects).toBeLessThanOrEqual(f.effects);
    expect(f.repeatedModelCalls).toBe(f.modelCalls - executions * 2);
  }, 30_000);
});
