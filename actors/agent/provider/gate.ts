/**
 * The concurrency cap of a shared client: at most `maxConcurrent` calls hold a slot at once;
 * the others wait in FIFO order, at most `maxQueued` of them.
 *
 * - `acquire(signal)` resolves with a release function once the call holds a slot (at once
 *   when one is free and nobody waits before it). Past `maxQueued` waiting it throws
 *   ProviderQueueFullError synchronously (a call refused is never queued).
 * - A waiting call whose signal aborts leaves the queue and rejects with
 *   ProviderCallAbortedError; a signal aborted already refuses at once.
 * - `release()` hands the slot to the oldest waiting call; calling it twice releases once.
 */
import { ProviderCallAbortedError, ProviderQueueFullError } from './errors.ts';

interface Waiter {
  readonly grant: () => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

export class ConcurrencyGate {
  readonly #provider: string;
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  #inFlight = 0;
  #waiting: Waiter[] = [];

  constructor(provider: string, maxConcurrent: number, maxQueued: number) {
    this.#provider = provider;
    this.#maxConcurrent = maxConcurrent;
    this.#maxQueued = maxQueued;
  }

  /** Calls holding a slot. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Calls waiting for one. */
  get queued(): number {
    return this.#waiting.length;
  }

  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted === true)
      return Promise.reject(new ProviderCallAbortedError(this.#provider, signal));
    if (this.#inFlight < this.#maxConcurrent && this.#waiting.length === 0) {
      this.#inFlight++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#waiting.length >= this.#maxQueued)
      throw new ProviderQueueFullError(this.#provider, this.#maxQueued);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        signal,
        grant: () => {
          signal?.removeEventListener('abort', waiter.onAbort);
          resolve(this.#releaser());
        },
        onAbort: () => {
          this.#waiting = this.#waiting.filter((w) => w !== waiter);
          reject(new ProviderCallAbortedError(this.#provider, signal!));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      // the slot passes straight to the oldest waiting call: inFlight stays the same
      if (next !== undefined) next.grant();
      else this.#inFlight--;
    };
  }
}
