/**
 * The behaviour interface: what an actor does with a message. `actors/` builds behaviours
 * from plain functions, @xstate/store stores and XState machines; `sandbox/` from untrusted
 * code. The runtime knows nothing else about them.
 *
 * Contract:
 * - `init` makes the initial state when the actor starts and after a restart without
 *   persistence. `receive` returns the next state. Both run inside the actor's turn, one
 *   message at a time; a throw is a failure of this actor (never of the caller or of the
 *   scheduler): the actor is suspended and its parent decides (see runtime/core/failure.ts).
 * - `stop` runs once when the actor stops (also before a restart replaces the state); it may
 *   return a promise: the actor is gone when it settles.
 * - Persistence: `persist(state)` gives the snapshot to store (JSON-safe values and refs),
 *   `restore(snapshot, ctx)` rebuilds the state from it. `schemaVersion` (default 1) is
 *   stored beside the snapshot; an older stored version is passed through `migrate`.
 * - `view(state)` is what snapshot subscribers see; it must return the same object while
 *   the state has not changed, so the runtime publishes only changes.
 * - `onChildFailure` decides what happens to a failed child (the supervisor's role; see
 *   supervisors/). Without it the default directive applies (runtime/core/failure.ts).
 * - A throw from any hook never escapes the actor (runtime/core/failure.ts, `Hook`): from `init`,
 *   `receive`, `view`, `persist`, `restore`, `migrate`, `onChildFailure`,
 *   `onChildTerminated` or `onChildHalted` it is this actor's failure, reported to its parent
 *   with the hook's name (`ChildFailure.hook`); from `stop` (or its rejected promise) and
 *   `stopOrder` it is logged and the stop goes on. `view` is only called with a state (never
 *   while the actor is starting or waiting out a restart delay: a subscriber then gets the
 *   last view sent, if any, and the next incarnation's first view when it starts).
 */
import type { ActorRef } from './ref.ts';
import type { ActorContext } from './context.ts';
import type { ChildFailure, Directive } from './failure.ts';
import type { StopReason } from './notices.ts';

export interface Behaviour<In, Reply = unknown, State = any> {
  /** `receive`, `machine`, `store`, `supervisor`, `sandboxed`…: shown by tools, used in bench ids. */
  readonly kind: string;
  init(ctx: ActorContext<In, Reply>): State;
  receive(state: State, msg: In, ctx: ActorContext<In, Reply>): State;
  stop?(state: State, ctx: ActorContext<In, Reply>): void | Promise<void>;
  persist?(state: State): unknown;
  restore?(snapshot: unknown, ctx: ActorContext<In, Reply>): State;
  readonly schemaVersion?: number;
  migrate?(snapshot: unknown, fromVersion: number): unknown;
  view?(state: State): unknown;
  onChildFailure?(failure: ChildFailure, state: State, ctx: ActorContext<In, Reply>): Directive;
  /** Called when a child has stopped (after `troupe.terminated` is sent to watchers). */
  onChildTerminated?(
    child: ActorRef<unknown>,
    reason: StopReason,
    state: State,
    ctx: ActorContext<In, Reply>,
  ): void;
  /** Called when a child told to halt (directive or `halt` system message) has halted. */
  onChildHalted?(child: ActorRef<unknown>, state: State, ctx: ActorContext<In, Reply>): void;
  /**
   * The names of its children in start order: when this actor stops or restarts, its children
   * stop one at a time in reverse of it (children it does not name first). Without it, in
   * reverse spawn order. A supervisor gives its child spec list (OTP's order).
   */
  stopOrder?(state: State): readonly string[];
  /** Default `shutdown` of actors with this behaviour (supervisors: Infinity). */
  readonly defaultShutdownMs?: number;
}

/** The message type a behaviour accepts. */
export type InOf<B> = B extends Behaviour<infer In, any, any> ? In : never;
/** The reply type a behaviour gives to `ask`. */
export type ReplyOf<B> = B extends Behaviour<any, infer R, any> ? R : never;
