/**
 * An agent works for the principal of its task (runtime/core/principal.ts): the task's principal
 * limits the tools it may use, goes to its tools and sub-agents narrowed to what the task may
 * do, and who approves a call is the decision's principal, which must hold `approve`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSystem, fromReceive, type ActorSystem } from '../../index.ts';
import { createAgent } from '../../actors/agent/agent.ts';
import type { AgentContext } from '../../actors/agent/context.ts';
import { scriptedModel } from '../../actors/agent/model.ts';
import { defineTool, delegateTool, type Tool } from '../../actors/agent/tools.ts';
import { stampPrincipal, type Principal } from '../../runtime/core/principal.ts';
import { connect } from '../../protocol/client/node.ts';
import { startGateway } from '../support/gateway.ts';
import { until } from '../support/until.ts';

const systems: ActorSystem[] = [];
function sys(): ActorSystem {
  const s = createSystem();
  systems.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});

interface View {
  value: string;
  context: AgentContext;
}

/** A tool that records who it ran for. */
function recording(name: string, scope: string | undefined, ran: Record<string, unknown[]>): Tool {
  return defineTool({
    name,
    description: `the ${name} tool`,
    parameters: { type: 'object' },
    ...(scope === undefined ? {} : { scope }),
    run: (_args, ctx) => {
      (ran[name] ??= []).push({ id: ctx.principal.id, scopes: ctx.principal.scopes });
      return `${name} done`;
    },
  });
}

/** A model that calls each of `names` in one step, then answers with what the tools said. */
function callingAll(names: readonly string[], offered: string[][]) {
  return scriptedModel([
    (req) => {
      offered.push((req.tools ?? []).map((t) => t.name));
      return { toolCalls: names.map((name) => ({ name, arguments: {} })) };
    },
    (req) => ({
      content: req.messages
        .filter((m) => m.role === 'tool')
        .map((m) => m.content)
        .join('; '),
    }),
  ]);
}

describe('an agent works for its task’s principal', () => {
  it('uses only tools whose scope both its config and the principal hold', async () => {
    const system = sys();
    const ran: Record<string, unknown[]> = {};
    const offered: string[][] = [];
    const agent = system.spawn(
      createAgent({
        model: callingAll(['open', 'read', 'write'], offered),
        tools: [
          recording('open', undefined, ran),
          recording('read', 'read', ran),
          recording('write', 'write', ran),
        ],
        scopes: ['read', 'write'],
      }),
    );
    const alice = stampPrincipal({ id: 'alice', scopes: ['read'] });
    const done = (await agent.ask(
      { type: 'task', input: 'go' },
      { principal: alice, timeout: 5_000 },
    )) as { answer: string };
    // the model is offered only what alice's task may use; a call to the rest is refused
    expect(offered[0]).toEqual(['open', 'read']);
    expect(ran.open).toEqual([{ id: 'alice', scopes: ['read'] }]);
    expect(ran.read).toEqual([{ id: 'alice', scopes: ['read'] }]);
    expect(ran.write).toBeUndefined();
    expect(done.answer).toMatch(/no tool named "write" is available/);
    // the snapshot says who the task is for
    const views: View[] = [];
    system.subscribe(agent, (u) => {
      if (u.type === 'troupe.snapshot') views.push(u.snapshot as View);
    });
    await until(() => views.length > 0);
    expect(views.at(-1)!.context.principal).toEqual({ id: 'alice', scopes: ['read'] });
  });

  it('a task for nobody runs its tools as the agent itself, with the config’s scopes', async () => {
    const system = sys();
    const ran: Record<string, unknown[]> = {};
    const agent = system.spawn(
      createAgent({
        model: callingAll(['read'], []),
        tools: [recording('read', 'read', ran)],
        scopes: ['read'],
      }),
      { name: 'solo' },
    );
    await agent.ask({ type: 'task', input: 'go' }, { timeout: 5_000 });
    expect(ran.read).toEqual([{ id: `agent:${agent.address}`, scopes: ['read'] }]);
  });

  it('gives a sub-agent at most the delegating task’s scopes', async () => {
    const system = sys();
    const ran: Record<string, unknown[]> = {};
    const child = () =>
      createAgent({
        name: 'child',
        model: callingAll(['a', 'b', 'c'], []),
        tools: [recording('a', 'a', ran), recording('b', 'b', ran), recording('c', 'c', ran)],
        // the child's own config would allow all three
        scopes: ['a', 'b', 'c'],
      });
    const parent = system.spawn(
      createAgent({
        name: 'parent',
        model: scriptedModel([
          { toolCalls: [{ name: 'delegate', arguments: { task: 'sub' } }] },
          (req) => ({ content: String(req.messages.at(-1)!.content) }),
        ]),
        tools: [delegateTool({ name: 'delegate', description: 'delegates', agent: child })],
        scopes: ['a', 'b'],
      }),
    );
    // the principal grants a and c; the parent holds a and b: the sub-agent may use only a
    const carol = stampPrincipal({ id: 'carol', scopes: ['a', 'c'] });
    await parent.ask({ type: 'task', input: 'go' }, { principal: carol, timeout: 5_000 });
    expect(ran).toEqual({ a: [{ id: 'carol', scopes: ['a'] }] });
  });

  it('takes a decision only from a principal that holds approve, and records who', async () => {
    const system = sys();
    const views: View[] = [];
    const agent = system.spawn(
      createAgent({
        model: scriptedModel([
          { toolCalls: [{ name: 'publish', arguments: {} }] },
          { content: 'done' },
        ]),
        tools: [
          defineTool({
            name: 'publish',
            description: 'publishes',
            parameters: { type: 'object' },
            approval: 'always',
            run: () => 'published',
          }),
        ],
      }),
    );
    system.subscribe(agent, (u) => {
      if (u.type === 'troupe.snapshot') views.push(u.snapshot as View);
    });
    agent.tell({ type: 'task', input: 'publish' });
    await until(() => views.at(-1)?.value === 'awaitingApproval');
    const callId = views.at(-1)!.context.approval!.callId;
    const viewer: Principal = stampPrincipal({ id: 'viewer', scopes: ['read'] });
    expect(await agent.ask({ type: 'approve', callId }, { principal: viewer })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/approve permission/) as unknown,
    });
    expect(views.at(-1)!.value).toBe('awaitingApproval');
    const lead = stampPrincipal({ id: 'lead', scopes: ['approve'] });
    expect(await agent.ask({ type: 'approve', callId }, { principal: lead })).toEqual({ ok: true });
    await until(() => views.at(-1)?.value === 'done');
    const decision = views.at(-1)!.context.messages.find((m) => m.role === 'tool')!.decision!;
    expect(decision).toMatchObject({ outcome: 'approved', by: 'lead' });
  });

  it('through the gateway: the client’s principal gives the task and decides the approval', async () => {
    const h = await startGateway({
      authenticate: (t) => (t === null ? null : { id: t, scopes: ['approve'] }),
    });
    systems.push(h.system);
    const agent = h.system.spawn(
      createAgent({
        model: scriptedModel([
          { toolCalls: [{ name: 'publish', arguments: {} }] },
          { content: 'done' },
        ]),
        tools: [
          defineTool({
            name: 'publish',
            description: 'publishes',
            parameters: { type: 'object' },
            approval: 'always',
            run: () => 'published',
          }),
        ],
      }),
      { name: 'writer' },
    );
    const seen: unknown[] = [];
    h.system.spawn(
      fromReceive<null, unknown>(null, (s, m) => {
        seen.push(m);
        return s;
      }),
      { name: 'sink' },
    );
    const dana = connect(h.url, { token: 'dana', reconnect: false });
    const erin = connect(h.url, { token: 'erin', reconnect: false });
    const views: View[] = [];
    await dana.subscribe<View>('/user/writer', (v) => views.push(v)).ready;
    await dana.send('/user/writer', { type: 'task', input: 'publish' });
    await until(() => views.at(-1)?.value === 'awaitingApproval');
    expect(views.at(-1)!.context.principal).toEqual({ id: 'dana', scopes: ['approve'] });
    const callId = views.at(-1)!.context.approval!.callId;
    expect(await erin.ask('/user/writer', { type: 'approve', callId })).toEqual({ ok: true });
    await until(() => views.at(-1)?.value === 'done');
    const decision = views.at(-1)!.context.messages.find((m) => m.role === 'tool')!.decision!;
    expect(decision.by).toBe('erin');
    await Promise.all([dana.close(), erin.close()]);
    void agent;
  });
});
