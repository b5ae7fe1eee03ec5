/**
 * Winding a cell down: for a stop, a restart or a halt (group restarts).
 *
 * - Children stop first, one at a time, last started first (the behaviour's `stopOrder`
 *   when it has one: a supervisor's child spec list); a child that stops by itself while
 *   queued leaves the queue. Then the behaviour's `stop` hook runs (it may return a
 *   promise, waited for); then the actor stops, or restarts (at once or after the
 *   directive's `delayMs`), or halts and waits for its parent's `start`.
 * - Bounded by the actor's `shutdown` (milliseconds, `Infinity`, or `brutal`): past it,
 *   the children not yet stopped are killed, the stop hook is abandoned, a warning is logged
 *   and a `shutdown-timeout` event published; `brutal` kills the children at once.
 * - A stop that comes during a restart's wind-down finishes it as a stop.
 * - At the stop: what a message being saved sent is dropped (`stopped`), queued messages
 *   go to dead letters (`stopped`, their asks failed now), watchers and subscribers are told
 *   `troupe.terminated`, and the parent hears `child-terminated` (the name is free at once).
 */
import type { StopReason } from './notices.ts';
import type { TimerEntry } from './timers.ts';
import { STOP_SHUTDOWN } from './system-message.ts';
import { kid, type Kid } from './cell-children.ts';
import { failAsk } from './cell-overflow.ts';
import { dropOutbox } from './cell-persistence.ts';
import { restartFromHalt } from './cell-supervision.ts';
import { answerWhenStopped, tellTerminated, unwatchAll } from './cell-watch.ts';
import { ActorCell, HALTED, RESTARTING, STOPPED, STOPPING } from './cell.ts';

/** What to do once the children have stopped and the stop hook has run. */
const AFTER_NOTHING = 0;
export const AFTER_STOP = 1;
export const AFTER_RESTART = 2;
export const AFTER_HALT = 3;

/**
 * What a cell needs once it fails or winds down (stop, restart, halt). Most actors never
 * do, or once at their end: keeping it apart saves every idle actor nine fields.
 */
export class Ending {
  failure: unknown = undefined;
  escalated: Set<Kid> | null = null;
  after = AFTER_NOTHING;
  stopQueue: Kid[] | null = null;
  /** The child of `stopQueue` told to stop, whose `child-terminated` advances the queue. */
  stopping: Kid | null = null;
  /** Bumped at each wind-down; async steps of an older one are ignored. */
  epoch = 0;
  shutdownTimer: TimerEntry | null = null;
  pendingHook: { abandoned: boolean } | null = null;
  restartDelayMs = 0;
  stopReason: StopReason = 'normal';
  stopError: unknown = undefined;
}

export function beginStop(cell: ActorCell, reason: StopReason, error: unknown): void {
  if (cell.status >= STOPPING) return;
  const inFlight = cell.status === RESTARTING;
  const d = cell.ending();
  d.stopReason = reason;
  d.stopError = error;
  if (inFlight) {
    // a restart or halt is already stopping children and running the hook: finish as a stop
    cell.status = STOPPING;
    d.after = AFTER_STOP;
    return;
  }
  windDown(cell, AFTER_STOP);
}

/**
 * Stops the children (one at a time, last started first), then runs the stop hook, then
 * continues per `after`. Bounded by this actor's `shutdown`: past it, what has not stopped
 * is killed (no hook) and the hook is abandoned, with a logged reason; `brutal` kills at once.
 */
export function windDown(cell: ActorCell, after: number): void {
  cell.status = after === AFTER_STOP ? STOPPING : RESTARTING;
  const d = cell.ending();
  d.after = after;
  d.escalated = null;
  const epoch = ++d.epoch;
  if (cell.shutdown === 'brutal') {
    killChildren(cell);
    windDownDone(cell, epoch);
    return;
  }
  if (cell.kids !== null && cell.kids.size > 0) {
    armShutdownTimer(cell, epoch);
    d.stopQueue = stopOrder(cell, cell.kids);
    stopNextChild(cell);
  } else childrenStopped(cell, epoch);
}

export function armShutdownTimer(cell: ActorCell, epoch: number): void {
  const d = cell.ending();
  if (d.shutdownTimer !== null || cell.shutdown === Infinity || cell.shutdown === 'brutal') return;
  const ms = cell.shutdown;
  d.shutdownTimer = cell.system.timers.schedule(() => {
    d.shutdownTimer = null;
    if (epoch !== d.epoch) return;
    cell.system.logger.warn(
      `troupe: ${cell.path} did not stop within its shutdown of ${ms} ms; its children are killed and its stop hook abandoned`,
    );
    cell.system.events.publish({
      type: 'shutdown-timeout',
      actor: cell.path,
      shutdownMs: ms,
      at: cell.system.clock.now(),
    });
    d.stopQueue = null;
    d.stopping = null;
    killChildren(cell);
    abandonHook(cell);
    windDownDone(cell, epoch);
  }, ms);
}

/**
 * The children in start order (the queue stops the last first): the behaviour's
 * `stopOrder` when it has one (a supervisor's child spec list), else spawn order. Children
 * it does not name come after (stop first), in spawn order.
 */
export function stopOrder(cell: ActorCell, kids: Map<string | number, Kid>): Kid[] {
  const order = cell.behaviour.stopOrder;
  const state = cell.state;
  if (order === undefined || state === undefined) return [...kids.values()];
  let names: readonly string[];
  try {
    names = order.call(cell.behaviour, state);
  } catch (error) {
    cell.system.logger.error(
      `troupe: ${cell.path}: stopOrder threw (hook stopOrder); its children stop in reverse spawn order`,
      error,
    );
    return [...kids.values()];
  }
  const queue: Kid[] = [];
  const named = new Set<Kid>();
  for (const n of names) {
    const c = kid(cell, n);
    if (c !== undefined && !named.has(c)) {
      named.add(c);
      queue.push(c);
    }
  }
  for (const c of kids.values()) if (!named.has(c)) queue.push(c);
  return queue;
}

export function stopNextChild(cell: ActorCell): void {
  const d = cell.end;
  const q = d === null ? null : d.stopQueue;
  if (q === null) return;
  let next = q.pop();
  // a child that stopped by itself while queued needs no stop
  while (next !== undefined && next.kidStatus === STOPPED) next = q.pop();
  if (next === undefined) {
    d!.stopQueue = null;
    d!.stopping = null;
    childrenStopped(cell, d!.epoch);
    return;
  }
  d!.stopping = next;
  next.sendSystem(STOP_SHUTDOWN);
}

export function killChildren(cell: ActorCell): void {
  if (cell.kids === null) return;
  for (const c of [...cell.kids.values()].reverse()) c.kill();
}

/** Immediate stop: children killed first, no stop hook (`brutal`, or a shutdown overrun). */
export function kill(cell: ActorCell): void {
  if (cell.status === STOPPED) return;
  const d = cell.ending();
  ++d.epoch;
  if (cell.status !== STOPPING) {
    d.stopReason = 'shutdown';
    d.stopError = undefined;
  }
  cell.status = STOPPING;
  d.stopQueue = null;
  d.stopping = null;
  killChildren(cell);
  abandonHook(cell);
  finishStop(cell);
}

export function abandonHook(cell: ActorCell): void {
  const d = cell.end;
  const h = d === null ? null : d.pendingHook;
  if (h === null) return;
  d!.pendingHook = null;
  h.abandoned = true;
  cell.waiting = false;
  cell.system.pendingAsync--;
}

export function childrenStopped(cell: ActorCell, epoch: number): void {
  const d = cell.ending();
  if (epoch !== d.epoch) return;
  const hook = cell.behaviour.stop;
  const state = cell.state;
  if (hook === undefined || state === undefined) return windDownDone(cell, epoch);
  const sys = cell.system;
  let result: void | Promise<void>;
  const saved = sys.current;
  sys.current = cell;
  try {
    result = hook.call(cell.behaviour, state, cell);
  } catch (error) {
    sys.logger.error(`troupe: stop hook of ${cell.path} threw (hook stop)`, error);
    result = undefined;
  } finally {
    sys.current = saved;
  }
  let then: unknown;
  try {
    then =
      result === undefined || result === null ? undefined : (result as { then?: unknown }).then;
  } catch (error) {
    // a getter on what the hook returned: as a throw of the hook
    sys.logger.error(`troupe: stop hook of ${cell.path} threw (hook stop)`, error);
    then = undefined;
  }
  if (typeof then !== 'function') return windDownDone(cell, epoch);
  const pending = { abandoned: false };
  d.pendingHook = pending;
  cell.waiting = true;
  sys.pendingAsync++;
  armShutdownTimer(cell, epoch);
  const settled = (error?: unknown): void => {
    if (pending.abandoned) return;
    d.pendingHook = null;
    sys.pendingAsync--;
    if (error !== undefined)
      sys.logger.error(`troupe: stop hook of ${cell.path} rejected (hook stop)`, error);
    cell.waiting = false;
    windDownDone(cell, epoch);
    // a halted actor with nothing queued takes no turn: its parent's `start` schedules it,
    // so siblings of a group restart start in the order their parent starts them
    if (cell.sysq !== null || cell.status !== HALTED) cell.wake();
  };
  try {
    (then as (ok: () => void, ko: (e: unknown) => void) => unknown).call(
      result,
      () => settled(),
      (error: unknown) => settled(error ?? new Error('rejected')),
    );
  } catch (error) {
    settled(error);
  }
}

export function windDownDone(cell: ActorCell, epoch: number): void {
  const d = cell.ending();
  if (epoch !== d.epoch) return;
  if (d.shutdownTimer !== null) {
    cell.system.timers.cancel(d.shutdownTimer);
    d.shutdownTimer = null;
  }
  const after = d.after;
  d.after = AFTER_NOTHING;
  if (cell.status === STOPPING || after === AFTER_STOP) return finishStop(cell);
  cell.state = undefined;
  d.failure = undefined;
  cell.status = HALTED;
  if (after === AFTER_HALT) {
    cell.parent?.sendSystem({ type: 'child-halted', child: cell.ref });
    return;
  }
  const delayMs = d.restartDelayMs;
  d.restartDelayMs = 0;
  if (delayMs > 0) cell.system.timers.schedule(() => restartFromHalt(cell), delayMs);
  else restartFromHalt(cell);
}

export function finishStop(cell: ActorCell): void {
  cell.status = STOPPED;
  const sys = cell.system;
  const d = cell.ending();
  // killed while its snapshot was being saved: what that message sent never follows the end
  if (cell.outbox !== null) dropOutbox(cell, 'stopped');
  if (cell.mailbox.size > 0)
    cell.mailbox.drain((msg, meta) => {
      sys.deadLetter(msg, cell.ref, meta, 'stopped', undefined);
      failAsk(cell, meta, 'stopped');
    });
  cell.state = undefined;
  const watchers = cell.watchers;
  const snapshots = cell.snapshots;
  const subscribers = snapshots === null ? null : snapshots.subscribers;
  const eventSubscribers = snapshots === null ? null : snapshots.eventSubscribers;
  cell.watchers = null;
  unwatchAll(cell);
  if (snapshots !== null) snapshots.subscribers = snapshots.eventSubscribers = null;
  cell.slow = false;
  const parent = cell.parent;
  // a parent on another shard hears first: its name there is free before any watcher knows
  if (parent !== null && !(parent instanceof ActorCell))
    parent.sendSystem({ type: 'child-terminated', child: cell.ref, reason: d.stopReason });
  if (watchers !== null || subscribers !== null || eventSubscribers !== null)
    tellTerminated(cell, watchers, subscribers, eventSubscribers);
  // leftover system messages: answer watchers and subscribers as a stopped actor does
  const q = cell.sysq;
  cell.sysq = null;
  if (q !== null) for (const m of q) answerWhenStopped(cell, m);
  if (parent === null) sys.guardianStopped(cell);
  else if (parent instanceof ActorCell) {
    // the name is free as soon as the actor is gone (a same-thread parent's map is updated at once)
    if (parent.kids?.get(cell.key) === cell) parent.kids.delete(cell.key);
    parent.sendSystem({ type: 'child-terminated', child: cell.ref, reason: d.stopReason });
  }
}
