/**
 * Fifty agents share one client (sharedModel over openAIModel, the real `openai` SDK)
 * against the mock model server (bench/mock-model) through an outage: while the mock
 * answers 503, the breaker keeps what reaches it to the first wave and one probe per
 * `resetMs`; once it recovers, every task finishes.
 *
 * Real time, kept short (about a second): the agents' retries and the client's breaker run
 * on the system clock. The outage's edges are not timed: the mock's clock is one the test
 * moves (in the window while `down`, past it after), so the count of calls during the
 * outage is exact.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSystem, type ActorSystem } from '../../../index.ts';
import { createAgent } from '../../../actors/agent/agent.ts';
import { openAIModel } from '../../../actors/agent/openai.ts';
import { sharedModel } from '../../../actors/agent/provider/shared-model.ts';
import { startMockModel, type MockModel } from '../../../bench/mock-model/server.ts';

const AGENTS = 50;
const MAX_CONCURRENT = 8;
const RESET_MS = 100;
const OUTAGE_MS = 600;

let server: MockModel | undefined;
let system: ActorSystem | undefined;
afterEach(async () => {
  await system?.shutdown();
  await server?.close();
});

describe('agents sharing one client through an outage', () => {
  it('send few calls to a provider that is down, and all finish once it recovers', async () => {
    let down = true;
    server = await startMockModel({
      env: {},
      outage: { fromMs: 0, toMs: 1_000_000 },
      clock: { now: () => (down ? 1 : 2_000_000) },
    });
    const model = sharedModel(openAIModel({ baseURL: `${server.url}/v1`, apiKey: 'sk-test' }), {
      maxConcurrent: MAX_CONCURRENT,
      retry: { attempts: 2, baseMs: 20, maxMs: 50 },
      breaker: { openAfterFailures: 5, resetMs: RESET_MS },
    });
    system = createSystem();
    const behaviour = createAgent({
      model,
      modelName: 'gpt-4o-mini',
      instructions: 'answer briefly',
      // the agent's own retries wait out the breaker: they send nothing while it is open
      retry: { attempts: 100, baseMs: 20, maxMs: 100 },
    });
    const agents = Array.from({ length: AGENTS }, (_, i) =>
      system!.spawn(behaviour, { name: `agent-${i}` }),
    );
    const started = performance.now();
    const tasks = agents.map(
      (a, i) =>
        a.ask({ type: 'task', input: `task ${i}` }, { timeout: 10_000 }) as Promise<{
          type: string;
          answer: string;
          stopReason: string;
        }>,
    );
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const outageMs = performance.now() - started;
    down = false;
    const recovered = performance.now();
    const results = await Promise.all(tasks);
    const recoveryMs = performance.now() - recovered;

    const stats = server.stats();
    // the first wave (one per slot) and about one probe per resetMs of the outage
    expect(stats.faults.outage).toBeGreaterThanOrEqual(5);
    expect(stats.faults.outage).toBeLessThanOrEqual(
      MAX_CONCURRENT + Math.ceil(outageMs / RESET_MS) + 2,
    );
    expect(stats.faults.outage).toBeLessThan(AGENTS / 2);
    expect(results).toHaveLength(AGENTS);
    for (const r of results) expect(r).toMatchObject({ type: 'agent.done', stopReason: 'answer' });
    expect(results.every((r) => r.answer.length > 0)).toBe(true);
    // every task made its one successful call after the recovery
    expect(stats.calls.chatCompletions - stats.faults.outage).toBe(AGENTS);
    expect(model.state()).toMatchObject({ breaker: 'closed', inFlight: 0, queued: 0 });
    expect(recoveryMs).toBeLessThan(3_000);
  });
});
