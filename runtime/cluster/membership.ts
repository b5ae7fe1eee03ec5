/**
 * Cluster membership on Redis.
 *
 * - Each node has a heartbeat key `troupe:{<cluster>}:hb:<node>` holding its incarnation (a
 *   fresh random id per process), with a TTL (`ttlMs`), renewed every `heartbeatMs` by a
 *   script that renews it only if it still holds this incarnation.
 * - The members hash (`…:members`) maps node → its record (url to dial, incarnation, its
 *   active entities); joins and leaves are published on `…:events`.
 * - Every node sweeps the members every `heartbeatMs`: one whose heartbeat key is gone (or
 *   holds another incarnation) is removed (by one script: exactly one node wins) and its
 *   leave published: it is down cluster-wide, and its entity claims no longer hold.
 * - A node that finds its own heartbeat gone (it was paused, or cut off from Redis, past its
 *   TTL) has been declared down: it is told (`lost`), then joins again as a new incarnation.
 *
 * Redis timing: these commands run on a client with a short command timeout and few retries
 * (runtime/cluster/cluster.ts), so an outage shows as failed beats within a second, not after
 * ioredis's default ~70 s; the node keeps beating and recovers when Redis is back.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ClusterKeys } from './keys.ts';
import { systemClock, type Clock } from '../core/index.ts';
import { every, type Repeating } from '../core/index.ts';

export interface MemberRecord {
  readonly node: string;
  /** Where the node's link server is reached (ws:// or wss://). */
  readonly url: string;
  readonly incarnation: string;
  /** Entities active on it when it last beat. */
  readonly load: number;
}

export interface MembershipHandlers {
  joined(m: MemberRecord): void;
  left(node: string, why: 'left' | 'expired'): void;
  /** This node's heartbeat was found gone: every claim it held is lost. */
  lost(): void;
  log(message: string, error?: unknown): void;
}

export interface MembershipOptions {
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  /** What the beats and the wait for a dead namesake run on (default: the real clock). */
  readonly clock?: Clock;
}

/** How often a node retries joining while a dead node of its name still holds the heartbeat. */
const NAME_TAKEN_RETRY_MS = 250;

// KEYS[1] hb, KEYS[2] members; ARGV: incarnation, ttl, node, record
const BEAT = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  return 1
end
return 0
`;

// KEYS[1] members; ARGV: node, incarnation, hb key → 1 when it was removed here
const EXPIRE = `
local r = redis.call('HGET', KEYS[1], ARGV[1])
if not r then return 0 end
local ok, m = pcall(cjson.decode, r)
if ok and m.incarnation ~= ARGV[2] then return 0 end
if redis.call('GET', ARGV[3]) == ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`;

interface Scripts {
  troupeBeat(
    hb: string,
    members: string,
    inc: string,
    ttl: string,
    node: string,
    record: string,
  ): Promise<number>;
  troupeExpire(members: string, node: string, inc: string, hb: string): Promise<number>;
}

type Event =
  | { readonly t: 'join'; readonly m: MemberRecord }
  | {
      readonly t: 'leave';
      readonly node: string;
      readonly incarnation: string;
      readonly why: 'left' | 'expired';
    };

export class Membership {
  readonly #redis: Redis & Scripts;
  readonly #sub: Redis;
  readonly #keys: ClusterKeys;
  readonly #options: MembershipOptions;
  readonly #handlers: MembershipHandlers;
  readonly node: string;
  readonly #url: () => string;
  #incarnation = newIncarnation();
  /** Live members (this node included once joined). */
  readonly #members = new Map<string, MemberRecord>();
  readonly #clock: Clock;
  #timer: Repeating | null = null;
  #load: () => number;
  #joined = false;
  #stopped = false;
  #beating = false;

  constructor(
    redis: Redis,
    sub: Redis,
    keys: ClusterKeys,
    self: { node: string; url: () => string; load: () => number },
    options: MembershipOptions,
    handlers: MembershipHandlers,
  ) {
    const r = redis as Redis & Partial<Scripts>;
    if (r.troupeBeat === undefined) {
      redis.defineCommand('troupeBeat', { numberOfKeys: 2, lua: BEAT });
      redis.defineCommand('troupeExpire', { numberOfKeys: 1, lua: EXPIRE });
    }
    this.#redis = r as Redis & Scripts;
    this.#sub = sub;
    this.#keys = keys;
    this.node = self.node;
    this.#url = self.url;
    this.#load = self.load;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#handlers = handlers;
  }

  incarnation(): string {
    return this.#incarnation;
  }

  /** The live members' ids, sorted (this node's included). */
  members(): readonly string[] {
    return [...this.#members.keys()].sort();
  }

  record(node: string): MemberRecord | undefined {
    return this.#members.get(node);
  }

  load(node: string): number {
    return this.#members.get(node)?.load ?? Infinity;
  }

  #self(): MemberRecord {
    return {
      node: this.node,
      url: this.#url(),
      incarnation: this.#incarnation,
      load: this.#load(),
    };
  }

  /** Joins: heartbeat, record, the others; resolves once this node is a member. */
  async join(): Promise<void> {
    this.#sub.on('message', (channel: string, text: string) => {
      if (channel === this.#keys.events) this.#event(text);
    });
    await this.#sub.subscribe(this.#keys.events);
    // a node of this name that died may still hold its heartbeat: wait it out, once
    const clock = this.#clock;
    const until = clock.now() + this.#options.ttlMs + this.#options.heartbeatMs;
    for (;;) {
      try {
        await this.#register();
        break;
      } catch (e) {
        if (!(e instanceof NameTakenError) || clock.now() > until) throw e;
        await new Promise<void>((r) => clock.setTimeout(r, NAME_TAKEN_RETRY_MS));
      }
    }
    this.#timer = every(clock, this.#options.heartbeatMs, () => void this.#tick());
  }

  async #register(): Promise<void> {
    const me = this.#self();
    const k = this.#keys;
    const busy = await this.#redis.set(
      k.heartbeat(this.node),
      me.incarnation,
      'PX',
      this.#options.ttlMs,
      'NX',
    );
    if (busy === null)
      throw new NameTakenError(
        `a live node named ${this.node} is already a member of cluster ${k.name} (its heartbeat holds); pick another name or wait ${this.#options.ttlMs} ms`,
      );
    await this.#redis.hset(k.members, this.node, JSON.stringify(me));
    this.#members.set(this.node, me);
    this.#joined = true;
    await this.#redis.publish(k.events, JSON.stringify({ t: 'join', m: me } satisfies Event));
    await this.#sweep();
  }

  /** Stops beating (the node ends without leaving: its heartbeat expires). */
  stop(): void {
    this.#stopped = true;
    this.#timer?.stop();
  }

  /** Leaves: no heartbeat, no record; the others are told. */
  async leave(): Promise<void> {
    this.#stopped = true;
    this.#timer?.stop();
    if (!this.#joined) return;
    const k = this.#keys;
    try {
      if ((await this.#redis.get(k.heartbeat(this.node))) === this.#incarnation) {
        await this.#redis.del(k.heartbeat(this.node));
        await this.#redis.hdel(k.members, this.node);
        await this.#redis.publish(
          k.events,
          JSON.stringify({
            t: 'leave',
            node: this.node,
            incarnation: this.#incarnation,
            why: 'left',
          } satisfies Event),
        );
      }
    } catch (e) {
      this.#handlers.log(`troupe: node ${this.node} could not leave cluster ${k.name} cleanly`, e);
    }
    await this.#sub.unsubscribe(this.#keys.events).catch(() => undefined);
  }

  async #tick(): Promise<void> {
    if (this.#beating || this.#stopped) return;
    this.#beating = true;
    try {
      const k = this.#keys;
      const me = this.#self();
      const ok = await this.#redis.troupeBeat(
        k.heartbeat(this.node),
        k.members,
        me.incarnation,
        String(this.#options.ttlMs),
        this.node,
        JSON.stringify(me),
      );
      if (ok === 0 && !this.#stopped) {
        // declared down while it could not beat: every claim is gone; join again, anew
        this.#handlers.log(
          `troupe: node ${this.node}: its heartbeat expired; it was declared down and joins again`,
        );
        this.#handlers.lost();
        this.#incarnation = newIncarnation();
        const before = [...this.#members.keys()];
        this.#members.clear();
        await this.#register();
        // who went while this node could not see: gone for it too
        for (const node of before)
          if (node !== this.node && !this.#members.has(node)) this.#handlers.left(node, 'expired');
        return;
      }
      this.#members.set(this.node, me);
      await this.#sweep();
    } catch (e) {
      this.#handlers.log(`troupe: node ${this.node}: a heartbeat to Redis failed`, e);
    } finally {
      this.#beating = false;
    }
  }

  /** Reads the members: new ones joined; expired ones are removed (and their leave published). */
  async #sweep(): Promise<void> {
    const k = this.#keys;
    // only members known before this sweep's reads may be found gone by it (one that joins
    // meanwhile is not in what it read)
    const before = new Map([...this.#members].map(([n, m]) => [n, m.incarnation]));
    const all = await this.#redis.hgetall(k.members);
    const seen = new Set<string>();
    const records: MemberRecord[] = [];
    for (const text of Object.values(all)) {
      let m: MemberRecord;
      try {
        m = JSON.parse(text) as MemberRecord;
      } catch {
        continue;
      }
      records.push(m);
    }
    const beats =
      records.length === 0 ? [] : await this.#redis.mget(records.map((m) => k.heartbeat(m.node)));
    for (let i = 0; i < records.length; i++) {
      const m = records[i]!;
      if (m.node === this.node) {
        seen.add(m.node);
        continue;
      }
      if (beats[i] === m.incarnation) {
        seen.add(m.node);
        const had = this.#members.get(m.node);
        this.#members.set(m.node, m);
        if (had === undefined || had.incarnation !== m.incarnation) this.#handlers.joined(m);
        continue;
      }
      // its heartbeat is gone: one node removes it and tells everyone
      if (
        (await this.#redis.troupeExpire(k.members, m.node, m.incarnation, k.heartbeat(m.node))) ===
        1
      )
        await this.#redis.publish(
          k.events,
          JSON.stringify({
            t: 'leave',
            node: m.node,
            incarnation: m.incarnation,
            why: 'expired',
          } satisfies Event),
        );
    }
    for (const [node, m] of [...this.#members])
      if (!seen.has(node) && node !== this.node && before.get(node) === m.incarnation)
        this.#gone(node, 'expired');
  }

  #event(text: string): void {
    let e: Event;
    try {
      e = JSON.parse(text) as Event;
    } catch {
      return;
    }
    if (!validEvent(e)) return;
    if (this.#stopped) return;
    if (e.t === 'join' && e.m.node !== this.node) {
      const had = this.#members.get(e.m.node);
      this.#members.set(e.m.node, e.m);
      if (had === undefined || had.incarnation !== e.m.incarnation) this.#handlers.joined(e.m);
    } else if (e.t === 'leave' && e.node !== this.node) {
      if (this.#members.get(e.node)?.incarnation === e.incarnation) this.#gone(e.node, e.why);
    }
  }

  #gone(node: string, why: 'left' | 'expired'): void {
    if (!this.#members.delete(node)) return;
    this.#handlers.left(node, why);
  }
}

/** A node of this name holds its heartbeat (alive, or dead less than its TTL ago). */
export class NameTakenError extends Error {}

function validEvent(e: unknown): e is Event {
  if (typeof e !== 'object' || e === null) return false;
  const x = e as Record<string, unknown>;
  if (x.t === 'join') {
    const m = x.m as Record<string, unknown> | null;
    return (
      typeof m === 'object' &&
      m !== null &&
      typeof m.node === 'string' &&
      typeof m.url === 'string' &&
      typeof m.incarnation === 'string' &&
      typeof m.load === 'number'
    );
  }
  return (
    x.t === 'leave' &&
    typeof x.node === 'string' &&
    typeof x.incarnation === 'string' &&
    (x.why === 'left' || x.why === 'expired')
  );
}

function newIncarnation(): string {
  return randomBytes(9).toString('base64url');
}
