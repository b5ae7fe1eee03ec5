/**
 * A node in a cluster on Redis (`createSystem({ node, secret, cluster: { redis, name } })`):
 * membership (runtime/cluster/membership.ts) drives the node links (runtime/nodes: the
 * members are dialled as they appear, dropped as they leave), and the entities' directory and
 * snapshots are in Redis (runtime/cluster/directory.ts, redis-store.ts).
 *
 * Redis clients: one for commands, with a short command timeout and one retry (heartbeats and
 * claims must fail fast in an outage, not wait ioredis's ~70 s), and its duplicate for pub/sub.
 * Both reconnect on their own (backoff up to 2 s); while Redis is away, heartbeats fail and
 * are logged, an active entity runs until its next snapshot save fails (it then stops, and
 * its messages wait for Redis), and new activations fail (their messages go to dead letters
 * with the error).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { clusterKeys, type ClusterKeys } from './keys.ts';
import { Membership, type MemberRecord } from './membership.ts';
import { RedisDirectory } from './directory.ts';
import { RedisSnapshotStore } from './redis-store.ts';
import { RedisReminders } from './reminders.ts';
import { systemClock, type Clock } from '../core/index.ts';

export interface ClusterSettings {
  /** A Redis URL (`redis://host:port/db`) or ioredis options. */
  readonly redis: string | RedisOptions;
  readonly name: string;
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  /** Redis commands time out after this many milliseconds. */
  readonly commandTimeoutMs: number;
}

export interface ClusterHooks {
  /** A member appeared: link to it (this node dials it when its id sorts after this one's). */
  joined(m: MemberRecord): void;
  /** A member left or expired. */
  left(node: string, why: 'left' | 'expired'): void;
  /** This node was declared down while it could not beat: its claims are gone. */
  lost(): void;
  log(message: string, error?: unknown): void;
  /** Entities active here (its load, for least-loaded placement). */
  load(): number;
}

export class ClusterRuntime {
  readonly keys: ClusterKeys;
  readonly redis: Redis;
  readonly #sub: Redis;
  readonly membership: Membership;
  readonly store: RedisSnapshotStore;
  readonly directory: RedisDirectory;
  readonly reminders: RedisReminders;

  /** `url`: where this node is dialled (known once it listens). */
  /** `clock`: the system's (default: the real clock): membership and reminders run on it. */
  constructor(
    node: string,
    url: () => string,
    settings: ClusterSettings,
    hooks: ClusterHooks,
    clock: Clock = systemClock,
  ) {
    this.keys = clusterKeys(settings.name);
    const base: RedisOptions = {
      commandTimeout: settings.commandTimeoutMs,
      maxRetriesPerRequest: 1,
      connectTimeout: Math.max(1_000, settings.commandTimeoutMs * 2),
      retryStrategy: (times) => Math.min(50 * 2 ** times, 2_000),
      lazyConnect: true,
      // commands made in one turn go in one write (activations make several each): measured
      // with bench/cluster.ts entity-activate
      enableAutoPipelining: true,
    };
    this.redis =
      typeof settings.redis === 'string'
        ? new Redis(settings.redis, base)
        : new Redis({ ...settings.redis, ...base });
    this.#sub = this.redis.duplicate({
      commandTimeout: undefined,
      maxRetriesPerRequest: null,
      enableAutoPipelining: false,
    });
    for (const [what, c] of [
      ['commands', this.redis],
      ['pub/sub', this.#sub],
    ] as const)
      c.on('error', (e: Error) =>
        hooks.log(`troupe: cluster ${settings.name}: Redis (${what}): ${e.message}`),
      );
    this.store = new RedisSnapshotStore(this.redis, this.keys);
    this.membership = new Membership(
      this.redis,
      this.#sub,
      this.keys,
      { node, url, load: hooks.load },
      { heartbeatMs: settings.heartbeatMs, ttlMs: settings.ttlMs, clock },
      hooks,
    );
    this.directory = new RedisDirectory(this.redis, this.keys, this.membership, this.store);
    this.reminders = new RedisReminders(
      this.redis,
      this.keys,
      Math.min(settings.heartbeatMs, 250),
      (m, e) => hooks.log(m, e),
      clock,
    );
  }

  /** Connects and joins. */
  async start(): Promise<void> {
    await Promise.all([this.redis.connect(), this.#sub.connect()]);
    await this.membership.join();
  }

  /** Leaves the membership (the entities were passivated first, by the caller). */
  async leave(): Promise<void> {
    await this.membership.leave();
  }

  /** Closes the Redis clients (membership stops beating first). */
  async close(): Promise<void> {
    this.membership.stop();
    await Promise.all(
      [this.redis, this.#sub].map(async (c) => {
        if (c.status === 'end') return;
        await c.quit().catch(() => c.disconnect());
      }),
    );
  }
}
