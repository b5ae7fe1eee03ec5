/**
 * Dead letters: every message that could not be delivered or handled, with its reason.
 * Nothing is dropped silently: each one is counted (in total and per reason), kept in a
 * bounded history, and passed to subscribers.
 *
 * Subscribers are isolated: one that throws is reported to the logger and does not stop the
 * others or the actor that produced the dead letter.
 */
import type { Address } from '../../protocol/address.ts';

export type DeadLetterReason =
  /** No actor lives at the address. */
  | 'unknown-actor'
  /** The actor stopped (or was stopping) before it handled the message. */
  | 'stopped'
  /** The mailbox was full and its policy dropped or refused the new message. */
  | 'mailbox-full'
  /** The mailbox was full, policy `drop-oldest`: this queued message made room. */
  | 'dropped-oldest'
  /** The actor failed while handling this message. */
  | 'failed'
  /** A reply came after its ask had timed out. */
  | 'ask-timed-out'
  /** `reply` was called for a message that had no reply address and no sending actor. */
  | 'no-reply-address'
  /** Sent by an actor whose handling of a message then failed (persistent actors). */
  | 'sender-failed'
  /**
   * It could not be carried to its recipient's thread: it holds what cannot cross (the error
   * names the field), found after it was sent (troupe's own notices, a message changed after
   * `tell`, a persistent actor's message released after its snapshot was saved).
   */
  | 'cannot-cross'
  /**
   * Sent to an actor on a worker shard whose thread died before it handled the message (the
   * message may have been handled just before: its acknowledgement had not come back).
   */
  | 'shard-lost'
  /**
   * Handed to a sandbox in the sandbox host process (sandbox/, mode 'process') when an earlier
   * message made the sandbox fail: what it asked for did not happen (it never ran, or ran in
   * the isolate that was being disposed).
   */
  | 'sandbox-failed'
  /**
   * For an actor of another node (runtime/nodes) with no link up to it, or whose link's
   * socket holds more than it may (backpressure).
   */
  | 'node-unreachable'
  /**
   * A timer or self-message armed by an earlier incarnation of the actor (before a restart):
   * never delivered to its successor (runtime/core/cell.ts, deliverOwnTimer).
   */
  | 'stale-incarnation'
  /**
   * Refused by the actor as malformed (not an object, or a field of the wrong type), without
   * failing it: its `error` says why (actors/agent: InvalidMessageError). An ask of it is
   * answered with that error instead.
   */
  | 'invalid-message';

export interface DeadLetter {
  readonly message: unknown;
  readonly recipient: Address;
  readonly sender?: Address;
  readonly reason: DeadLetterReason;
  readonly error?: unknown;
}

export type DeadLetterListener = (letter: DeadLetter) => void;

/** Default number of recent dead letters kept for inspection. */
export const DEAD_LETTER_HISTORY = 256;

export class DeadLetters {
  private total = 0;
  private readonly perReason = new Map<DeadLetterReason, number>();
  private readonly listeners = new Set<DeadLetterListener>();
  private readonly history: DeadLetter[] = [];
  private readonly historySize: number;
  private readonly onListenerError: (error: unknown) => void;

  constructor(historySize: number, onListenerError: (error: unknown) => void) {
    this.historySize = historySize;
    this.onListenerError = onListenerError;
  }

  /** Dead letters so far. */
  get count(): number {
    return this.total;
  }

  countOf(reason: DeadLetterReason): number {
    return this.perReason.get(reason) ?? 0;
  }

  /** The most recent dead letters, oldest first (at most the history size). */
  recent(): readonly DeadLetter[] {
    return this.history.slice();
  }

  subscribe(listener: DeadLetterListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(letter: DeadLetter): void {
    this.total++;
    this.perReason.set(letter.reason, (this.perReason.get(letter.reason) ?? 0) + 1);
    if (this.historySize > 0) {
      if (this.history.length >= this.historySize) this.history.shift();
      this.history.push(letter);
    }
    for (const l of this.listeners) {
      try {
        l(letter);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
