/**
 * Where a shared client's RPM and TPM buckets live. By default in the client's process
 * (`memoryLimiterStore`); with `redisLimiterStore` (redis-limiter.ts) in Redis, so that every
 * process and node using one API key draws from one pair of buckets (limits are per key, not
 * per process).
 *
 * The client (throttle.ts) keeps the limits — configured, and learned from the provider's
 * headers — and passes them, with its clock's `now`, on every call; the store keeps the
 * levels. Each method may answer at once or by a promise. A store that fails (Redis down)
 * does not stop the calls: the client lets the attempt through and counts the failure
 * (`state().limiterErrors`); the provider's own 429s then stand in.
 */
import { TokenBucket } from './token-bucket.ts';

/** Limits per minute; Infinity: none. */
export interface BucketLimits {
  readonly requests: number;
  readonly tokens: number;
}

export type MaybePromise<T> = T | Promise<T>;

export interface LimiterStore {
  /**
   * Takes one request and `tokens` when both buckets can pay them at `now`; else takes
   * nothing and answers how long until they could (ms > 0). 0: taken.
   */
  take(now: number, tokens: number, limits: BucketLimits): MaybePromise<number>;
  /** Gives back `requests` and `tokens` (negative: charges them). */
  give(now: number, requests: number, tokens: number, limits: BucketLimits): MaybePromise<void>;
  /** What the provider said is left of one limit, and in how long it is whole again. */
  observe(
    now: number,
    kind: 'requests' | 'tokens',
    remaining: number,
    resetMs: number | undefined,
    limits: BucketLimits,
  ): MaybePromise<void>;
}

/** Buckets in this process: the default, one per shared client. */
export function memoryLimiterStore(): LimiterStore {
  let requests: TokenBucket | undefined;
  let tokens: TokenBucket | undefined;
  const buckets = (now: number, limits: BucketLimits) => {
    requests = fit(requests, limits.requests, now);
    tokens = fit(tokens, limits.tokens, now);
    return { requests, tokens };
  };
  return {
    take(now, n, limits) {
      const b = buckets(now, limits);
      const wait = Math.max(b.requests.waitMs(1, now), b.tokens.waitMs(n, now));
      if (wait > 0) return wait;
      b.requests.take(1, now);
      b.tokens.take(n, now);
      return 0;
    },
    give(now, r, n, limits) {
      const b = buckets(now, limits);
      if (r !== 0) b.requests.give(r, now);
      if (n !== 0) b.tokens.give(n, now);
    },
    observe(now, kind, remaining, resetMs, limits) {
      buckets(now, limits)[kind].observe(remaining, resetMs, now);
    },
  };
}

function fit(bucket: TokenBucket | undefined, perMinute: number, now: number): TokenBucket {
  if (bucket === undefined) return new TokenBucket(perMinute, now);
  if (bucket.perMinute !== perMinute) bucket.limitTo(perMinute, now);
  return bucket;
}
