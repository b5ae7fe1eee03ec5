/**
 * A circuit breaker over a provider's attempts, on the client's clock:
 *
 * - `closed`: every attempt goes; `openAfterFailures` availability failures in a row (see
 *   shared-model.ts for which errors count) open it. Any other outcome resets the count.
 * - `open`: attempts are refused (the caller fails fast with ProviderUnavailableError) for
 *   `resetMs` from the failure that opened it.
 * - `half-open`: after `resetMs`, ONE attempt is let through as a probe; the others are
 *   refused while it runs. The probe's success closes the breaker, its failure opens it for
 *   another `resetMs`; a probe with no verdict (aborted, rate-limited) lets the next attempt
 *   probe.
 *
 * Outcomes of attempts that were let through before the breaker opened do not move it: only
 * the probe does. No timer is armed: the state is worked out from the clock when asked.
 */
import type { Clock } from '../../../runtime/core/clock.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** What `admit` decided: go (`call` or, half-open, the `probe`) or `refuse`. */
export type Admission = 'call' | 'probe' | 'refuse';

export class CircuitBreaker {
  readonly #clock: Clock;
  readonly #openAfterFailures: number;
  readonly #resetMs: number;
  #failures = 0;
  #openedAt: number | null = null;
  #probing = false;

  constructor(clock: Clock, openAfterFailures: number, resetMs: number) {
    this.#clock = clock;
    this.#openAfterFailures = openAfterFailures;
    this.#resetMs = resetMs;
  }

  get state(): BreakerState {
    if (this.#openedAt === null) return 'closed';
    return this.#clock.now() - this.#openedAt >= this.#resetMs ? 'half-open' : 'open';
  }

  /** Whether attempts are refused now (open, not yet half-open). */
  isOpen(): boolean {
    return this.state === 'open';
  }

  /** Failures in a row counted toward opening. */
  get failures(): number {
    return this.#failures;
  }

  /** Until a probe may go (0 when it may now, or one is running). */
  retryInMs(): number {
    if (this.#openedAt === null) return 0;
    return Math.max(0, this.#openedAt + this.#resetMs - this.#clock.now());
  }

  admit(): Admission {
    switch (this.state) {
      case 'closed':
        return 'call';
      case 'open':
        return 'refuse';
      case 'half-open':
        if (this.#probing) return 'refuse';
        this.#probing = true;
        return 'probe';
    }
  }

  /** The attempt was answered (a reply, or an error that is not an outage). */
  succeeded(admission: Admission): void {
    if (admission === 'probe' || this.#openedAt === null) {
      this.#openedAt = null;
      this.#probing = false;
      this.#failures = 0;
    }
  }

  /** The attempt met an availability failure. */
  failed(admission: Admission): void {
    if (admission === 'probe') {
      this.#probing = false;
      this.#openedAt = this.#clock.now();
      return;
    }
    if (this.#openedAt !== null) return;
    this.#failures++;
    if (this.#failures >= this.#openAfterFailures) this.#openedAt = this.#clock.now();
  }

  /** The attempt ended with no verdict on the provider's health. */
  released(admission: Admission): void {
    if (admission === 'probe') this.#probing = false;
  }
}
