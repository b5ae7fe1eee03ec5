/**
 * Timers on an injected Clock (runtime/core/clock.ts) beyond its one-shot `setTimeout`, for the
 * parts of a node that arm their own (the gateway, the node links, the cluster):
 *
 * - `backgroundTimeout`: a one-shot timer that does not hold the process open (it calls
 *   `unref()` on the handle when the handle has one: the real clock's does, a simulated
 *   clock's does not and needs none). Cancel it with the clock's `clearTimeout`.
 * - `every`: a repeating timer (the Clock has none), also in the background. The next run is
 *   armed before the callback runs, as Node's `setInterval` re-arms, so a callback that throws
 *   or runs long does not stop it; `stop()` (from inside the callback too) ends it.
 *
 * The system's timer heap (`system.timers`) is the thing for many deadlines of actors (asks,
 * actor timers); these are each one timer of the clock itself, and so may outlive that heap,
 * which closes once the actors have stopped: a link's heartbeat runs until the link closes.
 */
import type { Clock } from './clock.ts';

/** A repeating timer of `every`. */
export interface Repeating {
  /** Ends it; no further run starts (idempotent). */
  stop(): void;
}

/** Arms `callback` after `delayMs` on `clock`, not holding the process open. */
export function backgroundTimeout(clock: Clock, callback: () => void, delayMs: number): unknown {
  const handle = clock.setTimeout(callback, delayMs);
  unref(handle);
  return handle;
}

/** Runs `callback` every `everyMs` on `clock` until `stop()`, not holding the process open. */
export function every(clock: Clock, everyMs: number, callback: () => void): Repeating {
  let handle: unknown = null;
  let stopped = false;
  const run = (): void => {
    if (stopped) return;
    handle = backgroundTimeout(clock, run, everyMs);
    callback();
  };
  handle = backgroundTimeout(clock, run, everyMs);
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      if (handle !== null) clock.clearTimeout(handle);
      handle = null;
    },
  };
}

function unref(handle: unknown): void {
  if (typeof handle !== 'object' || handle === null) return;
  const u = (handle as { unref?: unknown }).unref;
  if (typeof u === 'function') (u as () => void).call(handle);
}
