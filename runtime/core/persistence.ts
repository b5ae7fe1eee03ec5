/**
 * Persistence: where actors keep their snapshots.
 *
 * A store is async and versioned: `load(key)` gives the snapshot and its version (or
 * undefined); `save(key, snapshot, { expectedVersion })` writes only if the stored version is
 * still `expectedVersion` (`null`: nothing stored yet) and returns the new version, else
 * rejects with PersistenceConflictError. Compare-and-set is what keeps two writers (a stale
 * activation on a partitioned node, later) from overwriting each other.
 *
 * An actor spawned with `persistence: { store, key? }` (key defaults to its path):
 * - starts from the stored snapshot when there is one (migrated when its `schemaVersion` is
 *   older than the behaviour's), else from `init`;
 * - after each message it handles, saves its snapshot, and only then lets the replies and
 *   messages it sent while handling that message leave (they wait in an outbox); it handles
 *   its next message after the save. A failed save is a failure of the actor (its parent
 *   decides); the messages held for that save go to dead letters (`sender-failed`).
 * - A restart reloads the latest stored snapshot.
 *
 * Snapshots are stored encoded by runtime/core/refcodec.ts: refs as `{ $ref }`, nothing that
 * cannot be serialised (the actor fails with SerializationError instead).
 */
import { SnapshotBytes } from './snapshot-bytes.ts';
import { TroupeError } from './error.ts';

export interface StoredSnapshot {
  /** The behaviour's schemaVersion when it was written. */
  readonly schemaVersion: number;
  readonly data: unknown;
}

export interface LoadedSnapshot {
  readonly snapshot: StoredSnapshot;
  /** The store's version of this key; pass it as `expectedVersion` to the next save. */
  readonly version: number;
}

export interface SaveOptions {
  /** The version the writer last saw; `null` when it saw nothing. */
  readonly expectedVersion: number | null;
}

export interface PersistenceStore {
  load(key: string): Promise<LoadedSnapshot | undefined>;
  save(key: string, snapshot: StoredSnapshot, options: SaveOptions): Promise<number>;
  delete?(key: string): Promise<void>;
}

export interface PersistenceOptions {
  readonly store: PersistenceStore;
  /** Key of this actor's snapshot. Default: its path. */
  readonly key?: string;
}

export class PersistenceConflictError extends TroupeError {
  readonly key: string;
  readonly expectedVersion: number | null;
  readonly actualVersion: number | null;
  constructor(key: string, expectedVersion: number | null, actualVersion: number | null) {
    super(
      'ERR_PERSISTENCE_CONFLICT',
      `snapshot ${key} is at version ${actualVersion ?? 'none'}, not ${expectedVersion ?? 'none'}: another writer saved it; reload before writing`,
    );
    this.key = key;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

export class MigrationError extends TroupeError {
  readonly key: string;
  readonly storedVersion: number;
  readonly behaviourVersion: number;
  constructor(
    key: string,
    storedVersion: number,
    behaviourVersion: number,
    why: string,
    cause?: unknown,
  ) {
    super(
      'ERR_MIGRATION',
      `snapshot ${key} has schemaVersion ${storedVersion}, behaviour ${behaviourVersion}: ${why}`,
      { cause },
    );
    this.key = key;
    this.storedVersion = storedVersion;
    this.behaviourVersion = behaviourVersion;
  }
}

/**
 * The embedded store: each snapshot kept in a Map as its bytes (runtime/core/snapshot-bytes.ts:
 * msgpack, deflated when large), so a caller can never mutate what is stored and an idle
 * snapshot costs about its encoded size. It takes what every actor's persistence writes, the
 * ref codec's plain form (runtime/core/refcodec.ts: plain objects, arrays, strings, finite
 * numbers, booleans, null); a function is refused, and other values outside that form (a Map,
 * a class instance) come back as msgpack reads them.
 */
export class InMemoryStore implements PersistenceStore {
  private readonly entries = new Map<string, { bytes: string; version: number }>();
  /** Last version of deleted keys: versions never repeat, so a stale writer cannot match. */
  private readonly deleted = new Map<string, number>();
  private readonly codec = new SnapshotBytes();

  load(key: string): Promise<LoadedSnapshot | undefined> {
    const e = this.entries.get(key);
    if (e === undefined) return Promise.resolve(undefined);
    let snapshot: StoredSnapshot;
    try {
      snapshot = this.codec.decode(e.bytes) as StoredSnapshot;
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return Promise.resolve({ snapshot, version: e.version });
  }

  save(key: string, snapshot: StoredSnapshot, options: SaveOptions): Promise<number> {
    const e = this.entries.get(key);
    const actual = e === undefined ? null : e.version;
    if (actual !== options.expectedVersion)
      return Promise.reject(new PersistenceConflictError(key, options.expectedVersion, actual));
    let bytes: string;
    try {
      bytes = this.codec.encode(snapshot);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const version = (actual ?? this.deleted.get(key) ?? 0) + 1;
    this.deleted.delete(key);
    this.entries.set(key, { bytes, version });
    return Promise.resolve(version);
  }

  delete(key: string): Promise<void> {
    const e = this.entries.get(key);
    if (e !== undefined) {
      this.entries.delete(key);
      this.deleted.set(key, e.version);
    }
    return Promise.resolve();
  }

  /** Keys stored (for tests and tools). */
  keys(): string[] {
    return [...this.entries.keys()];
  }
}
