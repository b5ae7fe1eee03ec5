/**
 * A token bucket of a per-minute limit (requests or tokens): it holds at most `perMinute`
 * and refills continuously at `perMinute` / 60,000 per ms. A limit of Infinity never limits.
 * Every method takes the time (`now`, epoch ms of the client's clock): the bucket keeps no
 * clock, so the Redis store's Lua script (redis-limiter.ts) can do the same sums.
 *
 * - `waitMs(n, now)`: how long until `n` can be taken (0: now). A cost over the whole
 *   capacity waits for a full bucket and then goes, leaving it in debt: one huge request is
 *   slow, it never hangs.
 * - `take(n, now)` spends `n` (the level may go below 0: a debt refilled like the rest);
 *   `give(n, now)` gives back (a refund, at most up to the capacity) or, negative, charges
 *   more — how an estimate is reconciled with the actual usage.
 * - `limitTo(perMinute, now)`: a limit learned from the provider; the level is cut to it.
 * - `observe(remaining, resetMs, now)`: what the provider says is left, and when its limit is
 *   whole again. The level is cut to `remaining` and does not refill until then; at the reset
 *   it is whole (the capacity). A reset more than NEXT_WINDOW_MS past the known one is the
 *   provider's next window: the level is set to its `remaining`, raised if need be. That is exact for a provider counting in fixed windows (the
 *   mock) and errs on the safe side for one that refills continuously (OpenAI says when it
 *   is whole again, not how fast it gets there): a bucket that refilled on its own meanwhile
 *   could send into a window that is spent, and earn a 429.
 * - Time going back (another node's clock, in a shared store) refills nothing.
 */

export const MINUTE_MS = 60_000;

/**
 * How much later than the known one a provider's reset must be to be its next window, not
 * the same one reported again (its headers give resets to the second, or coarser).
 */
export const NEXT_WINDOW_MS = 1_000;

export class TokenBucket {
  #perMinute: number;
  #level: number;
  #at: number;
  /** Until when the provider said no more is coming (observe); null when it did not. */
  #wholeAt: number | null = null;

  constructor(perMinute: number, now: number) {
    this.#perMinute = perMinute;
    this.#level = perMinute;
    this.#at = now;
  }

  get perMinute(): number {
    return this.#perMinute;
  }

  /** What can be taken at `now`. */
  level(now: number): number {
    this.#refill(now);
    return this.#level;
  }

  waitMs(n: number, now: number): number {
    if (this.#perMinute === Infinity) return 0;
    const need = Math.min(n, this.#perMinute) - this.level(now);
    if (need <= 0) return 0;
    if (this.#wholeAt !== null) return Math.max(1, this.#wholeAt - now);
    return Math.ceil((need * MINUTE_MS) / this.#perMinute);
  }

  take(n: number, now: number): void {
    this.#refill(now);
    this.#level -= n;
  }

  give(n: number, now: number): void {
    this.#refill(now);
    this.#level = Math.min(this.#perMinute, this.#level + n);
  }

  limitTo(perMinute: number, now: number): void {
    this.#refill(now);
    this.#perMinute = perMinute;
    this.#level = Math.min(this.#level, perMinute);
  }

  observe(remaining: number, resetMs: number | undefined, now: number): void {
    if (this.#perMinute === Infinity) return;
    this.#refill(now);
    const wholeAt = resetMs !== undefined && resetMs > 0 ? now + resetMs : null;
    // a reset later than the one known is the provider's next window (a call that reached it
    // after its window rolled over): what it says is left is that window's own, so the level
    // is raised to it, where it would otherwise keep the last window's leftovers until then
    const nextWindow =
      wholeAt !== null && this.#wholeAt !== null && wholeAt > this.#wholeAt + NEXT_WINDOW_MS;
    this.#level = nextWindow
      ? Math.min(this.#perMinute, remaining)
      : Math.min(this.#level, remaining);
    if (wholeAt !== null) this.#wholeAt = wholeAt;
  }

  #refill(now: number): void {
    const elapsed = now - this.#at;
    this.#at = Math.max(this.#at, now);
    if (this.#perMinute === Infinity) {
      this.#level = Infinity;
      return;
    }
    if (this.#wholeAt !== null) {
      // nothing comes back before the reset the provider announced; then it is whole
      if (now < this.#wholeAt) return;
      this.#wholeAt = null;
      this.#level = this.#perMinute;
      return;
    }
    if (elapsed <= 0) return;
    this.#level = Math.min(this.#perMinute, this.#level + (elapsed * this.#perMinute) / MINUTE_MS);
  }
}
