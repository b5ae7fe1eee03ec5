/**
 * agent-provider-down and agent-tpm (bench/agents/provider-down.ts, tpm.ts) at a tiny scale,
 * on the mock model server in a child process: every task is accounted for, the provider
 * calls and the 429s are counted by the mock, and the figures the benches report are there
 * and add up. How fast, and whether the targets are met, is for bench/README.md, not here.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  agentProviderDown,
  providerDownRun,
  providerDownSample,
} from '../../bench/agents/provider-down.ts';
import { agentTpm, agentTpmRun, agentTpmSample } from '../../bench/agents/tpm.ts';
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

const TPM = { ...agentTpm.params.quick, agents: 20, windowMs: 600, tokensPerWindow: 10_000 };

describe('the resilience benches', () => {
  it('are the last of the suite, in this order, for troupe:agent', () => {
    expect(BENCHMARKS.slice(-2)).toEqual([agentProviderDown, agentTpm]);
    for (const b of [agentProviderDown, agentTpm])
      expect(Object.keys(b.impls)).toEqual(['troupe:agent']);
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

describe('agent-tpm', () => {
  it('measures the windows after the first against the limit', async () => {
    const f = await agentTpmRun(TPM);
    expect(f.tokens).toBeGreaterThan(0);
    expect(f.tokensMeasured).toBeGreaterThan(0);
    expect(f.tokensMeasured).toBeLessThanOrEqual(f.tokens);
    // tpmUtilisation is rounded to three places
    expect(f.tpmUtilisation).toBeCloseTo(f.tokensMeasured / (10_000 * (TPM.windows - 1)), 2);
    expect(f.status429).toBeLessThanOrEqual(f.status429Total);
    expect(f.tasks).toBeGreaterThan(0);
    expect(f.failedTasks).toBe(Object.values(f.failures).reduce((a, b) => a + b, 0));
    // every agent was working when the run ended, or between two tasks
    expect(f.cancelledAtEnd).toBeLessThanOrEqual(TPM.agents);
  }, 15_000);

  it('gives the same messages every run, and its rate in tokens per second', async () => {
    const s = await agentTpmSample(TPM);
    expect(s.error).toBeUndefined();
    expect(s.messages).toBe(10_000 * TPM.windows);
    const c = s.counts!;
    for (const key of ['tpmUtilisation', 'status429', 'status429Total', 'tokens', 'runSeconds'])
      expect(c[key]).toBeTypeOf('number');
    // runSeconds is rounded to the millisecond
    expect(s.messages / s.seconds / (c.tokens! / c.runSeconds!)).toBeCloseTo(1, 3);
  }, 15_000);
});
