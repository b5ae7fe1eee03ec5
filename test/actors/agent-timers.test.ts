/**
 * An agent's timers (model and tool timeouts, retry backoff, approval expiry) are entries of
 * its system's timer heap: they run on the system's clock, so a simulated clock drives them,
 * and none outlives system.shutdown().
 */
import { describe, expect, it } from 'vitest';
import type { Terminated } from '../../index.ts';
import { createAgent } from '../../actors/agent/agent.ts';
import { ModelCallError } from '../../actors/agent/types.ts';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

/** A model that never answers, counting its calls. */
function silent() {
  const model = {
    calls: 0,
    name: 'silent',
    complete: () => {
      model.calls++;
      return new Promise<never>(() => undefined);
    },
  };
  return model;
}

const task = (input: string) => ({ type: 'task', input }) as const;

describe('agent timers on the system clock', () => {
  it('abandons a silent model at modelTimeoutMs and retries after its backoff, on simulated time', async () => {
    const t = testSystem();
    const model = silent();
    const agent = t.system.spawn(
      createAgent({ model, modelTimeoutMs: 60_000, retry: { attempts: 2, baseMs: 1_000 } }),
    );
    const ended: Terminated[] = [];
    t.system.watch(agent, (e) => ended.push(e));
    agent.tell(task('hello?'));
    await settle(t.system);
    expect(model.calls).toBe(1);
    await t.clock.advance(59_999);
    expect(model.calls).toBe(1);
    // the timeout, then the backoff (baseMs), then the second call
    await t.clock.advance(1);
    await t.clock.advance(1_000);
    expect(model.calls).toBe(2);
    await t.clock.advance(60_000);
    expect(ended).toHaveLength(1);
    expect(ended[0]!.error).toBeInstanceOf(ModelCallError);
    await t.system.shutdown();
  });

  it('leaves no timer behind after system.shutdown()', async () => {
    const t = testSystem();
    const model = silent();
    const agent = t.system.spawn(createAgent({ model, modelTimeoutMs: 60_000 }));
    agent.tell(task('hello?'));
    await settle(t.system);
    const timers = (t.system as unknown as { timers: { size: number } }).timers;
    expect(timers.size).toBeGreaterThan(0);
    await t.system.shutdown();
    expect(timers.size).toBe(0);
    // nothing fires later either: no second call, no retry
    await t.clock.advance(10 * 60_000);
    expect(model.calls).toBe(1);
  });

  it('retries no sooner than an error says (retryInMs), and within its jittered backoff otherwise', async () => {
    const t = testSystem();
    let calls = 0;
    const model = {
      name: 'flaky',
      complete: () => {
        calls++;
        if (calls === 1)
          return Promise.reject(
            Object.assign(new ModelCallError('breaker open', true), { retryInMs: 5_000 }),
          );
        if (calls === 2) return Promise.reject(new ModelCallError('503', true, 503));
        return Promise.resolve({
          content: 'ok',
          toolCalls: [],
          usage: { inputTokens: 1, outputTokens: 1 },
        });
      },
    };
    const agent = t.system.spawn(
      createAgent({ model, retry: { attempts: 3, baseMs: 1_000, maxMs: 10_000 } }),
    );
    const done = agent.ask(task('go'), { timeout: 60_000 });
    await settle(t.system);
    expect(calls).toBe(1);
    // the backoff alone would be at most 1,000 ms: the error's 5,000 ms wins
    await t.clock.advance(4_999);
    expect(calls).toBe(1);
    await t.clock.advance(1);
    await settle(t.system);
    expect(calls).toBe(2);
    // the second retry: full jitter, somewhere in [0, 2,000] ms
    await t.clock.advance(2_000);
    await settle(t.system);
    expect(calls).toBe(3);
    await expect(done).resolves.toMatchObject({ answer: 'ok', stopReason: 'answer' });
    await t.system.shutdown();
  });
});
