/**
 * A restart never repeats a paid call (issue 25): with a reply journal, a reply recorded but
 * not yet acted on when the agent dies is taken from the journal by the restarted agent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent } from '../../actors/agent/agent.ts';
import { defineTool } from '../../actors/agent/tools.ts';
import { type ModelProvider, type ModelRequest } from '../../actors/agent/model.ts';
import { memoryJournal, storeJournal, type ReplyJournal } from '../../actors/agent/journal.ts';
import { InMemoryStore } from '../../runtime/core/persistence.ts';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

type TestSystem = ReturnType<typeof testSystem>;
const systems: TestSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((t) => t.system.shutdown()));
});

const lookup = defineTool<{ id: string }>({
  name: 'lookup',
  description: 'finds a record',
  parameters: { type: 'object', properties: { id: { type: 'string' } } },
  run: ({ id }) => `record ${id}`,
});

/** A paid provider: counts its calls; a tool call first, then the answer. */
function paid() {
  const counts = { calls: 0 };
  const model: ModelProvider = {
    name: 'paid',
    complete: (req: ModelRequest) => {
      counts.calls++;
      const last = req.messages.at(-1)!;
      return Promise.resolve(
        last.role === 'tool'
          ? {
              content: `found: ${last.content}`,
              toolCalls: [],
              usage: { inputTokens: 10, outputTokens: 5 },
            }
          : {
              content: '',
              toolCalls: [{ id: `c${counts.calls}`, name: 'lookup', arguments: '{"id":"r1"}' }],
              usage: { inputTokens: 10, outputTokens: 5 },
            },
      );
    },
  };
  return { model, counts };
}

/**
 * Runs one task; with `crash`, the agent is stopped once, right after its first reply is
 * recorded (before the machine has acted on it), and spawned again from its snapshot.
 */
async function providerCalls(journal: ReplyJournal | undefined, crash: boolean): Promise<number> {
  const t = testSystem();
  systems.push(t);
  const store = new InMemoryStore();
  const { model, counts } = paid();
  let crashed = !crash;
  const kill = { stopped: null as Promise<void> | null };
  const watched: ReplyJournal | undefined =
    journal === undefined
      ? undefined
      : {
          recorded: (c, turn) => journal.recorded(c, turn),
          record: async (c, turn, reply) => {
            await journal.record(c, turn, reply);
            if (!crashed) {
              crashed = true;
              // the crash: the reply is recorded, the agent dies before it takes it
              kill.stopped = t.system.stop(first);
            }
          },
        };
  const crashWithoutJournal = (m: ModelProvider): ModelProvider => ({
    name: m.name,
    complete: async (req) => {
      const reply = await m.complete(req);
      if (!crashed) {
        crashed = true;
        kill.stopped = t.system.stop(first);
      }
      return reply;
    },
  });
  const config = {
    model: journal === undefined ? crashWithoutJournal(model) : model,
    tools: [lookup],
    ...(watched === undefined ? {} : { journal: watched }),
  };
  const options = { name: 'clerk', persistence: { store, key: 'clerk' } };
  const first = t.system.spawn(createAgent(config), options);
  first.tell({ type: 'task', input: 'find r1' });
  await settle(t.system);
  if (kill.stopped !== null) {
    await kill.stopped;
    const second = t.system.spawn(createAgent(config), options);
    await settle(t.system);
    const status = (await second.ask({ type: 'status' }, { timeout: 1_000 })) as {
      answer: string | null;
    };
    expect(status.answer).toBe('found: record r1');
  }
  return counts.calls;
}

describe('the reply journal', () => {
  it('makes a crash after a reply cost no provider call (memoryJournal)', async () => {
    const plain = await providerCalls(memoryJournal(), false);
    expect(plain).toBe(2);
    expect(await providerCalls(memoryJournal(), true)).toBe(plain);
  });

  it('does the same in the snapshot store (storeJournal)', async () => {
    const store = new InMemoryStore();
    expect(await providerCalls(storeJournal(store), true)).toBe(2);
    // one entry for the conversation: its latest reply replaced the first
    expect(store.keys().filter((k) => k.startsWith('agent-replies/'))).toHaveLength(1);
  });

  it('without one, the restarted agent pays for the lost reply again', async () => {
    expect(await providerCalls(undefined, true)).toBe(3);
  });

  it('never hands a reply of another conversation or turn', async () => {
    const j = memoryJournal();
    const reply = { content: 'x', toolCalls: [], usage: { inputTokens: 1, outputTokens: 1 } };
    await j.record('conv-a', 3, reply);
    expect(await j.recorded('conv-a', 3)).toEqual(reply);
    expect(await j.recorded('conv-a', 2)).toBeUndefined();
    expect(await j.recorded('conv-b', 3)).toBeUndefined();
    // the latest only
    await j.record('conv-a', 4, { ...reply, content: 'y' });
    expect(await j.recorded('conv-a', 3)).toBeUndefined();
    expect((await j.recorded('conv-a', 4))?.content).toBe('y');
  });

  it('refuses a config.journal that is not one, naming the field', () => {
    expect(() =>
      createAgent({ model: paid().model, journal: { record: 1 } as unknown as ReplyJournal }),
    ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', field: 'config.journal' }));
  });
});
