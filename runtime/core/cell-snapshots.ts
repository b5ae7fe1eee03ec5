/**
 * A cell's snapshot subscribers, event subscribers and message tap (runtime/core/subscribers.ts
 * holds what it keeps of them).
 *
 * - A subscriber is sent the behaviour's `view` of the state (the state without one) when it
 *   subscribes and after each message that changes it; never `view(undefined)`: while the
 *   actor has no state (starting, winding down, in a restart backoff) a new subscriber gets
 *   the last view sent, if any, and the next incarnation's first view follows.
 * - A view that throws is the actor's failure (hook `view`), after the message it followed.
 * - A subscriber that cannot be told is removed and logged; the actor goes on.
 * - While anyone subscribes (or a tap records), the cell takes the full path of its turn.
 */
import { Snapshots, tellAll, type MessageTap } from './subscribers.ts';
import type { ActorRef } from './ref.ts';
import type { EmittedEvent, SnapshotUpdate } from './notices.ts';
import type { SystemMessage } from './system-message.ts';
import { RUNNING, STOPPED, SUSPENDED, type ActorCell } from './cell.ts';

/** currentView's answer when the view threw (the actor failed): no view to send. */
const NO_VIEW: unique symbol = Symbol('no view');

/**
 * What subscribers see now: the behaviour's `view` of the state (the state without one).
 * Only for a state that exists (running or suspended): never `view(undefined)`. A view
 * that throws is this actor's failure (hook `view`): returns NO_VIEW then.
 */
function currentView(cell: ActorCell): unknown {
  const view = cell.behaviour.view;
  if (view === undefined) return cell.state;
  const sys = cell.system;
  const saved = sys.current;
  sys.current = cell;
  try {
    return view.call(cell.behaviour, cell.state);
  } catch (error) {
    sys.current = saved;
    cell.fail(error, false, undefined, null, 'view', true);
    return NO_VIEW;
  } finally {
    sys.current = saved;
  }
}

/** Sends subscribers the view if it changed. False when the view threw (the actor failed). */
export function publishView(cell: ActorCell): boolean {
  const s = cell.snapshots!;
  const v = currentView(cell);
  if (v === NO_VIEW) return false;
  if (v === s.last && s.version > 0) return true;
  s.last = v;
  s.version++;
  sendToSubscribers(cell, s.subscribers!, update(cell));
  return true;
}

/**
 * Tells each subscriber; one that cannot be told (a view that cannot cross to its thread,
 * a listener that throws on a path that rethrows) is removed and logged: the actor goes on.
 */
function sendToSubscribers(cell: ActorCell, subs: Set<ActorRef<unknown>>, msg: unknown): void {
  tellAll(subs, msg, (r, error) =>
    cell.system.logger.error(
      `troupe: a subscriber of ${cell.path} (${r.path}) could not be told and was removed`,
      error,
    ),
  );
}

function update(cell: ActorCell): SnapshotUpdate {
  return cell.snapshots!.update(cell.ref);
}

/** What snapshot subscribers see now (its view), for tools; undefined before it starts. */
export function inspectView(cell: ActorCell): unknown {
  if ((cell.status !== RUNNING && cell.status !== SUSPENDED) || cell.state === undefined)
    return undefined;
  const v = currentView(cell);
  return v === NO_VIEW ? undefined : v;
}

/** Starts or stops recording the messages it handles (the slow path while on). */
export function setTap(cell: ActorCell, tap: MessageTap | null): void {
  if (cell.status === STOPPED) return;
  // kept beside the snapshot subscribers: no field on every cell for what few actors use
  if (tap !== null || cell.snapshots !== null) (cell.snapshots ??= new Snapshots()).tap = tap;
  cell.slow = cell.persistence !== null || cell.subscribed || tap !== null;
}

/** `ctx.emit`: tells the event subscribers, if any. */
export function emit(cell: ActorCell, event: unknown): void {
  const subs = cell.snapshots?.eventSubscribers;
  if (subs === null || subs === undefined) return;
  const e: EmittedEvent = { type: 'troupe.event', ref: cell.ref, event };
  sendToSubscribers(cell, subs, e);
}

/** A `subscribe` system message: to snapshots, or (`events`) to what it emits. */
export function subscribe(cell: ActorCell, m: Extract<SystemMessage, { type: 'subscribe' }>): void {
  if (m.events === true) {
    ((cell.snapshots ??= new Snapshots()).eventSubscribers ??= new Set()).add(m.subscriber);
    return;
  }
  const s = (cell.snapshots ??= new Snapshots());
  (s.subscribers ??= new Set()).add(m.subscriber);
  cell.slow = true;
  if ((cell.status === RUNNING || cell.status === SUSPENDED) && cell.state !== undefined) {
    if (s.version === 0) {
      publishView(cell);
      return;
    }
    const v = currentView(cell);
    if (v === NO_VIEW) return;
    if (v !== s.last) publishView(cell);
    else sendToSubscribers(cell, new Set([m.subscriber]), update(cell));
  } else if (s.version > 0) {
    // starting, winding down or in a restart backoff (no state to view): the last view
    // sent; the next incarnation's first view follows when it starts
    sendToSubscribers(cell, new Set([m.subscriber]), update(cell));
  }
}

/** An `unsubscribe` system message; the last snapshot subscriber gone, the fast path again. */
export function unsubscribe(
  cell: ActorCell,
  m: Extract<SystemMessage, { type: 'unsubscribe' }>,
): void {
  const s = cell.snapshots;
  if (m.events === true) {
    s?.eventSubscribers?.delete(m.subscriber);
    if (s?.eventSubscribers?.size === 0) s.eventSubscribers = null;
    return;
  }
  if (s === null || s.subscribers === null) return;
  s.subscribers.delete(m.subscriber);
  if (s.subscribers.size === 0) {
    s.subscribers = null;
    cell.slow = cell.persistence !== null || s.tap !== null;
  }
}
