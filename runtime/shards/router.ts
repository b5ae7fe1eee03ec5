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
 * Handled, acknowledged: the receiving shard tells each sender (`ack`) up to which frame its
 * actors have taken every message out of their mailboxes; the sender keeps its frames until
 * then (runtime/shards/link.ts). When a shard dies, every other shard turns what that shard
 * had not acknowledged into dead letters (`shard-lost`), and fails at once the asks whose
 * requests went there (ShardLostError) instead of letting them wait for their deadline.
 * Messages its actors had sent to each other die with it (nobody else ever had them).
 */
import type { MessagePort } from 'node:worker_threads';
import { MessageMeta, type EnvelopeKind } from '../envelope.ts';
import { AskDeliveryError, ReplyFailure } from '../ask.ts';
import { InvalidOptionError, TroupeError, describe } from '../error.ts';
import { childPath, type ActorPath, type Address } from '../address.ts';
import { LocalRef, type ActorRef, type Delivery, type Target } from '../ref.ts';
import type { SystemMessage } from '../system-message.ts';
import type { Terminated } from '../notices.ts';
import type { ActorSystem } from '../system.ts';
import { ActorCell, keyName, senderOf } from '../cell.ts';
import type { ResolvedSpawnOptions, ShardChoice } from '../options.ts';
import type { Behaviour } from '../behaviour.ts';
import { decodeValue, encodeValue } from '../refcodec.ts';
import { extractTrace, injectTrace } from '../telemetry.ts';
import { portableOrigin } from './portable.ts';
import { RemoteChild, type DetachedCell } from './remote.ts';
import { StoreLinks } from './store.ts';
import {
  crossing,
  ENCODED,
  kindCode,
  KIND_SYSTEM,
  KIND_USER,
  LinkReader,
  LinkWriter,
  MAX_FRAME_ENTRIES,
  type InEntry,
  type OutEntry,
} from './link.ts';
import {
  ABSENT,
  HOLD,
  LOCAL,
  Routes,
  isUserPath,
  tempPrefix,
  tempShard,
  topLevelOf,
} from './routes.ts';
import { checkFrame, SHARD_PROTOCOL_VERSION, type ShardFrame } from './protocol.ts';

export { tempPrefix, topLevelOf };

/**
 * How long a shard waits for a frame going back to carry its acknowledgement before it sends
 * one by itself (and looks again whether what it received is handled).
 */
export const ACK_DELAY_MS = 5;
/** Asks sent to other shards remembered (to fail them at once if that shard dies). */
export const ASKS_TRACKED = 100_000;
/** Refs kept for the addresses met in arriving messages. */
export const ARRIVAL_REFS = 100_000;

/** An error as it crosses: its class name, message and code survive; the rest does not. */
interface CrossedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
}

/** The error a failure reply carried, made again on this side. */
export class RemoteError extends TroupeError {
  readonly remoteName: string;
  constructor(e: CrossedError) {
    super(e.code ?? 'ERR_REMOTE', e.message);
    this.remoteName = e.name;
  }
}

/** An actor was lost with the thread of its shard (the actor's failure, for its supervisor). */
export class ShardLostError extends TroupeError {
  readonly shard: number;
  readonly path: ActorPath;
  constructor(shard: number, path: ActorPath) {
    super(
      'ERR_SHARD_LOST',
      `${path} was lost with the thread of shard ${shard} (it died: an uncaught error, process.exit() or out of memory)`,
    );
    this.shard = shard;
    this.path = path;
  }
}

export class NotPortableError extends InvalidOptionError {
  constructor(shard: number) {
    super(
      'options.shard',
      shard,
      'the spawning thread for a behaviour that is not portable: make it with portable(import.meta.url, name, behaviour) to place it on another shard',
    );
  }
}

function crossError(error: unknown): CrossedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { name: 'Error', message: describe(error) };
}

/** An actor or temporary receiver on another shard, as a ref's target. */
export class RemoteTarget implements Target {
  readonly path: ActorPath;
  readonly address: Address;
  /** A temporary receiver's shard (from its name), else null. */
  readonly tempShard: number | null;
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

/** A message waiting for a route: sent from here (to `to`), or arrived here (`to` null). */
interface Held {
  readonly to: RemoteTarget | null;
  readonly entry: OutEntry | InEntry;
}

/** Where arriving messages for one address go in this thread. */
interface Slot {
  readonly path: ActorPath;
  readonly ref: LocalRef;
  target: Target | null;
}

/** Frames received from one shard and not all handled yet: [seq, cell, mark, cell, mark…]. */
type Unhandled = unknown[];

export class ShardRouter {
  readonly shard: number;
  readonly count: number;
  readonly system: ActorSystem;
  readonly routes: Routes<Held>;
  /** Port to each shard by id (null: this one, or one that is gone). */
  readonly #ports: (MessagePort | null)[];
  readonly #writers: (LinkWriter | null)[];
  readonly #readers: (LinkReader | null)[];
  #flushing = false;
  /** Messages for placed roots whose spawn is under way here. */
  readonly #spawning = new Map<string, InEntry[]>();
  readonly #targets = new Map<string, RemoteTarget>();
  readonly #slots = new Map<string, Slot>();
  readonly #refs = new Map<string, LocalRef>();
  /**
   * Watches this shard sent to actors on other shards: watched path → watchers. When a shard
   * dies, its actors cannot say they stopped; this shard tells their watchers (`shard-lost`).
   */
  readonly #watches = new Map<string, Set<ActorRef<unknown>>>();
  /** Asks sent to other shards and not answered: reply path → shard. */
  readonly #asks = new Map<string, number>();
  /** Per shard: frames received and not yet all handled. */
  readonly #unhandled: Unhandled[][];
  /** Per shard: the last of its frames known handled, and the last acknowledged to it. */
  readonly #handledUpTo: number[];
  readonly #ackedUpTo: number[];
  #ackTimer = false;
  /** While a frame is read: the last cell delivered to, and where its message sits. */
  #markCell: ActorCell | null = null;
  #markAt = 0;
  #marks: unknown[] = [];
  /** Stand-ins of this shard's actors' children placed on other shards, by path. */
  readonly remoteKids = new Map<string, RemoteChild>();
  /** Placed roots running here whose parent lives on another shard, by path. */
  readonly detached = new Map<string, DetachedCell>();
  /** Stores lent to other shards and asked of them (runtime/shards/store.ts). */
  readonly stores: StoreLinks;
  #roundRobin = 0;
  #spawnSeq = 0;
  /** Frames that are not for the router (spawn, shutdown…): the shard's host handles them. */
  onControl: ((frame: ShardFrame, from: number) => void) | null = null;

  constructor(system: ActorSystem, shard: number, ports: (MessagePort | null)[]) {
    this.system = system;
    this.shard = shard;
    this.count = ports.length;
    this.#ports = ports;
    this.#writers = ports.map((p) => (p === null ? null : new LinkWriter()));
    this.#readers = ports.map((p) => (p === null ? null : new LinkReader()));
    this.#unhandled = ports.map(() => []);
    this.#handledUpTo = ports.map(() => 0);
    this.#ackedUpTo = ports.map(() => 0);
    this.stores = new StoreLinks(this);
    this.routes = new Routes<Held>({
      shard,
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
   * The shard a child of `parent` goes to: `asked`, or by default its parent's shard (for a
   * top-level actor spawned on the main thread: round-robin when its behaviour is portable).
   * Throws InvalidOptionError for a shard that does not exist or does not run, and
   * NotPortableError for a behaviour another thread cannot load.
   */
  chooseShard(
    behaviour: Behaviour<any, any, any>,
    asked: ShardChoice | undefined,
    parent: ActorCell,
  ): number {
    const portable = portableOrigin(behaviour) !== undefined;
    if (asked === undefined) {
      if (!portable || parent !== this.system.userGuardian || this.shard !== 0) return this.shard;
      asked = 'round-robin';
    }
    if (typeof asked === 'number') {
      if (asked >= this.count)
        throw new InvalidOptionError('options.shard', asked, `a shard from 0 to ${this.count - 1}`);
      if (asked === this.shard) return asked;
      if (!portable) throw new NotPortableError(asked);
      if (!this.isLive(asked))
        throw new InvalidOptionError('options.shard', asked, 'a shard whose thread is running');
      return asked;
    }
    if (!portable) return this.shard;
    if (asked === 'least-loaded') return this.leastLoaded();
    for (;;) {
      const s = this.#roundRobin;
      this.#roundRobin = (s + 1) % this.count;
      if (this.isLive(s)) return s;
    }
  }

  /**
   * The live shard with the fewest placed roots in this shard's table (every shard's
   * top-level actors and children placed away from their parents), lowest id on a tie.
   */
  leastLoaded(exclude = -1): number {
    const load = new Array<number>(this.count).fill(0);
    for (const s of this.routes.placements.values()) load[s] = (load[s] ?? 0) + 1;
    let best = -1;
    for (const s of this.liveShards)
      if (s !== exclude && (best < 0 || load[s]! < load[best]!)) best = s;
    return best < 0 ? this.shard : best;
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
    if (kind === 'system') this.#noteWatch(to.path, msg as SystemMessage);
    const entry = this.#entry(kind, to, msg, meta);
    if (entry === null) return 'dead-letter';
    if (r === HOLD) {
      if (this.routes.hold(to.path, { to, entry })) return 'enqueued';
      this.#dead(entry, 'unknown-actor', undefined);
      return 'dead-letter';
    }
    this.#push(r, entry);
    return 'enqueued';
  }

  /** Sends a system message to `path` on `shard` directly (a child to its parent on another shard). */
  sendSystemTo(shard: number, path: ActorPath, msg: SystemMessage): void {
    if (shard === this.shard || !this.isLive(shard)) return;
    const entry = this.#entry('system', { path, address: this.system.addressOf(path) }, msg, null);
    if (entry !== null) this.#push(shard, entry);
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

  /** The message as an entry for a link, checked (and encoded when it must be). */
  #entry(
    kind: EnvelopeKind,
    to: { readonly address: Address; readonly path: string },
    msg: unknown,
    meta: unknown,
  ): OutEntry | null {
    let body = kind === 'reply' ? crossError((msg as ReplyFailure).error) : msg;
    let encoding = 0;
    if (!crossing(body)) {
      encoding = ENCODED;
      try {
        body = encodeValue(body);
      } catch (error) {
        if (kind === 'user' && !isNotice(msg)) throw error;
        // troupe's own messages must not fail their sender: what cannot cross is described
        const plain = kind === 'system' ? plainSystem(msg as SystemMessage) : plainNotice(msg);
        try {
          if (plain === null) throw error;
          body = encodeValue(plain);
        } catch {
          this.system.logger.error(
            `troupe: shard ${this.shard}: a ${describe((msg as { type?: unknown }).type)} for ${to.path} cannot cross to its shard`,
            error,
          );
          this.system.deadLetters.publish({
            message: msg,
            recipient: to.address,
            reason: 'unknown-actor',
            error,
          });
          return null;
        }
      }
    }
    const from = senderOf(meta);
    const m = meta instanceof MessageMeta ? meta : null;
    if (m?.replyTo && kind === 'user') this.#noteAsk(m.replyTo.path, to.path);
    return {
      kind: kindCode(kind),
      to: to.address,
      from: from?.address,
      replyTo: m?.replyTo?.address,
      corr: m?.corr ?? 0,
      trace: m?.trace ? injectTrace(m.trace) : undefined,
      body,
      encoding,
    };
  }

  /**
   * An entry read back as one to send again (an arrival sent on); `forced`: its body encoded
   * whatever it holds (for a control frame, which is structured-cloned: refs must be data).
   */
  #resend(e: InEntry, forced = false): OutEntry {
    const enc = crossing(e.body) && !forced ? 0 : ENCODED;
    return {
      kind: kindCode(e.kind),
      to: e.to,
      from: e.from,
      replyTo: e.replyTo,
      corr: e.corr,
      trace: e.trace,
      body: enc === 0 ? e.body : encodeValue(e.body),
      encoding: enc,
    };
  }

  #push(shard: number, entry: OutEntry): void {
    const w = this.#writers[shard];
    if (shard === this.shard || w === null || w === undefined || !this.isLive(shard)) {
      this.#arrive(this.#asArrival(entry));
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
    const ack = this.#ackFor(shard);
    const bytes = w.take(ack);
    if (bytes === null) return;
    if (ack > 0) this.#ackedUpTo[shard] = ack;
    this.#ports[shard]?.postMessage(bytes);
  }

  /** A message sealed here whose route turned out to be this shard (or nowhere). */
  #asArrival(e: OutEntry): InEntry {
    return {
      kind: e.kind === KIND_USER ? 'user' : e.kind === KIND_SYSTEM ? 'system' : 'reply',
      to: e.to,
      from: e.from,
      replyTo: e.replyTo,
      corr: e.corr,
      trace: e.trace,
      body: e.encoding === ENCODED ? decodeValue(e.body, this.system.refOf) : e.body,
    };
  }

  /** Sends again what waited for a route, by the route known now. */
  #release(h: Held): void {
    if (h.to === null) {
      this.#reroute(h.entry as InEntry);
      return;
    }
    const r = this.routeOf(h.to);
    const e = h.entry as OutEntry;
    if (r === HOLD) {
      if (!this.routes.hold(h.to.path, h)) this.#dead(e, 'unknown-actor', undefined);
    } else if (r >= 0) this.#push(r, e);
    else this.#arrive(this.#asArrival(e));
  }

  /**
   * A message that arrived for an actor this shard does not have, once the authority has
   * answered where it is: delivered here (it had not been spawned yet when the message came,
   * or it is gone: a dead letter), or sent on to where the authority says (once).
   */
  #reroute(e: InEntry): void {
    const path = pathOf(e.to);
    const r = this.routes.resolve(path, null, true);
    if (r === HOLD) {
      if (!this.routes.hold(path, { to: null, entry: e }))
        this.#dead(e, 'unknown-actor', undefined);
    } else if (r >= 0 && r !== this.shard) this.#push(r, this.#resend(e));
    else this.#arrive(e, true);
  }

  /** Records watches and snapshot subscriptions sent to another shard (see lost). */
  #noteWatch(path: string, msg: SystemMessage): void {
    const add =
      msg.type === 'watch' ? msg.watcher : msg.type === 'subscribe' ? msg.subscriber : null;
    const remove =
      msg.type === 'unwatch' ? msg.watcher : msg.type === 'unsubscribe' ? msg.subscriber : null;
    if (add !== null) {
      let set = this.#watches.get(path);
      if (set === undefined) this.#watches.set(path, (set = new Set()));
      set.add(add);
    } else if (remove !== null) {
      const set = this.#watches.get(path);
      set?.delete(remove);
      if (set?.size === 0) this.#watches.delete(path);
    }
  }

  /** An ask whose request goes to another shard: failed at once if that shard dies. */
  #noteAsk(replyPath: string, toPath: string): void {
    const s = this.routes.resolve(toPath, tempShard(toPath), false);
    if (s < 0) return;
    if (this.#asks.size >= ASKS_TRACKED) {
      const oldest = this.#asks.keys().next().value;
      if (oldest !== undefined) this.#asks.delete(oldest);
    }
    this.#asks.set(replyPath, s);
  }

  /** A terminated notice arrived for a watcher here: that watch is over. */
  #watchEnded(body: unknown): void {
    const t = body as Partial<Terminated> | null;
    if (
      t === null ||
      typeof t !== 'object' ||
      t.type !== 'troupe.terminated' ||
      t.ref === undefined
    )
      return;
    this.#watches.delete(t.ref.path);
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
        this.#writers[from]?.acked(frame.upTo);
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
        for (const h of this.routes.learn(frame.path, frame.prefix, frame.shard)) this.#release(h);
        return;
      case 'spawn':
        this.#spawnHere(frame, from);
        return;
      case 'spawn-failed':
        this.remoteKids.get(frame.path)?.spawnFailed(frame.spawnId, frame.error);
        for (const e of frame.entries) this.#arrive(this.#asArrival(e));
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
    this.#markCell = null;
    this.#marks = [0];
    try {
      seq = reader.read(bytes, this.system.refOf, this.#onEntry);
      if (reader.ack > 0) this.#writers[from]?.acked(reader.ack);
    } catch (error) {
      this.system.logger.error(
        `troupe: shard ${this.shard}: a frame from shard ${from} cannot be read; dropped`,
        error,
      );
      return;
    }
    const marks = this.#marks;
    if (this.#markCell !== null) marks.push(this.#markCell, this.#markAt);
    this.#markCell = null;
    marks[0] = seq;
    this.#unhandled[from]!.push(marks);
    if (!this.#ackTimer) {
      this.#ackTimer = true;
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
    body: unknown,
  ): void => {
    let slot = this.#slots.get(to);
    if (slot === undefined) slot = this.#slot(to);
    if (this.#spawning.size > 0 && this.#spawning.has(slot.path)) {
      this.#spawning.get(slot.path)!.push({ kind, to, from, replyTo, corr, trace, body });
      return;
    }
    let t = slot.target;
    if (t === null || t.gone) {
      const found = this.system.lookupHere(slot.path);
      t = slot.target = found instanceof RemoteTarget ? null : found;
      if (t === null) {
        this.#arrive({ kind, to, from, replyTo, corr, trace, body });
        return;
      }
    }
    const meta =
      replyTo === undefined && trace === undefined
        ? from === undefined
          ? null
          : this.#ref(from)
        : new MessageMeta(
            from === undefined ? null : this.#ref(from),
            replyTo === undefined ? null : this.#ref(replyTo),
            corr,
            trace === undefined ? null : extractTrace(trace),
          );
    if (kind === 'system') {
      t.sendSystem(body as SystemMessage);
      return;
    }
    if (this.#asks.size > 0) this.#asks.delete(slot.path);
    if (kind === 'reply') {
      t.deliver(new ReplyFailure(new RemoteError(body as CrossedError)), meta);
      return;
    }
    if (this.#watches.size > 0) this.#watchEnded(body);
    const d = t.deliver(body, meta);
    if (d === 'enqueued') {
      if (t instanceof ActorCell) {
        // where the message sits: the frame is handled once the cell has taken it
        if (t !== this.#markCell) {
          if (this.#markCell !== null) this.#marks.push(this.#markCell, this.#markAt);
          this.#markCell = t;
        }
        this.#markAt = t.taken + t.size;
      }
    } else if (meta instanceof MessageMeta) this.#answerUndelivered(slot.path, d, meta);
  };

  #slot(to: Address): Slot {
    const path = pathOf(to) as ActorPath;
    const slot: Slot = { path, ref: this.#ref(to), target: null };
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
  #arrive(e: InEntry, final = false): void {
    const path = pathOf(e.to) as ActorPath;
    const waiting = this.#spawning.get(path);
    if (waiting !== undefined) {
      waiting.push(e);
      return;
    }
    const found = this.system.lookupHere(path);
    const here = found instanceof RemoteTarget ? null : found;
    if (
      here === null &&
      !final &&
      isUserPath(path) &&
      this.routes.resolve(path, null, true) === HOLD &&
      this.routes.hold(path, { to: null, entry: e })
    )
      return;
    const sys = this.system;
    const to = this.#ref(e.to);
    const meta =
      e.from === undefined && e.replyTo === undefined && e.trace === undefined
        ? null
        : new MessageMeta(
            e.from === undefined ? null : this.#ref(e.from),
            e.replyTo === undefined ? null : this.#ref(e.replyTo),
            e.corr,
            e.trace === undefined ? null : extractTrace(e.trace),
          );
    switch (e.kind) {
      case 'system':
        if (here !== null) here.sendSystem(e.body as SystemMessage);
        else sys.systemUndeliverable(to, e.body as SystemMessage);
        return;
      case 'reply': {
        const failure = new ReplyFailure(new RemoteError(e.body as CrossedError));
        if (here !== null) here.deliver(failure, meta);
        else sys.undeliverable(to, failure, meta);
        return;
      }
      default: {
        if (this.#watches.size > 0) this.#watchEnded(e.body);
        const d = here !== null ? here.deliver(e.body, meta) : sys.undeliverable(to, e.body, meta);
        if (meta !== null) this.#answerUndelivered(path, d, meta);
      }
    }
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

  /** A message that has nowhere to go: a dead letter with `reason`. */
  #dead(e: OutEntry | InEntry, reason: 'unknown-actor' | 'shard-lost', error: unknown): void {
    const body =
      typeof e.kind === 'number' && (e as OutEntry).encoding === ENCODED
        ? decodeValue(e.body, this.system.refOf)
        : e.body;
    this.system.deadLetters.publish({
      message: body,
      recipient: e.to,
      ...(e.from === undefined ? {} : { sender: e.from }),
      reason,
      ...(error === undefined ? {} : { error }),
    });
  }

  // ---- acknowledging ---------------------------------------------------------------------

  /**
   * The last frame from `shard` whose messages have all been taken by their actors (or did not
   * wait in a mailbox), if not acknowledged yet; else 0.
   */
  #ackFor(shard: number): number {
    const list = this.#unhandled[shard];
    if (list !== undefined && list.length > 0) {
      let n = 0;
      for (; n < list.length; n++) {
        const marks = list[n]!;
        if (!handled(marks)) break;
        this.#handledUpTo[shard] = marks[0] as number;
      }
      if (n > 0) list.splice(0, n);
    }
    const upTo = this.#handledUpTo[shard]!;
    return upTo > this.#ackedUpTo[shard]! ? upTo : 0;
  }

  /**
   * Acknowledges, by a frame of its own, what no frame going back has acknowledged; looks
   * again later while some of what came is not handled yet.
   */
  readonly #checkAcks = (): void => {
    this.#ackTimer = false;
    let waiting = false;
    for (let s = 0; s < this.count; s++) {
      if (s === this.shard || this.#ports[s] === null) continue;
      const upTo = this.#ackFor(s);
      if (upTo > 0) {
        this.#ackedUpTo[s] = upTo;
        this.post(s, { v: SHARD_PROTOCOL_VERSION, k: 'ack', upTo });
      }
      if (this.#unhandled[s]!.length > 0) waiting = true;
    }
    if (waiting) {
      this.#ackTimer = true;
      setTimeout(this.#checkAcks, ACK_DELAY_MS).unref();
    }
  };

  // ---- placed roots arriving here ---------------------------------------------------------

  /** Marks a placed root as being spawned here: its messages wait for the spawn. */
  spawning(path: string): void {
    if (!this.#spawning.has(path)) this.#spawning.set(path, []);
    this.routes.spawning.add(path);
    this.routes.gen++;
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
    if (failed) return waiting;
    for (const e of waiting) this.#arrive(e, true);
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
    this.system.spawnDetached(frame, from).then(
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
          entries: this.spawned(frame.path, true).map((e) => this.#resend(e, true)),
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
    const watched = [...this.#watches].filter(
      ([path]) => routes.resolve(path, tempShard(path), false) === shard,
    );
    const writer = this.#writers[shard]!;
    this.#ports[shard]?.close();
    this.#ports[shard] = null;
    this.#writers[shard] = null;
    this.#readers[shard] = null;
    this.#unhandled[shard] = [];
    if (this.shard === 0) this.broadcast({ v: SHARD_PROTOCOL_VERSION, k: 'lost', shard });
    this.#lostMessages(shard, writer);
    const { roots, held } = routes.lost(shard, (path) => this.remoteKids.has(path));
    for (const [path, watchers] of watched) {
      this.#watches.delete(path);
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
  #lostMessages(shard: number, writer: LinkWriter): void {
    const asks = new Set<string>();
    for (const e of writer.unacknowledged(this.system.refOf)) {
      if (e.kind === 'system') continue;
      const error = new ShardLostError(shard, pathOf(e.to) as ActorPath);
      this.#dead(e, 'shard-lost', error);
      if (e.replyTo !== undefined) asks.add(pathOf(e.replyTo));
    }
    for (const [path, s] of [...this.#asks])
      if (s === shard) {
        asks.add(path);
        this.#asks.delete(path);
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

/** Whether every message of a received frame has left its mailbox. */
function handled(marks: unknown[]): boolean {
  for (let i = 1; i < marks.length; i += 2) {
    const cell = marks[i] as ActorCell;
    if (!cell.gone && cell.taken < (marks[i + 1] as number)) return false;
  }
  return true;
}

/** `troupe://<node>/<path>` → `<path>`. */
function pathOf(address: string): string {
  const i = address.indexOf('/', 'troupe://'.length);
  return i < 0 ? '' : address.slice(i);
}

const NOTICES = new Set(['troupe.terminated', 'troupe.snapshot', 'troupe.delivery-failed']);

function isNotice(msg: unknown): boolean {
  return (
    typeof msg === 'object' &&
    msg !== null &&
    NOTICES.has((msg as { type?: unknown }).type as string)
  );
}

/** A notice with what cannot cross replaced by its description (null: nothing to replace). */
function plainNotice(msg: unknown): unknown {
  const m = msg as Record<string, unknown>;
  if (m.type === 'troupe.terminated' && m.error !== undefined)
    return { ...m, error: plainError(m.error) };
  if (m.type === 'troupe.delivery-failed') return { ...m, message: describe(m.message) };
  return null;
}

/** A system message with what cannot cross replaced by its description. */
function plainSystem(msg: SystemMessage): SystemMessage | null {
  if (msg.type === 'failed') {
    const { message, ...rest } = msg;
    return {
      ...rest,
      error: plainError(msg.error),
      ...(message === undefined ? {} : { message: describe(message) }),
    };
  }
  if (msg.type === 'stop' && msg.error !== undefined)
    return { ...msg, error: plainError(msg.error) };
  return null;
}

function plainError(error: unknown): Error {
  const e = crossError(error);
  const out = new Error(e.message);
  out.name = e.name;
  if (e.code !== undefined) (out as Error & { code?: string }).code = e.code;
  return out;
}
