/**
 * Time, injected. Everything in troupe that reads the time or arms a timer does it through a
 * Clock — the runtime (runtime/) and the client SDK (protocol/client/) alike — so tests drive
 * a simulated clock (`troupe/testing`) instead of sleeping. It lives in protocol/ because the
 * wire's side (the client, in a browser too) and the runtime's both depend on it.
 *
 * `now()` is monotonic (it never goes back) and in milliseconds on the Unix epoch scale, so a
 * deadline computed from it can be stored in a snapshot and compared after a restart.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

const origin = performance.timeOrigin;

/** The real clock: performance.now() on the epoch scale, and the platform's timers. */
export const systemClock: Clock = {
  now: () => origin + performance.now(),
  setTimeout(callback, delayMs) {
    return setTimeout(callback, delayMs);
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
