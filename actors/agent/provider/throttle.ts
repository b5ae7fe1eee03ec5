/**
 * The rate limits of a shared client, in front of each attempt: a pause (`Retry-After`) and
 * two token buckets, requests per minute and tokens per minute (token-bucket.ts).
 *
 * - `admit(tokens, signal)` resolves once the client is not paused and both buckets can pay:
 *   one request and `tokens` (the attempt's estimate), which are then spent. Waiting
 *   attempts are admitted in FIFO order: a big request at the head is not starved by small
 *   ones behind it. Only calls holding a concurrency slot wait here, so the queue is at most
 *   `maxConcurrent` long.
 * - An attempt whose signal aborts leaves the queue (ProviderCallAbortedError).
 * - `pauseFor(ms)`: nobody is admitted for `ms` from now (a later pause wins, never an earlier).
 * - `cancel(estimate)`: an admitted attempt not sent after all gives its request and tokens back.
 * - `settle(estimate, actual)`: the tokens bucket is given back the estimate and charged the
 *   actual (a failed attempt's actual is 0).
 * - `learn(headers)`: limits, remaining and reset from the provider's `x-ratelimit-*`
 *   headers (rate-limit-headers.ts), each limit kept at most at the configured one.
 *
 * One timer at most is armed, for the head of the queue, on the client's clock.
 */
import type { Clock } from '../../../runtime/core/clock.ts';
import { ProviderCallAbortedError } from './errors.ts';
import { limitsOf, type LimitReport, type RateLimitHeaders } from './rate-limit-headers.ts';
import { TokenBucket } from './token-bucket.ts';

interface Waiter {
  readonly tokens: number;
  readonly admit: () => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

export class Throttle {
  readonly #provider: string;
  readonly #clock: Clock;
  readonly #configured: { readonly requests: number; readonly tokens: number };
  readonly requests: TokenBucket;
  readonly tokens: TokenBucket;
  #pausedUntil = -Infinity;
  #waiting: Waiter[] = [];
  #timer: unknown = undefined;

  constructor(provider: string, clock: Clock, requestsPerMinute: number, tokensPerMinute: number) {
    this.#provider = provider;
    this.#clock = clock;
    this.#configured = { requests: requestsPerMinute, tokens: tokensPerMinute };
    this.requests = new TokenBucket(requestsPerMinute, clock);
    this.tokens = new TokenBucket(tokensPerMinute, clock);
  }

  /** Until when (the clock's ms) nobody is admitted; -Infinity when not paused. */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  admit(tokens: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true)
      return Promise.reject(new ProviderCallAbortedError(this.#provider, signal));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        tokens,
        signal,
        admit: () => {
          signal?.removeEventListener('abort', waiter.onAbort);
          resolve();
        },
        onAbort: () => {
          this.#waiting = this.#waiting.filter((w) => w !== waiter);
          reject(new ProviderCallAbortedError(this.#provider, signal!));
          this.#pump();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiting.push(waiter);
      this.#pump();
    });
  }

  pauseFor(ms: number): void {
    const until = this.#clock.now() + ms;
    if (until <= this.#pausedUntil) return;
    this.#pausedUntil = until;
    this.#pump();
  }

  settle(estimate: number, actual: number): void {
    this.tokens.give(estimate - actual);
    this.#pump();
  }

  /** An admitted attempt that was not sent after all: its request and tokens back. */
  cancel(estimate: number): void {
    this.requests.give(1);
    this.tokens.give(estimate);
    this.#pump();
  }

  learn(headers: RateLimitHeaders): void {
    const { requests, tokens } = limitsOf(headers);
    learnInto(this.requests, requests, this.#configured.requests);
    learnInto(this.tokens, tokens, this.#configured.tokens);
    this.#pump();
  }

  #pump(): void {
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    for (;;) {
      const head = this.#waiting[0];
      if (head === undefined) return;
      const wait = Math.max(
        this.#pausedUntil - this.#clock.now(),
        this.requests.waitMs(1),
        this.tokens.waitMs(head.tokens),
      );
      if (wait > 0) {
        this.#timer = this.#clock.setTimeout(() => {
          this.#timer = undefined;
          this.#pump();
        }, wait);
        return;
      }
      this.#waiting.shift();
      this.requests.take(1);
      this.tokens.take(head.tokens);
      head.admit();
    }
  }
}

function learnInto(bucket: TokenBucket, report: LimitReport, configured: number): void {
  if (report.limit !== undefined) {
    const limit = Math.min(configured, report.limit);
    if (limit !== bucket.perMinute) bucket.limitTo(limit);
  }
  if (report.remaining !== undefined) bucket.observe(report.remaining, report.resetMs);
}
