/**
 * Supervisors: Erlang/OTP's supervisor behaviour, in troupe. Read OTP's `supervisor` manual
 * and this is what you get, with these rules written out:
 *
 * Strategies (what restarts when a child must be restarted):
 * - `one-for-one`: only that child.
 * - `one-for-all`: all children. The child that ended goes down first, then the others are
 *   halted in reverse list order, one at a time (their children stopped, their stop hooks
 *   run, each within its `shutdown`), then all start again in list order.
 * - `rest-for-one`: that child and the children started after it, the same way.
 * - `simple-one-for-one`: one child spec is a template; children are added with `startChild`
 *   (each made from the template, `behaviour` may be `(arg) => behaviour`), restarted
 *   one-for-one, and not started at init. Starting or retiring one costs O(1), whatever the
 *   number of children (supervisors/children.ts).
 *
 * Restart types (whether a child is restarted), by how it ended:
 * - `permanent`: always, also after it stopped normally;
 * - `transient`: only after an abnormal end. Normal ends, as in OTP: it stopped itself
 *   (`ctx.stop()`, exit reason `normal`), or ended with reason `shutdown` or
 *   `{ shutdown: term }` (stopWithShutdown, supervisors/exit.ts), or it was a child supervisor
 *   that gave up (MaxRestartIntensityError, which OTP's supervisor exits with as `shutdown`).
 *   Abnormal: it failed (a throw, a mailbox overflow with policy `fail`…), its start failed,
 *   or it ended with reason `failed`;
 * - `temporary`: never, not even when a sibling's restart takes it down. Its spec is not
 *   kept: once it has ended (by itself, failed, by terminateChild, or taken down by a group
 *   restart) it is gone, and restartChild or terminateChild on its id answer ERR_CHILD_NOT_FOUND.
 *
 * Restart intensity: more than `intensity` restarts within `period` ms (defaults 1 in 5,000)
 * and the supervisor gives up. The child whose end was one restart too many stops first, as
 * in OTP, where it is already dead: a failed child is told to stop (its stop hook runs; its
 * watchers see reason `failed`), and the supervisor waits for it, restarting nothing by
 * itself meanwhile (a sibling that fails then is stopped too, delayed restarts are dropped,
 * requests are still answered). Then the supervisor fails with MaxRestartIntensityError, so
 * its parent applies its own strategy (a restart or stop of the supervisor stops its other
 * children first, in reverse list order, see Shutdown). The window slides, as in OTP
 * (supervisors/intensity.ts). A root supervisor that fails (a supervisor spawned directly
 * under `/user`) ends the system: `system.whenTerminated` resolves with
 * `{ reason: 'failure', path, error }`. What counts as a restart: each end of a child that
 * the supervisor answers with a restart (a failure, a permanent child's normal stop, a failed
 * start it tries again). A child of a group that a group restart under way is taking down
 * anyway, and that fails or stops meanwhile, is absorbed: the group restart starts it again,
 * and it is not counted (OTP, where the group restart happens at once).
 *
 * Shutdown: children start in list order; when the supervisor stops (shut down, stopped or
 * restarted by its parent, or giving up) they stop one at a time in reverse list order, also
 * a child spawned anew after it stopped (a `permanent` child that stopped normally, or one
 * restarted by `restartChild`): it keeps its place in the list (the supervisor gives the
 * runtime its list as the behaviour's `stopOrder`). The children of a simple-one-for-one
 * supervisor stop the same way, last started first. Each gets its `shutdown` ms
 * (default 5,000 for workers, Infinity for supervisors), or `brutal` (killed at once, no stop
 * hook). JavaScript cannot interrupt a running handler: a stop means the actor takes no
 * further message, its stop hook runs, and it is gone when the hook settles; a hook still
 * pending after `shutdown` ms is abandoned and the actor is removed anyway (logged, and a
 * `shutdown-timeout` event).
 *
 * Starting a child, and `ignore`: `behaviour` is a behaviour, or a factory the supervisor
 * calls at each spawn of the child (`() => behaviour` for a static child, `(arg) => behaviour`
 * for simple-one-for-one with startChild's argument) — at its start, startChild,
 * restartChild, and when it is spawned anew (a permanent child that stopped, a group restart
 * of a child that was not running). A restart after a failure restarts the same actor from
 * its `init` (or snapshot) and does not call the factory again. A factory may return IGNORE
 * (OTP's `ignore`): the child is not started. startChild (and restartChild) then resolve
 * `undefined` instead of a ref; a static child's spec is kept, not running (whichChildren:
 * `ref` undefined), until restartChild, unless it is temporary; a simple-one-for-one child is
 * not kept at all. IGNORE during a restart leaves the child stopped, the same way.
 *
 * What a throw (or a bad value) in each piece of user code the supervisor calls does — never
 * a failure of the supervisor:
 * - a factory that throws, or returns something that is not a behaviour (nor IGNORE), and a
 *   `spawn` that refuses (bad mailbox options, a shard that does not exist, a behaviour that
 *   is not portable to another shard): the start failed. To startChild, it is a rejection,
 *   SupervisorRequestError with code ERR_START_CHILD (its `cause`: what was thrown,
 *   InvalidBehaviourError for a non-behaviour), and nothing is kept (as OTP's
 *   `{error, Reason}`); to restartChild the same, and the spec is kept, not running. When the
 *   supervisor itself starts the child (at its own start, or to restart it) it is a failure of
 *   that child: a `child-failed` event, then as for any failure per its restart type (a
 *   temporary child is dropped; otherwise it counts as a restart, and it is tried again, as a
 *   message to itself, after the backoff delay if there is one; whichChildren marks it
 *   `restarting` meanwhile);
 * - a child's `init` (or `restore`) that throws: a failure of the child, restarted per its
 *   restart type (it runs in the child's turn, after the spawn);
 * - a child's `stop` hook that throws or rejects: logged by the runtime; the child still
 *   stops or halts;
 * - the `random` flag that throws or returns something outside [0, 1]: logged, and that
 *   restart gets no jitter.
 * Bad specs never reach a running supervisor: `supervise` validates them, and startChild on a
 * static supervisor answers ERR_SUPERVISOR_SPEC (see supervisors/spec.ts: unknown keys are
 * refused too).
 *
 * Significant children and `autoShutdown` (OTP 24): with `any-significant` the supervisor
 * stops itself (exit reason `shutdown`, as in OTP) when a significant child ends by itself
 * (or fails, or cannot start) and is not restarted; with `all-significant` when all of them
 * have. As in OTP, a child ended by terminateChild or taken down by a group restart does not
 * count.
 *
 * Backoff (Akka's backoff supervisor, optional): `backoff: { minMs, maxMs, jitter, resetAfterMs }`
 * waits `min(maxMs, minMs·2ⁿ)·(1 + jitter·random)` before each restart, n counting restarts
 * since the last quiet `resetAfterMs`. One-for-one: the failed child is halted (its stop
 * hook runs), waits out the delay, then starts; meanwhile whichChildren marks it
 * `restarting` and countChildren does not count it `active`.
 *
 * What happens to messages, one rule for every case (Akka's, not Erlang's):
 * - A restarted actor keeps its ref, its address and its mailbox; the message that caused the
 *   failure goes to dead letters with the error.
 * - While it is halted, restarting or in backoff, new messages keep queueing under its
 *   mailbox's capacity and overflow policy, and are handled after the restart.
 * - A child that stopped (normally, or as a `temporary` or non-restarted `transient` child)
 *   lost its queued messages to dead letters when it stopped; if it is `permanent` it is
 *   spawned again at the same address, and messages sent meanwhile went to dead letters.
 *   The new spawn is another actor (runtime/core/ref.ts): refs to the one that stopped, and the
 *   timers it armed, never reach it; take its ref from whichChildren, or revive one from its
 *   address.
 * - When an actor is lost with its thread (a worker shard that died, runtime/shards), it has
 *   failed (ShardLostError) and its supervisor decides as for any failure; the messages that
 *   thread had not handled go to dead letters (`shard-lost`); those sent while the supervisor
 *   decides wait for the restart, as during any restart (runtime/shards/remote.ts).
 * - The restarted actor starts from its last snapshot when it has persistence, else from its
 *   initial state.
 * - The supervisor's own timers (backoff, retries) reach it through its mailbox in order, but
 *   a full mailbox never drops them: a restart is never lost. Their tokens are unique in the
 *   system for its lifetime, so a timer armed by an earlier incarnation of a restarted
 *   supervisor (it keeps its mailbox) is recognised and ignored.
 *
 * Every supervision event (child started, failed, restarted, stopped, intensity reached,
 * escalated, auto-shutdown) is published on `system.events` as data with the paths and error.
 *
 * Differences from OTP, on purpose or forced by JavaScript:
 * - A child's start does not wait for its `init`: a child whose `init` throws is restarted
 *   like any failed child, and a child that cannot be spawned when its supervisor starts
 *   fails that child (it is retried, within the intensity); OTP fails the supervisor's own
 *   start in both cases.
 * - The API is asynchronous (supervisors/api.ts) and the supervisor keeps handling requests
 *   during a restart, so whichChildren can see children `restarting` in a group restart or a
 *   backoff; OTP shows `restarting` only for a child whose restart failed. A restarting
 *   child keeps its ref (its address queues messages), where OTP shows the atom instead of
 *   a pid.
 * - A group restart starts again only the children that were running and the one that ended,
 *   not a `transient` child that had stopped normally before, nor an ignored or terminated
 *   one (OTP starts every spec of the group). If one of them cannot be spawned, only that
 *   child is retried (OTP terminates the group and tries the whole group again).
 * - Exit reasons: troupe's actors end with `normal`, `shutdown` (also `{ shutdown: term }`,
 *   through stopWithShutdown) or `failed`. An actor stopped by another one (`ctx.stop(ref)`,
 *   `system.stop`) ends `normal`, so a transient child stopped that way is not restarted
 *   (OTP's `exit(Pid, kill)` is abnormal).
 * - A restarted actor keeps its ref and mailbox (see the message rule above); OTP's restarted
 *   child is a new process.
 * - The children of a simple-one-for-one supervisor are named `<template id>-<n>` (which
 *   terminateChild takes, as their ref; OTP: only the pid), stop in reverse start order (OTP:
 *   all at once, in no order), and startChild takes one argument for the template's factory
 *   (OTP appends a list to the start function's arguments).
 * - startChild on a static supervisor answers ERR_CHILD_EXISTS for an id in use, running or
 *   not (OTP: `already_started` or `already_present`).
 * - getChildSpec answers the spec with its behaviour (objects and functions): it is for the
 *   supervisor's own thread; OTP's child spec is data. A factory's spec given no `shutdown`
 *   has none (its default is the made behaviour's); OTP's has every key.
 * - Backoff is not OTP's (see above).
 */
import type { ActorContext } from '../runtime/core/context.ts';
import type { Behaviour } from '../runtime/core/behaviour.ts';
import type { ActorRef } from '../runtime/core/ref.ts';
import type { Directive } from '../runtime/core/failure.ts';
import type { StopReason } from '../runtime/core/notices.ts';
import { restartWindow, type RestartWindow } from './intensity.ts';
import {
  resolveSupervisorOptions,
  SUPERVISOR_KIND,
  type ChildSpec,
  type ChildType,
  type ResolvedChildSpec,
  type ResolvedSupervisorOptions,
  type RestartType,
  type SupervisorOptions,
} from './spec.ts';
import {
  allChildren,
  byRef,
  emit,
  ignored,
  isRegistered,
  newChild,
  register,
  unregister,
  startActor,
  type Child,
  type ChildRegistry,
} from './children.ts';
import {
  autoShutdown,
  countRestart,
  giveUp,
  isShutdown,
  MaxRestartIntensityError,
  nextDelay,
  respawn,
  shouldRestart,
  startFailed,
  stopFinal,
} from './restart-policy.ts';
import { advancePlan, startPlan, type Plan } from './group-restart.ts';
import { later } from './timers.ts';
import { handleRequest } from './requests.ts';

export { SUPERVISOR_KIND, MaxRestartIntensityError };

/** The supervisor's requests (use the functions of supervisors/api.ts). */
export type SupervisorMsg =
  | { readonly type: 'supervisor.start-child'; readonly spec: unknown }
  | {
      readonly type: 'supervisor.terminate-child';
      readonly id?: string;
      readonly ref?: ActorRef<unknown>;
    }
  | { readonly type: 'supervisor.restart-child'; readonly id: string }
  | { readonly type: 'supervisor.delete-child'; readonly id: string }
  | {
      readonly type: 'supervisor.get-child-spec';
      readonly id?: string;
      readonly ref?: ActorRef<unknown>;
    }
  | { readonly type: 'supervisor.which-children' }
  | { readonly type: 'supervisor.count-children' }
  | { readonly type: 'supervisor.timer'; readonly token: number };

export interface ChildInfo {
  readonly id: string;
  /**
   * Undefined when no actor runs at its address: it stopped, was ignored, or its start
   * failed (and may be retried: then `restarting`).
   */
  readonly ref: ActorRef<unknown> | undefined;
  readonly type: ChildType;
  readonly restart: RestartType;
  /**
   * OTP's `restarting` marker: it waits to be started again (a backoff, a group restart under
   * way, a retry after a failed start). Its ref, when it has one, still queues messages.
   */
  readonly restarting: boolean;
}

export interface ChildCounts {
  /** Child specs: the static children, 1 for simple-one-for-one (its template). */
  readonly specs: number;
  /** Children whose actor runs, not counting those `restarting`. */
  readonly active: number;
  /** Children of type supervisor, running or not. */
  readonly supervisors: number;
  /** Children of type worker, running or not. */
  readonly workers: number;
}

export type SupervisorReply =
  | {
      readonly ok: true;
      /** start-child, restart-child: undefined when the child was ignored. */
      readonly ref?: ActorRef<unknown>;
      readonly children?: ChildInfo[];
      readonly counts?: ChildCounts;
      readonly spec?: ChildSpec;
    }
  | {
      readonly ok: false;
      readonly code: string;
      readonly message: string;
      /** ERR_START_CHILD: what the factory or spawn threw. */
      readonly cause?: unknown;
    };

export interface SupervisorState extends ChildRegistry {
  readonly o: ResolvedSupervisorOptions;
  restarts: RestartWindow;
  plan: Plan | null;
  /** Children that need a group restart once the current one is done. */
  pending: Child[];
  backoffLevel: number;
  lastRestartAt: number;
  dynamicSeq: number;
  /** Timers armed for delayed respawns, retries and plan starts, by token. */
  timers: Map<number, () => void>;
  /**
   * Past its intensity over a failed child: the supervisor waits for that child to stop, then
   * fails with `error`. Meanwhile it restarts nothing.
   */
  givingUp: { readonly child: Child; readonly error: MaxRestartIntensityError } | null;
}

type Ctx = ActorContext<SupervisorMsg, SupervisorReply>;

/**
 * A supervisor behaviour (see the rules above). Throws SupervisorSpecError at once for a bad
 * option or child spec, naming the field (`children[1].restart`) or the broken rule: the
 * options, each child spec and `backoff` are strict, so an unknown key (`children[0].restrat`)
 * is refused with its path in `field`, not ignored (supervisors/spec.ts).
 */
export function supervise(
  options: SupervisorOptions,
): Behaviour<SupervisorMsg, SupervisorReply, SupervisorState> {
  const o = resolveSupervisorOptions(options);
  return {
    kind: SUPERVISOR_KIND,
    defaultShutdownMs: Infinity,
    init(ctx) {
      const s: SupervisorState = {
        o,
        children: [],
        dynamic: new Map(),
        restarts: restartWindow(),
        plan: null,
        pending: [],
        backoffLevel: 0,
        lastRestartAt: -Infinity,
        dynamicSeq: 0,
        timers: new Map(),
        givingUp: null,
      };
      if (o.strategy !== 'simple-one-for-one')
        for (const spec of o.children) startInitial(s, spec, ctx);
      return s;
    },
    receive(s, msg, ctx) {
      handleRequest(s, msg, ctx);
      return s;
    },
    onChildFailure: (f, s, ctx) => childFailed(s, f.child, f.error, ctx),
    onChildTerminated: (child, reason, s, ctx) => childTerminated(s, child, reason, ctx),
    onChildHalted: (child, s, ctx) => childHalted(s, child, ctx),
    // the runtime has stopped the children (reverse list order) before this hook runs
    stop: (s, ctx) => childrenStoppedWithSupervisor(s, ctx),
    // the runtime stops children in reverse of this: reverse list order, as OTP
    stopOrder: (s) =>
      s.dynamic.size === 0 ? s.children.map((c) => c.name) : [...s.dynamic.keys()],
  };
}

// ---- starting ---------------------------------------------------------------------------

function startInitial(s: SupervisorState, spec: ResolvedChildSpec, ctx: Ctx): void {
  const c = newChild(spec, spec.id, undefined, false);
  register(s, c);
  const r = startActor(c, ctx);
  if (r.kind === 'ignored') ignored(s, c);
  else if (r.kind === 'failed') startFailed(s, c, r.error, ctx);
}

// ---- what the supervisor hears about its children --------------------------------------

function childFailed(
  s: SupervisorState,
  ref: ActorRef<unknown>,
  error: unknown,
  ctx: Ctx,
): Directive {
  const c = byRef(s, ref);
  if (c === undefined) return 'stop';
  emit(ctx, {
    type: 'child-failed',
    supervisor: ctx.path,
    child: ref.path,
    id: c.name,
    error,
    at: ctx.system.clock.now(),
  });
  if (c.state === 'terminating') return 'stop';
  const plan = s.plan;
  if (s.givingUp === null && plan !== null && plan.members.includes(c)) {
    // a group restart under way takes it down and starts it again anyway: absorbed, not
    // counted (OTP, where the group restart is done before the supervisor hears of it)
    if (c.spec.restart === 'temporary') {
      stopFinal(c, 'group');
      return 'stop';
    }
    c.state = 'halting';
    c.restarting = true;
    return 'halt';
  }
  // a child that fails while its supervisor gives up just stops (in OTP it is dead at once)
  if (s.givingUp !== null || !shouldRestart(c.spec.restart, !isShutdown(error))) {
    stopFinal(c, 'failed');
    return 'stop';
  }
  const tooMany = countRestart(s, ctx);
  if (tooMany !== null) {
    // OTP's failed child is dead (its terminate ran) before its supervisor gives up: stop it
    // first, and fail once it has stopped (childTerminated, or childHalted if a group
    // restart's halt reached it first); the runtime then stops the others
    s.givingUp = { child: c, error: tooMany };
    stopFinal(c, 'failed');
    return 'stop';
  }
  c.restarting = true;
  c.state = 'halting';
  if (plan !== null) {
    // another group's restart is under way: hold this child; the next plan starts it
    s.pending.push(c);
    return 'halt';
  }
  const delayMs = nextDelay(s, ctx);
  if (s.o.strategy === 'one-for-one' || s.o.strategy === 'simple-one-for-one') {
    emit(ctx, {
      type: 'child-restarted',
      supervisor: ctx.path,
      child: ref.path,
      id: c.name,
      delayMs,
      at: ctx.system.clock.now(),
    });
    if (delayMs === 0) {
      c.state = 'running';
      c.restarting = false;
      return 'restart';
    }
    // halted now (its stop hook runs), started once the delay has passed (childHalted)
    c.backoffMs = delayMs;
    return 'halt';
  }
  startPlan(s, c, delayMs, ctx);
  return 'halt';
}

/**
 * The supervisor stops (shut down, stopped, restarted by its parent): the runtime has stopped
 * its children, without calling onChildTerminated (nothing is to be restarted now). Each one
 * that was running gets its `child-stopped` event here, in the order they stopped (reverse
 * list order), reason `shutdown`.
 */
function childrenStoppedWithSupervisor(s: SupervisorState, ctx: Ctx): void {
  const all = allChildren(s);
  for (let i = all.length - 1; i >= 0; i--) {
    const c = all[i]!;
    if (c.ref === null) continue;
    const child = c.ref.path;
    c.ref = null;
    c.state = 'dead';
    emit(ctx, {
      type: 'child-stopped',
      supervisor: ctx.path,
      child,
      id: c.name,
      reason: 'shutdown',
      at: ctx.system.clock.now(),
    });
  }
}

function childTerminated(
  s: SupervisorState,
  ref: ActorRef<unknown>,
  reason: StopReason,
  ctx: Ctx,
): void {
  const c = byRef(s, ref);
  if (c === undefined) return;
  const waited = s.plan?.waitingFor === c;
  const cause = c.state === 'terminating' ? c.stopCause : null;
  c.ref = null;
  c.state = 'dead';
  c.stopCause = null;
  c.backoffMs = null;
  emit(ctx, {
    type: 'child-stopped',
    supervisor: ctx.path,
    child: ref.path,
    id: c.name,
    reason: cause === 'failed' ? 'failed' : reason,
    at: ctx.system.clock.now(),
  });
  const replies = c.terminateReplies;
  c.terminateReplies = null;
  if (replies !== null) for (const r of replies) r.tell({ ok: true });
  if (s.givingUp !== null) {
    if (c === s.givingUp.child) giveUp(s, s.givingUp.error, ctx);
    return;
  }
  if (cause !== null || c.final || !shouldRestart(c.spec.restart, reason === 'failed')) {
    // terminated by request, failed and not restarted, a temporary child taken down by a
    // group restart, or ended normally and not to be restarted: a dynamic or temporary
    // child is forgotten, a static one keeps its spec
    c.final = true;
    c.restarting = false;
    if (c.dynamic || c.spec.restart === 'temporary') unregister(s, c);
    // OTP: terminate_child and group restarts do not trigger auto-shutdown
    if (cause !== 'request' && cause !== 'group') autoShutdown(s, c, ctx);
    if (waited) advancePlan(s, ctx);
    return;
  }
  // a permanent child that stopped by itself, or a transient one that ended abnormally
  const plan = s.plan;
  if (plan !== null && plan.members.includes(c)) {
    // absorbed: the group restart under way starts it (it is dead: spawned anew)
    c.restarting = true;
    if (waited) advancePlan(s, ctx);
    return;
  }
  // past the intensity: give up (it is already gone, as in OTP)
  const tooMany = countRestart(s, ctx);
  if (tooMany !== null) giveUp(s, tooMany, ctx);
  c.restarting = true;
  if (plan !== null) {
    s.pending.push(c);
    return;
  }
  const delayMs = nextDelay(s, ctx);
  if (s.o.strategy === 'one-for-one' || s.o.strategy === 'simple-one-for-one') {
    if (delayMs > 0) later(s, delayMs, () => respawn(s, c, delayMs, ctx), ctx);
    else respawn(s, c, 0, ctx);
  } else startPlan(s, c, delayMs, ctx);
}

function childHalted(s: SupervisorState, ref: ActorRef<unknown>, ctx: Ctx): void {
  const c = byRef(s, ref);
  if (c === undefined) return;
  if (s.givingUp !== null) {
    // the failed child was halting for a group restart: its stop hook has run, as for a stop
    if (c === s.givingUp.child) giveUp(s, s.givingUp.error, ctx);
    if (c.state === 'halting') c.state = 'halted';
    return;
  }
  // a stop overtook the halt (terminateChild): its end comes as childTerminated
  if (c.state !== 'halting') return;
  c.state = 'halted';
  if (s.plan?.waitingFor === c) {
    advancePlan(s, ctx);
    return;
  }
  const delayMs = c.backoffMs;
  if (delayMs !== null) later(s, delayMs, () => endBackoff(s, c, ctx), ctx);
}

/** One-for-one backoff: the delay has passed; start the halted child again. */
function endBackoff(s: SupervisorState, c: Child, ctx: Ctx): void {
  if (c.state !== 'halted' || c.final || c.backoffMs === null || !isRegistered(s, c)) return;
  c.backoffMs = null;
  c.restarting = false;
  c.state = 'running';
  ctx.startHalted(c.ref!);
}

export type { ChildSpec, SupervisorOptions };
