/**
 * A message an agent or a budget keeper refuses as malformed: it is not an object with a
 * string `type`, or one of its fields has the wrong type. The message fails, never the actor
 * (a throw in the actor's turn would fail it, and a restarted keeper or agent loses what only
 * it held): an ask of it is answered with InvalidMessageError (the asker's ask rejects with
 * it); anything else goes to dead letters with reason `invalid-message` and that error.
 */
import { ReplyFailure } from '../../runtime/core/ask.ts';
import { TroupeError, describe } from '../../runtime/core/error.ts';
import type { ActorContext } from '../../runtime/core/context.ts';
import { isTempAddress } from '../../runtime/core/temp.ts';

/** A message the actor refused: `why` says what is wrong with it. */
export class InvalidMessageError extends TroupeError {
  /** The refusing actor's path. */
  readonly path: string;
  readonly why: string;
  constructor(path: string, why: string) {
    super('ERR_INVALID_MESSAGE', `${path} refused a message: ${why}`);
    this.name = 'InvalidMessageError';
    this.path = path;
    this.why = why;
  }
}

/** Refuses the message being handled (see above); `why` names the wrong field. */
export function refuse(ctx: ActorContext<any, any>, msg: unknown, why: string): void {
  const error = new InvalidMessageError(ctx.path, why);
  const to = ctx.replyTo;
  // an ask's reply address is a temporary receiver's: a failure goes there as its answer
  if (to !== undefined && isTempAddress(to.address)) {
    to.tell(new ReplyFailure(error));
    return;
  }
  const sender = ctx.sender;
  ctx.system.deadLetters.publish({
    message: msg,
    recipient: ctx.self.address,
    ...(sender === undefined ? {} : { sender: sender.address }),
    reason: 'invalid-message',
    error,
  });
}

/** The message as an object with a string `type`, or null. */
export function typed(msg: unknown): (Record<string, unknown> & { type: string }) | null {
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return null;
  const type = (msg as { type?: unknown }).type;
  return typeof type === 'string' ? (msg as Record<string, unknown> & { type: string }) : null;
}

/** What a message that is not an object with a string `type` is called in a refusal. */
export function untyped(msg: unknown): string {
  return `not an object with a string "type" (${describe(msg)})`;
}

/** Why `o[field]` is not a string (null when it is one, or absent and `optional`). */
export function stringField(
  o: Record<string, unknown>,
  field: string,
  optional = false,
): string | null {
  const v = o[field];
  if (typeof v === 'string' || (optional && v === undefined)) return null;
  return `${String(o.type).slice(0, 40)}: "${field}" must be a string${optional ? ' when given' : ''}`;
}
