/**
 * The rate limits of a shared client, in front of each attempt: a pause (`Retry-After`) and
 * two token buckets, requests per minute and tokens per minute, kept in a LimiterStore
 * (limiter-store.ts: this process's memory by default, or Redis).
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
 * One timer at most is armed, for the head of the queue, on the client's clock; one store
 * `take` at most is in flight. A store that fails admits the attempt (`storeErrors` counts).
 */
import type { Clock } from '../../../runtime/core/clock.ts';
import { ProviderCallAbortedError } from './errors.ts';
import type { BucketLimits, LimiterStore, MaybePromise } from './limiter-store.ts';
import { limitsOf, type LimitReport, type RateLimitHeaders } from './rate-limit-headers.ts';

interface Waiter {
  readonly tokens: number;
  readonly admit: () => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

export class Throttle {
  readonly #provider: string;
  readonly #clock: Clock;
  readonly #store: LimiterStore;
  readonly #configured: BucketLimits;
  #limits: BucketLimits;
  #pausedUntil = -Infinity;
  #waiting: Waiter[] = [];
  #timer: unknown = undefined;
  /** A store take is in flight; `#again`: pump once it answers. */
  #taking = false;
  #again = false;
  #storeErrors = 0;

  constructor(provider: string, clock: Clock, limits: BucketLimits, store: LimiterStore) {
    this.#provider = provider;
    this.#clock = clock;
    this.#configured = limits;
    this.#limits = limits;
    this.#store = store;
  }

  /** Until when (the clock's ms) nobody is admitted; -Infinity when not paused. */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /** The limits in force (configured, or learned and lower). */
  get limits(): BucketLimits {
    return this.#limits;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Store calls that failed. */
  get storeErrors(): number {
    return this.#storeErrors;
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

  cancel(estimate: number): void {
    this.#give(1, estimate);
  }

  settle(estimate: number, actual: number): void {
    if (estimate !== actual) this.#give(0, estimate - actual);
  }

  learn(headers: RateLimitHeaders): void {
    const { requests, tokens } = limitsOf(headers);
    this.#limits = {
      requests: learned(requests, this.#configured.requests, this.#limits.requests),
      tokens: learned(tokens, this.#configured.tokens, this.#limits.tokens),
    };
    const now = this.#clock.now();
    for (const [kind, report] of [
      ['requests', requests],
      ['tokens', tokens],
    ] as const)
      if (report.remaining !== undefined && this.#limits[kind] !== Infinity)
        this.#quietly(
          this.#store.observe(now, kind, report.remaining, report.resetMs, this.#limits),
        );
    this.#pump();
  }

  #give(requests: number, tokens: number): void {
    this.#quietly(this.#store.give(this.#clock.now(), requests, tokens, this.#limits));
    this.#pump();
  }

  /** A store call's failure, counted; nothing waits on it. */
  #quietly(result: MaybePromise<void>): void {
    if (result instanceof Promise)
      result.catch(() => {
        this.#storeErrors++;
      });
  }

  #pump(): void {
    if (this.#taking) {
      this.#again = true;
      return;
    }
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    for (;;) {
      const head = this.#waiting[0];
      if (head === undefined) return;
      const now = this.#clock.now();
      if (this.#pausedUntil > now) return this.#wake(this.#pausedUntil - now);
      let wait: MaybePromise<number>;
      try {
        wait = this.#store.take(now, head.tokens, this.#limits);
      } catch {
        this.#storeErrors++;
        wait = 0;
      }
      if (typeof wait === 'number') {
        if (!this.#granted(head, wait)) return;
        continue;
      }
      this.#taking = true;
      this.#again = false;
      const answered = (ms: number) => {
        this.#taking = false;
        // granted: on to the next; refused, and something changed meanwhile: look again
        if (this.#granted(head, ms) || this.#again) this.#pump();
      };
      wait.then(answered, () => {
        this.#storeErrors++;
        answered(0);
      });
      return;
    }
  }

  /** Admits `head` when `wait` is 0 (or gives back what it took if it left); else waits. */
  #granted(head: Waiter, wait: number): boolean {
    if (wait > 0) {
      this.#wake(wait);
      return false;
    }
    if (this.#waiting[0] === head) {
      this.#waiting.shift();
      head.admit();
    } else {
      // it aborted while the store answered: what it took goes back
      this.#quietly(this.#store.give(this.#clock.now(), 1, head.tokens, this.#limits));
    }
    return true;
  }

  #wake(ms: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, ms);
  }
}

function learned(report: LimitReport, configured: number, current: number): number {
  return report.limit === undefined ? current : Math.min(configured, report.limit);
}
