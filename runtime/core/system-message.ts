/**
 * System messages: the control channel of an actor, kept apart from its user mailbox and
 * handled before any queued user message (also while the actor is suspended). They carry
 * refs, never closures, so they can cross threads and nodes as envelopes of kind `system`.
 */
import type { ActorRef } from './ref.ts';
import type { Directive, Hook } from './failure.ts';
import type { StopReason } from './notices.ts';

export type SystemMessage =
  | { readonly type: 'stop'; readonly reason: StopReason; readonly error?: unknown }
  | { readonly type: 'watch'; readonly watcher: ActorRef<unknown> }
  | { readonly type: 'unwatch'; readonly watcher: ActorRef<unknown> }
  | {
      readonly type: 'failed';
      readonly child: ActorRef<unknown>;
      readonly incarnation: number;
      readonly error: unknown;
      readonly message?: unknown;
      /** The user code that threw (runtime/core/failure.ts). */
      readonly hook?: Hook;
      /** From a child on another shard: which spawn of it (runtime/shards/remote.ts). */
      readonly spawn?: number;
    }
  | { readonly type: 'directive'; readonly incarnation: number; readonly directive: Directive }
  | {
      readonly type: 'child-terminated';
      readonly child: ActorRef<unknown>;
      readonly reason: StopReason;
      readonly spawn?: number;
    }
  /** Parent → child: stop children and run the stop hook like a restart, then wait for `start`. */
  | { readonly type: 'halt' }
  /** Parent → halted child: start the next incarnation. */
  | { readonly type: 'start' }
  /** Child → parent: the halt is done. */
  | { readonly type: 'child-halted'; readonly child: ActorRef<unknown>; readonly spawn?: number }
  /** Parent → child: stop at once, children killed first, no stop hook (a parent's brutal stop). */
  | { readonly type: 'kill' }
  /** To its snapshots (`troupe.snapshot`), or with `events` to what it emits (`troupe.event`). */
  | { readonly type: 'subscribe'; readonly subscriber: ActorRef<unknown>; readonly events?: true }
  | {
      readonly type: 'unsubscribe';
      readonly subscriber: ActorRef<unknown>;
      readonly events?: true;
    };

/** The two stop messages without an error, shared (system messages are never mutated). */
export const STOP_NORMAL: SystemMessage = Object.freeze({ type: 'stop', reason: 'normal' });
export const STOP_SHUTDOWN: SystemMessage = Object.freeze({ type: 'stop', reason: 'shutdown' });
