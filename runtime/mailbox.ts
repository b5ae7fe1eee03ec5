/**
 * The mailbox: a bounded FIFO of user messages in front of one actor.
 *
 * - Bounded: at most `capacity` messages (default DEFAULT_MAILBOX_CAPACITY; `Infinity` to
 *   lift the bound, said explicitly).
 * - Storage grows lazily: an idle actor holds no buffer at all; the ring buffer starts at
 *   INITIAL_SLOTS messages and doubles as needed (never beyond what `capacity` requires),
 *   and is released when it drains after having grown large.
 * - Each entry is the message and its meta (who sent it, where to reply, trace context),
 *   stored side by side in one array: no per-message wrapper object.
 * - Overflow: the policy decides what happens to the message that does not fit
 *   (`drop-newest`: the new message goes to dead letters; `drop-oldest`: the oldest queued
 *   message goes to dead letters and the new one is queued; `reject`: the new message goes
 *   to dead letters and the sender is told; `fail`: the new message goes to dead letters and
 *   the actor fails with MailboxFullError). The cell applies the policy; the mailbox only
 *   stores.
 *
 * System messages (stop, watch, failure directives) do not go through this queue: the cell
 * keeps them apart and handles them before any queued user message.
 */
import { TroupeError } from './error.ts';
import type { ActorPath } from './address.ts';

/** Default bound of a mailbox, in messages. */
export const DEFAULT_MAILBOX_CAPACITY = 10_000;
/** First allocation of a mailbox's ring buffer, in messages. */
const INITIAL_SLOTS = 8;
/** A drained buffer larger than this (in messages) is released rather than kept. */
const RETAIN_SLOTS = 1024;

export type OverflowPolicy = 'drop-newest' | 'drop-oldest' | 'reject' | 'fail';
export const OVERFLOW_POLICIES: readonly OverflowPolicy[] = [
  'drop-newest',
  'drop-oldest',
  'reject',
  'fail',
];

export interface MailboxOptions {
  /** Most messages queued at once. Default DEFAULT_MAILBOX_CAPACITY (10,000). */
  readonly capacity?: number;
  /** What to do with a message that does not fit. Default `drop-newest`. */
  readonly overflow?: OverflowPolicy;
}

export class MailboxFullError extends TroupeError {
  readonly path: ActorPath;
  readonly capacity: number;
  readonly policy: OverflowPolicy;
  constructor(path: ActorPath, capacity: number, policy: OverflowPolicy) {
    super(
      'ERR_MAILBOX_FULL',
      `mailbox of ${path} is full (${capacity} messages, policy ${policy}); raise mailbox.capacity or slow the sender`,
    );
    this.path = path;
    this.capacity = capacity;
    this.policy = policy;
  }
}

export class Mailbox {
  /** [msg0, meta0, msg1, meta1, …]; null until the first message. */
  private buf: unknown[] | null = null;
  /** Index of the head message's slot pair, in messages. */
  private head = 0;
  size = 0;
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  /** The meta of the message last returned by shift(). */
  meta: unknown = undefined;

  constructor(capacity: number, overflow: OverflowPolicy) {
    this.capacity = capacity;
    this.overflow = overflow;
  }

  get isFull(): boolean {
    return this.size >= this.capacity;
  }

  /** Appends; the caller has checked `isFull`. */
  push(msg: unknown, meta: unknown): void {
    let buf = this.buf;
    if (buf === null) buf = this.buf = new Array<unknown>(INITIAL_SLOTS * 2);
    else if (this.size * 2 === buf.length) buf = this.grow(buf);
    const slot = ((this.head + this.size) & ((buf.length >> 1) - 1)) << 1;
    buf[slot] = msg;
    buf[slot + 1] = meta;
    this.size++;
  }

  /** Removes and returns the head message (its meta lands in `this.meta`); size must be > 0. */
  shift(): unknown {
    const buf = this.buf!;
    const slot = this.head << 1;
    const msg = buf[slot];
    this.meta = buf[slot + 1];
    buf[slot] = undefined;
    buf[slot + 1] = undefined;
    this.head = (this.head + 1) & ((buf.length >> 1) - 1);
    if (--this.size === 0) {
      this.head = 0;
      if (buf.length > RETAIN_SLOTS * 2) this.buf = null;
    }
    return msg;
  }

  /** Removes everything, calling `each(msg, meta)` in FIFO order (used on stop). */
  drain(each: (msg: unknown, meta: unknown) => void): void {
    while (this.size > 0) {
      const msg = this.shift();
      each(msg, this.meta);
    }
    this.meta = undefined;
    this.buf = null;
  }

  private grow(buf: unknown[]): unknown[] {
    const slots = buf.length >> 1;
    const next = new Array<unknown>(buf.length * 2);
    for (let i = 0; i < this.size; i++) {
      const from = ((this.head + i) & (slots - 1)) << 1;
      next[i * 2] = buf[from];
      next[i * 2 + 1] = buf[from + 1];
    }
    this.head = 0;
    this.buf = next;
    return next;
  }
}
