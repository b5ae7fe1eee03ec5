/**
 * Who follows an actor (runtime/core/cell.ts): its snapshot subscribers with the last view they
 * were sent and its version, its event subscribers (`ctx.emit`), and the inspector's tap.
 * Made at the first subscription or tap, so an actor nobody follows carries none of it.
 *
 * - A view goes out as `troupe.snapshot` with a version that grows by one per view sent and
 *   never repeats, not even across unsubscribing.
 * - A subscriber that cannot be told (a view that cannot cross to its thread, a listener that
 *   throws on a path that rethrows) is removed and reported: the actor goes on.
 */
import type { ActorRef } from './ref.ts';
import type { SnapshotUpdate } from './notices.ts';

/** What a tap keeps of each message an inspected actor handles. */
export interface MessageTap {
  record(msg: unknown, sender: ActorRef<unknown> | undefined, at: number): void;
}

export class Snapshots {
  subscribers: Set<ActorRef<unknown>> | null = null;
  /** Subscribers to what it emits (`ctx.emit`). */
  eventSubscribers: Set<ActorRef<unknown>> | null = null;
  /** Records the messages it handles while someone inspects it (runtime/inspector). */
  tap: MessageTap | null = null;
  last: unknown = undefined;
  /** +1 at each view sent; kept across unsubscribing, so versions never repeat. */
  version = 0;

  /** The last view, as subscribers get it, from `ref`. */
  update(ref: ActorRef<unknown>): SnapshotUpdate {
    return { type: 'troupe.snapshot', ref, version: this.version, snapshot: this.last };
  }
}

/** Tells each of `subs` `msg`; one that throws is removed and given to `failed`. */
export function tellAll(
  subs: Set<ActorRef<unknown>>,
  msg: unknown,
  failed: (subscriber: ActorRef<unknown>, error: unknown) => void,
): void {
  for (const r of subs) {
    try {
      r.tell(msg);
    } catch (error) {
      subs.delete(r);
      failed(r, error);
    }
  }
}
