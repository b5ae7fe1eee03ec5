/**
 * Time, injected. Everything in troupe that reads the time or arms a timer does it through a
 * Clock, so tests drive a simulated clock (`troupe/testing`) instead of sleeping.
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

/** The real clock: performance.now() on the epoch scale, and Node's timers. */
export const systemClock: Clock = {
  now: () => origin + performance.now(),
  setTimeout(callback, delayMs) {
    return setTimeout(callback, delayMs);
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
