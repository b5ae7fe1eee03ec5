/**
 * The failure protocol, as asynchronous system messages (nothing assumes that a parent and
 * its child share a thread):
 *
 * 1. A behaviour throws (or a mailbox with policy `fail` overflows, or a persistence write
 *    fails). The actor is suspended: it takes no user message until a directive comes. The
 *    message being handled goes to dead letters with the error (reason `failed`); if it was
 *    an `ask`, the asker's promise rejects with ActorFailedError at once.
 * 2. Its parent receives the system message
 *    `failed { child, incarnation, error, message? }`.
 * 3. The parent decides a directive: its behaviour's `onChildFailure(failure)` if it has one
 *    (supervisors/ provides strategies), else DEFAULT_DIRECTIVE (`stop`, logged once): the
 *    `/user` guardian and plain parents stop failed children.
 * 4. The parent answers with `directive { incarnation, directive }`; a directive for an older
 *    incarnation is ignored (the child has restarted since).
 *    - `resume`: the child goes on with its current state and its mailbox.
 *    - `restart`: its children are stopped, its `stop` hook runs, then it starts again from
 *      its last snapshot when it has persistence, else from `init`; it keeps its address,
 *      its ref and its mailbox. `{ name: 'restart', delayMs }` waits first (messages keep
 *      queueing meanwhile, under the mailbox's capacity and policy).
 *    - `stop`: the child stops; watchers get `troupe.terminated` with reason `failed`.
 *    - `halt`: like `restart`, but the child then waits, halted, for a `start` system message
 *      from its parent (supervisors use it to restart a group of children in order, and to
 *      hold a child during a backoff); meanwhile its messages keep queueing.
 *    - `escalate`: the parent fails itself with EscalatedError (cause: the child's error) and
 *      its own parent decides; the child stays suspended until the parent is resumed
 *      (the child is resumed), restarted or stopped (the child is stopped).
 *
 * A failure of a guardian (`/user`, `/system`) terminates the system: `whenTerminated`
 * resolves with the reason.
 */
import { TroupeError } from './error.ts';
import type { ActorPath } from '../../protocol/address.ts';
import type { ActorRef } from './ref.ts';

export type DirectiveName = 'resume' | 'restart' | 'stop' | 'escalate' | 'halt';
export const DIRECTIVE_NAMES: readonly DirectiveName[] = [
  'resume',
  'restart',
  'stop',
  'escalate',
  'halt',
];

/** A directive, or a directive with options (`{ name: 'restart', delayMs: 200 }` for a backoff). */
export type Directive = DirectiveName | { readonly name: DirectiveName; readonly delayMs?: number };

/**
 * The user code the runtime calls for an actor, named in its failure (`ChildFailure.hook`)
 * and in logs. Every call goes through the cell's one boundary (runtime/core/cell.ts):
 * - `init`, `receive`, `view`, `persist`, `restore`, `migrate`, `onChildFailure`,
 *   `onChildTerminated`, `onChildHalted`: a throw is this actor's failure, reported to its
 *   parent with the hook's name (for `receive`, the message goes to dead letters and an ask
 *   of it rejects with ActorFailedError);
 * - `stop` (also a rejected promise) and `stopOrder`: the actor is winding down already: the
 *   throw is logged with the hook's name and the stop goes on (`stopOrder`: in spawn order).
 */
export type Hook =
  | 'init'
  | 'receive'
  | 'view'
  | 'persist'
  | 'restore'
  | 'migrate'
  | 'stop'
  | 'stopOrder'
  | 'onChildFailure'
  | 'onChildTerminated'
  | 'onChildHalted';

/** What the parent is told when a child fails. */
export interface ChildFailure {
  readonly child: ActorRef<unknown>;
  readonly incarnation: number;
  readonly error: unknown;
  /** The message being handled, if the failure happened in `receive`. */
  readonly message?: unknown;
  /**
   * The user code that threw (absent when the failure is the runtime's: a mailbox with policy
   * `fail` that overflowed, a snapshot store that failed, a thread that was lost).
   */
  readonly hook?: Hook;
}

/** Applied by parents that do not define `onChildFailure`. */
export const DEFAULT_DIRECTIVE: Directive = 'stop';

export function directiveName(d: Directive): DirectiveName {
  return typeof d === 'string' ? d : d.name;
}

/** A parent that escalated a child's failure fails with this. */
export class EscalatedError extends TroupeError {
  readonly child: ActorPath;
  constructor(child: ActorPath, cause: unknown) {
    super('ERR_ESCALATED', `failure of ${child} was escalated`, { cause });
    this.child = child;
  }
}

/** An `ask` whose target failed while handling it rejects with this. */
export class ActorFailedError extends TroupeError {
  readonly path: ActorPath;
  constructor(path: ActorPath, cause: unknown) {
    super('ERR_ACTOR_FAILED', `${path} failed while handling the message`, { cause });
    this.path = path;
  }
}

/** `onChildFailure` returned something that is not a directive. */
export class InvalidDirectiveError extends TroupeError {
  readonly directive: unknown;
  constructor(directive: unknown) {
    super(
      'ERR_INVALID_DIRECTIVE',
      `onChildFailure must return one of ${DIRECTIVE_NAMES.join(', ')}`,
    );
    this.directive = directive;
  }
}

export function isDirective(d: unknown): d is Directive {
  if (typeof d === 'string') return (DIRECTIVE_NAMES as readonly string[]).includes(d);
  if (typeof d !== 'object' || d === null) return false;
  const o = d as { name?: unknown; delayMs?: unknown };
  return (
    typeof o.name === 'string' &&
    (DIRECTIVE_NAMES as readonly string[]).includes(o.name) &&
    (o.delayMs === undefined || (typeof o.delayMs === 'number' && o.delayMs >= 0))
  );
}
