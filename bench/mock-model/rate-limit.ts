/**
 * The mock's TPM/RPM limit: a fixed window of `windowMs` that opens at the first request
 * after the previous one closed. A request is admitted while the window's requests stay
 * within `requests` and its tokens (the request's prompt estimate, plus the completion
 * tokens of replies served, counted when they are) within `tokens`; otherwise it is refused
 * and nothing of it is counted. The headers are OpenAI's: `x-ratelimit-limit-requests`,
 * `x-ratelimit-remaining-requests`, `x-ratelimit-reset-requests` and the `-tokens` variants
 * (for each limit that is finite), plus `retry-after` (seconds, rounded up) and
 * `retry-after-ms` on a refusal.
 */
import type { Clock, RateLimitOption } from './options.ts';

export type RateDecision =
  | { admitted: true; headers: Record<string, string> }
  | { admitted: false; limitType: 'requests' | 'tokens'; headers: Record<string, string> };

export class RateLimiter {
  readonly #limit: Required<RateLimitOption>;
  readonly #clock: Clock;
  #windowStart = -Infinity;
  #requests = 0;
  #tokens = 0;

  constructor(limit: Required<RateLimitOption>, clock: Clock) {
    this.#limit = limit;
    this.#clock = clock;
  }

  /** Admits or refuses a request of `promptTokens`; `force` refuses it whatever the count. */
  admit(promptTokens: number, force = false): RateDecision {
    const now = this.#roll();
    const { requests, tokens } = this.#limit;
    const overRequests = this.#requests + 1 > requests;
    const overTokens = this.#tokens + promptTokens > tokens;
    if (force || overRequests || overTokens) {
      const limitType = overTokens && !overRequests ? 'tokens' : 'requests';
      const retryMs = Math.max(1, this.#windowStart + this.#limit.windowMs - now);
      return {
        admitted: false,
        limitType,
        headers: {
          ...this.#headers(now),
          'retry-after': String(Math.ceil(retryMs / 1000)),
          'retry-after-ms': String(Math.ceil(retryMs)),
        },
      };
    }
    this.#requests += 1;
    this.#tokens += promptTokens;
    return { admitted: true, headers: this.#headers(now) };
  }

  /** Counts the completion tokens of a reply served. */
  spend(completionTokens: number): void {
    this.#tokens += completionTokens;
  }

  #roll(): number {
    const now = this.#clock.now();
    if (now >= this.#windowStart + this.#limit.windowMs) {
      this.#windowStart = now;
      this.#requests = 0;
      this.#tokens = 0;
    }
    return now;
  }

  #headers(now: number): Record<string, string> {
    const reset = formatDuration(this.#windowStart + this.#limit.windowMs - now);
    const out: Record<string, string> = {};
    const { requests, tokens } = this.#limit;
    // with no finite limit (a refusal forced by a header), the requests the window took
    if (Number.isFinite(requests) || !Number.isFinite(tokens)) {
      const limit = Number.isFinite(requests) ? requests : this.#requests;
      out['x-ratelimit-limit-requests'] = String(limit);
      out['x-ratelimit-remaining-requests'] = String(Math.max(0, limit - this.#requests));
      out['x-ratelimit-reset-requests'] = reset;
    }
    if (Number.isFinite(tokens)) {
      out['x-ratelimit-limit-tokens'] = String(tokens);
      out['x-ratelimit-remaining-tokens'] = String(Math.max(0, tokens - this.#tokens));
      out['x-ratelimit-reset-tokens'] = reset;
    }
    return out;
  }
}

/** A duration as OpenAI writes it in x-ratelimit-reset-*: `250ms`, `1.5s`, `6m0s`. */
export function formatDuration(ms: number): string {
  const clamped = Math.max(0, ms);
  if (clamped < 1000) return `${Math.ceil(clamped)}ms`;
  const minutes = Math.floor(clamped / 60_000);
  const seconds = Math.round((clamped - minutes * 60_000) / 10) / 100;
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}
