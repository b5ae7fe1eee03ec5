/**
 * The supervisor's API, with OTP's names. Each call is an ask to the supervisor: it works
 * wherever the supervisor lives, and rejects with SupervisorRequestError (a stable `code`,
 * listed in supervisors/requests.ts) when the supervisor refuses, or with AskTimeoutError
 * after `timeout` ms. A refusal harms nothing else: the supervisor and its other children go
 * on. checkChildSpecs needs no supervisor.
 */
import { TroupeError } from '../runtime/core/error.ts';
import type { ActorRef } from '../runtime/core/ref.ts';
import type { AskOptions } from '../runtime/core/ask.ts';
import type { ChildCounts, ChildInfo, SupervisorMsg, SupervisorReply } from './supervisor.ts';
import { checkChildSpecList, type AutoShutdown, type ChildSpec, type Strategy } from './spec.ts';

export type SupervisorRef = ActorRef<SupervisorMsg, SupervisorReply>;

export class SupervisorRequestError extends TroupeError {
  readonly supervisor: string;
  constructor(supervisor: string, code: string, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.supervisor = supervisor;
  }
}

async function call(
  sup: SupervisorRef,
  msg: SupervisorMsg,
  options?: AskOptions,
): Promise<SupervisorReply & { ok: true }> {
  const r = await sup.ask(msg, options);
  if (!r.ok) throw new SupervisorRequestError(sup.path, r.code, r.message, r.cause);
  return r;
}

/**
 * Adds a child: a child spec (ChildSpec) for a static supervisor, or the argument for the
 * template's factory of a simple-one-for-one supervisor. Resolves with the new child's ref,
 * or `undefined` when its factory returned IGNORE (OTP's `{ok, undefined}`: a static spec
 * is kept, not running, unless temporary; a simple-one-for-one child is not kept).
 * Rejects with ERR_CHILD_EXISTS when the id is taken, ERR_SUPERVISOR_SPEC when the spec is
 * bad, ERR_START_CHILD when the factory threw or made no behaviour or spawn refused (its
 * `cause`; nothing is kept).
 */
export async function startChild<T = unknown>(
  sup: SupervisorRef,
  specOrArg: unknown,
  options?: AskOptions,
): Promise<ActorRef<T> | undefined> {
  const r = await call(sup, { type: 'supervisor.start-child', spec: specOrArg }, options);
  return r.ref as ActorRef<T> | undefined;
}

/**
 * Stops a child (by id, or by ref for simple-one-for-one) without restarting it, also when a
 * restart of it is pending (a backoff, a group restart): resolves when it has stopped. A
 * static child keeps its spec (restartChild), unless it is temporary; a dynamic one is gone.
 */
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

/**
 * Starts again a static child that is not running: resolves with its ref, or `undefined` when
 * its factory returned IGNORE. ERR_CHILD_RUNNING if it runs, ERR_CHILD_RESTARTING if a
 * restart of it is pending, ERR_CHILD_NOT_FOUND for no such spec (a temporary child's is gone
 * once it ended), ERR_START_CHILD if it could not start (the spec is kept),
 * ERR_SIMPLE_ONE_FOR_ONE from a simple-one-for-one supervisor (OTP: invalid there).
 */
export async function restartChild<T = unknown>(
  sup: SupervisorRef,
  id: string,
  options?: AskOptions,
): Promise<ActorRef<T> | undefined> {
  const r = await call(sup, { type: 'supervisor.restart-child', id }, options);
  return r.ref as ActorRef<T> | undefined;
}

/**
 * Forgets the spec of a static child that is not running (ERR_CHILD_RUNNING,
 * ERR_CHILD_RESTARTING, ERR_CHILD_NOT_FOUND; ERR_SIMPLE_ONE_FOR_ONE: OTP, invalid there).
 */
export async function deleteChild(
  sup: SupervisorRef,
  id: string,
  options?: AskOptions,
): Promise<void> {
  await call(sup, { type: 'supervisor.delete-child', id }, options);
}

/**
 * The spec of a child (OTP's `get_childspec`), by id, or by ref for simple-one-for-one (its
 * template; the template's id works too), with the defaults filled in: `type`, `restart`,
 * `significant`, `shutdown` (for a behaviour object: its default; a factory's, without
 * `shutdown`, is the made behaviour's and is left out), and the keys that were given.
 * ERR_CHILD_NOT_FOUND for no such child. The spec holds the behaviour (objects and
 * functions): ask from the supervisor's own thread.
 */
export async function getChildSpec(
  sup: SupervisorRef,
  child: string | ActorRef<any, any>,
  options?: AskOptions,
): Promise<ChildSpec> {
  const r = await call(
    sup,
    typeof child === 'string'
      ? { type: 'supervisor.get-child-spec', id: child }
      : { type: 'supervisor.get-child-spec', ref: child as ActorRef<unknown> },
    options,
  );
  return r.spec!;
}

/**
 * Checks child specs as `supervise` would (OTP's `check_childspecs`), without a supervisor:
 * throws SupervisorSpecError (ERR_SUPERVISOR_SPEC) naming the field (`children[1].restart`,
 * an unknown key too) or the rule broken (duplicate-id, significant-permanent…); returns
 * nothing when they are fine. `strategy` (default one-for-one) and `autoShutdown` are those
 * of the supervisor they are meant for: simple-one-for-one takes exactly one spec, and with
 * `autoShutdown` given, significant children are checked against it (`never` refuses them,
 * significant-without-auto). Without it they are not, as OTP's `check_childspecs/1` (its
 * AutoShutdown `undefined`); a significant child is never permanent either way.
 */
export function checkChildSpecs(
  specs: readonly ChildSpec[],
  options: { readonly strategy?: Strategy; readonly autoShutdown?: AutoShutdown } = {},
): void {
  checkChildSpecList(specs, options);
}

/** Each child: id, ref (undefined when not running), type, restart type, `restarting`. */
export async function whichChildren(
  sup: SupervisorRef,
  options?: AskOptions,
): Promise<ChildInfo[]> {
  return (await call(sup, { type: 'supervisor.which-children' }, options)).children!;
}

/** OTP's count_children: specs, active (running, not restarting), supervisors, workers. */
export async function countChildren(
  sup: SupervisorRef,
  options?: AskOptions,
): Promise<ChildCounts> {
  return (await call(sup, { type: 'supervisor.count-children' }, options)).counts!;
}
