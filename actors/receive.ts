/**
 * fromReceive: a behaviour from a plain function `(state, msg, ctx) => nextState`.
 * The fastest behaviour (the runtime calls `receive` directly, no wrapper) and the one the
 * Savina benchmarks use.
 *
 * `init` is the initial state, or a function `(ctx) => state` called at each start (use the
 * function form when the state is mutable, so each start gets a fresh one).
 */
import type { Behaviour } from '../runtime/core/behaviour.ts';
import type { ActorContext } from '../runtime/core/context.ts';
import type { ChildFailure, Directive } from '../runtime/core/failure.ts';
import type { ActorRef } from '../runtime/core/ref.ts';
import type { StopReason } from '../runtime/core/notices.ts';

export type Receive<State, In, Reply> = (
  state: State,
  msg: In,
  ctx: ActorContext<In, Reply>,
) => State;

export interface ReceiveOptions<State, In, Reply> {
  /** Runs when the actor stops (and before a restart); may return a promise. */
  readonly stop?: (state: State, ctx: ActorContext<In, Reply>) => void | Promise<void>;
  /** Stored snapshot version (default 1) and how to upgrade older ones. */
  readonly schemaVersion?: number;
  readonly migrate?: (snapshot: unknown, fromVersion: number) => unknown;
  /** What to persist (default: the state itself) and how to rebuild the state from it. */
  readonly persist?: (state: State) => unknown;
  readonly restore?: (snapshot: unknown, ctx: ActorContext<In, Reply>) => State;
  /** What snapshot subscribers see (default: the state). */
  readonly view?: (state: State) => unknown;
  /** Decide for a failed child (default: stop it). */
  readonly onChildFailure?: (
    failure: ChildFailure,
    state: State,
    ctx: ActorContext<In, Reply>,
  ) => Directive;
  readonly onChildTerminated?: (
    child: ActorRef<unknown>,
    reason: StopReason,
    state: State,
    ctx: ActorContext<In, Reply>,
  ) => void;
}

export function fromReceive<State, In, Reply = unknown>(
  init: State | ((ctx: ActorContext<In, Reply>) => State),
  receive: Receive<State, In, Reply>,
  options: ReceiveOptions<State, In, Reply> = {},
): Behaviour<In, Reply, State> {
  const initFn =
    typeof init === 'function' ? (init as (ctx: ActorContext<In, Reply>) => State) : () => init;
  return { kind: 'receive', init: initFn, receive, ...options };
}
