/**
 * The messages troupe itself delivers to actors, as ordinary user messages (so an XState
 * machine can handle them as events). Their `type`s start with `troupe.`.
 */
import type { ActorRef } from './ref.ts';
import type { TroupeError } from './error.ts';

/** Why an actor stopped: asked to (`normal`), after a failure (`failed`), or at system shutdown. */
export type StopReason = 'normal' | 'failed' | 'shutdown';

/** Sent to every watcher when the watched actor stops, or at once if it was already gone. */
export interface Terminated {
  readonly type: 'troupe.terminated';
  readonly ref: ActorRef<unknown>;
  /**
   * `shard-lost`: it lived on a worker shard whose thread died (runtime/shards); `node-down`:
   * it lives on another node, which is down or unreachable (runtime/nodes).
   */
  readonly reason: StopReason | 'unknown-actor' | 'shard-lost' | 'node-down';
  readonly error?: unknown;
}

/** Sent to the sending actor when its message was refused (mailbox policy `reject`). */
export interface DeliveryFailed {
  readonly type: 'troupe.delivery-failed';
  readonly to: ActorRef<unknown>;
  readonly message: unknown;
  readonly error: TroupeError;
}

/** Sent to snapshot subscribers: the actor's view after a change, with a version that grows by one per update. */
export interface SnapshotUpdate<S = unknown> {
  readonly type: 'troupe.snapshot';
  readonly ref: ActorRef<unknown>;
  readonly version: number;
  readonly snapshot: S;
}

/** Sent to event subscribers: what the actor emitted (`ctx.emit`, XState's `emit` action). */
export interface EmittedEvent<E = unknown> {
  readonly type: 'troupe.event';
  readonly ref: ActorRef<unknown>;
  readonly event: E;
}

export type TroupeNotice = Terminated | DeliveryFailed | SnapshotUpdate | EmittedEvent;
