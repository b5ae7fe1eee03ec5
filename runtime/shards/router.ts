/**
 * The router of one shard: how messages reach actors on other shards, and what arrives from
 * them. Where each path lives is runtime/shards/routes.ts; the wire is runtime/shards/link.ts.
 *
 * Sending: a ref to an actor on another shard resolves to a RemoteTarget. `tell` checks at
 * once that the message can cross (else SerializationError naming the field, in the sender's
 * turn) and adds it to the frame for that shard, posted at the end of the current turn (a
 * microtask) or when it is full. One port per pair of shards and one frame at a time per
 * destination keep FIFO per sender→receiver pair. FIFO across a re-placement (an actor
 * restarted on another shard after its own died, or stopped and spawned again elsewhere) is
 * not kept: messages sent before the move was known may arrive after ones sent after it.
 *
 * Arriving: a message is delivered to an actor of this thread or becomes a dead letter; it
 * is never sent on, except by the authority of a placed root (its stand-in forwards it to
 * where the actor runs now), or when this shard had to ask the authority where the actor is
 * (it came before the spawn frame that places the actor here): then it goes by the answer,
 * once. So no message bounces between two shards with different views.
 *
 * Handled, acknowledged: the receiving shard tells each sender which of its frames have had
 * every message taken out of its actor's mailbox (runtime/shards/acks.ts), on the next frame
 * going back or by itself after ACK_DELAY_MS; the sender keeps its frames until then
 * (runtime/shards/link.ts). When a shard dies, every other shard turns what that shard had not
 * acknowledged into dead letters (`shard-lost`), and fails at once the asks whose requests
 * went there (ShardLostError) instead of letting them wait for their deadline. Messages its
 * actors had sent to each other die with it (nobody else ever had them).
 *
 * Over 600 lines: one router holds a shard's sending, arrivals, holds while a spawn is
 * placed, acknowledgements and relays, which share its route table and slots.
 */
import type { MessagePort } from 'node:worker_threads';
import { MessageMeta, type EnvelopeKind } from '../core/index.ts';
import type { Principal } from '../core/index.ts';
import { AskDeliveryError, ReplyFailure } from '../core/index.ts';
import { describe } from '../core/index.ts';
import { childPath, type ActorPath, type Address } from '../../protocol/address.ts';
import { LocalRef, type ActorRef, type Delivery, type Target } from '../core/index.ts';
import type { SystemMessage } from '../core/index.ts';
import type { Terminated } from '../core/index.ts';
import type { Kernel } from '../core/index.ts';
import type { DeadLetterReason } from '../core/index.ts';
import { ActorCell, keyName } from '../core/index.ts';
import type { ResolvedSpawnOptions, ShardChoice } from '../core/index.ts';
import type { Behaviour } from '../core/index.ts';
import { extractTrace } from '../core/index.ts';
import { portableOrigin } from './portable.ts';
import { RemoteChild, spawnPlacedHere, type DetachedCell } from './remote.ts';
import { StoreLinks } from './store.ts';
import {
  crossing,
  LinkReader,
  LinkWriter,
  MAX_FRAME_ENTRIES,
  type InEntry,
  type OutEntry,
} from './link.ts';
import {
  ABSENT,
  HELD_PER_PATH,
  HOLD,
  LOCAL,
  Routes,
  isUserPath,
  tempPrefix,
  tempShard,
  topLevelOf,
} from './routes.ts';
import { checkFrame, SHARD_PROTOCOL_VERSION, type ShardFrame } from './protocol.ts';
import { RemoteError, ShardLostError, type CrossedError } from './errors.ts';
import { Acks, type Pending } from './acks.ts';
import { Waiting } from './waiting.ts';
import { arrivalOf, deadLetterOf, entryOf, resendEntry } from './entries.ts';
import { encodeValue } from '../core/index.ts';

export { tempPrefix, topLevelOf };
export { RemoteError, ShardLostError, NotPortableError } from './errors.ts';

/**
 * How long a shard waits for a frame going back to carry its acknowledgement before it sends
 * one by itself (and looks again whether what it received is handled).
 */
export const ACK_DELAY_MS = 5;
/** Refs kept for the addresses met in arriving messages. */
export const ARRIVAL_REFS = 100_000;

/** An actor or temporary receiver on another shard, as a ref's target. */
export class RemoteTarget implements Target {
  readonly path: ActorPath;
  readonly address: Address;
  /** A temporary receiver's shard (from its name), else null. */
  readonly tempShard: number | null;
  readonly remote = true;
  /** Its route as last resolved, and the routes' generation then. */
  route = HOLD;
  gen = -1;
  readonly #router: ShardRouter;
  constructor(router: ShardRouter, path: ActorPath, address: Address) {
    this.#router = router;
    this.path = path;
    this.address = address;
    this.tempShard = tempShard(path);
  }
  /** Gone once its route no longer leads to another shard (it stopped, moved here, its shard died). */
  get gone(): boolean {
    const r = this.#router.routeOf(this);
    return r === LOCAL || r === ABSENT;
  }
  deliver(msg: unknown, meta: unknown): Delivery {
    return this.#router.send(this, msg instanceof ReplyFailure ? 'reply' : 'user', msg, meta);
  }
  sendSystem(msg: SystemMessage): void {
    this.#router.send(this, 'system', msg, null);
  }
}

/**
 * An actor of another node (or an entity), as a worker shard's ref's target: the main thread
 * (shard 0) holds the node links and the entities, so its messages go there, which sends
 * them on (runtime/nodes, runtime/cluster/entities.ts).
 */
export class RelayTarget implements Target {
  readonly path: ActorPath;
  readonly address: Address;
  readonly remote = true;
  readonly #router: ShardRouter;
  constructor(router: ShardRouter, address: Address, path: ActorPath) {
    this.#router = router;
    this.address = address;
    this.path = path;
  }
  get gone(): boolean {
    return false;
  }
  deliver(msg: unknown, meta: unknown): Delivery {
    return this.#router.relay(this, msg instanceof ReplyFailure ? 'reply' : 'user', msg, meta);
  }
  sendSystem(msg: SystemMessage): void {
    this.#router.relay(this, 'system', msg, null);
  }
}

/** A message waiting for a route: sent from here (to `to`), or arrived here (`to` null). */
interface Held {
  readonly to: RemoteTarget | null;
  readonly entry: OutEntry | InEntry;
  /** For one that came in a frame: its acknowledgement mark, passed on when it is delivered. */
  readonly mark: Pending | null;
}

/** A message that waits for its actor's spawn here. */
interface Spawning {
  readonly entry: InEntry;
  readonly mark: Pending | null;
}

/** Where arriving messages for one address go in this thread. */
interface Slot {
  readonly path: ActorPath;
  readonly ref: LocalRef;
  target: Target | null;
  /** Of an actor of another node (a worker relayed it to the main thread). */
  readonly foreign: boolean;
}

export class ShardRouter {
  /** `troupe://<this node>/`: an address that does not start with it is another node's. */
  readonly #ownPrefix: string;
  readonly shard: number;
  readonly count: number;
  readonly system: Kernel;
  readonly routes: Routes<Held>;
  /** Port to each shard by id (null: this one, or one that is gone). */
  readonly #ports: (MessagePort | null)[];
  readonly #writers: (LinkWriter | null)[];
  readonly #readers: (LinkReader | null)[];
  #flushing = false;
  /** Messages for placed roots whose spawn is under way here. */
  readonly #spawning = new Map<string, Spawning[]>();
  readonly #targets = new Map<string, RemoteTarget>();
  readonly #slots = new Map<string, Slot>();
  readonly #refs = new Map<string, LocalRef>();
  /** Watches and asks waiting on other shards (runtime/shards/waiting.ts). */
  readonly #waiting = new Waiting();
  /** Which frames received from each shard are handled (runtime/shards/acks.ts). */
  readonly #acks: Acks;
  #ackTimer = false;
  /** A frame is being read (what is delivered meanwhile is marked for its acknowledgement). */
  #reading = false;
  /** Stand-ins of this shard's actors' children placed on other shards, by path. */
  readonly remoteKids = new Map<string, RemoteChild>();
  /** Placed roots running here whose parent lives on another shard, by path. */
  readonly detached = new Map<string, DetachedCell>();
  /** Stores lent to other shards and asked of them (runtime/shards/store.ts). */
  readonly stores: StoreLinks;
  #spawnSeq = 0;
  /** Frames that are not for the router (spawn, shutdown…): the shard's host handles them. */
  onControl: ((frame: ShardFrame, from: number) => void) | null = null;

  constructor(system: Kernel, shard: number, ports: (MessagePort | null)[]) {
    this.system = system;
    this.#ownPrefix = `troupe://${system.nodeId}/`;
    this.shard = shard;
    this.count = ports.length;
    this.#ports = ports;
    this.#writers = ports.map((p) => (p === null ? null : new LinkWriter()));
    this.#readers = ports.map((p) => (p === null ? null : new LinkReader()));
    this.#acks = new Acks(ports.length);
    this.stores = new StoreLinks(this);
    this.routes = new Routes<Held>({
      shard,
      count: ports.length,
      isLive: (s) => this.isLive(s),
      post: (s, f) => this.post(s, f),
      hasHere: (path) => system.lookupHere(path as ActorPath) !== null,
    });
    ports.forEach((p, from) => {
      if (p === null) return;
      p.on('message', (data: unknown) => this.#onFrame(data, from));
    });
  }

  /** Placed root path → shard, as this shard knows. */
  get placements(): ReadonlyMap<string, number> {
    return this.routes.placements;
  }

  /** Whether shard `s` is this one or one whose thread runs. */
  isLive(s: number): boolean {
    return s === this.shard || (s >= 0 && s < this.count && this.#ports[s] !== null);
  }

  /** Shard ids whose thread runs, as this shard knows. */
  get liveShards(): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.count; s++) if (this.isLive(s)) out.push(s);
    return out;
  }

  /** Posts a control frame to one shard (dropped when that shard is gone). */
  post(shard: number, frame: ShardFrame): void {
    if (shard === this.shard) return;
    // messages already waiting for that shard go first: frames keep their order
    this.#flushTo(shard);
    this.#ports[shard]?.postMessage(frame);
  }

  /** Posts a control frame to every other shard. */
  broadcast(frame: ShardFrame): void {
    for (let s = 0; s < this.count; s++) if (s !== this.shard) this.post(s, frame);
  }

  /** Lets the ports' listeners stop keeping the thread alive. */
  close(): void {
    this.#flush();
    for (const p of this.#ports) p?.close();
    this.#ports.fill(null);
  }

  // ---- placement ------------------------------------------------------------------------

  /**
   * The shard a child of `parent` goes to (runtime/shards/routes.ts `choose`): by default its
   * parent's, or round-robin for a portable top-level actor spawned on the main thread.
   */
  chooseShard(
    behaviour: Behaviour<any, any, any>,
    asked: ShardChoice | undefined,
    parent: ActorCell,
  ): number {
    return this.routes.choose(
      portableOrigin(behaviour) !== undefined,
      asked,
      parent === this.system.userGuardian && this.shard === 0,
    );
  }

  /** The live shard with the fewest placed roots (see routes.ts), lowest id on a tie. */
  leastLoaded(exclude = -1): number {
    return this.routes.leastLoaded(exclude);
  }

  /**
   * Spawns a portable behaviour as a child of `parent` on shard `shard` (≠ this one): a
   * stand-in takes its place among the parent's children (runtime/shards/remote.ts).
   */
  spawnRemote(
    parent: ActorCell,
    behaviour: Behaviour<any, any, any>,
    o: ResolvedSpawnOptions,
    key: string | number,
    shard: number,
  ): LocalRef {
    const path = childPath(parent.path, keyName(key));
    const kid = new RemoteChild(this, parent, key, path, behaviour, o);
    parent.adoptRemote(kid);
    this.remoteKids.set(path, kid);
    kid.spawnOn(shard);
    return kid.ref;
  }

  /** The next spawn id of this shard. */
  nextSpawnId(): number {
    return ++this.#spawnSeq;
  }

  /** A placed root this shard is the authority for now lives on `shard`: every shard learns. */
  announce(path: string, shard: number): void {
    this.routes.set(path, shard);
    this.broadcast({ v: SHARD_PROTOCOL_VERSION, k: 'placed', path, shard });
  }

  /** A placed root this shard is the authority for is gone: every shard learns. */
  retract(path: string): void {
    if (!this.routes.placements.has(path)) return;
    this.routes.unset(path);
    this.broadcast({ v: SHARD_PROTOCOL_VERSION, k: 'unplaced', path });
  }

  // ---- routes ---------------------------------------------------------------------------

  /** A target's route, resolved again when placements changed since. */
  routeOf(t: RemoteTarget): number {
    const routes = this.routes;
    if (t.gen !== routes.gen) {
      t.route = routes.resolve(t.path, t.tempShard, true);
      t.gen = routes.gen;
    }
    return t.route;
  }

  /**
   * The target of a path that is not a live actor of this thread: a RemoteTarget when it
   * lives (or may live: its route is being asked for) on another shard, else null.
   */
  targetFor(path: ActorPath): Target | null {
    let t = this.#targets.get(path);
    if (t === undefined) {
      t = new RemoteTarget(this, path, this.system.addressOf(path));
      if (this.#targets.size < 100_000) this.#targets.set(path, t);
    }
    const r = this.routeOf(t);
    return r === LOCAL || r === ABSENT ? null : t;
  }

  // ---- sending --------------------------------------------------------------------------

  /**
   * Sends a message to a target on another shard. Throws SerializationError for a user
   * message that cannot cross; troupe's own notices and system messages never throw (what
   * cannot cross in them is replaced by its description, or they become dead letters).
   */
  send(to: RemoteTarget, kind: EnvelopeKind, msg: unknown, meta: unknown): Delivery {
    const r = this.routeOf(to);
    if (r >= 0 && kind === 'user' && (meta === null || meta instanceof ActorCell)) {
      // the common tell: from an actor (or from outside any), no reply address, no trace
      if (crossing(msg)) {
        const w = this.#writers[r];
        if (w !== null && w !== undefined && r !== this.shard) {
          const n = w.pushTell(to.address, meta === null ? undefined : meta.ref.address, msg);
          this.#scheduleFlush(r, n);
          return 'enqueued';
        }
      }
    }
    if (r === LOCAL || r === ABSENT) return this.#deliverHere(to.path, kind, msg, meta);
    if (kind === 'system') this.#waiting.sent(to.path, msg as SystemMessage);
    const entry = this.#entry(kind, to, msg, meta);
    if (entry === null) return 'dead-letter';
    const replyTo = meta instanceof MessageMeta ? meta.replyTo : null;
    if (replyTo !== null && kind === 'user' && r >= 0) this.#waiting.asked(replyTo.path, r);
    if (r === HOLD) {
      if (this.routes.hold(to.path, { to, entry, mark: null })) return 'enqueued';
      this.#dead(entry, 'unknown-actor', undefined);
      return 'dead-letter';
    }
    this.#push(r, entry);
    return 'enqueued';
  }

  /**
   * A message for an actor of another node, from a worker shard: to the main thread, which
   * holds the node links and sends it on. Throws SerializationError for a user message that
   * cannot cross; with the main thread gone it is a dead letter (`node-unreachable`).
   */
  relay(to: RelayTarget, kind: EnvelopeKind, msg: unknown, meta: unknown): Delivery {
    const w = this.#writers[0];
    if (this.shard === 0 || w === null || w === undefined || !this.isLive(0)) {
      this.system.deadLetter(
        msg,
        this.system.refOf(to.address),
        meta,
        'node-unreachable',
        undefined,
      );
      return 'dead-letter';
    }
    const entry = this.#entry(kind, to, msg, meta);
    if (entry === null) return 'dead-letter';
    this.#scheduleFlush(0, w.push(entry));
    return 'enqueued';
  }

  /** Sends a system message to `path` on `shard` directly (a child to its parent on another shard). */
  sendSystemTo(shard: number, path: ActorPath, msg: SystemMessage): void {
    if (shard === this.shard || !this.isLive(shard)) return;
    const entry = this.#entry('system', { path, address: this.system.addressOf(path) }, msg, null);
    if (entry !== null) this.#push(shard, entry);
  }

  /** The message as an entry (entries.ts); one of troupe's that cannot cross is reported. */
  #entry(
    kind: EnvelopeKind,
    to: { readonly address: Address; readonly path: string },
    msg: unknown,
    meta: unknown,
  ): OutEntry | null {
    const e = entryOf(kind, to.address, msg, meta);
    if (!('refused' in e)) return e;
    this.system.logger.error(
      `troupe: shard ${this.shard}: a ${describe((msg as { type?: unknown }).type)} for ${to.path} cannot cross to its shard`,
      e.refused,
    );
    this.system.deadLetters.publish({
      message: msg,
      recipient: to.address,
      reason: 'cannot-cross',
      error: e.refused,
    });
    return null;
  }

  /** A message that has nowhere to go: a dead letter with `reason`. */
  #dead(e: OutEntry | InEntry, reason: DeadLetterReason, error: unknown): void {
    this.system.deadLetters.publish(deadLetterOf(e, reason, error, this.system.refOf));
  }

  /** A message for a path whose route leads here after all (or nowhere). */
  #deliverHere(path: ActorPath, kind: EnvelopeKind, msg: unknown, meta: unknown): Delivery {
    const ref = this.system.refOf(this.system.addressOf(path)) as LocalRef;
    if (kind === 'system') {
      ref.sendSystem(msg as SystemMessage);
      return 'enqueued';
    }
    return ref.deliverWithMeta(msg, meta);
  }

  #push(shard: number, entry: OutEntry): void {
    const w = this.#writers[shard];
    if (shard === this.shard || w === null || w === undefined || !this.isLive(shard)) {
      this.#arrive(arrivalOf(entry, this.system.refOf));
      return;
    }
    this.#scheduleFlush(shard, w.push(entry));
  }

  #scheduleFlush(shard: number, waiting: number): void {
    if (waiting >= MAX_FRAME_ENTRIES) this.#flushTo(shard);
    else if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushing = false;
    for (let s = 0; s < this.count; s++) this.#flushTo(s);
  };

  #flushTo(shard: number): void {
    const w = this.#writers[shard];
    if (w === null || w === undefined || w.count === 0) return;
    // what came from that shard and is handled by now: acknowledged on this frame
    const acks = this.#acks.due(shard);
    const dropped: OutEntry[] = [];
    const bytes = w.take(acks, dropped);
    const port = this.#ports[shard];
    if (w.resetPending && bytes !== null) {
      w.resetPending = false;
      port?.postMessage({ v: SHARD_PROTOCOL_VERSION, k: 'link-reset' } satisfies ShardFrame);
    }
    if (bytes !== null) port?.postMessage(bytes);
    else if (acks !== 0)
      port?.postMessage({ v: SHARD_PROTOCOL_VERSION, k: 'ack', seqs: acks } satisfies ShardFrame);
    // once the frame is on its way (a dead letter's listener may send again)
    for (const e of dropped) this.#dropped(e);
  }

  /** A message changed after it was sent so that it no longer crosses: its dead letter. */
  #dropped(e: OutEntry): void {
    let error: unknown;
    try {
      encodeValue(e.body);
      error = new TypeError('it no longer packs (changed after it was sent)');
    } catch (thrown) {
      error = thrown; // the field that cannot cross, named
    }
    this.#dead(e, 'cannot-cross', error);
  }

  /** Sends again what waited for a route, by the route known now. */
  #release(h: Held): void {
    if (h.to === null) {
      this.#reroute(h.entry as InEntry, h.mark);
      return;
    }
    const r = this.routeOf(h.to);
    const e = h.entry as OutEntry;
    if (r === HOLD) {
      if (!this.routes.hold(h.to.path, h)) this.#dead(e, 'unknown-actor', undefined);
    } else if (r >= 0) this.#push(r, e);
    else this.#arrive(arrivalOf(e, this.system.refOf));
  }

  /**
   * A message that arrived for an actor this shard does not have, once the authority has
   * answered where it is: delivered here (it had not been spawned yet when the message came,
   * or it is gone: a dead letter), or sent on to where the authority says (once).
   */
  #reroute(e: InEntry, mark: Pending | null): void {
    const path = pathOf(e.to);
    const r = this.routes.resolve(path, null, true);
    if (r === HOLD) {
      if (!this.routes.hold(path, { to: null, entry: e, mark })) {
        this.#dead(e, 'unknown-actor', undefined);
        mark?.delivered(null);
      }
    } else if (r >= 0 && r !== this.shard) {
      // sent on: from here it is this shard's link that keeps it until it is handled
      this.#push(r, resendEntry(e));
      mark?.delivered(null);
    } else this.#arrive(e, true, mark);
  }

  // ---- arriving -------------------------------------------------------------------------

  #onFrame(data: unknown, from: number): void {
    if (data instanceof Uint8Array) {
      this.#readFrame(data, from);
      return;
    }
    const frame = checkFrame(data);
    if (frame === null) {
      this.system.logger.error(
        `troupe: shard ${this.shard}: a frame from shard ${from} is not of this protocol; dropped`,
        data,
      );
      return;
    }
    switch (frame.k) {
      case 'ack':
        this.#writers[from]?.acked(frame.seqs);
        return;
      case 'link-reset':
        this.#readers[from]?.reset();
        return;
      case 'placed':
        this.routes.set(frame.path, frame.shard);
        return;
      case 'unplaced':
        this.routes.unset(frame.path);
        return;
      case 'lost':
        this.lost(frame.shard);
        return;
      case 'where':
        this.post(from, this.routes.answer(frame.path));
        return;
      case 'route':
        for (const h of this.routes.learn(frame.path, frame.prefix, frame.shard, frame.placed))
          this.#release(h);
        return;
      case 'spawn':
        this.#spawnHere(frame, from);
        return;
      case 'spawn-failed':
        this.remoteKids.get(frame.path)?.spawnFailed(frame.spawnId, frame.error);
        for (const e of frame.entries) this.#arrive(arrivalOf(e, this.system.refOf));
        return;
      case 'store':
        this.stores.serve(frame, from);
        return;
      case 'stored':
        this.stores.answered(frame);
        return;
      default:
        this.onControl?.(frame, from);
    }
  }

  #readFrame(bytes: Uint8Array, from: number): void {
    const reader = this.#readers[from];
    if (reader === null || reader === undefined) return;
    let seq: number;
    this.#acks.begin();
    this.#reading = true;
    try {
      seq = reader.read(bytes, this.system.refOf, this.#onEntry);
      if (reader.acks !== 0) this.#writers[from]?.acked(reader.acks);
    } catch (error) {
      this.system.logger.error(
        `troupe: shard ${this.shard}: a frame from shard ${from} cannot be read; dropped`,
        error,
      );
      return;
    } finally {
      this.#reading = false;
    }
    this.#acks.end(from, seq);
    if (!this.#ackTimer) {
      this.#ackTimer = true;
      // real time on purpose: acks are the threads' flow control, not a time of the actors'
      // (the worker shards run on the real clock whatever the main thread's is, and a
      // simulated clock that does not move would keep every frame in its sender)
      // eslint-disable-next-line no-restricted-globals -- see above
      setTimeout(this.#checkAcks, ACK_DELAY_MS).unref();
    }
  }

  /** One message of a frame (kept allocation-free for a tell to a live actor). */
  readonly #onEntry = (
    kind: EnvelopeKind,
    to: Address,
    from: Address | undefined,
    replyTo: Address | undefined,
    corr: number,
    trace: Readonly<Record<string, string>> | undefined,
    principal: Principal | undefined,
    body: unknown,
  ): void => {
    let slot = this.#slots.get(to);
    if (slot === undefined) slot = this.#slot(to);
    if (slot.foreign) {
      // relayed by a worker shard for an actor of another node: on over the node link
      this.#relayOn(kind, slot.ref, from, replyTo, corr, trace, principal, body);
      return;
    }
    if (this.#spawning.size > 0 && this.#spawning.has(slot.path)) {
      this.#arrive({ kind, to, from, replyTo, corr, trace, principal, body });
      return;
    }
    let t = slot.target;
    if (t === null || t.gone) {
      const found = this.system.lookupHere(slot.path);
      t = slot.target = found instanceof RemoteTarget ? null : found;
      if (t === null) {
        this.#arrive({ kind, to, from, replyTo, corr, trace, principal, body });
        return;
      }
    }
    const meta =
      replyTo === undefined && trace === undefined && principal === undefined
        ? from === undefined
          ? null
          : this.#ref(from)
        : new MessageMeta(
            from === undefined ? null : this.#ref(from),
            replyTo === undefined ? null : this.#ref(replyTo),
            corr,
            trace === undefined ? null : extractTrace(trace),
            principal ?? null,
          );
    if (kind === 'system') {
      t.sendSystem(body as SystemMessage);
      return;
    }
    this.#waiting.arrived(slot.path, body);
    if (kind === 'reply') {
      t.deliver(new ReplyFailure(new RemoteError(body as CrossedError)), meta);
      return;
    }
    const d = t.deliver(body, meta);
    if (d === 'enqueued') {
      // the frame is handled once the cell has taken it
      if (t instanceof ActorCell) this.#acks.queued(t);
    } else if (meta instanceof MessageMeta) this.#answerUndelivered(slot.path, d, meta);
  };

  /** A message a worker relayed for another node (this is the main thread): sent on. */
  #relayOn(
    kind: EnvelopeKind,
    to: LocalRef,
    from: Address | undefined,
    replyTo: Address | undefined,
    corr: number,
    trace: Readonly<Record<string, string>> | undefined,
    principal: Principal | undefined,
    body: unknown,
  ): void {
    if (kind === 'system') {
      to.sendSystem(body as SystemMessage);
      return;
    }
    const meta =
      from === undefined && replyTo === undefined && trace === undefined && principal === undefined
        ? null
        : new MessageMeta(
            from === undefined ? null : this.#ref(from),
            replyTo === undefined ? null : this.#ref(replyTo),
            corr,
            trace === undefined ? null : extractTrace(trace),
            principal ?? null,
          );
    try {
      to.deliverWithMeta(
        kind === 'reply' ? new ReplyFailure(new RemoteError(body as CrossedError)) : body,
        meta,
      );
    } catch (error) {
      // it crossed between threads, so it packs: a failure here is a node-link refusal
      this.system.deadLetter(body, to, meta, 'node-unreachable', error);
    }
  }

  #slot(to: Address): Slot {
    const path = pathOf(to) as ActorPath;
    const slot: Slot = {
      path,
      ref: this.#ref(to),
      target: null,
      foreign: !to.startsWith(this.#ownPrefix),
    };
    if (this.#slots.size >= ARRIVAL_REFS) this.#slots.clear();
    this.#slots.set(to, slot);
    return slot;
  }

  #ref(address: Address): LocalRef {
    let r = this.#refs.get(address);
    if (r === undefined) {
      r = this.system.refOf(address) as LocalRef;
      if (this.#refs.size >= ARRIVAL_REFS) this.#refs.clear();
      this.#refs.set(address, r);
    }
    return r;
  }

  /**
   * A message that found no live actor here (or came another way than a frame): delivered to
   * its target in this thread, or a dead letter. When this shard cannot tell that nobody is
   * here (the actor may be placed here by a spawn frame still on its way on another port),
   * it asks the authority first and the message waits (unless `final`: it was asked).
   */
  #arrive(e: InEntry, final = false, mark: Pending | null = null): void {
    const path = pathOf(e.to) as ActorPath;
    // while a frame is read, what must wait before its mailbox keeps the frame unacknowledged
    // (its mark made only once it does wait)
    const waiting = this.#spawning.get(path);
    if (waiting !== undefined && waiting.length < HELD_PER_PATH) {
      waiting.push({ entry: e, mark: mark ?? (this.#reading ? this.#acks.pending() : null) });
      return;
    }
    const found = this.system.lookupHere(path);
    const here = found instanceof RemoteTarget ? null : found;
    if (
      waiting === undefined &&
      here === null &&
      !final &&
      isUserPath(path) &&
      this.routes.resolve(path, null, true) === HOLD
    ) {
      const m = mark ?? (this.#reading ? this.#acks.pending() : null);
      if (this.routes.hold(path, { to: null, entry: e, mark: m })) return;
      mark = m; // it could not wait: delivered (or a dead letter) below, and its mark with it
    }
    const sys = this.system;
    const to = this.#ref(e.to);
    const meta =
      e.from === undefined &&
      e.replyTo === undefined &&
      e.trace === undefined &&
      e.principal === undefined
        ? null
        : new MessageMeta(
            e.from === undefined ? null : this.#ref(e.from),
            e.replyTo === undefined ? null : this.#ref(e.replyTo),
            e.corr,
            e.trace === undefined ? null : extractTrace(e.trace),
            e.principal ?? null,
          );
    switch (e.kind) {
      case 'system':
        if (here !== null) here.sendSystem(e.body as SystemMessage);
        else sys.systemUndeliverable(to, e.body as SystemMessage);
        break;
      case 'reply': {
        const failure = new ReplyFailure(new RemoteError(e.body as CrossedError));
        if (here !== null) here.deliver(failure, meta);
        else sys.undeliverable(to, failure, meta);
        break;
      }
      default: {
        this.#waiting.arrived(path, e.body);
        const d = here !== null ? here.deliver(e.body, meta) : sys.undeliverable(to, e.body, meta);
        const queued = d === 'enqueued' && here instanceof ActorCell ? here : null;
        if (mark !== null) mark.delivered(queued);
        else if (this.#reading && queued !== null) this.#acks.queued(queued);
        if (meta !== null) this.#answerUndelivered(path, d, meta);
        return;
      }
    }
    mark?.delivered(null);
  }

  /**
   * An ask from another shard that could not be delivered here (no such actor, a full
   * mailbox…) is answered at once with AskDeliveryError, as a same-thread ask is rejected at
   * once: the asker does not wait for its deadline (or forever, with `timeout: Infinity`).
   */
  #answerUndelivered(path: ActorPath, d: Delivery, meta: MessageMeta): void {
    if (d === 'enqueued' || meta.replyTo === null) return;
    (meta.replyTo as LocalRef).deliverWithMeta(
      new ReplyFailure(new AskDeliveryError(path, d)),
      null,
    );
  }

  // ---- acknowledging ---------------------------------------------------------------------

  /**
   * Acknowledges, by a frame of its own, what no frame going back has acknowledged; looks
   * again later while some of what came is not handled yet.
   */
  readonly #checkAcks = (): void => {
    this.#ackTimer = false;
    let waiting = false;
    for (let s = 0; s < this.count; s++) {
      if (s === this.shard || this.#ports[s] === null) continue;
      const seqs = this.#acks.due(s);
      if (seqs !== 0) this.post(s, { v: SHARD_PROTOCOL_VERSION, k: 'ack', seqs });
      if (this.#acks.waiting(s)) waiting = true;
    }
    if (waiting) {
      this.#ackTimer = true;
      // eslint-disable-next-line no-restricted-globals -- real time, as in #readFrame
      setTimeout(this.#checkAcks, ACK_DELAY_MS).unref();
    }
  };

  // ---- placed roots arriving here ---------------------------------------------------------

  /** Marks a placed root as being spawned here: its messages wait for the spawn. */
  spawning(path: string): void {
    let waiting = this.#spawning.get(path);
    if (waiting === undefined) this.#spawning.set(path, (waiting = []));
    this.routes.spawning.add(path);
    this.routes.gen++;
    // what came for it before the spawn frame (and waits for an answer about it) came first:
    // the spawn frame says where it lives, and it goes before what comes after
    const early = this.routes
      .takeHeld(path)
      .map((h): Spawning =>
        h.to === null
          ? { entry: h.entry as InEntry, mark: h.mark }
          : { entry: arrivalOf(h.entry as OutEntry, this.system.refOf), mark: null },
      );
    if (early.length > 0) waiting.unshift(...early);
  }

  /**
   * The spawn of `path` here is over: the messages that waited for it are delivered (its
   * spawn worked), or returned to be sent back with `spawn-failed`.
   */
  spawned(path: string, failed = false): InEntry[] {
    const waiting = this.#spawning.get(path) ?? [];
    this.#spawning.delete(path);
    this.routes.spawning.delete(path);
    this.routes.gen++;
    if (failed) {
      // they go back to the stand-in, kept by this shard's link from now on
      for (const w of waiting) w.mark?.delivered(null);
      return waiting.map((w) => w.entry);
    }
    for (const w of waiting) this.#arrive(w.entry, true, w.mark);
    return [];
  }

  /** A placed root that ran here has stopped: it is no longer found here. */
  detachedStopped(path: string): void {
    const d = this.detached.get(path);
    if (d === undefined || !d.cell.gone) return;
    this.detached.delete(path);
    if (this.routes.placements.get(path) === this.shard) this.routes.unset(path);
  }

  #spawnHere(frame: Extract<ShardFrame, { k: 'spawn' }>, from: number): void {
    this.spawning(frame.path);
    this.routes.set(frame.path, this.shard);
    spawnPlacedHere(this, frame, from).then(
      () => this.spawned(frame.path),
      (error: unknown) => {
        if (!this.isLive(from)) {
          // its parent's shard died meanwhile: nobody would supervise it; every shard forgets
          // it, and what waited for it is dead letters here
          this.retract(frame.path);
          for (const e of this.spawned(frame.path, true)) this.#arrive(e, true);
          return;
        }
        this.routes.unset(frame.path);
        // what waited for it goes back to its stand-in, which keeps it for its parent's decision
        this.post(from, {
          v: SHARD_PROTOCOL_VERSION,
          k: 'spawn-failed',
          path: frame.path,
          spawnId: frame.spawnId,
          error: error instanceof Error ? `${error.name}: ${error.message}` : describe(error),
          entries: this.spawned(frame.path, true).map((e) => resendEntry(e, true)),
        });
      },
    );
  }

  // ---- a shard dies -----------------------------------------------------------------------

  /**
   * A shard's thread is gone. Its port closes; what this shard sent there and was not
   * handled becomes dead letters (`shard-lost`), and the asks that went there fail at once;
   * the watchers here of its actors are told (`shard-lost`); its placements are forgotten, so
   * what is sent to its actors from now on goes by their authority (a stand-in waiting for its
   * supervisor's directive) or is a dead letter; the stand-ins here of children that lived
   * there fail (their parents decide); the actors here whose parent lived there are killed
   * (nobody supervises them any more). On the main thread every other shard is told.
   * Returns the placed roots it had.
   */
  lost(shard: number): string[] {
    if (shard === this.shard || shard >= this.count || this.#ports[shard] === null) return [];
    const routes = this.routes;
    const { watched, asks } = this.#waiting.lost(
      shard,
      (path) => routes.resolve(path, tempShard(path), false) === shard,
    );
    const writer = this.#writers[shard]!;
    this.#ports[shard]?.close();
    this.#ports[shard] = null;
    this.#writers[shard] = null;
    this.#readers[shard] = null;
    this.#acks.forget(shard);
    if (this.shard === 0) this.broadcast({ v: SHARD_PROTOCOL_VERSION, k: 'lost', shard });
    this.#lostMessages(shard, writer, asks);
    const { roots, held } = routes.lost(shard, (path) => this.remoteKids.has(path));
    for (const [path, watchers] of watched) {
      const ref = this.system.refOf(this.system.addressOf(path as ActorPath));
      for (const w of watchers)
        w.tell({ type: 'troupe.terminated', ref, reason: 'shard-lost' } satisfies Terminated);
    }
    // questions that shard will never answer: asked again, by what is known now
    for (const h of held) this.#release(h);
    this.stores.lost(shard);
    for (const kid of [...this.remoteKids.values()]) if (kid.shard === shard) kid.shardLost(shard);
    for (const d of [...this.detached.values()]) if (d.parentShard === shard) d.orphaned();
    return roots;
  }

  /** What was sent to a shard that died and not handled there; the asks that went there. */
  #lostMessages(shard: number, writer: LinkWriter, waiting: string[]): void {
    const asks = new Set<string>(waiting);
    for (const e of writer.unacknowledged(this.system.refOf)) {
      if (e.kind === 'system') continue;
      const error = new ShardLostError(shard, pathOf(e.to) as ActorPath);
      this.#dead(e, 'shard-lost', error);
      if (e.replyTo !== undefined) asks.add(pathOf(e.replyTo));
    }
    for (const path of asks) {
      const t = this.system.lookupHere(path as ActorPath);
      t?.deliver(new ReplyFailure(new ShardLostError(shard, path as ActorPath)), null);
    }
    if (writer.unretained > 0)
      this.system.logger.error(
        `troupe: shard ${this.shard}: ${writer.unretained} more message(s) sent to shard ${shard} were let go before it acknowledged them (past LINK_RETAIN_BYTES): they may have been lost with it, and are not counted as dead letters`,
      );
  }

  /** A ref for an address of this node, whichever shard it lives on. */
  refOf(address: Address): ActorRef<unknown> {
    return this.system.refOf(address);
  }
}

/** `troupe://<node>/<path>` → `<path>`. */
function pathOf(address: string): string {
  const i = address.indexOf('/', 'troupe://'.length);
  return i < 0 ? '' : address.slice(i);
}
