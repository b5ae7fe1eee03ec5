/**
 * The mailbox: a bounded FIFO of user messages in front of one actor.
 *
 * - Bounded: at most `capacity` messages (default DEFAULT_MAILBOX_CAPACITY; `Infinity` to
 *   lift the bound, said explicitly).
 * - Storage grows lazily: an idle actor holds no buffer at all, and a message that arrives
 *   in an empty mailbox is held in the mailbox itself (most actors of a request-reply or a
 *   fan-out never have two queued: they never allocate a buffer). Messages queued behind it
 *   sit in a chain of segments: the first holds INITIAL_SLOTS messages, each next one twice as
 *   many up to MAX_CHUNK_SLOTS, so a burst of a million messages is never copied; a drained
 *   mailbox keeps only a small segment.
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
import type { ActorPath } from '../../protocol/address.ts';

/** Default bound of a mailbox, in messages. */
export const DEFAULT_MAILBOX_CAPACITY = 10_000;
/** First segment of a mailbox, in messages. */
const INITIAL_SLOTS = 8;
/** Segments double up to this size, in messages. */
const MAX_CHUNK_SLOTS = 1024;
/** A drained segment larger than this (in messages) is released rather than kept. */
const RETAIN_SLOTS = 64;

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

/** One segment of a mailbox: `cap` messages stored as [msg, meta] pairs. */
class Chunk {
  readonly buf: unknown[];
  readonly cap: number;
  next: Chunk | null = null;
  constructor(cap: number) {
    this.cap = cap;
    this.buf = new Array<unknown>(cap * 2);
  }
}

export class Mailbox {
  /** Oldest segment (null until the first message, and after a drain of a large one). */
  private head: Chunk | null = null;
  private tail: Chunk | null = null;
  /**
   * Next message to take from `head` (-1: the oldest message is the one held in `one`), next
   * free slot of `tail`, in messages. Both are 0 whenever the mailbox is empty.
   */
  private headIdx = 0;
  private tailIdx = 0;
  /** The message that arrived in an empty mailbox, and its meta, while headIdx is -1. */
  private one: unknown = undefined;
  private oneMeta: unknown = undefined;
  size = 0;
  /**
   * Messages taken out so far (handled, or drained at a stop): with `size`, tells whether a
   * message pushed earlier has left the mailbox (runtime/shards/router.ts acknowledges frames
   * by it).
   */
  taken = 0;
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

  /** Messages of storage held right now, over all segments (0 for an idle mailbox). */
  get allocated(): number {
    let n = 0;
    for (let c = this.head; c !== null; c = c.next) n += c.cap;
    return n;
  }

  /** Appends; the caller has checked `isFull`. Never copies queued messages. */
  push(msg: unknown, meta: unknown): void {
    if (this.size === 0) {
      this.one = msg;
      this.oneMeta = meta;
      this.headIdx = -1;
      this.size = 1;
      return;
    }
    let t = this.tail;
    if (t === null) t = this.head = this.tail = new Chunk(INITIAL_SLOTS);
    else if (this.tailIdx === t.cap) {
      const next = new Chunk(t.cap < MAX_CHUNK_SLOTS ? t.cap * 2 : MAX_CHUNK_SLOTS);
      t.next = next;
      this.tail = t = next;
      this.tailIdx = 0;
    }
    const i = this.tailIdx++ << 1;
    t.buf[i] = msg;
    t.buf[i + 1] = meta;
    this.size++;
  }

  /** Removes and returns the head message (its meta lands in `this.meta`); size must be > 0. */
  shift(): unknown {
    this.taken++;
    if (this.headIdx < 0) {
      const one = this.one;
      this.meta = this.oneMeta;
      this.one = this.oneMeta = undefined;
      this.headIdx = 0;
      this.size--;
      return one;
    }
    const h = this.head!;
    const i = this.headIdx << 1;
    const buf = h.buf;
    const msg = buf[i];
    this.meta = buf[i + 1];
    buf[i] = undefined;
    buf[i + 1] = undefined;
    if (--this.size === 0) {
      // drained: keep a small segment for the next message, release a large one
      if (h.cap > RETAIN_SLOTS) this.head = this.tail = null;
      else h.next = null;
      this.headIdx = this.tailIdx = 0;
    } else if (++this.headIdx === h.cap) {
      this.head = h.next;
      h.next = null;
      this.headIdx = 0;
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
    this.head = this.tail = null;
  }
}
