/**
 * What a sandbox's code asked for (its effects, parsed and checked by engine.ts's RefBook),
 * done on the node's side, in order, in the actor's turn.
 */
import type { ActorContext } from '../runtime/core/context.ts';
import type { ActorRef } from '../runtime/core/ref.ts';
import type { Effect } from './engine.ts';

/** What a sandbox's `ctx.emit(event)` sends to the ref granted as `capabilities.emit`. */
export interface SandboxEmitted {
  readonly type: 'troupe.sandbox.emitted';
  readonly from: ActorRef<unknown>;
  readonly event: unknown;
}

/**
 * Does `effects`: tells, a reply to `replyTo` (a dead letter without one), emitted events to
 * `emit`, log lines at info with the actor's path.
 */
export function applyEffects(
  effects: readonly Effect[],
  ctx: ActorContext<unknown, unknown>,
  emit: ActorRef<SandboxEmitted> | undefined,
  replyTo: ActorRef<unknown> | undefined,
): void {
  for (const e of effects) {
    switch (e.kind) {
      case 'tell':
        e.to.tell(e.msg);
        break;
      case 'reply':
        if (replyTo !== undefined) replyTo.tell(e.value);
        else
          ctx.system.deadLetters.publish({
            message: e.value,
            recipient: ctx.self.address,
            reason: 'no-reply-address',
          });
        break;
      case 'emit':
        emit!.tell({ type: 'troupe.sandbox.emitted', from: ctx.self, event: e.event });
        break;
      case 'log':
        ctx.system.logger.info(`${ctx.path}: ${e.text}`);
        break;
    }
  }
}
