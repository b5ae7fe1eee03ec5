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
 *   one-for-one, and not started at init.
 *
 * Restart types (whether a child is restarted):
 * - `permanent`: always, also after it stopped normally;
 * - `transient`: only after an abnormal end (a failure; a child supervisor that gave up counts
 *   as `shutdown`, which is normal, as in OTP);
 * - `temporary`: never, not even when a sibling's restart takes it down (it is removed).
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
 * `{ reason: 'failure', path, error }`.
 *
 * Shutdown: children start in list order; when the supervisor stops (shut down, stopped or
 * restarted by its parent, or giving up) they stop one at a time in reverse list order, also
 * a child spawned anew after it stopped (a `permanent` child that stopped normally, or one
 * restarted by `restartChild`): it keeps its place in the list (the supervisor gives the
 * runtime its list as the behaviour's `stopOrder`). The children of a simple-one-for-one
 * supervisor stop the same way, last started first; OTP stops those all at once, in no
 * defined order. Each gets its `shutdown` ms
 * (default 5,000 for workers, Infinity for supervisors), or `brutal` (killed at once, no stop
 * hook). JavaScript cannot interrupt a running handler: a stop means the actor takes no
 * further message, its stop hook runs, and it is gone when the hook settles; a hook still
 * pending after `shutdown` ms is abandoned and the actor is removed anyway (logged, and a
 * `shutdown-timeout` event).
 *
 * Significant children and `autoShutdown` (OTP 24): with `any-significant` the supervisor
 * stops itself when a significant child ends and is not restarted; with `all-significant`
 * when all of them have.
 *
 * Backoff (Akka's backoff supervisor, optional): `backoff: { minMs, maxMs, jitter, resetAfterMs }`
 * waits `min(maxMs, minMs·2ⁿ)·(1 + jitter·random)` before each restart, n counting restarts
 * since the last quiet `resetAfterMs`.
 *
 * What happens to messages, one rule for every case (Akka's, not Erlang's):
 * - A restarted actor keeps its ref, its address and its mailbox; the message that caused the
 *   failure goes to dead letters with the error.
 * - While it is halted, restarting or in backoff, new messages keep queueing under its
 *   mailbox's capacity and overflow policy, and are handled after the restart.
 * - A child that stopped (normally, or as a `temporary` or non-restarted `transient` child)
 *   lost its queued messages to dead letters when it stopped; if it is `permanent` it is
 *   spawned again at the same address, and messages sent meanwhile went to dead letters.
 * - When an actor is lost with its thread (a worker shard that died, runtime/shards), it has
 *   failed (ShardLostError) and its supervisor decides as for any failure; the messages that
 *   thread had not handled go to dead letters (`shard-lost`); those sent while the supervisor
 *   decides wait for the restart, as during any restart (runtime/shards/remote.ts).
 * - The restarted actor starts from its last snapshot when it has persistence, else from its
 *   initial state.
 * - The supervisor's own backoff timers (like a machine's `after` timers) reach it through its
 *   mailbox in order, but a full mailbox never drops them: a restart is never lost.
 *
 * Every supervision event (child started, failed, restarted, stopped, intensity reached,
 * escalated, auto-shutdown) is published on `system.events` as data with the paths and error.
 *
 * Differences from OTP, on purpose: a child whose `init` fails is restarted like any failed
 * child (OTP fails the supervisor's own start); the supervisor's API is asynchronous
 * (supervisors/api.ts) and it keeps handling requests during a restart; a group restart
 * starts again only the children that were running and the one that ended, not a
 * `transient` child that had stopped normally before (OTP starts every spec of the group).
 */
import { TroupeError } from '../runtime/error.ts';
import { deliverOwnTimer } from '../runtime/cell.ts';
import type { ActorPath } from '../runtime/address.ts';
import type { ActorContext } from '../runtime/context.ts';
import type { Behaviour } from '../runtime/behaviour.ts';
import type { ActorRef } from '../runtime/ref.ts';
import type { Directive } from '../runtime/failure.ts';
import type { StopReason } from '../runtime/notices.ts';
import type { SupervisionEvent } from '../runtime/events.ts';
import { recordRestart, restartWindow, restartsIn, type RestartWindow } from './intensity.ts';
import { backoffDelay } from './backoff.ts';
import {
  resolveChildSpec,
  resolveSupervisorOptions,
  type AnyBehaviour,
  type ChildSpec,
  type ResolvedChildSpec,
  type ResolvedSupervisorOptions,
  type RestartType,
  type SupervisorOptions,
} from './spec.ts';

export const SUPERVISOR_KIND = 'supervisor';

export class MaxRestartIntensityError extends TroupeError {
  readonly supervisor: ActorPath;
  readonly intensity: number;
  readonly periodMs: number;
  constructor(supervisor: ActorPath, intensity: number, periodMs: number) {
    super(
      'ERR_MAX_RESTART_INTENSITY',
      `${supervisor} reached its restart intensity (more than ${intensity} restarts in ${periodMs} ms) and gave up`,
    );
    this.supervisor = supervisor;
    this.intensity = intensity;
    this.periodMs = periodMs;
  }
}

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
  | { readonly type: 'supervisor.which-children' }
  | { readonly type: 'supervisor.count-children' }
  | { readonly type: 'supervisor.timer'; readonly token: number };

export interface ChildInfo {
  readonly id: string;
  /** Undefined when the child is not running. */
  readonly ref: ActorRef<unknown> | undefined;
  readonly type: 'supervisor' | 'worker';
  readonly restart: RestartType;
}

export interface ChildCounts {
  readonly specs: number;
  readonly active: number;
  readonly supervisors: number;
  readonly workers: number;
}

export type SupervisorReply =
  | {
      readonly ok: true;
      readonly ref?: ActorRef<unknown>;
      readonly children?: ChildInfo[];
      readonly counts?: ChildCounts;
    }
  | { readonly ok: false; readonly code: string; readonly message: string };

type ChildState = 'running' | 'halting' | 'halted' | 'terminating' | 'dead';

interface Child {
  readonly spec: ResolvedChildSpec;
  /** Path segment: the spec id, or `<template id>-<n>` for dynamic children. */
  readonly name: string;
  readonly arg: unknown;
  readonly dynamic: boolean;
  ref: ActorRef<unknown> | null;
  state: ChildState;
  /** Will not be restarted; removed (temporary, dynamic) or kept stopped (transient). */
  final: boolean;
  /** Who asked terminate-child and waits for the answer. */
  terminateReply: ActorRef<SupervisorReply> | null;
}

interface Plan {
  readonly members: Child[];
  /** Children still to halt, first to halt last. */
  readonly queue: Child[];
  waitingFor: Child | null;
  readonly delayMs: number;
}

export interface SupervisorState {
  readonly o: ResolvedSupervisorOptions;
  children: Child[];
  restarts: RestartWindow;
  plan: Plan | null;
  /** Children that need a group restart once the current one is done. */
  pending: Child[];
  backoffLevel: number;
  lastRestartAt: number;
  dynamicSeq: number;
  timerSeq: number;
  /** Timers armed for delayed respawns and plan starts, by token. */
  timers: Map<number, () => void>;
  /**
   * Past its intensity over a failed child: the supervisor waits for that child to stop, then
   * fails with `error`. Meanwhile it restarts nothing.
   */
  givingUp: { readonly child: Child; readonly error: MaxRestartIntensityError } | null;
}

type Ctx = ActorContext<SupervisorMsg, SupervisorReply>;

/**
 * A supervisor behaviour. Throws SupervisorSpecError at once for a bad option or child spec,
 * naming the field (`children[1].restart`) or the broken rule.
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
        restarts: restartWindow(),
        plan: null,
        pending: [],
        backoffLevel: 0,
        lastRestartAt: -Infinity,
        dynamicSeq: 0,
        timerSeq: 0,
        timers: new Map(),
        givingUp: null,
      };
      if (o.strategy !== 'simple-one-for-one')
        for (const spec of o.children) addChild(s, spec, spec.id, undefined, false, ctx);
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
    stopOrder: (s) => s.children.map((c) => c.name),
  };
}

// ---- children ---------------------------------------------------------------------------

function addChild(
  s: SupervisorState,
  spec: ResolvedChildSpec,
  name: string,
  arg: unknown,
  dynamic: boolean,
  ctx: Ctx,
): Child {
  const c: Child = {
    spec,
    name,
    arg,
    dynamic,
    ref: null,
    state: 'dead',
    final: false,
    terminateReply: null,
  };
  s.children.push(c);
  spawn(c, ctx);
  return c;
}

function spawn(c: Child, ctx: Ctx): void {
  const b = c.spec.behaviour;
  const behaviour: AnyBehaviour = typeof b === 'function' ? b(c.arg) : b;
  c.ref = ctx.spawn(behaviour, {
    name: c.name,
    ...(c.spec.shutdown === undefined ? {} : { shutdown: c.spec.shutdown }),
    ...(c.spec.mailbox === undefined ? {} : { mailbox: c.spec.mailbox }),
    ...(c.spec.persistence === undefined ? {} : { persistence: c.spec.persistence }),
    ...(c.spec.shard === undefined ? {} : { shard: c.spec.shard }),
  }) as ActorRef<unknown>;
  c.state = 'running';
  c.final = false;
  emit(ctx, {
    type: 'child-started',
    supervisor: ctx.path,
    child: c.ref.path,
    id: c.name,
    at: ctx.system.clock.now(),
  });
}

/**
 * The child a ref is about. Refs name addresses: one revived from another shard's message is
 * another object with the same address, so the address decides when the object does not.
 */
function find(s: SupervisorState, ref: ActorRef<unknown>): Child | undefined {
  return s.children.find((c) => c.ref === ref) ?? s.children.find((c) => c.ref?.path === ref.path);
}

function remove(s: SupervisorState, c: Child): void {
  s.children = s.children.filter((x) => x !== c);
}

function isSupervisor(b: ResolvedChildSpec['behaviour']): boolean {
  return typeof b !== 'function' && b.kind === SUPERVISOR_KIND;
}

function emit(ctx: Ctx, event: SupervisionEvent): void {
  if (ctx.system.events.observed) ctx.system.events.publish(event);
}

// ---- deciding ---------------------------------------------------------------------------

function shouldRestart(restart: RestartType, abnormal: boolean): boolean {
  return restart === 'permanent' || (restart === 'transient' && abnormal);
}

/**
 * A child supervisor that gave up ends with `shutdown`, which OTP counts as normal (its error
 * crossed from another shard keeps its code, not its class).
 */
function isShutdown(error: unknown): boolean {
  return (
    error instanceof MaxRestartIntensityError ||
    (error instanceof Error && (error as { code?: unknown }).code === 'ERR_MAX_RESTART_INTENSITY')
  );
}

/**
 * Counts a restart. Past the intensity the supervisor must give up: returns the
 * MaxRestartIntensityError it is to fail with (see giveUp), else null.
 */
function countRestart(s: SupervisorState, ctx: Ctx): MaxRestartIntensityError | null {
  if (!recordRestart(s.restarts, ctx.system.clock.now(), s.o.intensity, s.o.period)) return null;
  const error = new MaxRestartIntensityError(ctx.path, s.o.intensity, s.o.period);
  emit(ctx, {
    type: 'intensity-reached',
    supervisor: ctx.path,
    restarts: restartsIn(s.restarts),
    intensity: s.o.intensity,
    periodMs: s.o.period,
    error,
    at: ctx.system.clock.now(),
  });
  return error;
}

/**
 * The supervisor fails (a throw in its turn): its parent decides, and the runtime stops its
 * remaining children, last spawned first, when the parent stops or restarts it.
 */
function giveUp(s: SupervisorState, error: MaxRestartIntensityError, ctx: Ctx): never {
  s.givingUp = null;
  emit(ctx, { type: 'escalated', supervisor: ctx.path, error, at: ctx.system.clock.now() });
  throw error;
}

function nextDelay(s: SupervisorState, ctx: Ctx): number {
  const b = s.o.backoff;
  if (b === null) return 0;
  const now = ctx.system.clock.now();
  if (now - s.lastRestartAt > b.resetAfterMs) s.backoffLevel = 0;
  s.lastRestartAt = now;
  return backoffDelay(s.backoffLevel++, b, s.o.random);
}

function childFailed(
  s: SupervisorState,
  ref: ActorRef<unknown>,
  error: unknown,
  ctx: Ctx,
): Directive {
  const c = find(s, ref);
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
  // a child that fails while its supervisor gives up just stops (in OTP it is dead at once)
  if (s.givingUp !== null || !shouldRestart(c.spec.restart, !isShutdown(error))) {
    c.final = true;
    c.state = 'terminating';
    return 'stop';
  }
  const tooMany = countRestart(s, ctx);
  if (tooMany !== null) {
    // OTP's failed child is dead (its terminate ran) before its supervisor gives up: stop it
    // first, and fail once it has stopped (childTerminated, or childHalted if a group
    // restart's halt reached it first); the runtime then stops the others
    s.givingUp = { child: c, error: tooMany };
    c.final = true;
    c.state = 'terminating';
    return 'stop';
  }
  if (s.plan !== null) {
    // a group restart is under way: hold this child; the plan (or the next one) starts it
    c.state = 'halting';
    if (!s.plan.members.includes(c)) s.pending.push(c);
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
    return delayMs > 0 ? { name: 'restart', delayMs } : 'restart';
  }
  c.state = 'halting';
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
  for (let i = s.children.length - 1; i >= 0; i--) {
    const c = s.children[i]!;
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
  const c = find(s, ref);
  if (c === undefined) return;
  const waited = s.plan?.waitingFor === c;
  c.ref = null;
  const wasFailure = c.final && c.state === 'terminating';
  const requested = c.terminateReply !== null || (c.state === 'terminating' && !c.final);
  c.state = 'dead';
  emit(ctx, {
    type: 'child-stopped',
    supervisor: ctx.path,
    child: ref.path,
    id: c.name,
    reason: wasFailure ? 'failed' : reason,
    at: ctx.system.clock.now(),
  });
  if (s.givingUp !== null) {
    c.terminateReply?.tell({ ok: true });
    c.terminateReply = null;
    if (c === s.givingUp.child) giveUp(s, s.givingUp.error, ctx);
    return;
  }
  if (requested) {
    // terminate-child: not restarted; a dynamic child is forgotten, a static one keeps its spec
    c.terminateReply?.tell({ ok: true });
    c.terminateReply = null;
    if (c.dynamic) remove(s, c);
    if (waited) advancePlan(s, ctx);
    return;
  }
  if (c.final || !shouldRestart(c.spec.restart, false)) {
    c.final = true;
    if (c.spec.restart === 'temporary' || c.dynamic) remove(s, c);
    autoShutdown(s, c, ctx);
    if (waited) advancePlan(s, ctx);
    return;
  }
  // a permanent child stopped by itself: restart it (or, past the intensity, give up: it is
  // already gone, as in OTP)
  const tooMany = countRestart(s, ctx);
  if (tooMany !== null) giveUp(s, tooMany, ctx);
  if (s.plan !== null) {
    if (!s.plan.members.includes(c)) s.pending.push(c);
    if (waited) advancePlan(s, ctx);
    return;
  }
  const delayMs = nextDelay(s, ctx);
  if (s.o.strategy === 'one-for-one' || s.o.strategy === 'simple-one-for-one')
    respawnLater(s, c, delayMs, ctx);
  else startPlan(s, c, delayMs, ctx);
}

function childHalted(s: SupervisorState, ref: ActorRef<unknown>, ctx: Ctx): void {
  const c = find(s, ref);
  if (c === undefined) return;
  c.state = 'halted';
  if (s.givingUp !== null) {
    // the failed child was halting for a group restart: its stop hook has run, as for a stop
    if (c === s.givingUp.child) giveUp(s, s.givingUp.error, ctx);
    return;
  }
  if (s.plan?.waitingFor === c) advancePlan(s, ctx);
}

function autoShutdown(s: SupervisorState, c: Child, ctx: Ctx): void {
  if (!c.spec.significant) return;
  const mode = s.o.autoShutdown;
  if (mode === 'never') return;
  if (
    mode === 'all-significant' &&
    s.children.some((x) => x.spec.significant && x.state !== 'dead')
  )
    return;
  emit(ctx, {
    type: 'auto-shutdown',
    supervisor: ctx.path,
    trigger: childPathOf(ctx, c),
    at: ctx.system.clock.now(),
  });
  ctx.stop();
}

function childPathOf(ctx: Ctx, c: Child): ActorPath {
  return `${ctx.path}/${c.name}` as ActorPath;
}

function respawnLater(s: SupervisorState, c: Child, delayMs: number, ctx: Ctx): void {
  const go = (): void => {
    if (c.state !== 'dead' || c.final || !s.children.includes(c)) return;
    spawn(c, ctx);
    emit(ctx, {
      type: 'child-restarted',
      supervisor: ctx.path,
      child: c.ref!.path,
      id: c.name,
      delayMs,
      at: ctx.system.clock.now(),
    });
  };
  if (delayMs > 0) later(s, delayMs, go, ctx);
  else go();
}

/** Runs `fn` in this supervisor's turn after `delayMs` (a timer, then a message to itself). */
function later(s: SupervisorState, delayMs: number, fn: () => void, ctx: Ctx): void {
  const token = ++s.timerSeq;
  s.timers.set(token, fn);
  const self = ctx.self;
  ctx.system.timers.schedule(
    () => deliverOwnTimer(self, { type: 'supervisor.timer', token }),
    delayMs,
  );
}

// ---- group restarts (one-for-all, rest-for-one) -----------------------------------------

function startPlan(s: SupervisorState, trigger: Child, delayMs: number, ctx: Ctx): void {
  const at = s.children.indexOf(trigger);
  const group = s.o.strategy === 'one-for-all' ? s.children : s.children.slice(at);
  const members = group.filter((c) => c === trigger || c.state !== 'dead');
  s.plan = { members, queue: members.slice(), waitingFor: null, delayMs };
  // a failed trigger is being halted by its directive: it goes down first (as in OTP, where it
  // is already dead), then the others in reverse list order
  if (trigger.state === 'halting') s.plan.waitingFor = trigger;
  else advancePlan(s, ctx);
}

/** Halts the next member (last in the list first) or, when all are down, starts them in order. */
function advancePlan(s: SupervisorState, ctx: Ctx): void {
  const p = s.plan;
  if (p === null) return;
  p.waitingFor = null;
  for (;;) {
    const m = p.queue.pop();
    if (m === undefined) break;
    if (m.state === 'running') {
      if (m.spec.restart === 'temporary') {
        // temporary children are not restarted, not even by a sibling's restart
        m.final = true;
        m.state = 'terminating';
        ctx.stop(m.ref!);
      } else {
        m.state = 'halting';
        ctx.halt(m.ref!);
      }
      p.waitingFor = m;
      return;
    }
    if (m.state === 'halting' || m.state === 'terminating') {
      p.waitingFor = m;
      return;
    }
  }
  if (p.delayMs > 0) later(s, p.delayMs, () => startMembers(s, p, ctx), ctx);
  else startMembers(s, p, ctx);
}

function startMembers(s: SupervisorState, p: Plan, ctx: Ctx): void {
  if (s.plan !== p) return;
  for (const m of p.members) {
    if (m.final || !s.children.includes(m)) continue;
    if (m.state === 'halted') {
      ctx.startHalted(m.ref!);
      m.state = 'running';
    } else if (m.state === 'dead') spawn(m, ctx);
    else continue;
    emit(ctx, {
      type: 'child-restarted',
      supervisor: ctx.path,
      child: m.ref!.path,
      id: m.name,
      delayMs: p.delayMs,
      at: ctx.system.clock.now(),
    });
  }
  s.plan = null;
  const next = s.pending.find((c) => s.children.includes(c) && !c.final);
  s.pending = s.pending.filter((c) => c !== next);
  if (next !== undefined) startPlan(s, next, nextDelay(s, ctx), ctx);
}

// ---- requests ---------------------------------------------------------------------------

function fail(code: string, message: string): SupervisorReply {
  return { ok: false, code, message };
}

function handleRequest(s: SupervisorState, msg: SupervisorMsg, ctx: Ctx): void {
  switch (msg.type) {
    case 'supervisor.timer': {
      const fn = s.timers.get(msg.token);
      s.timers.delete(msg.token);
      // giving up: no delayed respawn or group start any more
      if (s.givingUp === null) fn?.();
      return;
    }
    case 'supervisor.start-child': {
      if (s.o.strategy === 'simple-one-for-one') {
        const template = s.o.children[0]!;
        const c = addChild(s, template, `${template.id}-${++s.dynamicSeq}`, msg.spec, true, ctx);
        ctx.reply({ ok: true, ref: c.ref! });
        return;
      }
      let spec: ResolvedChildSpec;
      try {
        spec = resolveChildSpec(msg.spec, 'spec', s.o.strategy, s.o.autoShutdown);
      } catch (error) {
        ctx.reply(fail((error as TroupeError).code, (error as Error).message));
        return;
      }
      if (s.children.some((c) => c.name === spec.id)) {
        ctx.reply(
          fail('ERR_CHILD_EXISTS', `a child with id ${spec.id} already exists in ${ctx.path}`),
        );
        return;
      }
      const c = addChild(s, spec, spec.id, undefined, false, ctx);
      ctx.reply({ ok: true, ref: c.ref! });
      return;
    }
    case 'supervisor.terminate-child': {
      const c =
        msg.ref !== undefined ? find(s, msg.ref) : s.children.find((x) => x.name === msg.id);
      if (c === undefined) {
        ctx.reply(
          fail('ERR_CHILD_NOT_FOUND', `no child ${msg.id ?? msg.ref?.path} in ${ctx.path}`),
        );
        return;
      }
      if (c.state === 'dead' || c.ref === null) {
        if (c.dynamic) remove(s, c);
        ctx.reply({ ok: true });
        return;
      }
      c.state = 'terminating';
      c.terminateReply = (ctx.replyTo as ActorRef<SupervisorReply> | undefined) ?? null;
      ctx.stop(c.ref);
      return;
    }
    case 'supervisor.restart-child': {
      const c = s.children.find((x) => x.name === msg.id && !x.dynamic);
      if (c === undefined)
        return ctx.reply(fail('ERR_CHILD_NOT_FOUND', `no child ${msg.id} in ${ctx.path}`));
      if (c.state !== 'dead')
        return ctx.reply(fail('ERR_CHILD_RUNNING', `child ${msg.id} of ${ctx.path} is running`));
      spawn(c, ctx);
      ctx.reply({ ok: true, ref: c.ref! });
      return;
    }
    case 'supervisor.delete-child': {
      const c = s.children.find((x) => x.name === msg.id && !x.dynamic);
      if (c === undefined)
        return ctx.reply(fail('ERR_CHILD_NOT_FOUND', `no child ${msg.id} in ${ctx.path}`));
      if (c.state !== 'dead')
        return ctx.reply(fail('ERR_CHILD_RUNNING', `child ${msg.id} of ${ctx.path} is running`));
      remove(s, c);
      ctx.reply({ ok: true });
      return;
    }
    case 'supervisor.which-children':
      ctx.reply({
        ok: true,
        children: s.children.map((c) => ({
          id: c.name,
          ref: c.state === 'dead' ? undefined : (c.ref ?? undefined),
          type: isSupervisor(c.spec.behaviour) ? 'supervisor' : 'worker',
          restart: c.spec.restart,
        })),
      });
      return;
    case 'supervisor.count-children': {
      const sup = s.children.filter((c) => isSupervisor(c.spec.behaviour)).length;
      ctx.reply({
        ok: true,
        counts: {
          specs: s.o.strategy === 'simple-one-for-one' ? 1 : s.children.length,
          active: s.children.filter((c) => c.state !== 'dead').length,
          supervisors: sup,
          workers: s.children.length - sup,
        },
      });
      return;
    }
  }
}

export type { ChildSpec, SupervisorOptions };
