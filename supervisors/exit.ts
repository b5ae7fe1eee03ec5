/**
 * Exit reasons a supervisor reads (OTP's): how an actor ended decides whether a `transient`
 * child is restarted. troupe's runtime ends an actor with one of three StopReasons
 * (runtime/core/notices.ts), which the supervisor reads as OTP reads exit reasons:
 *
 *   normal     it stopped itself (`ctx.stop()`), or another actor or `system.stop` stopped
 *              it: a normal exit, not restarted if transient
 *   shutdown   its parent stopped it (a supervisor stopping, terminateChild, a temporary
 *              child taken down by a group restart: shutdownChild below, OTP's
 *              `exit(Child, shutdown)`), or it ended with stopWithShutdown below (OTP's
 *              `shutdown` and `{shutdown, Term}`): a normal exit, not restarted if transient
 *   failed     it failed and was not restarted: abnormal
 *
 * A failure (a throw in a handler, its init, a mailbox overflow with policy `fail`) reaches
 * the supervisor before the actor ends, as a failure, and is abnormal whatever the restart
 * type; a child supervisor that gave up (MaxRestartIntensityError) counts as `shutdown`, as
 * OTP's supervisor exits with reason `shutdown` when it reaches its intensity.
 */
import { TroupeError } from '../runtime/core/error.ts';
import { LocalRef, type ActorRef } from '../runtime/core/ref.ts';
import type { ActorContext } from '../runtime/core/context.ts';
import { STOP_SHUTDOWN } from '../runtime/core/system-message.ts';

/**
 * Stops the calling actor after its current message with exit reason `shutdown`, OTP's
 * `{stop, {shutdown, Term}, State}`: a normal exit for its supervisor, so a `transient` child
 * is not restarted (a `permanent` one is, as for any end). Its watchers get
 * `troupe.terminated` with reason `shutdown` and, when `term` is given, `error:
 * { shutdown: term }` (keep `term` to data: it may cross threads). Like `ctx.stop()`, its
 * stop hook runs and its queued messages go to dead letters.
 *
 * Call it from the actor's own turn (a handler, init), with its context. Throws TroupeError
 * ERR_NOT_AN_ACTOR_CONTEXT when `ctx` is not one of troupe's actor contexts.
 */
export function stopWithShutdown(ctx: ActorContext<any, any>, term?: unknown): void {
  const self: unknown = ctx?.self;
  if (!(self instanceof LocalRef))
    throw new TroupeError(
      'ERR_NOT_AN_ACTOR_CONTEXT',
      "stopWithShutdown needs the calling actor's context (the ctx given to its handler)",
    );
  self.sendSystem(
    term === undefined
      ? { type: 'stop', reason: 'shutdown' }
      : { type: 'stop', reason: 'shutdown', error: { shutdown: term } },
  );
}

/**
 * Stops another actor (a child the supervisor terminates) after its current message with exit
 * reason `shutdown`, OTP's `exit(Child, shutdown)`: its stop hook runs within its `shutdown`
 * (none when `brutal`), and its watchers get `troupe.terminated` with reason `shutdown`.
 */
export function shutdownChild(ref: ActorRef<any, any>): void {
  (ref as LocalRef).sendSystem(STOP_SHUTDOWN);
}
