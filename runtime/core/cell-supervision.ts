/**
 * A cell's failures and its parent's directives (runtime/core/failure.ts has the
 * directives and the failure notice).
 *
 * - A failure suspends the actor: its mailbox keeps what is queued, the message it was
 *   handling goes to dead letters (`failed`, an ask of it fails now), and what that message
 *   sent is dropped. Its parent is told (`failed`, with the incarnation and the hook that
 *   threw); a guardian's failure goes to the system.
 * - The parent's `onChildFailure` decides: `resume`, `restart` (optionally after
 *   `delayMs`), `halt`, `stop` or `escalate`. Without the hook the child is stopped and a
 *   warning logged. A hook that throws or answers no directive fails the parent, and the
 *   child waits, suspended, for the parent's own fate (resumed with it, or stopped with it);
 *   so does the child of a parent without state (its own init failed).
 * - A directive for an earlier incarnation is ignored.
 */
import { MessageMeta } from './envelope.ts';
import type { LocalRef } from './ref.ts';
import { ReplyFailure } from './ask.ts';
import {
  ActorFailedError,
  DEFAULT_DIRECTIVE,
  EscalatedError,
  InvalidDirectiveError,
  directiveName,
  isDirective,
  type ChildFailure,
  type Directive,
  type Hook,
} from './failure.ts';
import type { SystemMessage } from './system-message.ts';
import { kidOf, type RemoteKid } from './cell-children.ts';
import { dropOutbox } from './cell-persistence.ts';
import { AFTER_HALT, AFTER_RESTART, beginStop, windDown } from './cell-winddown.ts';
import { ActorCell, HALTED, RUNNING, STARTING, STOPPING, SUSPENDED } from './cell.ts';

/** This actor failed: suspend it and tell its parent (runtime/core/failure.ts). */
export function fail(
  cell: ActorCell,
  error: unknown,
  hasMessage: boolean,
  msg: unknown,
  meta: unknown,
  hook: Hook | null = null,
  keepOutbox = false,
): void {
  if (cell.status !== RUNNING && cell.status !== STARTING) return;
  cell.status = SUSPENDED;
  cell.ending().failure = error;
  // what the failing message sent never leaves; a failure after it was handled (a view, an
  // overflow while its snapshot is saved) keeps its outbox, released once the save is done
  if (!keepOutbox) dropOutbox(cell);
  if (hasMessage) {
    cell.system.deadLetter(msg, cell.ref, meta, 'failed', error);
    if (meta instanceof MessageMeta && meta.replyTo !== null)
      (meta.replyTo as LocalRef).deliverWithMeta(
        new ReplyFailure(new ActorFailedError(cell.path, error)),
        null,
      );
  }
  if (cell.parent === null) {
    cell.system.guardianFailed(cell, error);
    return;
  }
  const failed: Extract<SystemMessage, { type: 'failed' }> = hasMessage
    ? { type: 'failed', child: cell.ref, incarnation: cell.incarnation, error, message: msg }
    : { type: 'failed', child: cell.ref, incarnation: cell.incarnation, error };
  cell.parent.sendSystem(hook === null ? failed : { ...failed, hook });
}

export function childFailed(cell: ActorCell, m: Extract<SystemMessage, { type: 'failed' }>): void {
  const child = kidOf(cell, m.child, m.spawn);
  if (child === undefined || cell.status >= STOPPING) return;
  let failure: ChildFailure = m;
  if (!(child instanceof ActorCell)) {
    // a child on another shard: its stand-in learns, and the hook gets the parent's own ref
    (child as RemoteKid).noteFailed(m.incarnation);
    failure = {
      child: child.ref,
      incarnation: m.incarnation,
      error: m.error,
      ...(m.message === undefined ? {} : { message: m.message }),
      ...(m.hook === undefined ? {} : { hook: m.hook }),
    };
  }
  if (cell.state === undefined && cell.behaviour.onChildFailure !== undefined) {
    // its own init failed (or it is between incarnations): no state to decide with. The
    // child waits, suspended, as an escalated one does: resumed with this actor, stopped
    // with it or by its restart (never a hook called on a missing state, whose throw would
    // be lost)
    (cell.ending().escalated ??= new Set()).add(child);
    return;
  }
  let directive: Directive = DEFAULT_DIRECTIVE;
  const decide = cell.behaviour.onChildFailure;
  if (decide === undefined) {
    cell.system.logger.warn(
      `troupe: ${child.path} failed and was stopped (its parent does not supervise):`,
      m.error,
    );
  } else {
    const sys = cell.system;
    const saved = sys.current;
    sys.current = cell;
    try {
      const d = decide.call(cell.behaviour, failure, cell.state, cell);
      if (!isDirective(d)) throw new InvalidDirectiveError(d);
      directive = d;
    } catch (error) {
      sys.current = saved;
      // a supervisor that cannot decide has failed: its parent decides for it
      (cell.ending().escalated ??= new Set()).add(child);
      fail(cell, error, false, undefined, null, 'onChildFailure');
      return;
    } finally {
      sys.current = saved;
    }
  }
  if (directiveName(directive) === 'escalate') {
    (cell.ending().escalated ??= new Set()).add(child);
    fail(cell, new EscalatedError(child.path, m.error), false, undefined, null);
    return;
  }
  child.sendSystem({ type: 'directive', incarnation: m.incarnation, directive });
}

export function obey(cell: ActorCell, incarnation: number, directive: Directive): void {
  if (incarnation !== cell.incarnation || cell.status !== SUSPENDED) return;
  switch (directiveName(directive)) {
    case 'resume':
      cell.status = RUNNING;
      cell.ending().failure = undefined;
      resumeEscalated(cell);
      cell.wake();
      return;
    case 'restart':
      cell.ending().restartDelayMs = typeof directive === 'string' ? 0 : (directive.delayMs ?? 0);
      windDown(cell, AFTER_RESTART);
      return;
    case 'halt':
      windDown(cell, AFTER_HALT);
      return;
    case 'stop':
    case 'escalate':
      beginStop(cell, 'failed', cell.ending().failure);
      return;
  }
}

export function resumeEscalated(cell: ActorCell): void {
  const d = cell.end;
  const e = d === null ? null : d.escalated;
  if (e === null) return;
  d!.escalated = null;
  for (const c of e)
    if (c.kidStatus === SUSPENDED)
      c.sendSystem({ type: 'directive', incarnation: c.incarnation, directive: 'resume' });
}

/** A parent's `halt` (group restarts): wind down like a restart, then wait for `start`. */
export function haltSelf(cell: ActorCell): void {
  if (cell.status === HALTED) {
    cell.parent?.sendSystem({ type: 'child-halted', child: cell.ref });
    return;
  }
  if (cell.status <= SUSPENDED) windDown(cell, AFTER_HALT);
}

/** A parent's `start` after a halt: the next incarnation starts from init or its snapshot. */
export function restartFromHalt(cell: ActorCell): void {
  if (cell.status !== HALTED) return;
  cell.incarnation++;
  cell.status = STARTING;
  cell.wake();
}
