/**
 * Exponential backoff between restarts, as Akka's backoff supervisor computes it:
 *
 *   delay(n) = min(maxMs, minMs × 2ⁿ) × (1 + jitter × random())
 *
 * where n counts the restarts since the child last ran quietly for `resetAfterMs`.
 */
export interface BackoffOptions {
  /** First delay, in ms (> 0). */
  readonly minMs: number;
  /** Largest delay before jitter, in ms (≥ minMs). */
  readonly maxMs: number;
  /** Random extra, as a fraction of the delay (0…1). Default 0.2. */
  readonly jitter?: number;
  /** Quiet time after which the delay falls back to minMs, in ms. Default maxMs. */
  readonly resetAfterMs?: number;
}

export function backoffDelay(level: number, o: BackoffOptions, random: () => number): number {
  const base = Math.min(o.maxMs, o.minMs * 2 ** Math.min(level, 52));
  return Math.round(base * (1 + (o.jitter ?? 0.2) * random()));
}
