/**
 * Where entities live (runtime/cluster/entities.ts): the directory of claims.
 *
 * - LocalDirectory: one node, in memory (no Redis): every claim is this node's; snapshots in
 *   the system's in-memory store. The default without `cluster`.
 * - RedisDirectory: a cluster's (runtime/cluster/cluster.ts): a claim per entity in Redis,
 *   `troupe:{<cluster>}:claim:<kind>:<id>` = { node, inc, epoch }. A claim holds while its
 *   node's heartbeat key still holds the same incarnation (runtime/cluster/membership.ts): no
 *   lease per entity to renew, and a node that dies (or is paused past its TTL) loses all its
 *   claims at once. Claiming is one Lua script: it takes the entity when nobody holds it (or
 *   the holder's heartbeat is gone) and bumps the epoch; the epoch fences snapshot writes
 *   (runtime/cluster/redis-store.ts).
 */
import type { Redis } from 'ioredis';
import { InMemoryStore, type PersistenceStore } from '../core/index.ts';
import type { ClusterKeys } from './keys.ts';
import type { RedisSnapshotStore } from './redis-store.ts';

export interface Claim {
  /** This node holds it now (at `epoch`). */
  readonly mine: boolean;
  /** Who holds it. */
  readonly owner: string;
  readonly epoch: number;
}

export interface Directory {
  /** The live node holding the entity, or null. */
  owner(kind: string, id: string): Promise<string | null>;
  /**
   * Takes the entity for this node if nobody live holds it (a new claim is counted in the
   * activations, for tests and tools).
   */
  claim(kind: string, id: string): Promise<Claim>;
  /** Lets it go (if still held at `epoch`). */
  release(kind: string, id: string, epoch: number): Promise<void>;
  /** Where its snapshots go, fenced by `epoch` in a cluster. */
  store(kind: string, id: string, epoch: number): PersistenceStore;
  /** The live nodes, sorted (placement). */
  members(): readonly string[];
  /** A node's active entities as it last said (least-loaded placement). */
  load(node: string): number;
}

/** Entities whose activations a LocalDirectory counts (the latest activated). */
export const ACTIVATIONS_KEPT = 1_024;

export class LocalDirectory implements Directory {
  readonly #node: string;
  readonly #store: PersistenceStore;
  readonly #held = new Map<string, number>();
  #epoch = 0;
  /**
   * Activations per entity (`kind/id`), for tests and tools: of the ACTIVATIONS_KEPT entities
   * activated last, so a node that has activated millions of entities does not keep a count
   * for each (a hibernated entity costs its snapshot, not its history).
   */
  readonly activations = new Map<string, number>();
  #activeCount: () => number = () => 0;

  constructor(node: string, store: PersistenceStore = new InMemoryStore()) {
    this.#node = node;
    this.#store = store;
  }

  countActive(f: () => number): void {
    this.#activeCount = f;
  }

  owner(kind: string, id: string): Promise<string | null> {
    return Promise.resolve(this.#held.has(`${kind}/${id}`) ? this.#node : null);
  }
  claim(kind: string, id: string): Promise<Claim> {
    const key = `${kind}/${id}`;
    let epoch = this.#held.get(key);
    if (epoch === undefined) {
      this.#held.set(key, (epoch = ++this.#epoch));
      const n = (this.activations.get(key) ?? 0) + 1;
      // the count moves to the end (the most recent); the oldest goes beyond the bound
      this.activations.delete(key);
      this.activations.set(key, n);
      if (this.activations.size > ACTIVATIONS_KEPT)
        this.activations.delete(this.activations.keys().next().value!);
    }
    return Promise.resolve({ mine: true, owner: this.#node, epoch });
  }
  release(kind: string, id: string, epoch: number): Promise<void> {
    const key = `${kind}/${id}`;
    if (this.#held.get(key) === epoch) this.#held.delete(key);
    return Promise.resolve();
  }
  store(): PersistenceStore {
    return this.#store;
  }
  members(): readonly string[] {
    return [this.#node];
  }
  load(): number {
    return this.#activeCount();
  }
}

// KEYS[1] claim, KEYS[2] activations; ARGV: node, incarnation, heartbeat key prefix, kind/id
const CLAIM = `
local c = redis.call('HMGET', KEYS[1], 'node', 'inc', 'epoch')
if c[1] and c[1] ~= '' then
  if c[1] == ARGV[1] and c[2] == ARGV[2] then return {1, c[1], tonumber(c[3])} end
  if redis.call('GET', ARGV[3] .. c[1]) == c[2] then return {0, c[1], tonumber(c[3])} end
end
if redis.call('GET', ARGV[3] .. ARGV[1]) ~= ARGV[2] then return {-1, '', 0} end
local e = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'inc', ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
return {1, ARGV[1], e}
`;

// KEYS[1] claim; ARGV: node, incarnation, epoch
const RELEASE = `
local c = redis.call('HMGET', KEYS[1], 'node', 'inc', 'epoch')
if c[1] == ARGV[1] and c[2] == ARGV[2] and c[3] == ARGV[3] then
  redis.call('HSET', KEYS[1], 'node', '', 'inc', '')
  return 1
end
return 0
`;

// KEYS[1] claim; ARGV: heartbeat key prefix → the live holder or ''
const OWNER = `
local c = redis.call('HMGET', KEYS[1], 'node', 'inc')
if c[1] and c[1] ~= '' and redis.call('GET', ARGV[1] .. c[1]) == c[2] then return c[1] end
return ''
`;

interface Scripts {
  troupeClaim(
    key: string,
    activations: string,
    node: string,
    inc: string,
    hb: string,
    field: string,
  ): Promise<[number, string, number]>;
  troupeRelease(key: string, node: string, inc: string, epoch: string): Promise<number>;
  troupeOwner(key: string, hb: string): Promise<string>;
}

/** This node's standing in the cluster, as the directory needs it. */
export interface Standing {
  readonly node: string;
  /** This process's incarnation (the value of its heartbeat key). */
  incarnation(): string;
  members(): readonly string[];
  load(node: string): number;
}

export class NotAMemberError extends Error {
  constructor(node: string) {
    super(
      `node ${node} is not a live member of the cluster (its heartbeat expired): it may not claim entities`,
    );
  }
}

export class RedisDirectory implements Directory {
  readonly #redis: Redis & Scripts;
  readonly #keys: ClusterKeys;
  readonly #standing: Standing;
  readonly #store: RedisSnapshotStore;
  readonly #hb: string;

  constructor(redis: Redis, keys: ClusterKeys, standing: Standing, store: RedisSnapshotStore) {
    const r = redis as Redis & Partial<Scripts>;
    if (r.troupeClaim === undefined) {
      redis.defineCommand('troupeClaim', { numberOfKeys: 2, lua: CLAIM });
      redis.defineCommand('troupeRelease', { numberOfKeys: 1, lua: RELEASE });
      redis.defineCommand('troupeOwner', { numberOfKeys: 1, lua: OWNER });
    }
    this.#redis = r as Redis & Scripts;
    this.#keys = keys;
    this.#standing = standing;
    this.#store = store;
    this.#hb = keys.heartbeat('');
  }

  async owner(kind: string, id: string): Promise<string | null> {
    const o = await this.#redis.troupeOwner(this.#keys.claim(kind, id), this.#hb);
    return o === '' ? null : o;
  }

  async claim(kind: string, id: string): Promise<Claim> {
    const s = this.#standing;
    const [r, owner, epoch] = await this.#redis.troupeClaim(
      this.#keys.claim(kind, id),
      this.#keys.activations,
      s.node,
      s.incarnation(),
      this.#hb,
      `${kind}/${id}`,
    );
    if (r === -1) throw new NotAMemberError(s.node);
    return { mine: r === 1, owner, epoch };
  }

  async release(kind: string, id: string, epoch: number): Promise<void> {
    const s = this.#standing;
    await this.#redis.troupeRelease(
      this.#keys.claim(kind, id),
      s.node,
      s.incarnation(),
      String(epoch),
    );
  }

  store(kind: string, id: string, epoch: number): PersistenceStore {
    const s = this.#standing;
    return this.#store.fenced({
      claimKey: this.#keys.claim(kind, id),
      epoch,
      node: s.node,
      incarnation: s.incarnation(),
    });
  }

  members(): readonly string[] {
    return this.#standing.members();
  }

  load(node: string): number {
    return this.#standing.load(node);
  }
}
