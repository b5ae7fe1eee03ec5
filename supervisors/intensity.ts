/**
 * Restart intensity, as OTP's supervisor counts it: a sliding window. Each restart is
 * stamped with the monotonic time; a restart is allowed while at most `intensity` restarts
 * (this one included) fall within the last `periodMs` (inclusive: a restart exactly
 * `periodMs` old still counts). One more, and the supervisor gives up.
 *
 * The window slides (OTP): it is not reset at fixed intervals (Akka's `withinTimeRange`
 * resets); failures spread wider than the period never add up.
 */
export interface IntensityResult {
  /** Stamps still within the period, this restart included, oldest first. */
  readonly window: number[];
  /** More than `intensity` restarts within `periodMs`: give up. */
  readonly exceeded: boolean;
}

export function recordRestart(
  window: readonly number[],
  now: number,
  intensity: number,
  periodMs: number,
): IntensityResult {
  const threshold = now - periodMs;
  const kept = window.filter((t) => t >= threshold);
  kept.push(now);
  return { window: kept, exceeded: kept.length > intensity };
}
