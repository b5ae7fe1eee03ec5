/**
 * Durable reminders of entities (`ctx.remindAt(time, msg)`, runtime/cluster/entities.ts):
 * at `time` the message is sent to the entity's address, which activates it if it was
 * passivated, on whichever node holds it then.
 *
 * - Alone (no cluster): kept in this process (timers); they do not outlive it.
 * - In a cluster: kept in Redis, a sorted set `troupe:{<cluster>}:reminders` by due time and
 *   a hash of their messages (in the ref codec's form), so they outlive the node that set
 *   them. Every node polls for due ones; taking a due reminder is one Lua script (removed as it
 *   is read), so each is sent by exactly one node.
 *
 * Time is the system's clock (runtime/core/clock.ts: epoch milliseconds), which is what a due time
 * is compared with, here and in Redis.
 *
 * Delivery is at-most-once, as every message's: a node that dies between taking a reminder and
 * sending it loses that one.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Address } from '../../protocol/address.ts';
import type { ClusterKeys } from './keys.ts';
import { systemClock, type Clock } from '../core/index.ts';
import { backgroundTimeout, every, type Repeating } from '../core/index.ts';

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Due reminders a node takes per poll at most. */
export const REMINDERS_PER_POLL = 256;

export interface Reminders {
  /** Keeps a reminder: `body` (ref-codec form) for `address` at `dueMs` (epoch milliseconds). */
  add(address: Address, dueMs: number, body: unknown): Promise<void>;
  /** Starts sending due reminders through `deliver`. */
  start(deliver: (address: Address, body: unknown) => void): void;
  close(): void;
}

export class LocalReminders implements Reminders {
  readonly #clock: Clock;
  readonly #timers = new Set<unknown>();
  #deliver: ((address: Address, body: unknown) => void) | null = null;

  /** `clock`: the system's (default: the real clock). */
  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
  }

  add(address: Address, dueMs: number, body: unknown): Promise<void> {
    const clock = this.#clock;
    // a timer waits at most 2^31-1 ms: a later one is armed again in steps
    const wait = Math.min(Math.max(0, dueMs - clock.now()), MAX_TIMER_MS);
    const t = backgroundTimeout(
      clock,
      () => {
        this.#timers.delete(t);
        if (clock.now() < dueMs) void this.add(address, dueMs, body);
        else this.#deliver?.(address, body);
      },
      wait,
    );
    this.#timers.add(t);
    return Promise.resolve();
  }

  start(deliver: (address: Address, body: unknown) => void): void {
    this.#deliver = deliver;
  }

  close(): void {
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#timers.clear();
  }
}

// KEYS[1] the due set, KEYS[2] the messages; ARGV: now, limit → [address, body, …]
const TAKE = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    local m = redis.call('HGET', KEYS[2], id)
    redis.call('HDEL', KEYS[2], id)
    if m then table.insert(out, m) end
  end
end
return out
`;

interface Scripts {
  troupeTakeReminders(due: string, messages: string, now: string, limit: string): Promise<string[]>;
}

export class RedisReminders implements Reminders {
  readonly #redis: Redis & Scripts;
  readonly #keys: ClusterKeys;
  readonly #pollMs: number;
  readonly #log: (m: string, e?: unknown) => void;
  readonly #clock: Clock;
  #timer: Repeating | null = null;
  #polling = false;

  /** `clock`: the system's (default: the real clock); it polls every `pollMs` on it. */
  constructor(
    redis: Redis,
    keys: ClusterKeys,
    pollMs: number,
    log: (m: string, e?: unknown) => void,
    clock: Clock = systemClock,
  ) {
    const r = redis as Redis & Partial<Scripts>;
    if (r.troupeTakeReminders === undefined)
      redis.defineCommand('troupeTakeReminders', { numberOfKeys: 2, lua: TAKE });
    this.#redis = r as Redis & Scripts;
    this.#keys = keys;
    this.#pollMs = pollMs;
    this.#log = log;
    this.#clock = clock;
  }

  get #messages(): string {
    return `${this.#keys.reminders}:messages`;
  }

  async add(address: Address, dueMs: number, body: unknown): Promise<void> {
    const id = randomBytes(12).toString('base64url');
    await this.#redis
      .multi()
      .hset(this.#messages, id, JSON.stringify([address, body]))
      .zadd(this.#keys.reminders, dueMs, id)
      .exec();
  }

  start(deliver: (address: Address, body: unknown) => void): void {
    const poll = async (): Promise<void> => {
      if (this.#polling) return;
      this.#polling = true;
      try {
        for (;;) {
          const taken = await this.#redis.troupeTakeReminders(
            this.#keys.reminders,
            this.#messages,
            String(this.#clock.now()),
            String(REMINDERS_PER_POLL),
          );
          for (const text of taken) {
            try {
              const [address, body] = JSON.parse(text) as [Address, unknown];
              deliver(address, body);
            } catch (e) {
              this.#log('troupe: a reminder could not be sent', e);
            }
          }
          if (taken.length < REMINDERS_PER_POLL) break;
        }
      } catch (e) {
        this.#log('troupe: reminders could not be read from Redis', e);
      } finally {
        this.#polling = false;
      }
    };
    this.#timer = every(this.#clock, this.#pollMs, () => void poll());
  }

  close(): void {
    this.#timer?.stop();
  }
}
