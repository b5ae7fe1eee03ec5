/**
 * The options of a shared provider client (shared-model.ts), their defaults (in one
 * constant, SHARED_MODEL_DEFAULTS) and their check: one small validator per field, each
 * throwing InvalidOptionError naming the field (`options.retry.maxMs`); an unknown key is
 * refused too (a misspelt limit must not pass as no limit).
 *
 * | option                      | default     | what                                                        |
 * | --------------------------- | ----------- | ----------------------------------------------------------- |
 * | `name`                      | provider's  | the client's name in logs and errors (and agents' default modelName) |
 * | `maxConcurrent`             | 64          | calls in flight at once (integer ≥ 1)                       |
 * | `maxQueued`                 | 10,000      | calls waiting for a slot, FIFO (integer ≥ 0 or Infinity)    |
 * | `requestsPerMinute`         | Infinity    | RPM bucket (> 0); also learned from `x-ratelimit-*`         |
 * | `tokensPerMinute`           | Infinity    | TPM bucket (> 0); also learned from `x-ratelimit-*`         |
 * | `learnLimits`               | true        | read the provider's `x-ratelimit-*` headers                 |
 * | `callTimeoutMs`             | 60,000      | one attempt's time before it is aborted                     |
 * | `maxRetryAfterMs`           | 60,000      | the longest pause a `Retry-After` may impose                |
 * | `retry.attempts`            | 3           | attempts of one call, the first included (integer ≥ 1)      |
 * | `retry.baseMs`              | 500         | full-jitter backoff base                                    |
 * | `retry.maxMs`               | 20,000      | full-jitter backoff ceiling (≥ baseMs)                      |
 * | `breaker.openAfterFailures` | 5           | availability failures in a row that open it (≥ 1, or Infinity: never) |
 * | `breaker.resetMs`           | 10,000      | open for this long, then one probe                          |
 * | `fallbacks`                 | []          | ordered `{ provider, model? }` tried when this one is unavailable |
 * | `limiter`                   | in memory   | where the RPM/TPM buckets live (limiter-store.ts; Redis: redis-limiter.ts) |
 * | `clock`                     | systemClock | all time: now and timers                                    |
 * | `random`                    | Math.random | the jitter's source, [0, 1)                                 |
 */
import { InvalidOptionError, onlyKnownOptions, optionObject } from '../../../runtime/core/error.ts';
import { systemClock, type Clock } from '../../../runtime/core/clock.ts';
import type { CallReply, CallRequest, Provider } from './call.ts';
import type { RetrySettings } from './backoff.ts';
import { memoryLimiterStore, type LimiterStore } from './limiter-store.ts';

/** A provider to try when the one before it is unavailable; `model` replaces the request's. */
export interface FallbackRoute<
  Q extends CallRequest = CallRequest,
  R extends CallReply = CallReply,
> {
  readonly provider: Provider<Q, R>;
  readonly model?: string;
}

export interface SharedModelOptions<
  Q extends CallRequest = CallRequest,
  R extends CallReply = CallReply,
> {
  readonly name?: string;
  readonly maxConcurrent?: number;
  readonly maxQueued?: number;
  readonly requestsPerMinute?: number;
  readonly tokensPerMinute?: number;
  readonly learnLimits?: boolean;
  readonly callTimeoutMs?: number;
  readonly maxRetryAfterMs?: number;
  readonly retry?: {
    readonly attempts?: number;
    readonly baseMs?: number;
    readonly maxMs?: number;
  };
  readonly breaker?: { readonly openAfterFailures?: number; readonly resetMs?: number };
  readonly fallbacks?: readonly FallbackRoute<Q, R>[];
  readonly limiter?: LimiterStore;
  readonly clock?: Clock;
  readonly random?: () => number;
}

export const SHARED_MODEL_DEFAULTS = {
  maxConcurrent: 64,
  maxQueued: 10_000,
  requestsPerMinute: Infinity,
  tokensPerMinute: Infinity,
  learnLimits: true,
  callTimeoutMs: 60_000,
  maxRetryAfterMs: 60_000,
  retry: { attempts: 3, baseMs: 500, maxMs: 20_000 },
  breaker: { openAfterFailures: 5, resetMs: 10_000 },
} as const;

/** The options checked, with their defaults. */
export interface SharedModelSettings<Q extends CallRequest, R extends CallReply> {
  readonly name: string;
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly requestsPerMinute: number;
  readonly tokensPerMinute: number;
  readonly learnLimits: boolean;
  readonly callTimeoutMs: number;
  readonly maxRetryAfterMs: number;
  readonly retry: RetrySettings;
  readonly breaker: { readonly openAfterFailures: number; readonly resetMs: number };
  readonly fallbacks: readonly FallbackRoute<Q, R>[];
  readonly limiter: LimiterStore;
  readonly clock: Clock;
  readonly random: () => number;
}

const KEYS = [
  'name',
  'maxConcurrent',
  'maxQueued',
  'requestsPerMinute',
  'tokensPerMinute',
  'learnLimits',
  'callTimeoutMs',
  'maxRetryAfterMs',
  'retry',
  'breaker',
  'fallbacks',
  'limiter',
  'clock',
  'random',
];

/** `provider` and `options` checked and merged with the defaults. */
export function sharedModelSettings<Q extends CallRequest, R extends CallReply>(
  provider: Provider<Q, R>,
  options: SharedModelOptions<Q, R> | undefined,
): SharedModelSettings<Q, R> {
  providerOf('provider', provider);
  const o = optionObject('options', options ?? {});
  onlyKnownOptions('options', o, KEYS);
  const d = SHARED_MODEL_DEFAULTS;
  const r = optionObject('options.retry', o.retry ?? {});
  onlyKnownOptions('options.retry', r, ['attempts', 'baseMs', 'maxMs']);
  const b = optionObject('options.breaker', o.breaker ?? {});
  onlyKnownOptions('options.breaker', b, ['openAfterFailures', 'resetMs']);
  const baseMs = millis('options.retry.baseMs', r.baseMs ?? d.retry.baseMs, true);
  return {
    name: nameOf(o.name ?? provider.name),
    maxConcurrent: integer('options.maxConcurrent', o.maxConcurrent ?? d.maxConcurrent, 1, false),
    maxQueued: integer('options.maxQueued', o.maxQueued ?? d.maxQueued, 0, true),
    requestsPerMinute: rate(
      'options.requestsPerMinute',
      o.requestsPerMinute ?? d.requestsPerMinute,
    ),
    tokensPerMinute: rate('options.tokensPerMinute', o.tokensPerMinute ?? d.tokensPerMinute),
    learnLimits: flag('options.learnLimits', o.learnLimits ?? d.learnLimits),
    callTimeoutMs: millis('options.callTimeoutMs', o.callTimeoutMs ?? d.callTimeoutMs, false),
    maxRetryAfterMs: millis(
      'options.maxRetryAfterMs',
      o.maxRetryAfterMs ?? d.maxRetryAfterMs,
      true,
    ),
    retry: {
      attempts: integer('options.retry.attempts', r.attempts ?? d.retry.attempts, 1, false),
      baseMs,
      maxMs: maxMsOf(r.maxMs ?? d.retry.maxMs, baseMs),
    },
    breaker: {
      openAfterFailures: integer(
        'options.breaker.openAfterFailures',
        b.openAfterFailures ?? d.breaker.openAfterFailures,
        1,
        true,
      ),
      resetMs: millis('options.breaker.resetMs', b.resetMs ?? d.breaker.resetMs, false),
    },
    fallbacks: fallbacksOf(o.fallbacks ?? []) as readonly FallbackRoute<Q, R>[],
    limiter: limiterOf(o.limiter ?? memoryLimiterStore()),
    clock: clockOf(o.clock ?? systemClock),
    random: randomOf(o.random ?? Math.random),
  };
}

function providerOf(field: string, v: unknown): void {
  if (typeof (v as Provider | undefined)?.complete !== 'function')
    throw new InvalidOptionError(field, v, 'a model provider (an object with complete())');
}

function nameOf(v: unknown): string {
  if (typeof v !== 'string' || v === '')
    throw new InvalidOptionError('options.name', v, 'a non-empty string');
  return v;
}

function integer(field: string, v: unknown, min: number, infinite: boolean): number {
  if (infinite && v === Infinity) return v;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new InvalidOptionError(field, v, `an integer ≥ ${min}${infinite ? ' or Infinity' : ''}`);
  return v;
}

function rate(field: string, v: unknown): number {
  if (v === Infinity) return v;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw new InvalidOptionError(field, v, 'a number > 0 per minute, or Infinity');
  return v;
}

function millis(field: string, v: unknown, zero: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!zero && v === 0))
    throw new InvalidOptionError(field, v, `a finite number of ms ${zero ? '≥' : '>'} 0`);
  return v;
}

function maxMsOf(v: unknown, baseMs: number): number {
  const ms = millis('options.retry.maxMs', v, true);
  if (ms < baseMs)
    throw new InvalidOptionError('options.retry.maxMs', v, `≥ options.retry.baseMs (${baseMs})`);
  return ms;
}

function flag(field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new InvalidOptionError(field, v, 'true or false');
  return v;
}

function fallbacksOf(v: unknown): readonly FallbackRoute[] {
  if (!Array.isArray(v)) throw new InvalidOptionError('options.fallbacks', v, 'an array');
  return v.map((route: unknown, i) => {
    const field = `options.fallbacks[${i}]`;
    const r = optionObject(field, route);
    onlyKnownOptions(field, r, ['provider', 'model']);
    providerOf(`${field}.provider`, r.provider);
    if (r.model !== undefined && (typeof r.model !== 'string' || r.model === ''))
      throw new InvalidOptionError(`${field}.model`, r.model, 'a non-empty string');
    return r as unknown as FallbackRoute;
  });
}

function clockOf(v: unknown): Clock {
  const c = v as Partial<Clock> | null;
  if (
    typeof c?.now !== 'function' ||
    typeof c.setTimeout !== 'function' ||
    typeof c.clearTimeout !== 'function'
  )
    throw new InvalidOptionError('options.clock', v, 'a Clock (now, setTimeout, clearTimeout)');
  return c as Clock;
}

function limiterOf(v: unknown): LimiterStore {
  const l = v as Partial<LimiterStore> | null;
  if (
    typeof l?.take !== 'function' ||
    typeof l.give !== 'function' ||
    typeof l.observe !== 'function'
  )
    throw new InvalidOptionError('options.limiter', v, 'a LimiterStore (take, give, observe)');
  return l as LimiterStore;
}

function randomOf(v: unknown): () => number {
  if (typeof v !== 'function') throw new InvalidOptionError('options.random', v, 'a function');
  return v as () => number;
}
