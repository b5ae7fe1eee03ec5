/**
 * Cancelling a task (`{ type: 'cancel', reason? }`): the task ends with `stopReason:
 * 'cancelled'`, and what it has in flight is aborted — its model call's signal and each
 * running tool's `ctx.signal`, so a delegated sub-agent (delegateTool) is stopped with it, and
 * the cancellation goes down the tree. What an aborted call answers after is ignored (its
 * turn is over). A cancel is for the task's own principal, a principal with the `cancel`
 * permission, or host code (no principal); others are answered `{ ok: false }`.
 *
 * In-flight work is registered per activation key (actors/agent/keys.ts), and forgotten as it
 * settles: nothing is kept for a task that has ended.
 */
import { actorContext } from '../current.ts';
import { grants } from '../../runtime/core/principal.ts';
import type { Context } from './context.ts';

const inFlight = new Map<string, Set<AbortController>>();

/** Registers `abort` under the activation `key` until `settled` (the work's end). */
export function track(key: string, abort: AbortController, settled: Promise<unknown>): void {
  let set = inFlight.get(key);
  if (set === undefined) inFlight.set(key, (set = new Set()));
  set.add(abort);
  const forget = () => {
    set.delete(abort);
    if (set.size === 0 && inFlight.get(key) === set) inFlight.delete(key);
  };
  settled.then(forget, forget);
}

/** Aborts all the work in flight under `key`, with `reason`. */
export function abortAll(key: string, reason: string): void {
  const set = inFlight.get(key);
  if (set === undefined) return;
  inFlight.delete(key);
  for (const a of set) a.abort(new TaskCancelledReason(reason));
}

/** The reason an aborted signal carries (`signal.reason`). */
export class TaskCancelledReason extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'TaskCancelledError';
  }
}

/** Whether the cancel being handled may cancel the task of `context`. */
export function mayCancel(context: Context): boolean {
  const p = actorContext('cancel').principal;
  return p === null || grants(p, 'cancel') || p.id === context.principal?.id;
}

/** Answers an asked cancel that ended the task. */
export function answerCancelled(): void {
  const c = actorContext('cancel');
  if (c.replyTo !== undefined) c.reply({ ok: true, cancelled: true });
}

/** Answers an asked cancel when no task was at work. */
export function answerNothingToCancel(): void {
  const c = actorContext('cancel');
  if (c.replyTo !== undefined) c.reply({ ok: true, cancelled: false });
}

/** Answers an asked cancel of a principal that may not cancel the task. */
export function answerCancelForbidden(): void {
  const c = actorContext('cancel');
  if (c.replyTo !== undefined)
    c.reply({
      ok: false,
      error: 'only the task’s principal, or one with the cancel permission, may cancel it',
    });
}

/** Keys with work in flight (tests). */
export function inFlightKeys(): number {
  return inFlight.size;
}
