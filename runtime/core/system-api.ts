/**
 * What behaviours, agents, tools and supervisors may use of their actor system
 * (`ctx.system`, `ToolContext.system`): the public, documented part of ActorSystem
 * (runtime/system.ts), which implements it. The kernel's internals (the shard router, the
 * registry, cells, the SystemCore methods refs and cells use) are not in it: a behaviour that
 * reached them would depend on how the kernel is built today.
 *
 * Host code that made the system holds the ActorSystem itself, with its built-in parts
 * (`nodes`, `cluster`, `gateway`) and everything here.
 *
 * The kernel's own members are here; the built-in parts add theirs (`topics`, `define`,
 * `entity`) to this interface from runtime/system-api.ts, by TypeScript's interface merging,
 * since runtime/system.ts, which builds them, implements them.
 */
import type { Address, NodeId } from '../../protocol/address.ts';
import type { ActorRef } from './ref.ts';
import type { Behaviour, InOf, ReplyOf } from './behaviour.ts';
import type { Clock } from './clock.ts';
import type { TimerQueue } from './timers.ts';
import type { DeadLetters } from './dead-letters.ts';
import type { EventStream } from './events.ts';
import type { Logger } from './logger.ts';
import type { Extension } from './extension.ts';
import type { OffloadRunOptions, OffloadTask } from './offload.ts';
import type { SpawnOptions } from './options.ts';
import type { EmittedEvent, SnapshotUpdate, Terminated } from './notices.ts';
import type { SystemState, TerminationReport } from './system.ts';

export interface SystemApi {
  /** This node's id: the node part of every address it gives. */
  readonly nodeId: NodeId;
  /** The injected clock (runtime/core/clock.ts): read time from it, never from Date. */
  readonly clock: Clock;
  /** The system's timer heap, on its clock: for many deadlines (asks, actor timers). */
  readonly timers: TimerQueue;
  /** Messages no actor took, with why; counts, recent history and subscribers. */
  readonly deadLetters: DeadLetters;
  /** Supervision and lifecycle events, as data. */
  readonly events: EventStream;
  readonly logger: Logger;
  /** `'running'`, then `'terminating'` from the start of shutdown, then `'terminated'`. */
  readonly state: SystemState;
  /** Resolves once every actor has stopped, with why. */
  readonly whenTerminated: Promise<TerminationReport>;
  /**
   * Spawns a top-level actor under `/user`. Throws on a bad behaviour, option or name. With
   * shards, only the main thread spawns top-level actors, and places them (`options.shard`).
   */
  spawn<B extends Behaviour<any, any, any>>(
    behaviour: B,
    options?: SpawnOptions,
  ): ActorRef<InOf<B>, ReplyOf<B>>;
  /** Stops an actor (children first); resolves when it has stopped (at once if it was gone). */
  stop(ref: ActorRef<any, any>): Promise<void>;
  /** Calls `listener` once when `ref` stops (at once if it is gone). Returns an unwatch function. */
  watch(ref: ActorRef<any, any>, listener: (t: Terminated) => void): () => void;
  /**
   * Subscribes to an actor's snapshots: `listener` gets the current one at once, then each
   * change, and `troupe.terminated` when it stops. A listener that throws is unsubscribed and
   * logged. Returns an unsubscribe function.
   */
  subscribe<S = unknown>(
    ref: ActorRef<any, any>,
    listener: (update: SnapshotUpdate<S> | Terminated) => void,
  ): () => void;
  /**
   * Subscribes to what an actor emits (`ctx.emit`): `listener` gets `troupe.event` for each,
   * and `troupe.terminated` when it stops. Returns an unsubscribe function.
   */
  subscribeEvents<E = unknown>(
    ref: ActorRef<any, any>,
    listener: (event: EmittedEvent<E> | Terminated) => void,
  ): () => void;
  /** A ref for an address (revived refs). Throws InvalidAddressError on a malformed one. */
  readonly refOf: (address: Address, uid?: number) => ActorRef<unknown>;
  /** The live actor at a path of this thread, if any. */
  actorAt(path: string): ActorRef<unknown> | undefined;
  /**
   * Runs a task on the offload pool (runtime/core/offload.ts): resolves with its output, rejects
   * with an OffloadError (`code` says why). Inside an actor, `ctx.offload` delivers the
   * result as a message instead.
   */
  offload<I, O>(task: OffloadTask<I, O>, input: I, options?: OffloadRunOptions): Promise<O>;
  /** The instance of extension `ext` in this system (runtime/core/extension.ts), made once. */
  extension<T>(ext: Extension<T, any>): T;
  /** The instance of extension `ext` in this system, or undefined when none was made. */
  findExtension<T>(ext: Extension<T, any>): T | undefined;
  /** Stops every actor; resolves when all have stopped. */
  shutdown(): Promise<TerminationReport>;
}
