/**
 * `sharedModel(provider, options)`: one client for one endpoint and API key, shared by every
 * agent that calls it, as a ModelProvider (agents take it as their `model`, unchanged). Limits
 * are per API key, not per agent: make ONE per endpoint + key and pass it to every agent's
 * config (or keep them in a registry: registry.ts). The options and their
 * defaults are in options.ts. A call goes through, in order:
 *
 * 1. the circuit breaker (breaker.ts): open, the call fails fast with
 *    ProviderUnavailableError (retryable: the agent's own retry waits), or goes to the
 *    fallbacks;
 * 2. the concurrency cap (gate.ts): `maxConcurrent` calls in flight (default 64), the rest
 *    wait FIFO, at most `maxQueued`; a call keeps its slot through its retries;
 * 3. for each attempt, the throttle (throttle.ts): a `Retry-After` pause, then the RPM and TPM
 *    buckets (TPM charged the estimate of estimate.ts, reconciled with the reply's usage),
 *    kept in this process or, with `limiter: redisLimiterStore(…)`, in Redis for every
 *    process on the key (limiter-store.ts, redis-limiter.ts);
 * 4. the breaker again (half-open: one probe at a time), then the provider, with the
 *    request's signal and a `callTimeoutMs` timer (ProviderTimeoutError);
 * 5. on a retryable failure (`ModelCallError.retryable`; availability.ts), a full-jitter
 *    backoff (backoff.ts) and another attempt, up to `retry.attempts`.
 *
 * What the provider's answer says is learned: `x-ratelimit-*` headers (on replies and
 * errors: `rateLimitHeaders`) set and cut the buckets; on a 429 or 503 with `Retry-After`
 * (or `retry-after-ms`) the WHOLE client pauses until then (at most `maxRetryAfterMs`): no
 * attempt of any call starts before it ends.
 *
 * The request's signal aborting ends the call wherever it is: a waiting call leaves its
 * queue, a running attempt is aborted; it rejects with ProviderCallAbortedError. All time is
 * the `clock`'s; nothing here sleeps for real.
 */
import type { CallReply, CallRequest, Provider } from './call.ts';
import { ModelCallError } from './model-call-error.ts';
import { retryable, verdictOf } from './availability.ts';
import { fullJitterMs, sleep } from './backoff.ts';
import { CircuitBreaker, type Admission, type BreakerState } from './breaker.ts';
import {
  ProviderCallAbortedError,
  ProviderTimeoutError,
  ProviderUnavailableError,
} from './errors.ts';
import { estimateRequestTokens } from './estimate.ts';
import { withFallbacks } from './fallback.ts';
import { ConcurrencyGate } from './gate.ts';
import { sharedModelSettings, type SharedModelOptions } from './options.ts';
import { retryAfterMsOf } from './rate-limit-headers.ts';
import { Throttle } from './throttle.ts';

/** What a shared client is doing now (for metrics and tests). */
export interface SharedModelState {
  readonly inFlight: number;
  readonly queued: number;
  readonly breaker: BreakerState;
  /** Availability failures in a row. */
  readonly failures: number;
  /** Until when (the clock's ms) a Retry-After pauses it; null when not paused. */
  readonly pausedUntil: number | null;
  /** The limits in force, configured or learned (Infinity: none). */
  readonly requestsPerMinute: number;
  readonly tokensPerMinute: number;
  /** Calls to the limiter store that failed (each let its attempt through). */
  readonly limiterErrors: number;
}

/** A shared client: a provider of the same requests and replies as the one it wraps. */
export interface SharedModel<
  Q extends CallRequest = CallRequest,
  R extends CallReply = CallReply,
> extends Provider<Q, R> {
  state(): SharedModelState;
}

/** Statuses whose Retry-After pauses the whole client. */
const PAUSING_STATUSES = new Set([429, 503]);

/** A shared client around `provider`; throws InvalidOptionError naming a bad option. */
export function sharedModel<Q extends CallRequest, R extends CallReply>(
  provider: Provider<Q, R>,
  options?: SharedModelOptions<Q, R>,
): SharedModel<Q, R> {
  const s = sharedModelSettings(provider, options);
  const { clock, name } = s;
  const gate = new ConcurrencyGate(name, s.maxConcurrent, s.maxQueued);
  const throttle = new Throttle(
    name,
    clock,
    { requests: s.requestsPerMinute, tokens: s.tokensPerMinute },
    s.limiter,
  );
  const breaker = new CircuitBreaker(clock, s.breaker.openAfterFailures, s.breaker.resetMs);

  const unavailable = (cause?: unknown) =>
    new ProviderUnavailableError(name, breaker.retryInMs(), cause);

  /** One attempt: the provider, raced against the caller's signal and callTimeoutMs. */
  const attempt = (request: Q): Promise<R> =>
    new Promise((resolve, reject) => {
      const abort = new AbortController();
      const caller = request.signal;
      let done = false;
      const finish = (settle: () => void) => {
        if (done) return;
        done = true;
        clock.clearTimeout(timer);
        caller?.removeEventListener('abort', onAbort);
        settle();
      };
      const onAbort = () => {
        abort.abort(caller!.reason);
        finish(() => reject(new ProviderCallAbortedError(name, caller!)));
      };
      const timer = clock.setTimeout(() => {
        abort.abort(new ProviderTimeoutError(name, s.callTimeoutMs));
        finish(() => reject(new ProviderTimeoutError(name, s.callTimeoutMs)));
      }, s.callTimeoutMs);
      caller?.addEventListener('abort', onAbort, { once: true });
      let reply: Promise<R>;
      try {
        reply = provider.complete({ ...request, signal: abort.signal });
      } catch (e) {
        reply = Promise.reject(e);
      }
      reply.then(
        (r) => finish(() => resolve(r)),
        (e: unknown) => finish(() => reject(e)),
      );
    });

  /** What an attempt's error teaches: the breaker's verdict, limits, a Retry-After pause. */
  const learnFrom = (e: unknown, admission: Admission) => {
    const verdict = verdictOf(e);
    if (verdict === 'outage') breaker.failed(admission);
    else if (verdict === 'answered') breaker.succeeded(admission);
    else breaker.released(admission);
    if (!(e instanceof ModelCallError) || e.rateLimitHeaders === undefined) return;
    if (s.learnLimits) throttle.learn(e.rateLimitHeaders);
    if (e.status === undefined || !PAUSING_STATUSES.has(e.status)) return;
    const ms = retryAfterMsOf(e.rateLimitHeaders, clock.now());
    if (ms !== undefined && ms > 0) throttle.pauseFor(Math.min(ms, s.maxRetryAfterMs));
  };

  const callPrimary = async (request: Q): Promise<R> => {
    if (breaker.isOpen()) throw unavailable();
    const release = await gate.acquire(request.signal);
    try {
      const estimate = estimateRequestTokens(request);
      let last: unknown;
      for (let n = 0; ; n++) {
        if (breaker.isOpen()) throw unavailable(last);
        await throttle.admit(estimate, request.signal);
        const admission = breaker.admit();
        if (admission === 'refuse') {
          throttle.cancel(estimate);
          throw unavailable(last);
        }
        try {
          const reply = await attempt(request);
          breaker.succeeded(admission);
          if (s.learnLimits && reply.rateLimitHeaders !== undefined)
            throttle.learn(reply.rateLimitHeaders);
          const used = reply.usage.inputTokens + reply.usage.outputTokens;
          // a provider that reports no usage keeps its estimate charged
          throttle.settle(estimate, used > 0 ? used : estimate);
          return reply;
        } catch (e) {
          throttle.settle(estimate, 0);
          learnFrom(e, admission);
          if (request.signal?.aborted === true && !(e instanceof ProviderCallAbortedError))
            throw new ProviderCallAbortedError(name, request.signal);
          if (!retryable(e) || n + 1 >= s.retry.attempts) throw e;
          last = e;
        }
        await sleep(clock, fullJitterMs(n, s.retry, s.random), name, request.signal);
      }
    } finally {
      release();
    }
  };

  return {
    name,
    complete: (request) =>
      s.fallbacks.length === 0
        ? callPrimary(request)
        : withFallbacks(callPrimary, s.fallbacks, request),
    state: () => ({
      inFlight: gate.inFlight,
      queued: gate.queued,
      breaker: breaker.state,
      failures: breaker.failures,
      pausedUntil: throttle.pausedUntil > clock.now() ? throttle.pausedUntil : null,
      requestsPerMinute: throttle.limits.requests,
      tokensPerMinute: throttle.limits.tokens,
      limiterErrors: throttle.storeErrors,
    }),
  };
}
