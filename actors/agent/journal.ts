/**
 * The reply journal: a model reply is recorded before the agent acts on it, so a restart
 * never pays for it again. A reply arrives outside the agent's turn and reaches the machine as
 * a message; until that message is handled and the snapshot saved, a crash (the process
 * killed, the actor failed) would lose it, and the restarted agent, back in `thinking` at
 * that turn, would call the provider again. With `config.journal`, the reply is written to the
 * journal first; a restarted agent asks the journal for its turn's reply before it calls, and
 * takes the recorded one if there is one (not charged to the subtree's keeper again: that
 * call was settled; it is counted in the agent's `spent`, which the lost snapshot lacked).
 *
 * Replies are kept per conversation (`conversationId`, made at the agent's first start and
 * kept in its snapshot, so an agent started afresh never takes another life's replies), the
 * latest only: each record replaces the one before. A journal that fails to record is logged
 * and the reply acted on all the same (a crash then could repeat that call).
 *
 * - `memoryJournal()`: in the process (a restarted actor, not a restarted process).
 * - `storeJournal(store)`: in a PersistenceStore, the snapshots' own (InMemoryStore,
 *   RedisSnapshotStore…): what survives the process survives with it.
 * The durable journal of executions (issue 26) takes this interface's place.
 */
import type { PersistenceStore } from '../../runtime/core/persistence.ts';
import { PersistenceConflictError } from '../../runtime/core/persistence.ts';
import type { ModelReply } from './model.ts';

export interface ReplyJournal {
  /** Records `reply` as the conversation's reply for `turn` (replacing the one before). */
  record(conversation: string, turn: number, reply: ModelReply): Promise<void>;
  /** The reply recorded for `turn`, if it is the latest recorded. */
  recorded(conversation: string, turn: number): Promise<ModelReply | undefined>;
}

interface Entry {
  readonly turn: number;
  readonly reply: ModelReply;
}

/** Replies kept in the process. */
export function memoryJournal(): ReplyJournal {
  const entries = new Map<string, Entry>();
  return {
    record(conversation, turn, reply) {
      entries.set(conversation, { turn, reply: structuredClone(reply) });
      return Promise.resolve();
    },
    recorded(conversation, turn) {
      const e = entries.get(conversation);
      return Promise.resolve(e?.turn === turn ? structuredClone(e.reply) : undefined);
    },
  };
}

/** Writes that lost a race with another writer of the same key before giving up. */
const CONFLICT_RETRIES = 3;

/** Replies kept in a snapshot store, under `<prefix><conversation>`. */
export function storeJournal(store: PersistenceStore, prefix = 'agent-replies/'): ReplyJournal {
  const versions = new Map<string, number | null>();
  const keyOf = (conversation: string) => `${prefix}${conversation}`;
  const entryOf = (data: unknown): Entry | undefined => {
    const e = data as Partial<Entry> | null;
    return typeof e?.turn === 'number' && typeof e.reply === 'object' && e.reply !== null
      ? (e as Entry)
      : undefined;
  };
  return {
    async record(conversation, turn, reply) {
      const key = keyOf(conversation);
      for (let attempt = 0; ; attempt++) {
        let expected = versions.get(key);
        if (expected === undefined) expected = (await store.load(key))?.version ?? null;
        try {
          const version = await store.save(
            key,
            { schemaVersion: 1, data: { turn, reply } },
            { expectedVersion: expected },
          );
          versions.set(key, version);
          return;
        } catch (error) {
          versions.delete(key);
          if (!(error instanceof PersistenceConflictError) || attempt >= CONFLICT_RETRIES)
            throw error;
        }
      }
    },
    async recorded(conversation, turn) {
      const loaded = await store.load(keyOf(conversation));
      if (loaded === undefined) return undefined;
      versions.set(keyOf(conversation), loaded.version);
      const e = entryOf(loaded.snapshot.data);
      return e?.turn === turn ? e.reply : undefined;
    },
  };
}
