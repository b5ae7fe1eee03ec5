/**
 * Watches between cells: `ctx.watch(ref)` asks to be told `troupe.terminated` when `ref`
 * stops.
 *
 * - The watched actor keeps its watchers (a `watch` system message); the watcher keeps what
 *   it watches, by spawn and path, and tells each `unwatch` when it stops itself, so a
 *   watcher that is gone leaves nothing behind in the watched actor's set.
 * - A watch (or subscription) that reaches an actor already stopped is answered at once with
 *   its `troupe.terminated`.
 * - At the end, each watcher, snapshot subscriber and event subscriber is told once, however
 *   many of these it is.
 */
import type { ActorRef, LocalRef } from './ref.ts';
import type { Terminated } from './notices.ts';
import type { SystemMessage } from './system-message.ts';
import { ActorCell, STOPPING } from './cell.ts';

/** `ctx.watch`: an unbound ref to a live cell of this thread names that spawn. */
export function watch(cell: ActorCell, ref: ActorRef<any, any>): void {
  if (cell.status >= STOPPING) return;
  const t = (ref as LocalRef).target;
  const r = t instanceof ActorCell ? t.ref : ref;
  (cell.watching ??= new Map()).set(watchKey(r), r);
  (r as LocalRef).sendSystem({ type: 'watch', watcher: cell.ref });
}

/** `ctx.unwatch`. */
export function unwatch(cell: ActorCell, ref: ActorRef<any, any>): void {
  const t = (ref as LocalRef).target;
  const r = t instanceof ActorCell ? t.ref : ref;
  const w = cell.watching;
  if (w?.delete(watchKey(r)) === true && w.size === 0) cell.watching = null;
  (r as LocalRef).sendSystem({ type: 'unwatch', watcher: cell.ref });
}

/** A watched actor of this thread has stopped and told this one: nothing to unwatch later. */
function watchedStopped(cell: ActorCell, watched: ActorRef<unknown>): void {
  const w = cell.watching;
  if (w?.delete(watchKey(watched)) === true && w.size === 0) cell.watching = null;
}

/** A watched actor's key among what a cell watches: its spawn and path (runtime/core/ref.ts). */
function watchKey(ref: ActorRef<unknown>): string {
  return `${(ref as LocalRef).uid} ${ref.path}`;
}

/** The end as its watchers and subscribers hear it. */
function terminated(cell: ActorCell): Terminated {
  const e = cell.ending();
  return { type: 'troupe.terminated', ref: cell.ref, reason: e.stopReason, error: e.stopError };
}

/** A system message reached this actor after it stopped: a watch or subscription is told so. */
export function answerWhenStopped(cell: ActorCell, m: SystemMessage): void {
  if (m.type === 'watch' || m.type === 'subscribe')
    (m.type === 'watch' ? m.watcher : m.subscriber).tell(terminated(cell));
}

/** The actor has stopped: what it watched is told `unwatch` (nothing of it stays there). */
export function unwatchAll(cell: ActorCell): void {
  const watching = cell.watching;
  cell.watching = null;
  if (watching !== null)
    for (const r of watching.values())
      (r as LocalRef).sendSystem({ type: 'unwatch', watcher: cell.ref });
}

/**
 * The actor has stopped: its watchers (which forget it), snapshot subscribers and event
 * subscribers are told `troupe.terminated`, each once.
 */
export function tellTerminated(
  cell: ActorCell,
  watchers: Set<ActorRef<unknown>> | null,
  subscribers: Set<ActorRef<unknown>> | null,
  eventSubscribers: Set<ActorRef<unknown>> | null,
): void {
  const t = terminated(cell);
  if (watchers !== null)
    for (const w of watchers) {
      const wc = (w as LocalRef).lastTarget;
      if (wc instanceof ActorCell) watchedStopped(wc, cell.ref);
      w.tell(t);
    }
  if (subscribers !== null)
    for (const s of subscribers) if (watchers === null || !watchers.has(s)) s.tell(t);
  if (eventSubscribers !== null)
    for (const s of eventSubscribers)
      if ((watchers === null || !watchers.has(s)) && (subscribers === null || !subscribers.has(s)))
        s.tell(t);
}
