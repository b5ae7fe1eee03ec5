/**
 * The parts of the ActorContext (runtime/core/context.ts) that are more than a call: who to
 * reply to, and the reply itself. The cell is the context; its methods call these.
 *
 * The reply address of the message being handled is, in order: an ask's `replyTo`, the
 * sender named in its meta, the sending cell (a tell on this thread), or the sender's ref
 * (a tell from another shard). A reply with no address is a dead letter
 * (`no-reply-address`).
 */
import { MessageMeta } from './envelope.ts';
import { LocalRef, type ActorRef } from './ref.ts';
import { ActorCell } from './cell.ts';

/** `ctx.replyTo`: where a reply to the message being handled goes, if anywhere. */
export function replyTo<Reply>(cell: ActorCell<any, Reply>): ActorRef<Reply> | undefined {
  const m = cell.handling;
  if (m instanceof MessageMeta) return m.replyTo ?? m.from ?? undefined;
  if (m instanceof ActorCell) return m.ref as ActorRef<Reply>;
  if (m instanceof LocalRef) return m as ActorRef<Reply>;
  return undefined;
}

/** `ctx.reply`: tells the reply address, or makes the value a dead letter. */
export function reply<Reply>(cell: ActorCell<any, Reply>, value: Reply): void {
  const m = cell.handling;
  if (m instanceof MessageMeta) {
    if (m.replyTo !== null) {
      m.replyTo.tell(value);
      return;
    }
    if (m.from !== null) {
      m.from.tell(value);
      return;
    }
  } else if (m instanceof ActorCell) {
    m.ref.tell(value);
    return;
  } else if (m instanceof LocalRef) {
    m.tell(value);
    return;
  }
  cell.system.deadLetter(value, cell.ref, cell, 'no-reply-address', undefined);
}
