/**
 * The shared client's own retries: exponential backoff with FULL jitter. Retry `n` (0 for the
 * first retry) waits a random time in [0, min(maxMs, baseMs · 2ⁿ)]: calls that failed together
 * spread over the whole window instead of coming back together (AWS's "Exponential Backoff
 * and Jitter"). `random` returns [0, 1) (Math.random by default; tests pass a seeded one).
 */
import type { Clock } from '../../../runtime/core/clock.ts';
import { ProviderCallAbortedError } from './errors.ts';

export interface RetrySettings {
  /** Attempts of one call in all, the first included (1: no retries). */
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

/** The wait before retry `n` (0-based). */
export function fullJitterMs(n: number, retry: RetrySettings, random: () => number): number {
  const ceiling = Math.min(retry.maxMs, retry.baseMs * 2 ** n);
  return Math.min(ceiling, Math.max(0, random()) * ceiling);
}

/** Resolves after `ms` on `clock`; rejects with ProviderCallAbortedError if `signal` aborts. */
export function sleep(
  clock: Clock,
  ms: number,
  provider: string,
  signal?: AbortSignal,
): Promise<void> {
  if (signal?.aborted === true)
    return Promise.reject(new ProviderCallAbortedError(provider, signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(new ProviderCallAbortedError(provider, signal!));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
