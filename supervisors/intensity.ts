/**
 * Restart intensity, as OTP's supervisor counts it: a sliding window. Each restart is
 * stamped with the monotonic time; a restart is allowed while at most `intensity` restarts
 * (this one included) fall within the last `periodMs` (inclusive: a restart exactly
 * `periodMs` old still counts). One more, and the supervisor gives up.
 *
 * The window slides (OTP): it is not reset at fixed intervals (Akka's `withinTimeRange`
 * resets); failures spread wider than the period never add up.
 *
 * `recordRestart` mutates the window in place: stamps are appended in time order and expired
 * ones are skipped from the front, so a restart costs O(1) amortised however many restarts
 * the window holds.
 */
export interface RestartWindow {
  /** Stamps, oldest first; those before `head` have expired. */
  stamps: number[];
  head: number;
}

export function restartWindow(): RestartWindow {
  return { stamps: [], head: 0 };
}

/** Restarts within the period in `w`. */
export function restartsIn(w: RestartWindow): number {
  return w.stamps.length - w.head;
}

/** Records a restart at `now`; true when it makes more than `intensity` within `periodMs`. */
export function recordRestart(
  w: RestartWindow,
  now: number,
  intensity: number,
  periodMs: number,
): boolean {
  const threshold = now - periodMs;
  while (w.head < w.stamps.length && w.stamps[w.head]! < threshold) w.head++;
  if (w.head > 64 && w.head * 2 > w.stamps.length) {
    w.stamps = w.stamps.slice(w.head);
    w.head = 0;
  }
  w.stamps.push(now);
  return restartsIn(w) > intensity;
}
