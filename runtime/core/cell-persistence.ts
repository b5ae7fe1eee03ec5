/**
 * A persistent actor's cell: its snapshot loaded at each start, saved after each message,
 * and what the message sent held until the save is done (runtime/core/persistence.ts has
 * the store's interface).
 *
 * - Start: the store's snapshot (if any) is decoded, migrated from its schema version to
 *   the behaviour's (`migrate`) and handed to `restore`; without one, `init` runs. User
 *   messages queue meanwhile. A load that fails, or a hook that throws, is a failure of the
 *   actor (hooks `restore`, `migrate`, `init`).
 * - After each message: the state (through `persist`) is saved with the version last read
 *   or written (optimistic concurrency); no turn is taken until it is. The message's tells
 *   and asks wait in the outbox (runtime/core/outbox.ts) and leave once the save is done; a
 *   save that fails fails the actor and its outbox is dropped (`sender-failed`).
 */
import { MigrationError, type PersistenceStore } from './persistence.ts';
import { decodeValue, encodeValue } from './refcodec.ts';
import type { Behaviour } from './behaviour.ts';
import type { DeadLetterReason } from './dead-letters.ts';
import type { Hook } from './failure.ts';
import { publishView } from './cell-snapshots.ts';
import { RUNNING, STARTING, type ActorCell } from './cell.ts';

/** Where a persistent actor's snapshot lives, and the version last read or written. */
export interface Persistence {
  readonly store: PersistenceStore;
  readonly key: string;
  version: number | null;
}

/** Starts a persistent actor from its snapshot (or `init` when it has none). */
export function load(cell: ActorCell, p: Persistence): void {
  cell.waiting = true;
  const sys = cell.system;
  sys.pendingAsync++;
  p.store.load(p.key).then(
    (loaded) => {
      sys.pendingAsync--;
      cell.waiting = false;
      if (cell.status !== STARTING) return cell.wake();
      const saved = sys.current;
      sys.current = cell;
      let hook: Hook = 'init';
      try {
        if (loaded === undefined) {
          p.version = null;
          cell.state = cell.behaviour.init(cell);
        } else {
          p.version = loaded.version;
          hook = 'restore';
          const decoded = decodeValue(loaded.snapshot.data, sys.refOf);
          hook = 'migrate';
          const data = migrate(cell.behaviour, p.key, loaded.snapshot.schemaVersion, decoded);
          hook = 'restore';
          const restore = cell.behaviour.restore;
          cell.state = restore === undefined ? data : restore.call(cell.behaviour, data, cell);
        }
        cell.status = RUNNING;
      } catch (error) {
        sys.current = saved;
        cell.fail(error, false, undefined, null, hook);
        // what came while it loaded (a stop, a directive) is handled now
        cell.wake();
        return;
      } finally {
        sys.current = saved;
      }
      if (cell.subscribed) publishView(cell);
      cell.wake();
    },
    (error: unknown) => {
      sys.pendingAsync--;
      cell.waiting = false;
      if (cell.status === STARTING) cell.fail(error, false, undefined, null);
      cell.wake();
    },
  );
}

/** A stored snapshot's data brought to the behaviour's schema version (hook `migrate`). */
function migrate(
  behaviour: Behaviour<any, any, any>,
  key: string,
  stored: number,
  data: unknown,
): unknown {
  const current = behaviour.schemaVersion ?? 1;
  if (stored === current) return data;
  if (stored > current)
    throw new MigrationError(key, stored, current, 'the snapshot is newer than the behaviour');
  const m = behaviour.migrate;
  if (m === undefined)
    throw new MigrationError(key, stored, current, 'the behaviour has no migrate()');
  try {
    return m.call(behaviour, data, stored);
  } catch (error) {
    throw new MigrationError(key, stored, current, 'migrate() threw', error);
  }
}

/** Saves the state after a message, then releases what the message sent. */
export function save(cell: ActorCell): void {
  const p = cell.persistence!;
  const sys = cell.system;
  const behaviour = cell.behaviour;
  let data: unknown;
  try {
    const persist = behaviour.persist;
    // refs as addresses: a snapshot outlives the spawns it names (runtime/core/refcodec.ts)
    data = encodeValue(
      persist === undefined ? cell.state : persist.call(behaviour, cell.state),
      'address',
    );
  } catch (error) {
    cell.fail(error, false, undefined, null, 'persist');
    return;
  }
  cell.waiting = true;
  sys.pendingAsync++;
  p.store
    .save(
      p.key,
      { schemaVersion: behaviour.schemaVersion ?? 1, data },
      { expectedVersion: p.version },
    )
    .then(
      (version) => {
        sys.pendingAsync--;
        p.version = version;
        cell.waiting = false;
        releaseOutbox(cell);
        cell.wake();
      },
      (error: unknown) => {
        sys.pendingAsync--;
        cell.waiting = false;
        cell.fail(error, false, undefined, null);
        cell.wake();
      },
    );
}

/** The saved message's tells and asks leave now. */
function releaseOutbox(cell: ActorCell): void {
  const out = cell.outbox;
  cell.outbox = null;
  out?.release(cell.system);
}

/** What the message being saved sent never leaves (it failed, or the actor was killed). */
export function dropOutbox(cell: ActorCell, reason: DeadLetterReason = 'sender-failed'): void {
  const out = cell.outbox;
  cell.outbox = null;
  out?.drop(cell.system, reason, cell.end?.failure);
}
