/**
 * A supervisor's own timers (backoff delays, retries of a failed start, delayed group
 * starts): a timer delivers `{ type: 'supervisor.timer', token }` into the supervisor's
 * mailbox (runtime/core/cell.ts deliverOwnTimer: in order, never dropped for a full mailbox), and
 * the supervisor runs what it armed under that token (SupervisorState.timers).
 *
 * Tokens are unique in the system for its lifetime, not per incarnation: a restarted
 * supervisor keeps its mailbox, and the timers its previous incarnation armed still fire into
 * it; their tokens are then unknown to its fresh state, and ignored.
 */
import { deliverOwnTimer } from '../runtime/core/cell.ts';
import type { ActorContext } from '../runtime/core/context.ts';

/** The last timer token of each system (WeakMap: a system that is gone takes its entry). */
const timerTokens = new WeakMap<object, { last: number }>();

function nextToken(system: object): number {
  let t = timerTokens.get(system);
  if (t === undefined) timerTokens.set(system, (t = { last: 0 }));
  return ++t.last;
}

/**
 * Runs `fn` in a later turn of this supervisor: after `delayMs` (a timer, then a message to
 * itself), or with 0 as a message to itself at once (behind what its mailbox holds).
 */
export function later(
  s: { readonly timers: Map<number, () => void> },
  delayMs: number,
  fn: () => void,
  ctx: ActorContext<any, any>,
): void {
  const token = nextToken(ctx.system);
  s.timers.set(token, fn);
  const self = ctx.self;
  const msg = { type: 'supervisor.timer', token } as const;
  if (delayMs > 0) ctx.system.timers.schedule(() => deliverOwnTimer(self, msg), delayMs);
  else deliverOwnTimer(self, msg);
}
