/**
 * The outbox of a persistent actor (runtime/core/persistence.ts): what it sends while it handles
 * one message is held here, and leaves only once that message's snapshot is saved, so that a
 * crash before the save never lets its effects out without the state that caused them.
 *
 * - A message for a target on another thread that cannot cross throws at `push`, in the
 *   actor's turn, as an immediate tell's would (not when the snapshot is saved, outside any
 *   turn).
 * - `release` sends them, in order, each with its meta; one changed after it was sent so that
 *   it no longer crosses is a dead letter (`cannot-cross`), and an ask among them fails at
 *   once.
 * - `drop` makes each a dead letter with the reason (the actor failed before the save:
 *   `sender-failed`; it stopped: `stopped`), and fails the asks among them at once.
 */
import { AskDeliveryError, ReplyFailure } from './ask.ts';
import { MessageMeta } from './envelope.ts';
import { crossing, encodeValue } from './refcodec.ts';
import type { DeadLetterReason } from './dead-letters.ts';
import type { LocalRef } from './ref.ts';

/** Where what cannot go is reported (the system's dead letters). */
export interface DeadLetterSink {
  deadLetter(
    msg: unknown,
    to: LocalRef,
    meta: unknown,
    reason: DeadLetterReason,
    error: unknown,
  ): void;
}

export class Outbox {
  /** ref, message, meta; ref, message, meta; … */
  readonly #held: unknown[] = [];

  /** Holds `msg` for `ref`; throws SerializationError for one that cannot cross to it. */
  push(ref: LocalRef, msg: unknown, meta: unknown): void {
    if (ref.target?.remote === true && !crossing(msg)) encodeValue(msg);
    this.#held.push(ref, msg, meta);
  }

  /** Sends what it holds, in order. */
  release(system: DeadLetterSink): void {
    const out = this.#held;
    for (let i = 0; i < out.length; i += 3) {
      const to = out[i] as LocalRef;
      try {
        to.deliverWithMeta(out[i + 1], out[i + 2]);
      } catch (error) {
        const meta = out[i + 2];
        system.deadLetter(out[i + 1], to, meta, 'cannot-cross', error);
        if (meta instanceof MessageMeta && meta.replyTo !== null)
          (meta.replyTo as LocalRef).deliverWithMeta(new ReplyFailure(error), null);
      }
    }
  }

  /** Makes what it holds dead letters with `reason` (and `error`); its asks fail now. */
  drop(system: DeadLetterSink, reason: DeadLetterReason, error: unknown): void {
    const out = this.#held;
    for (let i = 0; i < out.length; i += 3) {
      const to = out[i] as LocalRef;
      const meta = out[i + 2];
      system.deadLetter(out[i + 1], to, meta, reason, error);
      if (meta instanceof MessageMeta && meta.replyTo !== null)
        (meta.replyTo as LocalRef).deliverWithMeta(
          new ReplyFailure(new AskDeliveryError(to.path, 'dead-letter', reason)),
          null,
        );
    }
  }
}
