/**
 * agent-provider-down (bench/agents/provider-down.ts) at a tiny scale, on the mock model
 * server in a child process: every task is accounted for, the provider calls are counted by
 * the mock, and the figures the bench reports are there and add up. How fast, and whether
 * the targets are met, is for bench/README.md, not here.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  agentProviderDown,
  providerDownRun,
  providerDownSample,
} from '../../bench/agents/provider-down.ts';
import { closeFaultMocks } from '../../bench/agents/fault-mock.ts';
import { BENCHMARKS } from '../../bench/suite.ts';

afterAll(closeFaultMocks);

const DOWN = {
  ...agentProviderDown.params.quick,
  agents: 20,
  arrivalMs: 400,
  normalMs: 200,
  outageMs: 300,
  breakerResetMs: 60,
  retryMaxMs: 60,
  taskTimeoutMs: 10_000,
};

describe('the resilience benches', () => {
  it('are the last of the suite, for troupe:agent', () => {
    expect(BENCHMARKS.slice(-1)).toEqual([agentProviderDown]);
    for (const b of [agentProviderDown]) expect(Object.keys(b.impls)).toEqual(['troupe:agent']);
  });
});

describe('agent-provider-down', () => {
  it('accounts for every task and counts the calls the outage met', async () => {
    const f = await providerDownRun(DOWN);
    expect(f.tasks).toBe(20);
    expect(f.completed + f.failedTasks).toBe(f.tasks);
    expect(Object.values(f.failures).reduce((a, b) => a + b, 0)).toBe(f.failedTasks);
    // the outage met the tasks that arrived in it: some calls reached it, then the breaker
    expect(f.tasksThroughOutage).toBeGreaterThan(0);
    expect(f.providerCalls).toBeGreaterThan(0);
    expect(f.repliesServed).toBe(2 * f.completed);
    expect(f.seconds * 1000).toBeGreaterThanOrEqual(f.recoveredMs);
  }, 15_000);

  it('reports its figures in the sample', async () => {
    const s = await providerDownSample(DOWN);
    expect(s.error).toBeUndefined();
    expect(s.messages).toBe(20);
    expect(Object.keys(s.counts ?? {}).sort()).toEqual(
      [
        'failedTasks',
        'providerCalls',
        'recoveredMs',
        'repliesServed',
        'tasks',
        'tasksThroughOutage',
      ].sort(),
    );
    expect(s.counts?.failedTasks).toBe(0);
  }, 15_000);
});
