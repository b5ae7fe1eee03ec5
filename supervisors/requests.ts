/**
 * The supervisor's requests (supervisors/api.ts sends them): start, terminate, restart and
 * delete a child, its spec, the children and their counts, and the supervisor's own timers.
 * Each is answered with a SupervisorReply; a refusal is `{ ok: false, code, message }` with
 * a stable code, and never a failure of the supervisor:
 *
 *   ERR_SUPERVISOR_SPEC    startChild: a bad child spec (static supervisors)
 *   ERR_CHILD_EXISTS       startChild: the id is in use, running or not
 *   ERR_START_CHILD        startChild, restartChild: the factory threw or made no behaviour,
 *                          or spawn refused (`cause`: what was thrown)
 *   ERR_CHILD_NOT_FOUND    no such child (a temporary child's spec is gone once it ended)
 *   ERR_CHILD_RUNNING      restartChild, deleteChild: it runs
 *   ERR_CHILD_RESTARTING   restartChild, deleteChild: it waits for a restart (OTP's
 *                          `{error, restarting}`)
 *   ERR_SIMPLE_ONE_FOR_ONE restartChild, deleteChild on a simple-one-for-one supervisor, which
 *                          keeps no spec but its template (OTP's `{error, simple_one_for_one}`)
 */
import type { ActorContext } from '../runtime/core/context.ts';
import type { ActorRef } from '../runtime/core/ref.ts';
import { DEFAULT_SHUTDOWN_MS } from '../runtime/options.ts';
import {
  resolveChildSpec,
  type ChildSpec,
  type ResolvedChildSpec,
  SupervisorSpecError,
} from './spec.ts';
import {
  allChildren,
  byName,
  ignored,
  byRef,
  newChild,
  register,
  startActor,
  unregister,
  type Child,
  type StartOutcome,
} from './children.ts';
import { shutdownChild } from './exit.ts';
import type { SupervisorMsg, SupervisorReply, SupervisorState } from './supervisor.ts';

type Ctx = ActorContext<SupervisorMsg, SupervisorReply>;

const OK: SupervisorReply = { ok: true };

function refuse(code: string, message: string, cause?: unknown): SupervisorReply {
  return cause === undefined ? { ok: false, code, message } : { ok: false, code, message, cause };
}

/** The answer to a start: the ref, `ok` without one for IGNORE, or ERR_START_CHILD. */
function started(c: Child, r: StartOutcome): SupervisorReply {
  if (r.kind === 'started') return { ok: true, ref: c.ref! };
  if (r.kind === 'ignored') return OK;
  return refuse('ERR_START_CHILD', r.error.message, r.error.cause);
}

export function handleRequest(s: SupervisorState, msg: SupervisorMsg, ctx: Ctx): void {
  switch (msg.type) {
    case 'supervisor.timer': {
      const fn = s.timers.get(msg.token);
      s.timers.delete(msg.token);
      // an unknown token is a stale timer of an earlier incarnation; giving up: no delayed
      // respawn or group start any more
      if (s.givingUp === null) fn?.();
      return;
    }
    case 'supervisor.start-child':
      return ctx.reply(startChild(s, msg.spec, ctx));
    case 'supervisor.terminate-child':
      return terminateChild(s, msg, ctx);
    case 'supervisor.restart-child': {
      const c = byName(s, msg.id);
      const refused = notWhileAlive(s, c, msg.id, ctx);
      if (refused !== null) return ctx.reply(refused);
      c!.final = false;
      const r = startActor(c!, ctx);
      // the spec is kept whatever happened (OTP); ignored or failed, it stays not running
      if (r.kind !== 'started') c!.final = true;
      return ctx.reply(started(c!, r));
    }
    case 'supervisor.delete-child': {
      const c = byName(s, msg.id);
      const refused = notWhileAlive(s, c, msg.id, ctx);
      if (refused !== null) return ctx.reply(refused);
      unregister(s, c!);
      return ctx.reply(OK);
    }
    case 'supervisor.get-child-spec': {
      // simple-one-for-one: the template, by its id or by one of its children
      const template = s.o.strategy === 'simple-one-for-one' ? s.o.children[0]! : null;
      const spec =
        msg.ref !== undefined
          ? byRef(s, msg.ref)?.spec
          : template !== null && msg.id === template.id
            ? template
            : byName(s, msg.id ?? '')?.spec;
      if (spec === undefined)
        return ctx.reply(
          refuse('ERR_CHILD_NOT_FOUND', `no child ${msg.id ?? msg.ref?.path} in ${ctx.path}`),
        );
      return ctx.reply({ ok: true, spec: publicSpec(spec) });
    }
    case 'supervisor.which-children':
      return ctx.reply({
        ok: true,
        children: allChildren(s).map((c) => ({
          id: c.name,
          ref: c.state === 'dead' ? undefined : (c.ref ?? undefined),
          type: c.spec.type,
          restart: c.spec.restart,
          restarting: c.restarting,
        })),
      });
    case 'supervisor.count-children': {
      let all = 0;
      let active = 0;
      let supervisors = 0;
      for (const c of allChildren(s)) {
        all++;
        if (c.spec.type === 'supervisor') supervisors++;
        // a child being stopped by terminateChild still runs; a failed one being stopped does not
        if (
          (c.state === 'running' && !c.restarting) ||
          (c.state === 'terminating' && c.stopCause === 'request')
        )
          active++;
      }
      return ctx.reply({
        ok: true,
        counts: {
          specs: s.o.strategy === 'simple-one-for-one' ? 1 : s.children.length,
          active,
          supervisors,
          workers: all - supervisors,
        },
      });
    }
  }
}

/**
 * startChild. simple-one-for-one: a child from the template with `arg`. Static: a new spec.
 * A start that fails keeps nothing (OTP); an ignored one keeps a static, non-temporary spec.
 */
function startChild(s: SupervisorState, arg: unknown, ctx: Ctx): SupervisorReply {
  if (s.o.strategy === 'simple-one-for-one') {
    const template = s.o.children[0]!;
    const c = newChild(template, `${template.id}-${++s.dynamicSeq}`, arg, true);
    const r = startActor(c, ctx);
    if (r.kind === 'started') register(s, c);
    return started(c, r);
  }
  let spec: ResolvedChildSpec;
  try {
    spec = resolveChildSpec(arg, 'spec', s.o.autoShutdown);
  } catch (error) {
    // a getter in the spec that throws is as bad a spec as a bad value
    const e =
      error instanceof SupervisorSpecError
        ? error
        : new SupervisorSpecError('spec', arg, `readable: ${(error as Error)?.message}`);
    return refuse(e.code, e.message);
  }
  if (byName(s, spec.id) !== undefined)
    return refuse('ERR_CHILD_EXISTS', `a child with id ${spec.id} already exists in ${ctx.path}`);
  const c = newChild(spec, spec.id, undefined, false);
  const r = startActor(c, ctx);
  if (r.kind === 'started') register(s, c);
  else if (r.kind === 'ignored') {
    register(s, c);
    ignored(s, c);
  }
  return started(c, r);
}

function terminateChild(
  s: SupervisorState,
  msg: Extract<SupervisorMsg, { type: 'supervisor.terminate-child' }>,
  ctx: Ctx,
): void {
  const c = msg.ref !== undefined ? byRef(s, msg.ref) : byName(s, msg.id ?? '');
  if (c === undefined)
    return ctx.reply(
      refuse('ERR_CHILD_NOT_FOUND', `no child ${msg.id ?? msg.ref?.path} in ${ctx.path}`),
    );
  // it sticks: no pending restart (a backoff, a group restart, a retried start) brings it back
  c.final = true;
  c.restarting = false;
  c.backoffMs = null;
  if (c.ref === null || c.state === 'dead') {
    if (c.dynamic || c.spec.restart === 'temporary') unregister(s, c);
    return ctx.reply(OK);
  }
  const replyTo = ctx.replyTo as ActorRef<unknown> | undefined;
  if (replyTo !== undefined) (c.terminateReplies ??= []).push(replyTo);
  // already being stopped (failed, or a temporary child in a group restart): answered then
  if (c.state === 'terminating') return;
  c.state = 'terminating';
  c.stopCause = 'request';
  shutdownChild(c.ref);
}

/** restartChild and deleteChild need a static child that does not run and waits for nothing. */
function notWhileAlive(
  s: SupervisorState,
  c: Child | undefined,
  id: string,
  ctx: Ctx,
): SupervisorReply | null {
  if (s.o.strategy === 'simple-one-for-one')
    return refuse(
      'ERR_SIMPLE_ONE_FOR_ONE',
      `${ctx.path} is simple-one-for-one: it keeps no spec ${id} to restart or delete`,
    );
  if (c === undefined || c.dynamic)
    return refuse('ERR_CHILD_NOT_FOUND', `no child ${id} in ${ctx.path}`);
  if (c.restarting)
    return refuse('ERR_CHILD_RESTARTING', `child ${id} of ${ctx.path} is restarting`);
  if (c.state !== 'dead')
    return refuse('ERR_CHILD_RUNNING', `child ${id} of ${ctx.path} is running`);
  return null;
}

/**
 * A resolved spec as a ChildSpec with its defaults filled in (getChildSpec), `shutdown` too
 * for a behaviour object (its `defaultShutdownMs`, else DEFAULT_SHUTDOWN_MS); a factory's
 * default is the behaviour it makes, known only at each spawn, so it is left out.
 */
function publicSpec(r: ResolvedChildSpec): ChildSpec {
  const spec: { -readonly [K in keyof ChildSpec]: ChildSpec[K] } = {
    id: r.id,
    behaviour: r.behaviour,
    type: r.type,
    restart: r.restart,
    significant: r.significant,
  };
  if (r.shutdown !== undefined) spec.shutdown = r.shutdown;
  else if (typeof r.behaviour !== 'function')
    spec.shutdown = r.behaviour.defaultShutdownMs ?? DEFAULT_SHUTDOWN_MS;
  if (r.mailbox !== undefined) spec.mailbox = r.mailbox;
  if (r.persistence !== undefined) spec.persistence = r.persistence;
  if (r.shard !== undefined) spec.shard = r.shard;
  return Object.freeze(spec);
}
