/**
 * Virtual actors (entities): `system.define(kind, behaviour, options)` and
 * `system.entity(kind, id)` → a ref whose address is location-free
 * (`troupe:entity/<kind>/<id>`). The first message activates the entity on a node chosen by
 * placement; an entity idle for `passivateAfterMs` is passivated (its snapshot is saved after
 * every message anyway; it is stopped and its claim released) and activated again by its next
 * message, from that snapshot.
 *
 * Where an entity lives is the directory's (runtime/cluster/directory.ts): on one node it is
 * this process's; in a cluster, Redis, with an atomic claim per entity carrying a fencing
 * epoch. At most one activation cluster-wide: a node activates an entity only once it holds
 * the claim, and its snapshot writes are fenced by the claim's epoch, so a node that lost it
 * (paused past its heartbeat's TTL, cut off) cannot write over the new owner's state: its
 * write fails with EntityLostError, and the activation stops.
 *
 * Delivery: a message for an entity active here goes straight to its actor. Otherwise it
 * waits in order (per entity) while the owner is looked up, then goes to the owner's node, or
 * is activated here. Messages keep their order per sender and entity, except across a move
 * (a passivation, a failover), when those in flight may go to dead letters (`node-unreachable`
 * or `unknown-actor`): at-most-once, as everywhere.
 *
 * Activations run on the main thread, as children of `/system` named `e.<kind>.<id in
 * base64url>`.
 *
 * Over 600 lines: entities' activation, passivation, forwarding and reminders share one
 * table of activations and the directory's claims.
 */
import { createHash } from 'node:crypto';
import { TroupeError, InvalidOptionError, describe } from '../core/index.ts';
import { entityAddress, parseAddress, type Address } from '../../protocol/address.ts';
import type { ActorRef, Delivery, Target } from '../core/index.ts';
import type { ActorPath } from '../../protocol/address.ts';
import type { Behaviour } from '../core/index.ts';
import type { MailboxOptions } from '../core/index.ts';
import type { PersistenceStore } from '../core/index.ts';
import type { SystemMessage } from '../core/index.ts';
import type { Terminated } from '../core/index.ts';
import type { DeadLetterReason } from '../core/index.ts';
import type { Directory } from './directory.ts';
import type { Reminders } from './reminders.ts';
import { encodeValue } from '../core/index.ts';
import { systemClock, type Clock } from '../core/index.ts';
import { backgroundTimeout, every, type Repeating } from '../core/index.ts';

/** Idle milliseconds before an entity is passivated, by default. */
export const DEFAULT_PASSIVATE_AFTER_MS = 60_000;
/** Messages that wait for one entity's owner to be found, at most (then dead letters). */
export const PENDING_PER_ENTITY = 10_000;
/** Lookups of an entity's owner that found no link to it, before its messages go to dead letters. */
export const FORWARD_RETRIES = 40;
export const FORWARD_RETRY_MS = 250;
/** How long a passivation waits for its actor's mailbox to empty before stopping it. */
export const PASSIVATE_WAIT_MS = 10_000;
/** How often a passivation looks whether the entity's mailbox is empty yet (real time). */
const QUIET_POLL_MS = 5;

const KIND = /^[A-Za-z0-9_-]{1,64}$/;

export interface EntityOptions {
  /** Idle milliseconds before the entity is passivated (default DEFAULT_PASSIVATE_AFTER_MS). */
  readonly passivateAfterMs?: number;
  /** Where a first activation goes: `hash` of kind and id over the live nodes (default), or the `least-loaded`. */
  readonly placement?: 'hash' | 'least-loaded';
  readonly mailbox?: MailboxOptions;
}

interface Kind {
  readonly behaviour: Behaviour<any, any, any>;
  readonly passivateAfterMs: number;
  readonly placement: 'hash' | 'least-loaded';
  readonly mailbox: MailboxOptions | undefined;
}

interface Activation {
  readonly kind: string;
  readonly id: string;
  readonly ref: ActorRef<unknown>;
  readonly epoch: number;
  last: number;
  readonly unwatch: () => void;
}

interface Waiting {
  readonly kind: 'user' | 'system';
  readonly msg: unknown;
  readonly meta: unknown;
}

export class EntityNotDefinedError extends TroupeError {
  readonly kind: string;
  constructor(kind: string) {
    super('ERR_ENTITY_NOT_DEFINED', `no entity kind ${describe(kind)} is defined on this node`);
    this.kind = kind;
  }
}

/** What the host needs of its system. */
export interface EntityHostSystem {
  readonly nodeId: string;
  now(): number;
  /** Spawns an activation under `/system`. */
  spawnEntity(
    behaviour: Behaviour<any, any, any>,
    name: string,
    store: PersistenceStore,
    key: string,
    mailbox: MailboxOptions | undefined,
  ): ActorRef<unknown>;
  stop(ref: ActorRef<any, any>): Promise<void>;
  /** The actor has nothing queued and is not in a turn or a save. */
  quiet(ref: ActorRef<any, any>): boolean;
  watch(ref: ActorRef<any, any>, listener: (t: Terminated) => void): () => void;
  /** Sends to the entity's activation on `node` (over its link); false when no link is up. */
  /** Sends a reminder's message (ref-codec form) to the entity at `address`. */
  remind(address: Address, body: unknown): void;
  forward(
    node: string,
    address: Address,
    kind: 'user' | 'system',
    msg: unknown,
    meta: unknown,
  ): boolean;
  deadLetter(
    address: Address,
    msg: unknown,
    meta: unknown,
    reason: DeadLetterReason,
    error?: unknown,
  ): void;
  logError(message: string, error?: unknown): void;
}

export class Entities {
  readonly #system: EntityHostSystem;
  readonly #directory: Directory;
  readonly #reminders: Reminders;
  /** Entity addresses by their activation's path (for `ctx.remindAt`). */
  readonly #byPath = new Map<string, Address>();
  readonly #kinds = new Map<string, Kind>();
  readonly #active = new Map<Address, Activation>();
  /** Messages waiting for an entity's owner to be found (or its passivation to end). */
  readonly #waiting = new Map<Address, Waiting[]>();
  /** Entities being passivated: their claim is released when it settles. */
  readonly #passivating = new Map<Address, Promise<void>>();
  readonly #targets = new Map<Address, EntityTarget>();
  /** The node last found to hold an entity not active here (a hint: wrong ones heal). */
  readonly #owners = new Map<Address, string>();
  readonly #clock: Clock;
  /** The passivation sweep, once an entity kind is defined. */
  #sweep: Repeating | null = null;
  /** New activations are refused (the node is leaving): messages go to other nodes. */
  #draining = false;
  #closed = false;

  /**
   * `clock`: the system's (default: the real clock): the passivation sweep and the forward
   * retries run on it (timestamps are `system.now()`, the same clock).
   */
  constructor(
    system: EntityHostSystem,
    directory: Directory,
    reminders: Reminders,
    clock: Clock = systemClock,
  ) {
    this.#system = system;
    this.#clock = clock;
    this.#directory = directory;
    this.#reminders = reminders;
  }

  /** Starts sending due reminders (once the directory's store is reachable). */
  startReminders(): void {
    this.#reminders.start((address, body) => this.#system.remind(address, body));
  }

  /**
   * `ctx.remindAt(time, msg)` of the activation at `path`: `msg` is sent to the entity at
   * `time` (epoch milliseconds or a Date), activating it if it was passivated. Throws
   * TroupeError (ERR_NOT_AN_ENTITY) for an actor that is not an entity's activation,
   * InvalidOptionError for a bad time, SerializationError for a message that cannot be kept.
   */
  remindAt(path: string, time: number | Date, msg: unknown): void {
    const address = this.#byPath.get(path);
    if (address === undefined)
      throw new TroupeError(
        'ERR_NOT_AN_ENTITY',
        `${path} is not an entity: only entities have durable reminders`,
      );
    const due = time instanceof Date ? time.getTime() : time;
    if (typeof due !== 'number' || !Number.isFinite(due))
      throw new InvalidOptionError('time', time, 'epoch milliseconds or a valid Date');
    const body = encodeValue(msg);
    this.#reminders
      .add(address, due, body)
      .catch((e: unknown) =>
        this.#system.logError(`troupe: a reminder of ${address} could not be kept`, e),
      );
  }

  get directory(): Directory {
    return this.#directory;
  }

  /** Entities active on this node. */
  get activeCount(): number {
    return this.#active.size;
  }

  /** Whether `kind` is defined on this node (`system.define`). */
  defines(kind: string): boolean {
    return this.#kinds.has(kind);
  }

  define(kind: string, behaviour: Behaviour<any, any, any>, options: EntityOptions = {}): void {
    if (typeof kind !== 'string' || !KIND.test(kind))
      throw new InvalidOptionError('kind', kind, 'letters, digits, _ and -, 1 to 64 of them');
    if (this.#kinds.has(kind))
      throw new InvalidOptionError('kind', kind, 'a kind not defined yet on this node');
    if (
      typeof behaviour !== 'object' ||
      behaviour === null ||
      typeof behaviour.receive !== 'function'
    )
      throw new InvalidOptionError(
        'behaviour',
        behaviour,
        'a behaviour (fromReceive, fromMachine, …)',
      );
    const o = options as Record<string, unknown>;
    for (const k of Object.keys(o))
      if (!['passivateAfterMs', 'placement', 'mailbox'].includes(k))
        throw new InvalidOptionError(
          `options.${k}`,
          o[k],
          'absent (known: passivateAfterMs, placement, mailbox)',
        );
    const passivateAfterMs = options.passivateAfterMs ?? DEFAULT_PASSIVATE_AFTER_MS;
    if (typeof passivateAfterMs !== 'number' || !(passivateAfterMs > 0))
      throw new InvalidOptionError(
        'options.passivateAfterMs',
        passivateAfterMs,
        'a number of milliseconds > 0',
      );
    const placement = options.placement ?? 'hash';
    if (placement !== 'hash' && placement !== 'least-loaded')
      throw new InvalidOptionError('options.placement', placement, "'hash' or 'least-loaded'");
    this.#kinds.set(kind, { behaviour, passivateAfterMs, placement, mailbox: options.mailbox });
    this.#startSweep();
  }

  /** The address of an entity (throws InvalidOptionError on a bad kind or id). */
  address(kind: string, id: string): Address {
    if (typeof kind !== 'string' || !KIND.test(kind))
      throw new InvalidOptionError('kind', kind, 'letters, digits, _ and -, 1 to 64 of them');
    if (typeof id !== 'string' || id.length === 0 || id.length > 1_024)
      throw new InvalidOptionError('id', id, 'a string of 1 to 1,024 characters');
    return entityAddress(kind, id);
  }

  /** The target of an entity's ref. */
  targetFor(address: Address): Target {
    let t = this.#targets.get(address);
    if (t === undefined) {
      const parsed = parseAddress(address);
      if (parsed.type !== 'entity') throw new Error(`not an entity address: ${address}`);
      // one spelling per entity (`%61` and `a` are the same id): the one address() makes,
      // checked as address() checks it
      const canonical = this.address(parsed.kind, parsed.id);
      t = this.#targets.get(canonical);
      if (t === undefined) {
        t = new EntityTarget(this, canonical, parsed.kind, parsed.id);
        if (this.#targets.size >= 100_000) this.#targets.clear();
        this.#targets.set(canonical, t);
      }
      if (canonical !== address) this.#targets.set(address, t);
    }
    return t;
  }

  /** A message for an entity, sent from this node. */
  deliver(t: EntityTarget, kind: 'user' | 'system', msg: unknown, meta: unknown): Delivery {
    const a = this.#active.get(t.address);
    if (a !== undefined) {
      a.last = this.#system.now();
      if (kind === 'system') {
        (a.ref as unknown as Target).sendSystem(msg as SystemMessage);
        return 'enqueued';
      }
      return (
        a.ref as unknown as { deliverWithMeta(m: unknown, meta: unknown): Delivery }
      ).deliverWithMeta(msg, meta);
    }
    const owner = this.#owners.get(t.address);
    if (owner !== undefined && !this.#waiting.has(t.address)) {
      if (this.#system.forward(owner, t.address, kind, msg, meta)) return 'enqueued';
      this.#owners.delete(t.address);
    }
    return this.#wait(t, kind, msg, meta, false);
  }

  /**
   * A message for an entity that another node sent here: it found this node to be the owner,
   * or chose it by placement. Activated here unless the directory says another node holds it.
   */
  arrived(address: Address, kind: 'user' | 'system', msg: unknown, meta: unknown): void {
    const t = this.targetFor(address) as EntityTarget;
    if (this.#active.has(t.address)) {
      this.deliver(t, kind, msg, meta);
      return;
    }
    this.#wait(t, kind, msg, meta, true);
  }

  /** A message a link gave back (it closed before sending it): looked up again. */
  rerouted(address: Address, kind: 'user' | 'system', msg: unknown, meta: unknown): void {
    const t = this.targetFor(address) as EntityTarget;
    this.#owners.delete(t.address);
    if (this.#active.has(t.address)) this.deliver(t, kind, msg, meta);
    else this.#wait(t, kind, msg, meta, false);
  }

  #wait(
    t: EntityTarget,
    kind: 'user' | 'system',
    msg: unknown,
    meta: unknown,
    here: boolean,
  ): Delivery {
    if (this.#closed) {
      this.#system.deadLetter(t.address, msg, meta, 'unknown-actor');
      return 'dead-letter';
    }
    const q = this.#waiting.get(t.address);
    if (q === undefined) {
      if (!this.#kinds.has(t.kind) && here) {
        this.#system.deadLetter(
          t.address,
          msg,
          meta,
          'unknown-actor',
          new EntityNotDefinedError(t.kind),
        );
        return 'dead-letter';
      }
      // the message waits first: the lookup may send what waits before it returns
      this.#waiting.set(t.address, [{ kind, msg, meta }]);
      void this.#resolve(t, here, 0);
      return 'enqueued';
    }
    if (q.length >= PENDING_PER_ENTITY) {
      this.#system.deadLetter(t.address, msg, meta, 'mailbox-full');
      return 'dead-letter';
    }
    q.push({ kind, msg, meta });
    return 'enqueued';
  }

  /** Finds where the entity's waiting messages go, and sends them there. */
  async #resolve(t: EntityTarget, here: boolean, attempt: number): Promise<void> {
    const sys = this.#system;
    try {
      const passivating = this.#passivating.get(t.address);
      if (passivating !== undefined) await passivating;
      // here when another node sent it here, else where placement says: the claim made there
      // finds out whether another node holds it (no lookup first: one Redis call less for a
      // first message); after a failed try, the directory is asked who holds it
      let owner =
        here && !this.#draining
          ? sys.nodeId
          : this.#place(t, this.#draining ? sys.nodeId : undefined);
      if (attempt > 0) owner = (await this.#directory.owner(t.kind, t.id)) ?? owner;
      if (owner === sys.nodeId) {
        if (this.#draining) owner = this.#place(t, sys.nodeId);
        else {
          const claim = await this.#directory.claim(t.kind, t.id);
          if (claim.mine) {
            this.#activate(t, claim.epoch);
            return;
          }
          owner = claim.owner;
        }
      }
      if (owner === null || owner === sys.nodeId)
        throw new TroupeError('ERR_NO_NODE', 'no live node to activate it on');
      this.#sendAway(t, owner, attempt);
    } catch (error) {
      this.#fail(t, error);
    }
  }

  /** The node placement picks among the live ones (`not`: one to leave out). */
  #place(t: EntityTarget, not?: string): string | null {
    const k = this.#kinds.get(t.kind);
    const nodes = this.#directory.members().filter((n) => n !== not);
    if (nodes.length === 0) return null;
    if (k?.placement === 'least-loaded') {
      let best: string | null = null;
      let load = Infinity;
      for (const n of nodes) {
        const l = this.#directory.load(n);
        if (l < load) [best, load] = [n, l];
      }
      return best;
    }
    return nodes[hash(`${t.kind}/${t.id}`) % nodes.length]!;
  }

  #sendAway(t: EntityTarget, node: string, attempt: number): void {
    const q = this.#waiting.get(t.address) ?? [];
    let i = 0;
    for (; i < q.length; i++) {
      const w = q[i]!;
      if (!this.#system.forward(node, t.address, w.kind, w.msg, w.meta)) break;
    }
    if (i === q.length) {
      this.#waiting.delete(t.address);
      if (this.#owners.size >= 100_000) this.#owners.clear();
      this.#owners.set(t.address, node);
      return;
    }
    // no link to that node (yet): look again a little later
    q.splice(0, i);
    if (attempt + 1 >= FORWARD_RETRIES) {
      this.#fail(
        t,
        new TroupeError('ERR_NODE_UNREACHABLE', `node ${node}, which holds it, cannot be reached`),
        'node-unreachable',
      );
      return;
    }
    this.#owners.delete(t.address);
    backgroundTimeout(
      this.#clock,
      () => void this.#resolve(t, false, attempt + 1),
      FORWARD_RETRY_MS,
    );
  }

  #activate(t: EntityTarget, epoch: number): void {
    const sys = this.#system;
    const k = this.#kinds.get(t.kind);
    if (k === undefined) {
      this.#release(t.kind, t.id, epoch);
      this.#fail(t, new EntityNotDefinedError(t.kind), 'unknown-actor');
      return;
    }
    // the actor's name: the id in base64url, or (too long for a name) its SHA-256
    const b64 = Buffer.from(t.id).toString('base64url');
    const name =
      b64.length <= 96
        ? `e.${t.kind}.${b64}`
        : `e.${t.kind}.h.${createHash('sha256').update(t.id).digest('base64url')}`;
    let ref: ActorRef<unknown>;
    try {
      ref = sys.spawnEntity(
        k.behaviour,
        name,
        this.#directory.store(t.kind, t.id, epoch),
        `entity/${t.kind}/${t.id}`,
        k.mailbox,
      );
    } catch (error) {
      this.#release(t.kind, t.id, epoch);
      this.#fail(t, error);
      return;
    }
    const a: Activation = {
      kind: t.kind,
      id: t.id,
      ref,
      epoch,
      last: sys.now(),
      unwatch: sys.watch(ref, () => this.#ended(t.address, a)),
    };
    this.#active.set(t.address, a);
    this.#byPath.set(ref.path, t.address);
    const q = this.#waiting.get(t.address) ?? [];
    this.#waiting.delete(t.address);
    for (const w of q) this.deliver(t, w.kind, w.msg, w.meta);
  }

  /** The activation stopped (passivated, failed, lost its claim): forgotten here. */
  #ended(address: Address, a: Activation): void {
    this.#byPath.delete(a.ref.path);
    if (this.#active.get(address) !== a) return;
    this.#active.delete(address);
    if (!this.#passivating.has(address)) this.#release(a.kind, a.id, a.epoch);
  }

  #fail(t: EntityTarget, error: unknown, reason: DeadLetterReason = 'unknown-actor'): void {
    const q = this.#waiting.get(t.address) ?? [];
    this.#waiting.delete(t.address);
    if (!this.#closed)
      this.#system.logError(`troupe: entity ${t.address}: its messages go to dead letters`, error);
    for (const w of q) this.#system.deadLetter(t.address, w.msg, w.meta, reason, error);
  }

  /** A node left: what this node thought it held is looked up again. */
  nodeLeft(node: string): void {
    for (const [address, n] of this.#owners) if (n === node) this.#owners.delete(address);
  }

  /** Lets a claim go; a failure (Redis away) is logged: the claim ends with its node anyway. */
  #release(kind: string, id: string, epoch: number): void {
    this.#directory
      .release(kind, id, epoch)
      .catch((e: unknown) =>
        this.#system.logError(`troupe: entity ${kind}/${id}: its claim was not released`, e),
      );
  }

  /** Passivates `address` (stopped, claim released); resolves when done. */
  passivate(address: Address): Promise<void> {
    const a = this.#active.get(address);
    if (a === undefined) return this.#passivating.get(address) ?? Promise.resolve();
    this.#active.delete(address);
    this.#byPath.delete(a.ref.path);
    a.unwatch();
    const done = (async () => {
      try {
        // what its mailbox holds is handled first (a stop would drop it); new messages wait
        // for the passivation to end, then go where the directory says
        const t0 = this.#system.now();
        while (!this.#system.quiet(a.ref) && this.#system.now() - t0 < PASSIVATE_WAIT_MS)
          // a poll for what the scheduler's real turns bring about, not a time of the entity's:
          // on a simulated clock that does not move, it still ends when the mailbox is empty
          // eslint-disable-next-line no-restricted-globals -- real time on purpose (above)
          await new Promise((r) => setTimeout(r, QUIET_POLL_MS));
        await this.#system.stop(a.ref);
      } finally {
        await this.#directory
          .release(a.kind, a.id, a.epoch)
          .catch((e: unknown) =>
            this.#system.logError(`troupe: entity ${address}: its claim was not released`, e),
          );
        this.#passivating.delete(address);
      }
    })();
    this.#passivating.set(address, done);
    return done;
  }

  /** Passivates every entity active here (a graceful leave); new ones go to other nodes. */
  async drain(): Promise<void> {
    this.#draining = true;
    await Promise.all([...this.#active.keys()].map((a) => this.passivate(a)));
  }

  /**
   * This node lost every claim at once (its membership expired while it was paused): the
   * activations stop without releasing anything (the claims are others' now).
   */
  lostAll(): void {
    for (const [address, a] of [...this.#active]) {
      this.#active.delete(address);
      this.#byPath.delete(a.ref.path);
      a.unwatch();
      void this.#system.stop(a.ref);
    }
  }

  close(): void {
    this.#closed = true;
    this.#reminders.close();
    this.#sweep?.stop();
    for (const t of [...this.#waiting.keys()])
      this.#fail(
        this.targetFor(t) as EntityTarget,
        new TroupeError('ERR_SYSTEM_TERMINATED', 'the system terminated'),
      );
  }

  #startSweep(): void {
    if (this.#sweep !== null) return;
    let least = Infinity;
    for (const k of this.#kinds.values()) least = Math.min(least, k.passivateAfterMs);
    this.#sweep = every(this.#clock, Math.max(10, Math.min(least / 2, 1_000)), () =>
      this.#passivateIdle(),
    );
  }

  #passivateIdle(): void {
    const now = this.#system.now();
    for (const [address, a] of this.#active) {
      const k = this.#kinds.get(a.kind)!;
      if (now - a.last >= k.passivateAfterMs && this.#system.quiet(a.ref))
        void this.passivate(address);
    }
  }
}

/** An entity's ref's target: through the host. */
export class EntityTarget implements Target {
  readonly address: Address;
  readonly path: ActorPath;
  readonly kind: string;
  readonly id: string;
  readonly remote = true;
  readonly #host: Entities;
  constructor(host: Entities, address: Address, kind: string, id: string) {
    this.#host = host;
    this.address = address;
    this.path = address as string as ActorPath;
    this.kind = kind;
    this.id = id;
  }
  get gone(): boolean {
    return false;
  }
  deliver(msg: unknown, meta: unknown): Delivery {
    return this.#host.deliver(this, 'user', msg, meta);
  }
  sendSystem(msg: SystemMessage): void {
    this.#host.deliver(this, 'system', msg, null);
  }
}

/** FNV-1a over the string: placement by hash (stable across nodes and runs). */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
