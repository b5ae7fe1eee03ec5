/**
 * Refs: small typed handles to actors. `tell` accepts only the actor's message type; `ask`
 * resolves to its reply type. A ref is a value: it serialises as its address
 * (`{ $ref: "troupe://node/user/a" }`, see runtime/refcodec.ts) and is revived from it, so it
 * can sit in messages and snapshots; the same API works wherever the actor lives.
 *
 * A ref names an address, not an incarnation: a restarted actor keeps its refs, and a ref to
 * a stopped actor reaches a new actor spawned later under the same path (as an Erlang
 * registered name does). A ref to no live actor delivers to dead letters.
 *
 * Refs keep their internals in private fields: nothing enumerable, so XState's snapshot
 * persistence and structured copies see an opaque value.
 */
import type { ActorPath, Address } from './address.ts';
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
}

/** Where a local ref delivers: an actor cell or a temporary receiver (ask replies, listeners). */
export interface Target {
  readonly path: ActorPath;
  /** True once this target can take no more messages. */
  readonly gone: boolean;
  /** True when what it is given goes to another thread (runtime/shards): it must cross. */
  readonly remote?: boolean;
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
  ) {
    this.#system = system;
    this.#path = path;
    this.#target = target;
    if (address !== undefined) this.#address = address;
    this.#foreign = foreign;
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
    return t.deliver(msg, sys.tracing ? sys.traceMeta(cur) : cur);
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
    if (t !== null) this.#target = t;
    return t;
  }

  /** XState's `sendTo` delivers through `target._send(event)`: a troupe ref is a valid target. */
  _send(event: In): void {
    this.tell(event);
  }

  toJSON(): EncodedRef {
    return { $ref: this.address };
  }

  toString(): string {
    return `ActorRef(${this.address})`;
  }
}

export function isActorRef(value: unknown): value is ActorRef<unknown> {
  return value instanceof LocalRef;
}
