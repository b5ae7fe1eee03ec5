/**
 * The supervisor's API, with OTP's names. Each call is an ask to the supervisor: it works
 * wherever the supervisor lives, and rejects with SupervisorRequestError (a stable `code`)
 * when the supervisor refuses, or with AskTimeoutError after `timeout` ms.
 */
import { TroupeError } from '../runtime/error.ts';
import type { ActorRef } from '../runtime/ref.ts';
import type { AskOptions } from '../runtime/ask.ts';
import type { ChildCounts, ChildInfo, SupervisorMsg, SupervisorReply } from './supervisor.ts';

export type SupervisorRef = ActorRef<SupervisorMsg, SupervisorReply>;

export class SupervisorRequestError extends TroupeError {
  readonly supervisor: string;
  constructor(supervisor: string, code: string, message: string) {
    super(code, message);
    this.supervisor = supervisor;
  }
}

async function call(
  sup: SupervisorRef,
  msg: SupervisorMsg,
  options?: AskOptions,
): Promise<SupervisorReply & { ok: true }> {
  const r = await sup.ask(msg, options);
  if (!r.ok) throw new SupervisorRequestError(sup.path, r.code, r.message);
  return r;
}

/**
 * Adds a child: a child spec (ChildSpec) for a static supervisor (ERR_CHILD_EXISTS when the id is taken,
 * ERR_SUPERVISOR_SPEC when the spec is bad), or the argument for the template of a
 * simple-one-for-one supervisor. Resolves with the new child's ref.
 */
export async function startChild<T = unknown>(
  sup: SupervisorRef,
  specOrArg: unknown,
  options?: AskOptions,
): Promise<ActorRef<T>> {
  const r = await call(sup, { type: 'supervisor.start-child', spec: specOrArg }, options);
  return r.ref as ActorRef<T>;
}

/** Stops a child (by id, or by ref for simple-one-for-one) without restarting it; resolves when it has stopped. */
export async function terminateChild(
  sup: SupervisorRef,
  child: string | ActorRef<any, any>,
  options?: AskOptions,
): Promise<void> {
  await call(
    sup,
    typeof child === 'string'
      ? { type: 'supervisor.terminate-child', id: child }
      : { type: 'supervisor.terminate-child', ref: child as ActorRef<unknown> },
    options,
  );
}

/** Starts again a static child that was terminated (ERR_CHILD_RUNNING if it runs). */
export async function restartChild<T = unknown>(
  sup: SupervisorRef,
  id: string,
  options?: AskOptions,
): Promise<ActorRef<T>> {
  const r = await call(sup, { type: 'supervisor.restart-child', id }, options);
  return r.ref as ActorRef<T>;
}

/** Forgets the spec of a terminated static child. */
export async function deleteChild(
  sup: SupervisorRef,
  id: string,
  options?: AskOptions,
): Promise<void> {
  await call(sup, { type: 'supervisor.delete-child', id }, options);
}

export async function whichChildren(
  sup: SupervisorRef,
  options?: AskOptions,
): Promise<ChildInfo[]> {
  return (await call(sup, { type: 'supervisor.which-children' }, options)).children!;
}

export async function countChildren(
  sup: SupervisorRef,
  options?: AskOptions,
): Promise<ChildCounts> {
  return (await call(sup, { type: 'supervisor.count-children' }, options)).counts!;
}
