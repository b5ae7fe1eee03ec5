/**
 * Budgets where users need them (issue 25): caps per task beside the agent's lifetime caps,
 * warnings as a cap fills, a cost cap that cannot count refused at creation, an estimate that
 * counts the tools' schemas, and errors that keep their fields.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Terminated } from '../../index.ts';
import { createAgent } from '../../actors/agent/agent.ts';
import { defineTool } from '../../actors/agent/tools.ts';
import { scriptedModel, type ModelRequest } from '../../actors/agent/model.ts';
import { BudgetExceededError } from '../../actors/agent/types.ts';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

type TestSystem = ReturnType<typeof testSystem>;
const systems: TestSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((t) => t.system.shutdown()));
});
function sys(): TestSystem {
  const t = testSystem();
  systems.push(t);
  return t;
}

interface Done {
  answer: string | null;
  stopReason: string;
  error?: Record<string, unknown>;
}

/** A tool that answers at once, counting its runs. */
function counter() {
  const runs = { n: 0 };
  const tool = defineTool<{ n: number }>({
    name: 'step',
    description: 'one more step',
    parameters: { type: 'object', properties: { n: { type: 'number' } } },
    run: ({ n }) => {
      runs.n++;
      return `step ${n} done`;
    },
  });
  return { tool, runs };
}

/** Calls the tool with new arguments at every step: neither the cap nor a loop ends it early. */
const endless = () => {
  let n = 0;
  return scriptedModel([() => ({ toolCalls: [{ name: 'step', arguments: { n: ++n } }] })]);
};

/** Asks `task` and lets the system run until it is answered. */
async function run(t: TestSystem, agent: ReturnType<TestSystem['system']['spawn']>, input: string) {
  const p = agent.ask({ type: 'task', input }, { timeout: 60_000 });
  await settle(t.system);
  return (await p) as Done;
}

describe('budget.perTask', () => {
  it('ends each task at its own cap; the next task has its own budget', async () => {
    const t = sys();
    const { tool } = counter();
    const agent = t.system.spawn(
      createAgent({
        model: endless(),
        tools: [tool],
        maxSteps: 100,
        budget: { perTask: { modelCalls: 3 } },
      }),
      { name: 'a' },
    );
    for (const input of ['first', 'second']) {
      const done = await run(t, agent, input);
      expect(done).toMatchObject({
        answer: null,
        stopReason: 'budget',
        error: {
          name: 'BudgetExceededError',
          cap: 'modelCalls',
          scope: 'task',
          limit: 3,
          spent: 3,
        },
      });
      expect(String(done.error!.message)).toContain("a's task's modelCalls budget (3)");
    }
  });

  it('measures wallMs from the task start, on the system clock', async () => {
    const t = sys();
    const slow = defineTool({
      name: 'step',
      description: 'takes a minute of simulated time',
      parameters: { type: 'object' },
      run: () => new Promise((resolve) => t.clock.setTimeout(() => resolve('done'), 60_000)),
    });
    const agent = t.system.spawn(
      createAgent({
        model: endless(),
        tools: [slow],
        maxSteps: 100,
        budget: { perTask: { wallMs: 150_000 } },
      }),
      { name: 'w' },
    );
    // an hour idle before the task: a lifetime wallMs would be spent, the task's is not
    await t.clock.advance(3_600_000);
    const p = agent.ask({ type: 'task', input: 'go' }, { timeout: 3_600_000 });
    for (let i = 0; i < 5; i++) {
      await settle(t.system);
      await t.clock.advance(60_000);
    }
    const done = (await p) as Done;
    expect(done).toMatchObject({
      stopReason: 'budget',
      error: { cap: 'wallMs', scope: 'task', limit: 150_000 },
    });
    // three one-minute steps fit in 150 s: the next call starts past it and is refused
    expect(Number(done.error!.spent)).toBeGreaterThanOrEqual(150_000);
  });
});

describe('a step with more calls than the budget covers', () => {
  it('runs the calls it covers and answers the others to the model as refused, saying why', async () => {
    const t = sys();
    const { tool, runs } = counter();
    let n = 0;
    const requests: ModelRequest[] = [];
    const three = scriptedModel([
      (req) => {
        requests.push(req);
        return { toolCalls: [1, 2, 3].map(() => ({ name: 'step', arguments: { n: ++n } })) };
      },
    ]);
    const agent = t.system.spawn(
      createAgent({
        model: three,
        tools: [tool],
        maxSteps: 100,
        budget: { perTask: { toolCalls: 5 } },
      }),
      { name: 'r' },
    );
    const done = await run(t, agent, 'go');
    // 3 run in the first step, 2 of 3 in the second; the third step has no room: the task ends
    expect(runs.n).toBe(5);
    expect(done).toMatchObject({
      stopReason: 'budget',
      error: { cap: 'toolCalls', scope: 'task' },
    });
    const results = requests[2]!.messages.filter((m) => m.role === 'tool').map((m) => m.content);
    expect(results.slice(3)).toEqual([
      'step 4 done',
      'step 5 done',
      "error: not run: r's task's toolCalls budget (5) covers 2 of this step's 3 calls",
    ]);
  });
});

describe('budget warnings', () => {
  it('emits budget.warning at 50, 80 and 100 % of a cap, once each, and steps.warning once', async () => {
    const t = sys();
    const { tool } = counter();
    const agent = t.system.spawn(
      createAgent({
        model: endless(),
        tools: [tool],
        maxSteps: 100,
        expectedSteps: 4,
        budget: { perTask: { toolCalls: 10 } },
      }),
      { name: 'warned' },
    );
    const events: Record<string, unknown>[] = [];
    t.system.subscribeEvents(agent, (e) => {
      const ev =
        (e as { event?: Record<string, unknown> }).event ??
        (e as unknown as Record<string, unknown>);
      if (ev.type === 'budget.warning' || ev.type === 'steps.warning') events.push(ev);
    });
    const done = await run(t, agent, 'go');
    expect(done.stopReason).toBe('budget');
    const budget = events.filter((e) => e.type === 'budget.warning');
    expect(budget.map((e) => [e.scope, e.cap, e.at, e.spent])).toEqual([
      ['task', 'toolCalls', 0.5, 5],
      ['task', 'toolCalls', 0.8, 8],
      ['task', 'toolCalls', 1, 10],
    ]);
    expect(events.filter((e) => e.type === 'steps.warning')).toEqual([
      { type: 'steps.warning', steps: 5, expected: 4 },
    ]);
  });
});

describe('a cost cap', () => {
  it('is refused at createAgent when the model has no price, naming the model', () => {
    const model = scriptedModel([{ content: 'x' }]);
    for (const budget of [{ cost: 1 }, { perTask: { cost: 0.1 } }])
      expect(() => createAgent({ model, modelName: 'gpt-x', budget })).toThrow(
        expect.objectContaining({
          code: 'ERR_INVALID_OPTION',
          field: 'config.prices',
          message: expect.stringContaining('gpt-x'),
        }),
      );
    expect(() =>
      createAgent({
        model,
        modelName: 'gpt-x',
        budget: { cost: 1 },
        prices: { 'gpt-x': { inputPerMillion: 1, outputPerMillion: 2 } },
      }),
    ).not.toThrow();
    expect(() => createAgent({ model, budget: { perTask: { tokens: -1 } } })).toThrow(
      expect.objectContaining({ field: 'config.budget.perTask.tokens' }),
    );
  });
});

describe('the estimate', () => {
  it('counts the tools’ schemas: with 10 large tools a tokens cap is never overshot', async () => {
    const t = sys();
    const tools = Array.from({ length: 10 }, (_, i) =>
      defineTool({
        name: `tool_${i}`,
        description: `tool ${i}: ${'a long description of what it does. '.repeat(20)}`,
        parameters: {
          type: 'object',
          properties: Object.fromEntries(
            Array.from({ length: 8 }, (_, k) => [
              `field_${k}`,
              { type: 'string', description: `field ${k} of tool ${i}, described at length` },
            ]),
          ),
        },
        run: () => 'ok',
      }),
    );
    // a provider that counts what it is sent (texts, tool calls, the tools' schemas): 4
    // characters a token
    let n = 0;
    const honest = scriptedModel([
      (req: ModelRequest) => ({
        toolCalls: [{ name: 'tool_0', arguments: { field_0: `x${++n}` } }],
        usage: {
          inputTokens: Math.ceil(
            (req.messages.reduce(
              (c, m) =>
                c +
                m.content.length +
                (m.toolCalls ?? []).reduce((k, x) => k + x.arguments.length, 0),
              0,
            ) +
              JSON.stringify(req.tools).length) /
              4,
          ),
          outputTokens: 20,
        },
      }),
    ]);
    const cap = 40_000;
    const agent = t.system.spawn(
      createAgent({
        model: honest,
        tools,
        maxSteps: 100,
        maxOutputTokens: 100,
        budget: { tokens: cap, perTask: { tokens: cap } },
      }),
      { name: 'e' },
    );
    const done = await run(t, agent, 'go');
    expect(done.error).toMatchObject({ cap: 'tokens' });
    // each call costs ~5,000 tokens of schemas: several ran, and none past the cap
    expect(n).toBeGreaterThan(3);
    expect(Number(done.error!.spent)).toBeLessThanOrEqual(cap);
  });
});

describe('a budget error', () => {
  it('reaches the supervisor with its limit and what was spent (onBudget escalate)', async () => {
    const t = sys();
    const { tool } = counter();
    const agent = t.system.spawn(
      createAgent({
        model: endless(),
        tools: [tool],
        maxSteps: 100,
        onBudget: 'escalate',
        budget: { toolCalls: 4 },
      }),
      { name: 'x' },
    );
    const ended: Terminated[] = [];
    t.system.watch(agent, (e) => ended.push(e));
    agent.tell({ type: 'task', input: 'go' });
    await settle(t.system);
    expect(ended).toHaveLength(1);
    const e = ended[0]!.error as BudgetExceededError;
    expect(e).toBeInstanceOf(BudgetExceededError);
    expect({ cap: e.cap, limit: e.limit, spent: e.spent }).toEqual({
      cap: 'toolCalls',
      limit: 4,
      spent: 4,
    });
  });
});
