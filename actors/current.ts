/**
 * The context of the actor whose store transition or machine action is running. XState
 * actions and @xstate/store effects do not receive troupe's ActorContext, so the adapters
 * set it here for the duration of one `send`; `actorContext()` reads it.
 */
import { TroupeError } from '../runtime/core/error.ts';
import type { ActorContext } from '../runtime/core/context.ts';

let active: ActorContext<any, any> | null = null;

export class NoActorContextError extends TroupeError {
  constructor(what: string) {
    super(
      'ERR_NO_ACTOR_CONTEXT',
      `${what} can only be used while a troupe actor handles a message (in a machine action or a store effect)`,
    );
  }
}

/** The running actor's context; throws NoActorContextError outside one. */
export function actorContext<In = unknown, Reply = unknown>(
  what = 'actorContext()',
): ActorContext<In, Reply> {
  if (active === null) throw new NoActorContextError(what);
  return active as ActorContext<In, Reply>;
}

/** Makes `ctx` the active context; returns the previous one for leaveActorContext (no closure per message). */
export function enterActorContext(ctx: ActorContext<any, any>): ActorContext<any, any> | null {
  const saved = active;
  active = ctx;
  return saved;
}

export function leaveActorContext(saved: ActorContext<any, any> | null): void {
  active = saved;
}
