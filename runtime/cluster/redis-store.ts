/**
 * Snapshots in Redis: the core's PersistenceStore (runtime/core/persistence.ts), versioned and
 * compare-and-set, for any persistent actor; with a fence, for entities
 * (runtime/cluster/entities.ts): a write also checks that the writer still holds the
 * entity's claim at its epoch, so a node that lost the entity (paused past its lease,
 * partitioned) cannot overwrite the newer owner's state, and learns it (EntityLostError).
 *
 * One hash per key, `troupe:{<cluster>}:snap:<key>`: `v` the version, `d` the snapshot as
 * JSON (it is already in the ref codec's form), `s` its schemaVersion; a deleted key keeps
 * `v` (versions never repeat, so a stale writer cannot match) and drops `d`. The check and
 * the write are one Lua script: atomic in Redis, on one slot (the cluster's hash tag).
 */
import type { Redis } from 'ioredis';
import { TroupeError } from '../core/index.ts';
import {
  PersistenceConflictError,
  type LoadedSnapshot,
  type PersistenceStore,
  type SaveOptions,
  type StoredSnapshot,
} from '../core/index.ts';
import { clusterKeys, type ClusterKeys } from './keys.ts';

/** A write refused by the fence: the entity's claim moved on to another epoch (or node). */
export class EntityLostError extends TroupeError {
  readonly key: string;
  readonly epoch: number;
  readonly currentEpoch: number | null;
  constructor(key: string, epoch: number, currentEpoch: number | null) {
    super(
      'ERR_ENTITY_LOST',
      `snapshot ${key} was not written: this activation's claim (epoch ${epoch}) is no longer held (the claim is at ${currentEpoch ?? 'none'}); another node owns the entity now`,
    );
    this.key = key;
    this.epoch = epoch;
    this.currentEpoch = currentEpoch;
  }
}

/** The fence of an entity's writes: its claim key, and the epoch and owner that must hold it. */
export interface Fence {
  readonly claimKey: string;
  readonly epoch: number;
  readonly node: string;
  readonly incarnation: string;
}

// KEYS[1] snapshot hash, KEYS[2] claim hash (fenced) or the snapshot hash again (not)
// ARGV: expected version ('' none), data, schemaVersion, epoch ('' not fenced), node, incarnation
const SAVE = `
if ARGV[4] ~= '' then
  local c = redis.call('HMGET', KEYS[2], 'node', 'inc', 'epoch')
  if c[1] ~= ARGV[5] or c[2] ~= ARGV[6] or c[3] ~= ARGV[4] then
    return {-2, c[3] or ''}
  end
end
local s = redis.call('HMGET', KEYS[1], 'v', 'd')
local actual = ''
if s[2] then actual = s[1] end
if actual ~= ARGV[1] then return {-1, actual} end
local v = (tonumber(s[1]) or 0) + 1
redis.call('HSET', KEYS[1], 'v', v, 'd', ARGV[2], 's', ARGV[3])
return {v, ''}
`;

const DELETE = `
if redis.call('HEXISTS', KEYS[1], 'd') == 1 then redis.call('HDEL', KEYS[1], 'd', 's') end
return 1
`;

interface Scripts {
  troupeSave(
    snapKey: string,
    claimKey: string,
    expected: string,
    data: string,
    schema: string,
    epoch: string,
    node: string,
    incarnation: string,
  ): Promise<[number, string]>;
  troupeDelete(snapKey: string): Promise<number>;
}

/** Defines this module's scripts on a client (once per client). */
function scripts(redis: Redis): Redis & Scripts {
  const r = redis as Redis & Partial<Scripts>;
  if (r.troupeSave === undefined) {
    redis.defineCommand('troupeSave', { numberOfKeys: 2, lua: SAVE });
    redis.defineCommand('troupeDelete', { numberOfKeys: 1, lua: DELETE });
  }
  return r as Redis & Scripts;
}

export class RedisSnapshotStore implements PersistenceStore {
  readonly #redis: Redis & Scripts;
  readonly #keys: ClusterKeys;
  readonly #fence: Fence | null;

  /** A store of the cluster `cluster` on `redis` (a connected ioredis client). */
  constructor(redis: Redis, cluster: string | ClusterKeys, fence: Fence | null = null) {
    this.#redis = scripts(redis);
    this.#keys = typeof cluster === 'string' ? clusterKeys(cluster) : cluster;
    this.#fence = fence;
  }

  /** The same store, its writes fenced by an entity's claim. */
  fenced(fence: Fence): RedisSnapshotStore {
    return new RedisSnapshotStore(this.#redis, this.#keys, fence);
  }

  async load(key: string): Promise<LoadedSnapshot | undefined> {
    const [v, d, s] = await this.#redis.hmget(this.#keys.snapshot(key), 'v', 'd', 's');
    if (d === null || d === undefined || v === null || v === undefined) return undefined;
    return {
      snapshot: { schemaVersion: Number(s), data: JSON.parse(d) as unknown },
      version: Number(v),
    };
  }

  async save(key: string, snapshot: StoredSnapshot, options: SaveOptions): Promise<number> {
    const snapKey = this.#keys.snapshot(key);
    const f = this.#fence;
    const [result, seen] = await this.#redis.troupeSave(
      snapKey,
      f === null ? snapKey : f.claimKey,
      options.expectedVersion === null ? '' : String(options.expectedVersion),
      JSON.stringify(snapshot.data),
      String(snapshot.schemaVersion),
      f === null ? '' : String(f.epoch),
      f === null ? '' : f.node,
      f === null ? '' : f.incarnation,
    );
    if (result === -2) throw new EntityLostError(key, f!.epoch, seen === '' ? null : Number(seen));
    if (result === -1)
      throw new PersistenceConflictError(
        key,
        options.expectedVersion,
        seen === '' ? null : Number(seen),
      );
    return result;
  }

  async delete(key: string): Promise<void> {
    await this.#redis.troupeDelete(this.#keys.snapshot(key));
  }
}
