/**
 * The actor context: what a behaviour can do while it handles a message (and in `init`).
 * It is valid only during the actor's turn; keep refs, not the context.
 */
import type { ActorPath } from '../../protocol/address.ts';
import type { ActorRef } from './ref.ts';
import type { Behaviour, InOf, ReplyOf } from './behaviour.ts';
import type { SpawnOptions } from './options.ts';
import type { SystemApi } from './system-api.ts';
import type { OffloadRunOptions, OffloadTask } from './offload.ts';
import type { Principal } from './principal.ts';

export interface ActorContext<In = unknown, Reply = unknown> {
  readonly self: ActorRef<In, Reply>;
  readonly path: ActorPath;
  /** What a behaviour may use of its system (runtime/system-api.ts). */
  readonly system: SystemApi;
  /** Its mailbox's capacity (Infinity when unbounded). */
  readonly mailboxCapacity: number;
  /** Starts at 0, +1 at each restart. */
  readonly incarnation: number;
  /** The sending actor of the current message, if it was sent by an actor. */
  readonly sender: ActorRef<unknown> | undefined;
  /**
   * Who the current message acts for: the principal the gateway authenticated for the client
   * that sent it (or caused it: the tells and asks an actor makes while it handles such a
   * message carry it on, across threads and nodes); null when it acts for nobody (host code,
   * timers, an actor's own work). Frozen, and never taken from a message's body; a behaviour
   * cannot set it, only pass it on (`AskOptions.principal`) or narrow it (runtime/core/principal.ts).
   */
  readonly principal: Principal | null;
  /**
   * Where a reply to the current message goes: the ask's reply address, else the sending
   * actor. Keep it to answer later (after other messages, or async work):
   * `replyTo.tell(value)` is what `reply(value)` does now.
   */
  readonly replyTo: ActorRef<Reply> | undefined;
  /**
   * Answers the current message: to its ask's reply address; else to the sending actor;
   * else the value goes to dead letters (`no-reply-address`).
   */
  reply(value: Reply): void;
  /** Spawns a child; its path is this actor's path plus its name. */
  spawn<B extends Behaviour<any, any, any>>(
    behaviour: B,
    options?: SpawnOptions,
  ): ActorRef<InOf<B>, ReplyOf<B>>;
  /** Stops this actor (no argument) after the current message, or another actor. */
  stop(ref?: ActorRef<any, any>): void;
  /** This actor will receive `troupe.terminated` when `ref` stops (at once if it is gone). */
  watch(ref: ActorRef<any, any>): void;
  unwatch(ref: ActorRef<any, any>): void;
  /**
   * Halts a child: its children are stopped and its stop hook runs as for a restart, then it
   * waits (its messages keep queueing) until `startHalted`. The behaviour's `onChildHalted`
   * hook is called when it has halted. Supervisors use it to restart children in order.
   */
  halt(child: ActorRef<any, any>): void;
  /** Starts the next incarnation of a halted child. */
  startHalted(child: ActorRef<any, any>): void;
  /** A live child by name. */
  child(name: string): ActorRef<unknown> | undefined;
  /** Live children, in start order. */
  readonly children: readonly ActorRef<unknown>[];
  /**
   * Runs stateless CPU-heavy work on the node's offload pool (runtime/core/offload.ts); returns its
   * id. This actor later receives an `OffloadResult` with that id: `troupe.offload.done`
   * with the value, or `troupe.offload.failed` with an OffloadError. Aborted if this actor
   * stops first.
   */
  offload<I, O>(task: OffloadTask<I, O>, input: I, options?: OffloadRunOptions): number;
  /**
   * A durable reminder (entities only, runtime/cluster/reminders.ts): `msg` is sent to this
   * entity at `time` (epoch milliseconds or a Date), activating it if it was passivated; in a
   * cluster it is kept in Redis and outlives this node. Throws TroupeError (ERR_NOT_AN_ENTITY)
   * in an actor that is not an entity.
   */
  remindAt(time: number | Date, msg: In): void;
  /**
   * Emits an event to this actor's event subscribers (`system.subscribeEvents`, gateway
   * clients): each gets `troupe.event` with it. Nothing happens when there are none. Events
   * are not kept: a subscriber sees those emitted while it is subscribed. Unlike the rest of
   * the context, it may also be called from work the actor started (a stream's callback): it
   * only tells the subscribers.
   */
  emit(event: unknown): void;
}
