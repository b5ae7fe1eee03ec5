import { afterEach, describe, expect, it } from 'vitest';
import { createSystem, type ActorRef, type ActorSystem } from '../../index.ts';
import { createAgent } from '../../actors/agent/agent.ts';
import { defineTool } from '../../actors/agent/tools.ts';
import { scriptedModel, type ModelRequest } from '../../actors/agent/model.ts';
import type { AgentContext } from '../../actors/agent/context.ts';
import { InMemoryStore, type StoredSnapshot } from '../../runtime/core/persistence.ts';

const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});
function sys(): ActorSystem {
  const s = createSystem();
  systems.push(s);
  return s;
}

const INSTRUCTIONS = 'You are the archivist. Look the record up, then answer in one sentence.';

/** An InMemoryStore that keeps, as JSON, every snapshot saved to it. */
function recording() {
  const store = new InMemoryStore();
  const saved: string[] = [];
  const save = store.save.bind(store);
  store.save = (key: string, snapshot: StoredSnapshot, options) => {
    saved.push(JSON.stringify(snapshot));
    return save(key, snapshot, options);
  };
  return { store, saved };
}

const lookup = defineTool<{ id: string }>({
  name: 'lookup',
  description: 'finds a record',
  parameters: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
  run: ({ id }) => `record ${id}: filed`,
});

/** Looks a record up, then answers; records every request it is given. */
function model(requests: ModelRequest[]) {
  return scriptedModel([
    (req) => {
      requests.push(req);
      return req.messages.at(-1)!.role === 'tool'
        ? { content: `done: ${req.messages.at(-1)!.content}` }
        : { toolCalls: [{ name: 'lookup', arguments: { id: 'r1' } }] };
    },
  ]);
}

/** The agent's view now (the first update a subscriber gets). */
function viewOf(
  system: ActorSystem,
  ref: ActorRef<any>,
): Promise<{ value: string; context: AgentContext }> {
  return new Promise((resolve) => {
    const off = system.subscribe(ref, (u) => {
      if (u.type !== 'troupe.snapshot') return;
      off();
      resolve(u.snapshot as { value: string; context: AgentContext });
    });
  });
}

interface Status {
  answer: string | null;
}

describe("the agent's saved snapshot", () => {
  it('leaves out the instructions the config holds, and a restart has them back', async () => {
    const system = sys();
    const { store, saved } = recording();
    const requests: ModelRequest[] = [];
    const config = { model: model(requests), tools: [lookup], instructions: INSTRUCTIONS };
    const options = { name: 'archivist', persistence: { store, key: 'archivist' } };
    const first = system.spawn(createAgent(config), options);
    const done = (await first.ask(
      { type: 'task', input: 'find r1' },
      { timeout: 5_000 },
    )) as Status;
    expect(done.answer).toBe('done: record r1: filed');
    expect(saved.length).toBeGreaterThan(0);
    for (const s of saved) expect(s).not.toContain(INSTRUCTIONS);
    await system.stop(first);

    // a new incarnation, from the snapshot: the conversation starts with the instructions again
    requests.length = 0;
    const second = system.spawn(createAgent(config), options);
    const again = (await second.ask(
      { type: 'task', input: 'find r1 once more' },
      { timeout: 5_000 },
    )) as Status;
    expect(again.answer).toBe('done: record r1: filed');
    const sent = requests[0]!.messages;
    expect(sent[0]).toMatchObject({ role: 'system', content: INSTRUCTIONS });
    expect(sent.map((m) => m.role)).toEqual([
      'system',
      'user',
      'assistant',
      'tool',
      'assistant',
      'user',
    ]);
    const view = await viewOf(system, second);
    expect(view.context.messages[0]).toMatchObject({ role: 'system', content: INSTRUCTIONS });
  });

  it("saves a system message whole when it is not the config's instructions", async () => {
    const system = sys();
    const { store, saved } = recording();
    const requests: ModelRequest[] = [];
    const options = { name: 'archivist', persistence: { store, key: 'changed' } };
    const first = system.spawn(
      createAgent({ model: model(requests), tools: [lookup], instructions: 'the old rules' }),
      options,
    );
    await first.ask({ type: 'task', input: 'find r1' }, { timeout: 5_000 });
    await system.stop(first);
    expect(saved.at(-1)).not.toContain('the old rules');

    // the instructions changed: the old conversation is saved with its own system message
    saved.length = 0;
    const second = system.spawn(
      createAgent({ model: model(requests), tools: [lookup], instructions: 'the new rules' }),
      options,
    );
    const view = await viewOf(system, second);
    // a saved conversation takes the instructions of the config that restores it
    expect(view.context.messages[0]).toMatchObject({ role: 'system', content: 'the new rules' });
    await second.ask({ type: 'task', input: 'find r2' }, { timeout: 5_000 });
    expect(saved.at(-1)).not.toContain('the new rules');
  });

  it('forgets who asked and the loop count once a task is done', async () => {
    const system = sys();
    const requests: ModelRequest[] = [];
    const agent = system.spawn(createAgent({ model: model(requests), tools: [lookup] }), {
      name: 'a',
    });
    await agent.ask({ type: 'task', input: 'find r1' }, { timeout: 5_000 });
    const view = await viewOf(system, agent);
    expect(view.value).toBe('done');
    expect(view.context.replyTo).toBeNull();
    expect(view.context.repeats).toEqual({});
    expect(view.context.stopReason).toBe('answer');
  });
});
