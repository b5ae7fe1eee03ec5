/**
 * The building blocks of a supervisor's decisions (supervisors/supervisor.ts states the
 * rules): whether a restart type restarts, counting a restart against the intensity, giving
 * up, the backoff delay, and what becomes of a child whose start failed or that must be
 * spawned anew. Group restarts (supervisors/group-restart.ts) and the supervisor's hooks
 * (supervisors/supervisor.ts) are made of these.
 */
import { TroupeError } from '../runtime/core/error.ts';
import type { ActorPath } from '../protocol/address.ts';
import type { ActorContext } from '../runtime/core/context.ts';
import { recordRestart, restartsIn } from './intensity.ts';
import { backoffDelay } from './backoff.ts';
import type { RestartType } from './spec.ts';
import {
  childPath,
  emit,
  ignored,
  isRegistered,
  startActor,
  unregister,
  type Child,
  type StopCause,
} from './children.ts';
import { later } from './timers.ts';
import { stopWithShutdown } from './exit.ts';
import type { SupervisorMsg, SupervisorReply, SupervisorState } from './supervisor.ts';

type Ctx = ActorContext<SupervisorMsg, SupervisorReply>;

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

export function shouldRestart(restart: RestartType, abnormal: boolean): boolean {
  return restart === 'permanent' || (restart === 'transient' && abnormal);
}

/**
 * A child supervisor that gave up ends with `shutdown`, which OTP counts as normal (its error
 * crossed from another shard keeps its code, not its class).
 */
export function isShutdown(error: unknown): boolean {
  return (
    error instanceof MaxRestartIntensityError ||
    (error instanceof Error && (error as { code?: unknown }).code === 'ERR_MAX_RESTART_INTENSITY')
  );
}

/**
 * Counts a restart. Past the intensity the supervisor must give up: returns the
 * MaxRestartIntensityError it is to fail with (see giveUp), else null.
 */
export function countRestart(s: SupervisorState, ctx: Ctx): MaxRestartIntensityError | null {
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
export function giveUp(s: SupervisorState, error: MaxRestartIntensityError, ctx: Ctx): never {
  s.givingUp = null;
  emit(ctx, { type: 'escalated', supervisor: ctx.path, error, at: ctx.system.clock.now() });
  throw error;
}

export function nextDelay(s: SupervisorState, ctx: Ctx): number {
  const b = s.o.backoff;
  if (b === null) return 0;
  const now = ctx.system.clock.now();
  if (now - s.lastRestartAt > b.resetAfterMs) s.backoffLevel = 0;
  s.lastRestartAt = now;
  const r = jitterRandom(s, ctx);
  return backoffDelay(s.backoffLevel++, b, () => r);
}

/** The user's `random`, guarded: a throw or a value outside [0, 1] is logged and taken as 0. */
function jitterRandom(s: SupervisorState, ctx: Ctx): number {
  let r: unknown;
  try {
    r = s.o.random();
  } catch (error) {
    ctx.system.logger.error(`troupe: ${ctx.path}: random() threw; no jitter this time`, error);
    return 0;
  }
  if (typeof r === 'number' && r >= 0 && r <= 1) return r;
  ctx.system.logger.error(
    `troupe: ${ctx.path}: random() must return a number in [0, 1); no jitter this time`,
    r,
  );
  return 0;
}

export function stopFinal(c: Child, cause: StopCause): void {
  c.final = true;
  c.state = 'terminating';
  c.stopCause = cause;
  c.restarting = false;
  c.backoffMs = null;
}

/**
 * The supervisor could not spawn a child it was starting or restarting (its factory threw or
 * made no behaviour, or spawn refused): a failure of that child. A temporary child is
 * dropped; otherwise it counts as a restart and is tried again later (OTP's
 * `try_again_restart`: a message to itself, after the backoff delay if any).
 */
export function startFailed(s: SupervisorState, c: Child, error: unknown, ctx: Ctx): void {
  emit(ctx, {
    type: 'child-failed',
    supervisor: ctx.path,
    child: childPath(ctx, c),
    id: c.name,
    error,
    at: ctx.system.clock.now(),
  });
  if (s.givingUp !== null || c.spec.restart === 'temporary') {
    c.final = true;
    c.restarting = false;
    if (c.dynamic || c.spec.restart === 'temporary') unregister(s, c);
    autoShutdown(s, c, ctx);
    return;
  }
  const tooMany = countRestart(s, ctx);
  if (tooMany !== null) giveUp(s, tooMany, ctx);
  c.restarting = true;
  const delayMs = nextDelay(s, ctx);
  later(s, delayMs, () => respawn(s, c, delayMs, ctx), ctx);
}

/** Spawns anew a dead child waiting for it (a permanent child that stopped, a failed start). */
export function respawn(s: SupervisorState, c: Child, delayMs: number, ctx: Ctx): void {
  if (c.state !== 'dead' || c.final || !isRegistered(s, c)) return;
  // a group restart under way that holds it starts it
  if (s.plan !== null && s.plan.members.includes(c)) return;
  const r = startActor(c, ctx);
  if (r.kind === 'started')
    emit(ctx, {
      type: 'child-restarted',
      supervisor: ctx.path,
      child: c.ref!.path,
      id: c.name,
      delayMs,
      at: ctx.system.clock.now(),
    });
  else if (r.kind === 'ignored') ignored(s, c);
  else startFailed(s, c, r.error, ctx);
}

export function autoShutdown(s: SupervisorState, c: Child, ctx: Ctx): void {
  if (!c.spec.significant) return;
  const mode = s.o.autoShutdown;
  if (mode === 'never') return;
  if (
    mode === 'all-significant' &&
    // a simple-one-for-one supervisor's children share the template (all significant) and
    // it keeps only those not ended for good
    (s.dynamic.size > 0 ||
      s.children.some((x) => x.spec.significant && (x.state !== 'dead' || x.restarting)))
  )
    return;
  emit(ctx, {
    type: 'auto-shutdown',
    supervisor: ctx.path,
    trigger: childPath(ctx, c),
    at: ctx.system.clock.now(),
  });
  // OTP: it "shut[s] itself down with exit reason shutdown"
  stopWithShutdown(ctx);
}
