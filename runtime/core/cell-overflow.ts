/**
 * A message that finds its actor's mailbox full, by the mailbox's overflow policy
 * (runtime/core/mailbox.ts; `mailbox.overflow` in the spawn options):
 * - `drop-newest`: the new message is a dead letter (`mailbox-full`);
 * - `drop-oldest`: the oldest queued one is (`dropped-oldest`, an ask of it fails now), and
 *   the new one is queued;
 * - `reject`: the new one is a dead letter and its sender, if any, is told
 *   `troupe.delivery-failed` with a MailboxFullError;
 * - `fail`: the new one is a dead letter and the actor fails with a MailboxFullError.
 */
import { MailboxFullError } from './mailbox.ts';
import type { Delivery, LocalRef } from './ref.ts';
import { MessageMeta } from './envelope.ts';
import { AskDeliveryError, ReplyFailure } from './ask.ts';
import type { DeadLetterReason } from './dead-letters.ts';
import type { DeliveryFailed } from './notices.ts';
import { senderOf, type ActorCell } from './cell.ts';

/** A message arrives at a full mailbox: what its overflow policy does with it. */
export function onFull(cell: ActorCell, msg: unknown, meta: unknown): Delivery {
  const mb = cell.mailbox;
  switch (mb.overflow) {
    case 'drop-newest':
      return cell.deadLetter(msg, meta, 'mailbox-full', undefined, 'dropped');
    case 'drop-oldest': {
      const old = mb.shift();
      const oldMeta = mb.meta;
      cell.deadLetter(old, oldMeta, 'dropped-oldest', undefined, 'dropped');
      failAsk(cell, oldMeta, 'dropped-oldest');
      mb.push(msg, meta);
      return 'enqueued';
    }
    case 'reject': {
      const error = new MailboxFullError(cell.path, mb.capacity, 'reject');
      cell.deadLetter(msg, meta, 'mailbox-full', error, 'rejected');
      const sender = senderOf(meta);
      if (sender !== undefined) {
        const notice: DeliveryFailed = {
          type: 'troupe.delivery-failed',
          to: cell.ref,
          message: msg,
          error,
        };
        // sent by nobody: a notice that finds the sender's own mailbox full is a dead letter,
        // not the cause of another notice (which would recurse without end)
        (sender as LocalRef).deliverWithMeta(notice, null);
      }
      return 'rejected';
    }
    case 'fail': {
      const error = new MailboxFullError(cell.path, mb.capacity, 'fail');
      cell.deadLetter(msg, meta, 'mailbox-full', error, 'rejected');
      // the message being saved (if any) was handled: its outbox still goes once it is safe
      cell.fail(error, false, undefined, null, null, true);
      return 'rejected';
    }
  }
}

/**
 * A message that was accepted and is now lost (the actor stopped with it queued, policy
 * `drop-oldest`, its sender failed): an ask of it fails now, not at its deadline.
 */
export function failAsk(cell: ActorCell, meta: unknown, reason: DeadLetterReason): void {
  if (!(meta instanceof MessageMeta) || meta.replyTo === null) return;
  (meta.replyTo as LocalRef).deliverWithMeta(
    new ReplyFailure(new AskDeliveryError(cell.path, 'dead-letter', reason)),
    null,
  );
}
