/**
 * Budgets per principal (actors/agent/principal-budget.ts): at the gateway's admission and
 * inside the agent, keyed by the trusted principal; a day's spend survives in a store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent } from '../../actors/agent/agent.ts';
import { scriptedModel } from '../../actors/agent/model.ts';
import { principalBudgets } from '../../actors/agent/principal-budget.ts';
import { InMemoryStore } from '../../runtime/core/persistence.ts';
import { stampPrincipal } from '../../runtime/core/principal.ts';
import { SimulatedClock, settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';
import { connect, RequestError } from '../../protocol/client/node.ts';
import { startGateway, type GatewayHarness } from '../support/gateway.ts';

type TestSystem = ReturnType<typeof testSystem>;
const systems: TestSystem[] = [];
const gateways: GatewayHarness[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((t) => t.system.shutdown()));
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});

const request = (id: string) => ({
  op: 'ask' as const,
  target: '/user/agent',
  message: { type: 'task', input: 'x' },
  principal: stampPrincipal({ id }),
});

describe('principalBudgets: the admission step', () => {
  it('refuses a principal past its requests this minute (limited), others not; the next minute lets it in', async () => {
    const clock = new SimulatedClock();
    const b = principalBudgets({ requestsPerMinute: 2, clock });
    expect(await b.admission(request('alice'))).toEqual({ allow: true });
    expect(await b.admission(request('alice'))).toEqual({ allow: true });
    expect(await b.admission(request('alice'))).toMatchObject({
      allow: false,
      code: 'limited',
      reason: expect.stringContaining("alice's requestsPerMinute budget (2)"),
    });
    expect(await b.admission(request('bob'))).toEqual({ allow: true });
    await clock.advance(60_000);
    expect(await b.admission(request('alice'))).toEqual({ allow: true });
  });

  it('refuses options that are not limits, naming the field', () => {
    expect(() => principalBudgets({ tokensPerDay: -1 })).toThrow(
      expect.objectContaining({ field: 'principalBudgets.tokensPerDay' }),
    );
  });
});

describe('principalBudgets in the agent', () => {
  it("ends a principal's task when its day's tokens are spent; a new day starts afresh", async () => {
    const t = testSystem();
    systems.push(t);
    const b = principalBudgets({ tokensPerDay: 50, clock: t.clock });
    let n = 0;
    const model = scriptedModel([
      () => ({
        toolCalls: [{ name: 'nothing', arguments: { n: ++n } }],
        usage: { inputTokens: 20, outputTokens: 10 },
      }),
    ]);
    const agent = t.system.spawn(
      createAgent({ model, maxSteps: 100, principalBudgets: b, conversation: 'per-task' }),
      { name: 'agent' },
    );
    const alice = stampPrincipal({ id: 'alice' });
    let tasks = 0;
    const ask = async () => {
      // a new input each time: the same one again would be answered as a retry
      const input = `task ${++tasks}`;
      const p = agent.ask({ type: 'task', input }, { timeout: 60_000, principal: alice });
      await settle(t.system);
      return (await p) as { stopReason: string; error?: Record<string, unknown> };
    };
    const done = await ask();
    // two calls of 30 tokens: the third finds the day spent (60 ≥ 50)
    expect(n).toBe(2);
    expect(done).toMatchObject({
      stopReason: 'budget',
      error: { cap: 'tokensPerDay', scope: 'principal', limit: 50, spent: 60 },
    });
    // a new task of alice's ends before its first call
    expect((await ask()).stopReason).toBe('budget');
    expect(n).toBe(2);
    // the gateway's step refuses alice's next request too
    expect(await b.admission(request('alice'))).toMatchObject({ allow: false, code: 'limited' });
    await t.clock.advance(86_400_000);
    expect((await ask()).error).toMatchObject({ cap: 'tokensPerDay' });
    expect(n).toBe(4);
  });

  it("keeps a principal's day in a store: a new process sees what was spent", async () => {
    const clock = new SimulatedClock();
    const store = new InMemoryStore();
    const first = principalBudgets({ costPerDay: 1, store, clock });
    first.charge('alice', 100, 0.6);
    first.charge('alice', 100, 0.5);
    expect(await first.use('alice')).toMatchObject({ tokens: 200, cost: 1.1 });
    const second = principalBudgets({ costPerDay: 1, store, clock });
    expect(await second.over('alice')).toEqual({ cap: 'costPerDay', limit: 1, spent: 1.1 });
    expect(await second.over('bob')).toBeNull();
  });
});

describe('principalBudgets at a real gateway', () => {
  it("answers a principal's request past its minute with the error code limited", async () => {
    const b = principalBudgets({ requestsPerMinute: 1 });
    const g = await startGateway({ admission: [b.admission] });
    gateways.push(g);
    g.system.spawn(
      { kind: 'echo', init: () => null, receive: (s: null, m: unknown, ctx) => (ctx.reply(m), s) },
      { name: 'echo' },
    );
    const c = connect(g.url, { token: 'alice' });
    try {
      await expect(c.ask('/user/echo', 'one')).resolves.toBe('one');
      const e = await c.ask('/user/echo', 'two').catch((x: unknown) => x);
      expect(e).toBeInstanceOf(RequestError);
      expect((e as RequestError).code).toBe('limited');
      // another principal is not held back by alice's minute
      const other = connect(g.url, { token: 'bob' });
      await expect(other.ask('/user/echo', 'three')).resolves.toBe('three');
      await other.close();
    } finally {
      await c.close();
    }
  });
});
