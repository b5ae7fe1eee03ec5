/**
 * Which fault, if any, a model request meets. Checked in this order once the request has
 * been read (a malformed request is a 400 before any of them):
 *
 * 1. a fault forced by the `x-mock-fault` header (`bad-request`, `outage`, `rate-limit`);
 * 2. `badRequest`: the first `requests` requests since start or reset answer 400;
 * 3. `outage`: 503 within `fromMs` ≤ t < `toMs` of start or reset, or for the first
 *    `requests` requests;
 * 4. `rateLimit`: 429 past the window's request or token budget (rate-limit.ts).
 *
 * A refused request spends no budget. A streamed reply is cut after `afterChunks` events
 * when `x-mock-cut-after-chunks` says so, or for the first `streamCut.requests` streams.
 */
import { RateLimiter } from './rate-limit.ts';
import type { ResolvedOptions } from './options.ts';

export type ForcedFault = 'bad-request' | 'outage' | 'rate-limit';

export const FORCED_FAULTS: readonly ForcedFault[] = ['bad-request', 'outage', 'rate-limit'];

/** The window a forced 429 reports when no rateLimit is configured. */
export const FORCED_RATE_WINDOW_MS = 1000;

export type Fault =
  | { kind: 'badRequest' }
  | { kind: 'outage' }
  | { kind: 'rateLimit'; limitType: 'requests' | 'tokens' };

export interface Admission {
  fault: Fault | undefined;
  /** x-ratelimit-* (and retry-after on a 429) to send with the answer */
  headers: Record<string, string>;
}

export class Faults {
  readonly #options: ResolvedOptions;
  #startedAt: number;
  #requests = 0;
  #streams = 0;
  #limiter: RateLimiter | undefined;
  #forcedLimiter: RateLimiter;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#startedAt = options.clock.now();
    this.#limiter = this.#newLimiter();
    this.#forcedLimiter = this.#newForcedLimiter();
  }

  reset(): void {
    this.#startedAt = this.#options.clock.now();
    this.#requests = 0;
    this.#streams = 0;
    this.#limiter = this.#newLimiter();
    this.#forcedLimiter = this.#newForcedLimiter();
  }

  admit(forced: ForcedFault | undefined, promptTokens: number): Admission {
    const index = this.#requests++;
    const { badRequest, outage, clock } = this.#options;
    if (forced === 'bad-request' || (badRequest && index < badRequest.requests)) {
      return { fault: { kind: 'badRequest' }, headers: {} };
    }
    if (forced === 'outage' || (outage && this.#inOutage(index, clock.now()))) {
      return { fault: { kind: 'outage' }, headers: {} };
    }
    const limiter =
      forced === 'rate-limit' ? (this.#limiter ?? this.#forcedLimiter) : this.#limiter;
    if (!limiter) return { fault: undefined, headers: {} };
    const decision = limiter.admit(promptTokens, forced === 'rate-limit');
    if (decision.admitted) return { fault: undefined, headers: decision.headers };
    return {
      fault: { kind: 'rateLimit', limitType: decision.limitType },
      headers: decision.headers,
    };
  }

  /** Counts a served reply's completion tokens against the token limit. */
  spend(completionTokens: number): void {
    this.#limiter?.spend(completionTokens);
  }

  /** After how many SSE events this stream is cut, if it is; `header` wins. */
  cutAfter(header: number | undefined): number | undefined {
    const index = this.#streams++;
    if (header !== undefined) return header;
    const cut = this.#options.streamCut;
    return cut && index < cut.requests ? cut.afterChunks : undefined;
  }

  #inOutage(index: number, now: number): boolean {
    const outage = this.#options.outage;
    if (!outage) return false;
    if ('requests' in outage) return index < outage.requests;
    const t = now - this.#startedAt;
    return t >= outage.fromMs && t < outage.toMs;
  }

  #newLimiter(): RateLimiter | undefined {
    const limit = this.#options.rateLimit;
    return limit && new RateLimiter(limit, this.#options.clock);
  }

  #newForcedLimiter(): RateLimiter {
    const limit = { requests: Infinity, tokens: Infinity, windowMs: FORCED_RATE_WINDOW_MS };
    return new RateLimiter(limit, this.#options.clock);
  }
}
