/**
 * Refs: small typed handles to actors. `tell` accepts only the actor's message type; `ask`
 * resolves to its reply type. A ref is a value: it serialises as its address
 * (`{ $ref: "troupe://node/user/a" }`, see runtime/core/refcodec.ts) and is revived from it, so it
 * can sit in messages and snapshots; the same API works wherever the actor lives.
 *
 * A ref names one spawn of an actor (Akka's model): a restarted actor keeps its refs and its
 * mailbox, but a ref to an actor that stopped never reaches a new actor spawned later at the
 * same path. Each spawn has a uid (a number that changes only when an actor is spawned anew
 * at a path); the actor's own ref, and every ref revived from an encoded one that carries the
 * uid (`{ $ref, $uid }`), is bound to it: what it sends while another spawn lives there goes
 * to dead letters. A ref revived from an address alone (`{ $ref }`, refs written before uids
 * existed, an address typed by a person) is unbound and reaches whatever actor lives at the
 * path. Entity refs are location-free and never bound. A ref to no live actor delivers to
 * dead letters.
 *
 * Refs keep their internals in private fields: nothing enumerable, so XState's snapshot
 * persistence and structured copies see an opaque value.
 */
import type { ActorPath, Address } from '../../protocol/address.ts';
import type { SystemMessage } from './system-message.ts';
import type { AskOptions } from './ask.ts';
import type { SystemCore } from './system-core.ts';

/**
 * What `tell` did with the message (same thread: synchronously known).
 * `enqueued`: in the mailbox. `dropped`: mailbox full, policy drop-newest (dead letter).
 * `rejected`: mailbox full, policy reject or fail (dead letter; the sending actor is told).
 * `dead-letter`: no live actor at the address.
 *
 * From inside an actor with persistence, a tell waits in the actor's outbox until its
 * snapshot is saved (nothing leaves before the state that sent it is safe): it returns
 * `enqueued` (accepted into the outbox), and an overflow at the receiver is reported later,
 * as a dead letter and, with `reject`, a `troupe.delivery-failed` notice to the actor.
 */
export type Delivery = 'enqueued' | 'dropped' | 'rejected' | 'dead-letter';

export interface ActorRef<In, Reply = unknown> {
  readonly address: Address;
  readonly path: ActorPath;
  /** Sends without waiting. FIFO per sender→receiver pair. Never throws for delivery problems. */
  tell(msg: In): Delivery;
  /** Sends and waits for `ctx.reply` (rejects with AskTimeoutError after `timeout` ms). */
  ask(msg: In, options?: AskOptions): Promise<Reply>;
  toJSON(): EncodedRef;
}

export interface EncodedRef {
  readonly $ref: Address;
  /** The spawn it is bound to (absent: unbound). */
  readonly $uid?: number;
}

/** Where a local ref delivers: an actor cell or a temporary receiver (ask replies, listeners). */
export interface Target {
  readonly path: ActorPath;
  /** True once this target can take no more messages. */
  readonly gone: boolean;
  /** True when what it is given goes to another thread (runtime/shards): it must cross. */
  readonly remote?: boolean;
  /** The spawn uid of an actor cell (absent for other targets). */
  readonly uid?: number;
  deliver(msg: unknown, meta: unknown): Delivery;
  sendSystem(msg: SystemMessage): void;
}

export class LocalRef<In = unknown, Reply = unknown> implements ActorRef<In, Reply> {
  readonly #system: SystemCore;
  #target: Target | null;
  /** Null for an actor's own ref until asked for: the actor makes its path lazily. */
  #path: ActorPath | null;
  #address: Address | null = null;
  /** A ref to an actor on another node: never resolved locally. */
  readonly #foreign: boolean;
  /** The spawn this ref is bound to; 0: unbound (reaches whatever lives at the path). */
  readonly #uid: number;

  /**
   * `address` is given for refs revived from an address (possibly another node's); `path`
   * may be null only when `target` is given (the target knows its path).
   */
  constructor(
    system: SystemCore,
    path: ActorPath | null,
    target: Target | null,
    address?: Address,
    foreign = false,
    uid = 0,
  ) {
    this.#system = system;
    this.#path = path;
    this.#target = target;
    if (address !== undefined) this.#address = address;
    this.#foreign = foreign;
    this.#uid = uid;
  }

  /** The spawn uid this ref is bound to; 0 when unbound. */
  get uid(): number {
    return this.#uid;
  }

  get path(): ActorPath {
    return (this.#path ??= this.#target!.path);
  }

  get address(): Address {
    return (this.#address ??= this.#system.addressOf(this.path));
  }

  tell(msg: In): Delivery {
    const sys = this.#system;
    const cur = sys.current;
    if (cur !== null && cur.outbox !== null) return cur.deferTell(this, msg);
    let t = this.#target;
    if (t === null || t.gone) {
      const r = this.resolveTarget();
      if (r !== null) t = r;
      else if (t === null) return sys.undeliverable(this, msg, cur);
      // else: the stopped target dead-letters the message with its own reason
    }
    // the cell itself is the meta, unless the message needs more: a trace, or the principal
    // the cell's current message acts for (runtime/core/principal.ts)
    return t.deliver(
      msg,
      sys.tracing || (cur !== null && cur.principal !== null) ? sys.sendMeta(cur) : cur,
    );
  }

  ask(msg: In, options?: AskOptions): Promise<Reply> {
    return this.#system.ask(this, msg, options) as Promise<Reply>;
  }

  /** Delivers with a given meta (asks, replies, released outboxes). */
  deliverWithMeta(msg: unknown, meta: unknown): Delivery {
    let t = this.#target;
    if (t === null || t.gone) {
      const r = this.resolveTarget();
      if (r !== null) t = r;
      else if (t === null) return this.#system.undeliverable(this, msg, meta);
    }
    return t.deliver(msg, meta);
  }

  /** Sends a system message; to a missing actor it is answered as the protocol requires. */
  sendSystem(msg: SystemMessage): void {
    let t = this.#target;
    if (t === null || t.gone) {
      const r = this.resolveTarget();
      if (r !== null) t = r;
      else if (t === null) return this.#system.systemUndeliverable(this, msg);
      // else: the stopped target answers as a stopped actor does
    }
    t.sendSystem(msg);
  }

  /** The target this ref last delivered to, live or not, without looking it up again. */
  get lastTarget(): Target | null {
    return this.#target;
  }

  /** The live target, if any (same-thread only). */
  get target(): Target | null {
    const t = this.#target;
    return t !== null && !t.gone ? t : this.resolveTarget();
  }

  /**
   * Looks the path up again. A prototype method: a private (#) method would put a brand on
   * every ref, 8 bytes each.
   */
  private resolveTarget(): Target | null {
    if (this.#foreign) {
      const f = this.#system.foreignTarget(this.address);
      if (f !== null) this.#target = f;
      return f;
    }
    const t = this.#system.lookup(this.path);
    if (t === null) return null;
    // another spawn at the path: not the actor this ref names (a target on another thread
    // has no uid here: the check is the cell's, on this thread only)
    if (this.#uid !== 0 && t.uid !== undefined && t.uid !== this.#uid) return null;
    this.#target = t;
    return t;
  }

  /** XState's `sendTo` delivers through `target._send(event)`: a troupe ref is a valid target. */
  _send(event: In): void {
    this.tell(event);
  }

  toJSON(): EncodedRef {
    return this.#uid === 0 ? { $ref: this.address } : { $ref: this.address, $uid: this.#uid };
  }

  toString(): string {
    return `ActorRef(${this.address})`;
  }
}

export function isActorRef(value: unknown): value is ActorRef<unknown> {
  return value instanceof LocalRef;
}
