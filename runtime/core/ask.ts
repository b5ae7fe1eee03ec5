/**
 * Ask: a tell with a correlation id, a temporary reply address and a deadline.
 *
 * The reply is routed to that address (a TempReceiver under `/temp`), never to a closure held
 * by the callee, so it can come back from any thread or node. Deadlines are entries in the
 * system's one timer heap (runtime/core/timers.ts), not a `setTimeout` each.
 *
 * - The callee answers with `ctx.reply(value)`; the promise resolves with it.
 * - After `timeout` ms (default ASK_TIMEOUT_MS, or the system's `askTimeoutMs`) the promise
 *   rejects with AskTimeoutError; a reply that comes later goes to dead letters with reason
 *   `ask-timed-out` (the last ASK_TOMBSTONES timed-out addresses are remembered for that).
 * - If the message cannot be delivered (no such actor, mailbox full) the promise rejects at
 *   once with AskDeliveryError; if the callee fails while handling it, with ActorFailedError.
 * - If it was delivered but is then lost before the callee handles it, the promise rejects
 *   at that moment with AskDeliveryError whose `reason` says why: the callee stopped with it
 *   still queued (`stopped`), policy `drop-oldest` dropped it (`dropped-oldest`), the asking
 *   actor failed before its outbox was released (`sender-failed`), its thread died
 *   (ShardLostError), its node went down or was unreachable (NodeDownError).
 * Every ask ends: with its reply, one of these errors, or its timeout.
 */
import { TroupeError } from './error.ts';
import type { ActorPath } from '../../protocol/address.ts';
import type { Delivery } from './ref.ts';
import type { DeadLetterReason } from './dead-letters.ts';
import type { Principal } from './principal.ts';

/** Default deadline of an ask, in milliseconds. */
export const ASK_TIMEOUT_MS = 5_000;
/** How many timed-out reply addresses are remembered, to name late replies as such. */
export const ASK_TOMBSTONES = 1_024;

export interface AskOptions {
  /** Milliseconds to wait for the reply. Default: the system's askTimeoutMs (ASK_TIMEOUT_MS). */
  readonly timeout?: number;
  /**
   * Who the ask acts for: a principal the runtime gave (`ctx.principal`, or a narrowing of it;
   * runtime/core/principal.ts), for work that runs outside the actor's turn (a tool, a callback).
   * Default: in an actor's turn, its current message's principal; else none. Anything else
   * rejects with InvalidPrincipalError.
   */
  readonly principal?: Principal | null;
}

export class AskTimeoutError extends TroupeError {
  readonly path: ActorPath;
  readonly timeoutMs: number;
  constructor(path: ActorPath, timeoutMs: number) {
    super(
      'ERR_ASK_TIMEOUT',
      `no reply from ${path} within ${timeoutMs} ms; raise the timeout or check that the actor replies`,
    );
    this.path = path;
    this.timeoutMs = timeoutMs;
  }
}

export class AskDeliveryError extends TroupeError {
  readonly path: ActorPath;
  readonly delivery: Delivery;
  /** Why the message was lost after it was delivered (absent: refused at once, see `delivery`). */
  readonly reason: DeadLetterReason | undefined;
  constructor(path: ActorPath, delivery: Delivery, reason?: DeadLetterReason) {
    super(
      'ERR_ASK_UNDELIVERED',
      reason === undefined
        ? `the ask to ${path} was not delivered (${delivery})`
        : `the ask to ${path} was lost before it was handled (${reason})`,
    );
    this.path = path;
    this.delivery = delivery;
    this.reason = reason;
  }
}

/** Carries a failure to an ask's reply address instead of a value. */
export class ReplyFailure {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}
