/**
 * Cancelling a task (actors/agent/cancel.ts) and what a delegated sub-agent's end does to the
 * delegating call (delegateTool): failures reach the parent at once, cancels go down the tree.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent } from '../../actors/agent/agent.ts';
import { defineTool, delegateTool } from '../../actors/agent/tools.ts';
import { scriptedModel, type ModelRequest, type ScriptStep } from '../../actors/agent/model.ts';
import { inFlightKeys } from '../../actors/agent/cancel.ts';
import { stampPrincipal } from '../../runtime/core/principal.ts';
import { InMemoryStore } from '../../runtime/core/persistence.ts';
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
  type: string;
  answer: string | null;
  stopReason: string;
  error?: { name: string; message: string };
}

/** A tool that waits until its signal aborts, recording that it saw it. */
function waiting() {
  const seen = { started: 0, aborted: 0 };
  const tool = defineTool({
    name: 'wait',
    description: 'waits',
    parameters: { type: 'object' },
    timeoutMs: 3_600_000,
    run: (_args, ctx) => {
      seen.started++;
      return new Promise((_, reject) =>
        ctx.signal.addEventListener('abort', () => {
          seen.aborted++;
          reject(new Error('aborted'));
        }),
      );
    },
  });
  return { tool, seen };
}

/** Calls `tool` on a user message, answers with the tool's result (or its error) after. */
function caller(tool: string): ScriptStep[] {
  return [
    (r: ModelRequest) =>
      r.messages.at(-1)!.role === 'tool'
        ? { content: `the tool said: ${r.messages.at(-1)!.content}` }
        : { toolCalls: [{ name: tool, arguments: { task: 'the sub-task' } }] },
  ];
}

describe('cancel', () => {
  it('ends the task at work: its tools are aborted, its asker told cancelled; the agent goes on', async () => {
    const t = sys();
    const { tool, seen } = waiting();
    const agent = t.system.spawn(
      createAgent({ model: scriptedModel(caller('wait')), tools: [tool] }),
      {
        name: 'a',
      },
    );
    const done = agent.ask({ type: 'task', input: 'go' }, { timeout: 60_000 });
    await settle(t.system);
    expect(seen.started).toBe(1);
    const answer = await agent.ask({ type: 'cancel', reason: 'the user left' }, { timeout: 1_000 });
    expect(answer).toEqual({ ok: true, cancelled: true });
    await expect(done).resolves.toMatchObject({
      type: 'agent.done',
      answer: null,
      stopReason: 'cancelled',
      error: { name: 'TaskCancelledError', message: expect.stringContaining('the user left') },
    });
    await settle(t.system);
    expect(seen.aborted).toBe(1);
    expect(inFlightKeys()).toBe(0);
    // nothing at work now: a cancel says so; the next task runs
    await expect(agent.ask({ type: 'cancel' }, { timeout: 1_000 })).resolves.toEqual({
      ok: true,
      cancelled: false,
    });
    const status = (await agent.ask({ type: 'status' }, { timeout: 1_000 })) as {
      stopReason: string;
    };
    expect(status.stopReason).toBe('cancelled');
  });

  it('is refused to another principal without the cancel permission', async () => {
    const t = sys();
    const { tool } = waiting();
    const alice = stampPrincipal({ id: 'alice' });
    const bob = stampPrincipal({ id: 'bob', scopes: ['read'] });
    const admin = stampPrincipal({ id: 'admin', scopes: ['cancel'] });
    const agent = t.system.spawn(
      createAgent({ model: scriptedModel(caller('wait')), tools: [tool] }),
      {
        name: 'b',
      },
    );
    const done = agent.ask({ type: 'task', input: 'go' }, { timeout: 60_000, principal: alice });
    await settle(t.system);
    await expect(
      agent.ask({ type: 'cancel' }, { timeout: 1_000, principal: bob }),
    ).resolves.toMatchObject({ ok: false });
    await expect(
      agent.ask({ type: 'cancel' }, { timeout: 1_000, principal: admin }),
    ).resolves.toEqual({ ok: true, cancelled: true });
    await expect(done).resolves.toMatchObject({ stopReason: 'cancelled' });
  });

  it('goes down the tree: the sub-agent of a delegated call has its own tool aborted', async () => {
    const t = sys();
    const { tool, seen } = waiting();
    const sub = () => createAgent({ model: scriptedModel(caller('wait')), tools: [tool] });
    const parent = t.system.spawn(
      createAgent({
        model: scriptedModel(caller('delegate')),
        tools: [delegateTool({ name: 'delegate', description: 'delegates', agent: sub })],
      }),
      { name: 'p' },
    );
    const done = parent.ask({ type: 'task', input: 'go' }, { timeout: 60_000 });
    await settle(t.system);
    expect(seen.started).toBe(1);
    await parent.ask({ type: 'cancel', reason: 'stop everything' }, { timeout: 1_000 });
    await expect(done).resolves.toMatchObject({ stopReason: 'cancelled' });
    await settle(t.system);
    expect(seen.aborted).toBe(1);
  });
});

describe('an agent that stops', () => {
  it('aborts what it has in flight: its running tool sees its signal abort', async () => {
    const t = sys();
    const { tool, seen } = waiting();
    const agent = t.system.spawn(
      createAgent({ model: scriptedModel(caller('wait')), tools: [tool] }),
      {
        name: 's',
      },
    );
    agent.tell({ type: 'task', input: 'go' });
    await settle(t.system);
    expect(seen.started).toBe(1);
    await t.system.stop(agent);
    await settle(t.system);
    expect(seen.aborted).toBe(1);
    expect(inFlightKeys()).toBe(0);
  });
});

describe('taskTimeoutMs', () => {
  it('ends a task at its deadline (stopReason timeout), aborting what it has in flight', async () => {
    const t = sys();
    const { tool, seen } = waiting();
    const agent = t.system.spawn(
      createAgent({ model: scriptedModel(caller('wait')), tools: [tool], taskTimeoutMs: 60_000 }),
      { name: 'd' },
    );
    const done = agent.ask({ type: 'task', input: 'go' }, { timeout: 3_600_000 });
    let ended = false;
    void done.then(() => (ended = true));
    await settle(t.system);
    await t.clock.advance(59_999);
    await settle(t.system);
    expect(ended).toBe(false);
    await t.clock.advance(1);
    await settle(t.system);
    await expect(done).resolves.toMatchObject({
      stopReason: 'timeout',
      error: { name: 'TaskTimeoutError', message: expect.stringContaining('60000 ms') },
    });
    expect(seen.aborted).toBe(1);
  });

  it('keeps the deadline across a restart from the snapshot', async () => {
    const t = sys();
    const { tool, seen } = waiting();
    const store = new InMemoryStore();
    const config = { model: scriptedModel(caller('wait')), tools: [tool], taskTimeoutMs: 60_000 };
    const options = { name: 'e', persistence: { store, key: 'e' } };
    const first = t.system.spawn(createAgent(config), options);
    first.tell({ type: 'task', input: 'go' });
    await settle(t.system);
    await t.clock.advance(30_000);
    await t.system.stop(first);
    const second = t.system.spawn(createAgent(config), options);
    await settle(t.system);
    // the restarted agent runs the unfinished call again, and its deadline stays where it was
    expect(seen.started).toBe(2);
    await t.clock.advance(30_000);
    await settle(t.system);
    const status = (await second.ask({ type: 'status' }, { timeout: 1_000 })) as {
      stopReason: string;
    };
    expect(status.stopReason).toBe('timeout');
  });

  it('refuses a bad taskTimeoutMs, naming the field', () => {
    expect(() =>
      createAgent({ model: scriptedModel([{ content: 'x' }]), taskTimeoutMs: 0 }),
    ).toThrow(expect.objectContaining({ field: 'config.taskTimeoutMs' }));
  });
});

describe('delegateTool', () => {
  it('fails the call at once when the sub-agent fails, and the model can react', async () => {
    const t = sys();
    // the sub-agent's model stays down: its retries are spent, it fails
    const sub = () =>
      createAgent({
        model: scriptedModel([{ error: '503 down', retryable: true }]),
        retry: { attempts: 1 },
      });
    const parent = t.system.spawn(
      createAgent({
        model: scriptedModel(caller('delegate')),
        tools: [
          delegateTool({
            name: 'delegate',
            description: 'delegates',
            agent: sub,
            timeoutMs: 3_600_000,
          }),
        ],
      }),
      { name: 'q' },
    );
    const done = parent.ask({ type: 'task', input: 'go' }, { timeout: 3_600_000 });
    await settle(t.system);
    // no time passed: the failure came at once, not at the delegation's hour-long timeout
    const d = (await done) as Done;
    expect(d.stopReason).toBe('answer');
    expect(d.answer).toMatch(/^the tool said: error: delegate: the sub-agent .* failed: 503 down/);
  });

  it('fails the call when the sub-agent ends its task without an answer, saying why', async () => {
    const t = sys();
    const sub = () =>
      createAgent({
        model: scriptedModel([{ error: '400 bad request', retryable: false, status: 400 }]),
      });
    const parent = t.system.spawn(
      createAgent({
        model: scriptedModel(caller('delegate')),
        tools: [delegateTool({ name: 'delegate', description: 'delegates', agent: sub })],
      }),
      { name: 'r' },
    );
    const done = parent.ask({ type: 'task', input: 'go' }, { timeout: 60_000 });
    await settle(t.system);
    const d = (await done) as Done;
    expect(d.answer).toContain('ended its task without an answer (error: 400 bad request)');
  });
});
