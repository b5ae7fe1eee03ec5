/**
 * How an agent's task ends when it cannot answer (a model that refuses the request, the step
 * cap with `onMaxSteps: 'fail'`), and what a task starts from (`conversation`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSystem, type ActorSystem, type Terminated } from '../../index.ts';
import { createAgent } from '../../actors/agent/agent.ts';
import { defineTool } from '../../actors/agent/tools.ts';
import { scriptedModel, type ModelRequest, type ScriptStep } from '../../actors/agent/model.ts';
import { InvalidMessageError } from '../../actors/agent/refusal.ts';

const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});
function sys(): ActorSystem {
  const s = createSystem();
  systems.push(s);
  return s;
}

interface Done {
  type: string;
  answer: string | null;
  stopReason: string;
  error?: { name: string; message: string; status?: number };
}

const probe = defineTool<{ n: number }>({
  name: 'probe',
  description: 'probes',
  parameters: { type: 'object', properties: { n: { type: 'number' } } },
  run: ({ n }) => `probed ${n}`,
});

/** A model that records its requests and answers each from `step`. */
function recorded(step: (req: ModelRequest, n: number) => ScriptStep) {
  const requests: ModelRequest[] = [];
  const model = scriptedModel([
    (req) => {
      requests.push(req);
      return step(req, requests.length);
    },
  ]);
  return { model, requests };
}

describe('a model that refuses the request', () => {
  it('ends the task with stopReason error and the status, once, and the agent stays up', async () => {
    const system = sys();
    const { model, requests } = recorded((req) =>
      req.messages.at(-1)!.content === 'bad'
        ? { error: '400 invalid request: unknown parameter', retryable: false, status: 400 }
        : { content: 'fine' },
    );
    const agent = system.spawn(createAgent({ model, retry: { baseMs: 1, attempts: 5 } }), {
      name: 'a',
    });
    const ended: Terminated[] = [];
    system.watch(agent, (t) => ended.push(t));
    const done = (await agent.ask({ type: 'task', input: 'bad' }, { timeout: 5_000 })) as Done;
    expect(done).toMatchObject({
      type: 'agent.done',
      answer: null,
      stopReason: 'error',
      error: { name: 'ModelCallError', status: 400 },
    });
    expect(done.error!.message).toContain('400 invalid request');
    // never retried, by the agent or by a restart
    expect(requests).toHaveLength(1);
    const next = (await agent.ask({ type: 'task', input: 'good' }, { timeout: 5_000 })) as Done;
    expect(next).toMatchObject({ answer: 'fine', stopReason: 'answer' });
    expect(requests).toHaveLength(2);
    expect(ended).toEqual([]);
  });
});

describe("onMaxSteps: 'fail'", () => {
  it('ends the task at the cap with MaxStepsExceededError and no last call; the agent stays up', async () => {
    const system = sys();
    const { model, requests } = recorded((req, n) =>
      req.messages.at(-1)!.content === 'easy'
        ? { content: 'answered' }
        : { toolCalls: [{ name: 'probe', arguments: { n } }] },
    );
    const agent = system.spawn(
      createAgent({ model, tools: [probe], maxSteps: 2, onMaxSteps: 'fail' }),
      { name: 'capped' },
    );
    const ended: Terminated[] = [];
    system.watch(agent, (t) => ended.push(t));
    const done = (await agent.ask({ type: 'task', input: 'endless' }, { timeout: 5_000 })) as Done;
    expect(done).toMatchObject({
      answer: null,
      stopReason: 'max_steps',
      error: { name: 'MaxStepsExceededError' },
    });
    expect(done.error!.message).toContain('2 steps');
    // two steps, both with tools: no third call with the tools off
    expect(requests).toHaveLength(2);
    expect(requests.every((r) => r.tools.length === 1)).toBe(true);
    const next = (await agent.ask({ type: 'task', input: 'easy' }, { timeout: 5_000 })) as Done;
    expect(next).toMatchObject({ answer: 'answered', stopReason: 'answer' });
    expect(ended).toEqual([]);
  });
});

describe('what a task starts from', () => {
  const INSTRUCTIONS = 'Answer briefly.';
  const echo = () => recorded((req) => ({ content: `re: ${req.messages.at(-1)!.content}` }));
  const roles = (r: ModelRequest) => r.messages.map((m) => `${m.role}:${m.content}`);

  it('keeps the conversation by default; per-task starts each task from the instructions', async () => {
    const system = sys();
    const kept = echo();
    const a = system.spawn(createAgent({ model: kept.model, instructions: INSTRUCTIONS }), {
      name: 'kept',
    });
    await a.ask({ type: 'task', input: 'one' }, { timeout: 5_000 });
    await a.ask({ type: 'task', input: 'two' }, { timeout: 5_000 });
    expect(roles(kept.requests[1]!)).toEqual([
      `system:${INSTRUCTIONS}`,
      'user:one',
      'assistant:re: one',
      'user:two',
    ]);

    const fresh = echo();
    const b = system.spawn(
      createAgent({ model: fresh.model, instructions: INSTRUCTIONS, conversation: 'per-task' }),
      { name: 'fresh' },
    );
    await b.ask({ type: 'task', input: 'one' }, { timeout: 5_000 });
    const two = (await b.ask({ type: 'task', input: 'two' }, { timeout: 5_000 })) as Done;
    expect(two.answer).toBe('re: two');
    expect(roles(fresh.requests[1]!)).toEqual([`system:${INSTRUCTIONS}`, 'user:two']);
  });

  it("starts afresh for a task message's conversation 'new', and refuses another value", async () => {
    const system = sys();
    const m = echo();
    const a = system.spawn(createAgent({ model: m.model, instructions: INSTRUCTIONS }), {
      name: 'a',
    });
    await a.ask({ type: 'task', input: 'one' }, { timeout: 5_000 });
    await a.ask({ type: 'task', input: 'two', conversation: 'new' }, { timeout: 5_000 });
    expect(roles(m.requests[1]!)).toEqual([`system:${INSTRUCTIONS}`, 'user:two']);
    await expect(
      a.ask({ type: 'task', input: 'three', conversation: 'forget' } as never, { timeout: 5_000 }),
    ).rejects.toBeInstanceOf(InvalidMessageError);
    expect(m.requests).toHaveLength(2);
  });

  it('refuses a bad config.conversation at createAgent, naming the field', () => {
    expect(() =>
      createAgent({ model: scriptedModel([{ content: 'x' }]), conversation: 'new' as never }),
    ).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', field: 'config.conversation' }),
    );
  });
});
