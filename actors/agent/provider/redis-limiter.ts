/**
 * A shared client's RPM and TPM buckets in Redis (a LimiterStore, limiter-store.ts), so that
 * every process and node calling one provider with one API key draws from one pair of
 * buckets: limits are per key, not per process.
 *
 * Two hashes, `<prefix>:{<key>}:requests` and `…:tokens` (one hash tag: one slot, so a
 * script may touch both in a cluster), each `level`, `at` (ms) and, after a provider said
 * when its limit is whole again, `whole` (ms). Each operation is one Lua script, atomic in
 * Redis, doing the sums of token-bucket.ts (the same semantics as the in-memory store): take
 * both or neither, give back, observe. The time is the caller's clock (`now` in each call):
 * nodes' clocks should agree to a few ms; time going back refills nothing. A bucket untouched
 * for `idleTtlMs` (default 10 minutes) expires, and a missing bucket is full.
 *
 * `key` names the buckets: one per endpoint and API key (a hash of the key, never the key).
 * The client is yours: give it a `commandTimeout` and a low `maxRetriesPerRequest` (see
 * DEPENDENCIES.md) so that Redis being down fails a take quickly — the shared client then
 * lets the attempt through and counts it (`state().limiterErrors`).
 */
import type { Redis } from 'ioredis';
import { InvalidOptionError } from '../../../runtime/core/error.ts';
import type { BucketLimits, LimiterStore } from './limiter-store.ts';
import { NEXT_WINDOW_MS } from './token-bucket.ts';

export interface RedisLimiterOptions {
  /** The buckets' name: one per endpoint and API key. Required, non-empty, no `{` or `}`. */
  readonly key: string;
  /** Default `troupe:limits`. */
  readonly prefix?: string;
  /** Default 600,000 (10 minutes). */
  readonly idleTtlMs?: number;
}

export const REDIS_LIMITER_DEFAULTS = { prefix: 'troupe:limits', idleTtlMs: 600_000 } as const;

/** What every script starts with: ARGV[1] now, ARGV[2] ttl; load, save and the wait. */
const COMMON = `
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local function load(key, cap)
  local h = redis.call('HMGET', key, 'level', 'at', 'whole')
  local level, at, whole = tonumber(h[1]), tonumber(h[2]), tonumber(h[3])
  if level == nil then return cap, now, nil end
  if at == nil then at = now end
  local later = math.max(at, now)
  if whole ~= nil then
    if now < whole then return math.min(level, cap), later, whole end
    return cap, later, nil
  end
  if now > at then level = level + (now - at) * cap / 60000 end
  return math.min(level, cap), later, nil
end
local function save(key, level, at, whole)
  if whole == nil then
    redis.call('HSET', key, 'level', level, 'at', at)
    redis.call('HDEL', key, 'whole')
  else
    redis.call('HSET', key, 'level', level, 'at', at, 'whole', whole)
  end
  redis.call('PEXPIRE', key, ttl)
end
local function waitFor(level, whole, need, cap)
  local n = math.min(need, cap)
  if level >= n then return 0 end
  if whole ~= nil then return math.max(1, whole - now) end
  return math.ceil((n - level) * 60000 / cap)
end
`;

/** KEYS: requests, tokens. ARGV[3] tokens, [4] RPM, [5] TPM ('none': no limit). */
const TAKE = `${COMMON}
local need = tonumber(ARGV[3])
local rpm, tpm = tonumber(ARGV[4]), tonumber(ARGV[5])
local wait = 0
local rl, ra, rw, tl, ta, tw
if rpm then
  rl, ra, rw = load(KEYS[1], rpm)
  wait = math.max(wait, waitFor(rl, rw, 1, rpm))
end
if tpm then
  tl, ta, tw = load(KEYS[2], tpm)
  wait = math.max(wait, waitFor(tl, tw, need, tpm))
end
if wait > 0 then return wait end
if rpm then save(KEYS[1], rl - 1, ra, rw) end
if tpm then save(KEYS[2], tl - need, ta, tw) end
return 0
`;

/** KEYS: requests, tokens. ARGV[3] requests, [4] tokens, [5] RPM, [6] TPM. */
const GIVE = `${COMMON}
local function give(key, cap, n)
  if cap == nil or n == 0 then return end
  local l, a, w = load(key, cap)
  save(key, math.min(cap, l + n), a, w)
end
give(KEYS[1], tonumber(ARGV[5]), tonumber(ARGV[3]))
give(KEYS[2], tonumber(ARGV[6]), tonumber(ARGV[4]))
return 0
`;

/** KEYS: the bucket. ARGV[3] remaining, [4] resetMs ('none'), [5] its limit ('none'). */
const OBSERVE = `${COMMON}
local cap = tonumber(ARGV[5])
if cap == nil then return 0 end
local l, a, w = load(KEYS[1], cap)
local remaining = tonumber(ARGV[3])
local reset = tonumber(ARGV[4])
local nw = nil
if reset ~= nil and reset > 0 then nw = now + reset end
-- a reset past the known one: the provider's next window, its remaining its own (token-bucket.ts)
if nw ~= nil and w ~= nil and nw > w + tonumber(ARGV[6]) then
  l = math.min(cap, remaining)
else
  l = math.min(l, remaining)
end
if nw ~= nil then w = nw end
save(KEYS[1], l, a, w)
return 0
`;

interface Scripts {
  troupeLimitTake(r: string, t: string, ...argv: string[]): Promise<number>;
  troupeLimitGive(r: string, t: string, ...argv: string[]): Promise<number>;
  troupeLimitObserve(key: string, ...argv: string[]): Promise<number>;
}

function scripts(redis: Redis): Redis & Scripts {
  const r = redis as Redis & Partial<Scripts>;
  if (r.troupeLimitTake === undefined) {
    redis.defineCommand('troupeLimitTake', { numberOfKeys: 2, lua: TAKE });
    redis.defineCommand('troupeLimitGive', { numberOfKeys: 2, lua: GIVE });
    redis.defineCommand('troupeLimitObserve', { numberOfKeys: 1, lua: OBSERVE });
  }
  return r as Redis & Scripts;
}

const limit = (n: number) => (n === Infinity ? 'none' : String(n));

/** The buckets named `options.key` in `redis`; throws InvalidOptionError naming a bad option. */
export function redisLimiterStore(
  redis: Redis,
  options: RedisLimiterOptions,
): LimiterStore & { readonly keys: readonly [string, string] } {
  if (typeof (redis as Partial<Redis> | null)?.defineCommand !== 'function')
    throw new InvalidOptionError('redis', redis, 'an ioredis client');
  const { key } = options;
  if (typeof key !== 'string' || key === '' || /[{}]/.test(key))
    throw new InvalidOptionError('options.key', key, 'a non-empty string without { or }');
  const prefix = options.prefix ?? REDIS_LIMITER_DEFAULTS.prefix;
  if (typeof prefix !== 'string' || prefix === '')
    throw new InvalidOptionError('options.prefix', prefix, 'a non-empty string');
  const ttl = options.idleTtlMs ?? REDIS_LIMITER_DEFAULTS.idleTtlMs;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1)
    throw new InvalidOptionError('options.idleTtlMs', ttl, 'an integer of ms ≥ 1');
  const r = scripts(redis);
  const keys = [`${prefix}:{${key}}:requests`, `${prefix}:{${key}}:tokens`] as const;
  const head = (now: number) => [String(now), String(ttl)];
  return {
    keys,
    take: (now: number, tokens: number, l: BucketLimits) =>
      r.troupeLimitTake(...keys, ...head(now), String(tokens), limit(l.requests), limit(l.tokens)),
    async give(now, requests, tokens, l) {
      await r.troupeLimitGive(
        ...keys,
        ...head(now),
        String(requests),
        String(tokens),
        limit(l.requests),
        limit(l.tokens),
      );
    },
    async observe(now, kind, remaining, resetMs, l) {
      await r.troupeLimitObserve(
        kind === 'requests' ? keys[0] : keys[1],
        ...head(now),
        String(remaining),
        resetMs === undefined ? 'none' : String(resetMs),
        limit(l[kind]),
        String(NEXT_WINDOW_MS),
      );
    },
  };
}
