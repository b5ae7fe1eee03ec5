/**
 * The router of one shard: where an actor that does not live in this thread lives, and how
 * messages get there.
 *
 * Placement is by path. A *placed root* is an actor whose parent lives on another shard
 * (every actor a worker shard runs at the top of its tree: top-level actors of a worker
 * shard are children of the main thread's `/user`); its descendants live with it unless they
 * are placed roots themselves. The shard of a placed root's parent chooses where it goes,
 * tells every shard (`placed`) before the spawn returns its ref, and stays the authority for
 * it. Each shard's placement table maps the placed roots it knows to their shards; a path is
 * routed by the deepest placed root above it. Temporary receivers (ask replies, listeners)
 * carry their shard in their name (`/temp/s2-ask-7`; none on shard 0). Paths outside `/user`
 * and `/temp` (`/system`) are per shard.
 *
 * Learning is safe for FIFO: a ref can travel faster than the `placed` frame about it (it
 * comes on another port). A shard that must route a path deeper than the deepest root it
 * knows, on another shard, or a top-level path it has never heard of, does not guess: it
 * holds the envelopes for that path and asks the authority (`where`: the shard of that root,
 * or the main thread), whose answer (`route`) comes on the same port as its `placed` frames.
 * The held envelopes then go, in order, or become dead letters. The answer is kept
 * (confirmed routes, bounded) until the root above it changes.
 *
 * A ref to an actor on another shard resolves to a RemoteTarget: `tell` seals the message
 * into an envelope at once (so a message that cannot cross throws SerializationError naming
 * the field, in the sender's turn), and the envelope joins the batch for that shard, posted
 * at the end of the current turn (a microtask). One port per pair of shards and one batch per
 * destination keep FIFO per sender→receiver pair. FIFO across a re-placement (an actor
 * restarted on another shard after its own died, or stopped and spawned again elsewhere) is
 * not kept: messages sent before the move was known may arrive after ones sent after it.
 *
 * An envelope that arrives is delivered to an actor of this thread or becomes a dead letter;
 * it is never sent on, except by the authority of a placed root (its stand-in forwards it to
 * where the actor lives now), so two shards with different views cannot bounce it.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Envelope, EnvelopeKind, MessageMeta } from '../envelope.ts';
import { open, seal } from '../boundary.ts';
import { AskDeliveryError, ReplyFailure } from '../ask.ts';
import { InvalidOptionError, TroupeError, describe } from '../error.ts';
import { childPath, type ActorPath, type Address } from '../address.ts';
import type { ActorRef, Delivery, LocalRef, Target } from '../ref.ts';
import type { SystemMessage } from '../system-message.ts';
import type { Terminated } from '../notices.ts';
import type { ActorSystem } from '../system.ts';
import { keyName, type ActorCell } from '../cell.ts';
import type { ResolvedSpawnOptions, ShardChoice } from '../options.ts';
import type { Behaviour } from '../behaviour.ts';
import { portableOrigin } from './portable.ts';
import { RemoteChild, type DetachedCell } from './remote.ts';
import { StoreLinks } from './store.ts';
import { checkFrame, SHARD_PROTOCOL_VERSION, type ShardFrame } from './protocol.ts';

/**
 * Envelopes per batch frame at most: a longer burst to one shard goes as several frames, so
 * the receiving shard starts on the first while the rest are still being sent.
 */
export const MAX_BATCH_ENVELOPES = 512;

/** Paths the main thread said nobody has, remembered so they are not asked for again. */
export const ABSENT_PATHS = 10_000;

/** Envelopes held for one path while its route is asked for; more are dead letters. */
export const HELD_PER_PATH = 10_000;

/** Confirmed routes kept (answers to `where` below a known root); past it they are asked again. */
export const CONFIRMED_ROUTES = 100_000;

/** Routes, besides a shard id ≥ 0: this shard, asked for (held), nobody. */
const LOCAL = -1;
const HOLD = -2;
const ABSENT = -3;

const USER = '/user/';
const TEMP = '/temp/';

/** The name of a temporary receiver made on `shard`. */
export function tempPrefix(shard: number): string {
  return shard === 0 ? '' : `s${shard}-`;
}

/** The shard a temporary receiver lives on, from its name; null off /temp. */
function tempShard(path: string): number | null {
  if (!path.startsWith(TEMP)) return null;
  const m = /^s(\d+)-/.exec(path.slice(TEMP.length));
  return m === null ? 0 : Number(m[1]);
}

/** `/user/a/b` → `/user/a`; null off /user. */
export function topLevelOf(path: string): string | null {
  if (!path.startsWith(USER) || path.length === USER.length) return null;
  const end = path.indexOf('/', USER.length);
  return end < 0 ? path : path.slice(0, end);
}

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
  /** Its route as last resolved, and the router's generation then. */
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
 * An envelope waiting for a route: sent from here (`to`), or arrived here for an actor this
 * shard does not have (null: it goes by the authority's answer, see #deliverLocal).
 */
interface Held {
  readonly to: RemoteTarget | null;
  readonly envelope: Envelope;
}

/** A `where` in flight: who was asked, the root that led there (null: none known), what waits. */
interface Pending {
  readonly asked: number;
  readonly root: string | null;
  readonly held: Held[];
}

export class ShardRouter {
  readonly shard: number;
  readonly count: number;
  readonly system: ActorSystem;
  /** Port to each shard by id (null: this one, or one that is gone). */
  readonly #ports: (MessagePort | null)[];
  /** Placed root path → shard (on the authority of a root: kept in step with its stand-in). */
  readonly placements = new Map<string, number>();
  /** Bumped whenever a route may have changed: targets resolve again. */
  #gen = 0;
  /** Answers to `where` below a known root: root → (path → shard). */
  readonly #confirmed = new Map<string, Map<string, number>>();
  #confirmedSize = 0;
  readonly #pending = new Map<string, Pending>();
  /** Paths the main thread said nobody has. */
  readonly #absent = new Set<string>();
  readonly #outgoing: (Envelope[] | null)[];
  #flushing = false;
  /** Envelopes for placed roots whose spawn is under way here. */
  readonly #spawning = new Map<string, Envelope[]>();
  readonly #targets = new Map<string, RemoteTarget>();
  /**
   * Watches this shard sent to actors on other shards: watched path → watchers. When a shard
   * dies, its actors cannot say they stopped; this shard tells their watchers (`shard-lost`).
   */
  readonly #watches = new Map<string, Set<ActorRef<unknown>>>();
  /** Refs of the addresses met in arriving envelopes (boundary.ts `open`). */
  readonly #refs = new Map<unknown, ActorRef<unknown>>();
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
    this.#outgoing = ports.map(() => null);
    this.stores = new StoreLinks(this);
    ports.forEach((p, from) => {
      if (p === null) return;
      p.on('message', (data: unknown) => this.#onFrame(data, from));
    });
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
    // envelopes already batched for that shard go first: frames keep their order
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
    for (const s of this.placements.values()) load[s] = (load[s] ?? 0) + 1;
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
    this.setPlacement(path, shard);
    this.broadcast({ v: SHARD_PROTOCOL_VERSION, k: 'placed', path, shard });
  }

  /** A placed root this shard is the authority for is gone: every shard learns. */
  retract(path: string): void {
    if (!this.placements.has(path)) return;
    this.unsetPlacement(path);
    this.broadcast({ v: SHARD_PROTOCOL_VERSION, k: 'unplaced', path });
  }

  setPlacement(path: string, shard: number): void {
    const prev = this.placements.get(path);
    if (prev === shard) return;
    this.placements.set(path, shard);
    if (prev !== undefined) this.#dropConfirmed(path);
    if (this.#absent.size > 0) this.#absent.clear();
    this.#gen++;
  }

  unsetPlacement(path: string): void {
    if (!this.placements.delete(path)) return;
    this.#dropConfirmed(path);
    this.#gen++;
  }

  #dropConfirmed(root: string): void {
    const m = this.#confirmed.get(root);
    if (m === undefined) return;
    this.#confirmedSize -= m.size;
    this.#confirmed.delete(root);
  }

  // ---- routes ---------------------------------------------------------------------------

  /** A target's route, resolved again when placements changed since. */
  routeOf(t: RemoteTarget): number {
    if (t.gen !== this.#gen) {
      t.route = this.#resolve(t.path, t.tempShard, true);
      t.gen = this.#gen;
    }
    return t.route;
  }

  /**
   * Where messages for `path` go: a shard, LOCAL, ABSENT, or HOLD (then, when `ask`, a
   * `where` is in flight and its envelopes wait for the answer).
   */
  #resolve(path: string, temp: number | null, ask: boolean): number {
    if (temp !== null) return temp === this.shard ? LOCAL : this.isLive(temp) ? temp : ABSENT;
    if (!path.startsWith(USER)) return LOCAL;
    let end = path.length;
    while (end > USER.length) {
      const prefix = end === path.length ? path : path.slice(0, end);
      const s = this.placements.get(prefix);
      if (s !== undefined) {
        // a placed root whose spawn is under way here: its messages wait with the others
        if (s === this.shard)
          return end === path.length && this.#spawning.has(path) ? this.shard : LOCAL;
        if (!this.isLive(s)) return ABSENT;
        if (end === path.length) return s;
        const c = this.#confirmed.get(prefix)?.get(path);
        if (c !== undefined) return c === this.shard ? LOCAL : this.isLive(c) ? c : ABSENT;
        return ask ? this.#ask(path, s, prefix) : s;
      }
      end = path.lastIndexOf('/', end - 1);
    }
    // no root known above it: the main thread knows every top-level actor
    if (this.shard === 0) return LOCAL;
    if (this.#absent.has(path)) return ABSENT;
    return ask ? this.#ask(path, 0, null) : HOLD;
  }

  #ask(path: string, shard: number, root: string | null): number {
    if (!this.#pending.has(path)) {
      this.#pending.set(path, { asked: shard, root, held: [] });
      this.post(shard, { v: SHARD_PROTOCOL_VERSION, k: 'where', path });
    }
    return HOLD;
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
   * Seals a message for a remote target and batches it. Throws SerializationError for a user
   * message that cannot cross; troupe's own notices and system messages never throw (what
   * cannot cross in them is replaced by its description, or they become dead letters).
   */
  send(to: RemoteTarget, kind: EnvelopeKind, msg: unknown, meta: unknown): Delivery {
    const r = this.routeOf(to);
    if (r === LOCAL || r === ABSENT) return this.#deliverHere(to.path, kind, msg, meta);
    if (kind === 'system') this.#noteWatch(to.path, msg as SystemMessage);
    const envelope = this.#seal(kind, to, msg, meta);
    if (envelope === null) return 'dead-letter';
    if (r === HOLD) return this.#hold(to, envelope);
    this.#enqueue(r, envelope);
    return 'enqueued';
  }

  /** Sends a system message to `path` on `shard` directly (a child to its parent on another shard). */
  sendSystemTo(shard: number, path: ActorPath, msg: SystemMessage): void {
    if (shard === this.shard || !this.isLive(shard)) return;
    const envelope = this.#seal(
      'system',
      { path, address: this.system.addressOf(path) },
      msg,
      null,
    );
    if (envelope !== null) this.#enqueue(shard, envelope);
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

  #seal(
    kind: EnvelopeKind,
    to: { readonly address: Address; readonly path: string },
    msg: unknown,
    meta: unknown,
  ): Envelope | null {
    const body = kind === 'reply' ? crossError((msg as ReplyFailure).error) : msg;
    try {
      return seal(kind, to as ActorRef<unknown>, body, meta);
    } catch (error) {
      if (kind === 'user' && !isNotice(msg)) throw error;
      // troupe's own messages must not fail their sender: what cannot cross is described
      const plain = kind === 'system' ? plainSystem(msg as SystemMessage) : plainNotice(msg);
      if (plain !== null) {
        try {
          return seal(kind, to as ActorRef<unknown>, plain, meta);
        } catch {
          // below: a dead letter
        }
      }
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

  #enqueue(shard: number, envelope: Envelope): void {
    if (shard === this.shard) {
      this.#arrive(envelope);
      return;
    }
    if (!this.isLive(shard)) {
      this.#deliverLocal(envelope);
      return;
    }
    const batch = this.#outgoing[shard];
    if (batch === null || batch === undefined) this.#outgoing[shard] = [envelope];
    else if (batch.push(envelope) >= MAX_BATCH_ENVELOPES) {
      this.#flushTo(shard);
      return;
    }
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushing = false;
    for (let s = 0; s < this.count; s++) this.#flushTo(s);
  };

  #flushTo(shard: number): void {
    const batch = this.#outgoing[shard];
    if (batch === null || batch === undefined) return;
    this.#outgoing[shard] = null;
    this.#ports[shard]?.postMessage({
      v: SHARD_PROTOCOL_VERSION,
      k: 'batch',
      envelopes: batch,
    } satisfies ShardFrame);
  }

  #hold(to: RemoteTarget, envelope: Envelope): Delivery {
    const p = this.#pending.get(to.path);
    if (p === undefined) {
      // the route was settled meanwhile (cannot happen within one call): send it on
      this.#dispatch(to, envelope);
      return 'enqueued';
    }
    if (p.held.length >= HELD_PER_PATH) {
      this.#deadEnvelope(envelope, 'unknown-actor');
      return 'dead-letter';
    }
    p.held.push({ to, envelope });
    return 'enqueued';
  }

  #release(h: Held): void {
    if (h.to !== null) this.#dispatch(h.to, h.envelope);
    else this.#reroute(h.envelope);
  }

  /**
   * An envelope that arrived for an actor this shard does not have, once the authority has
   * answered where it is: delivered here (it had not been spawned yet when the envelope came,
   * or it is gone: a dead letter), or sent on to where the authority says (once).
   */
  #reroute(e: Envelope): void {
    const path = pathOf(e.to);
    const r = this.#resolve(path, null, true);
    if (r === HOLD) {
      const p = this.#pending.get(path);
      if (p !== undefined && p.held.length < HELD_PER_PATH) p.held.push({ to: null, envelope: e });
      else this.#deadEnvelope(e, 'unknown-actor');
    } else if (r >= 0 && r !== this.shard) this.#enqueue(r, e);
    else if (this.#spawning.has(path)) this.#spawning.get(path)!.push(e);
    else this.#deliverLocal(e, true);
  }

  /** Sends an envelope already sealed by the route its target has now. */
  #dispatch(to: RemoteTarget, envelope: Envelope): void {
    const r = this.routeOf(to);
    if (r === HOLD) {
      const p = this.#pending.get(to.path);
      if (p !== undefined && p.held.length < HELD_PER_PATH) p.held.push({ to, envelope });
      else this.#deadEnvelope(envelope, 'unknown-actor');
    } else if (r >= 0) this.#enqueue(r, envelope);
    else this.#arrive(envelope);
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
    const frame = checkFrame(data);
    if (frame === null) {
      this.system.logger.error(
        `troupe: shard ${this.shard}: a frame from shard ${from} is not of this protocol; dropped`,
        data,
      );
      return;
    }
    switch (frame.k) {
      case 'batch':
        for (const e of frame.envelopes) this.#arrive(e);
        return;
      case 'placed':
        this.setPlacement(frame.path, frame.shard);
        return;
      case 'unplaced':
        this.unsetPlacement(frame.path);
        return;
      case 'lost':
        this.lost(frame.shard);
        return;
      case 'where':
        this.post(from, this.#answerWhere(frame.path));
        return;
      case 'route':
        this.#routed(frame.path, frame.prefix, frame.shard);
        return;
      case 'spawn':
        this.#spawnHere(frame, from);
        return;
      case 'store':
        this.stores.serve(frame, from);
        return;
      case 'stored':
        this.stores.answered(frame);
        return;
      case 'spawn-failed':
        this.remoteKids.get(frame.path)?.spawnFailed(frame.spawnId, frame.error);
        for (const e of frame.envelopes) this.#deliverLocal(e);
        return;
      default:
        this.onControl?.(frame, from);
    }
  }

  /** What this shard knows of where messages for `path` go. */
  #answerWhere(path: string): ShardFrame {
    const v = SHARD_PROTOCOL_VERSION;
    let end = path.length;
    while (end > USER.length) {
      const prefix = end === path.length ? path : path.slice(0, end);
      const s = this.placements.get(prefix);
      if (s !== undefined) {
        if (s === this.shard || !this.isLive(s))
          return { v, k: 'route', path, prefix: path, shard: this.shard };
        if (end === path.length) return { v, k: 'route', path, prefix: path, shard: s };
        const c = this.#confirmed.get(prefix)?.get(path);
        if (c !== undefined) return { v, k: 'route', path, prefix: path, shard: c };
        return { v, k: 'route', path, prefix, shard: s };
      }
      end = path.lastIndexOf('/', end - 1);
    }
    // nothing placed above it: it is here or nowhere (the main thread knows every top level)
    if (this.shard === 0 && this.system.lookupHere(path as ActorPath) === null)
      return { v, k: 'route', path, prefix: null, shard: null };
    return { v, k: 'route', path, prefix: path, shard: this.shard };
  }

  /** The answer to a `where`: learn it, then send what waited. */
  #routed(path: string, prefix: string | null, shard: number | null): void {
    const p = this.#pending.get(path);
    this.#pending.delete(path);
    if (prefix === null || shard === null) {
      if (this.#absent.size >= ABSENT_PATHS) this.#absent.clear();
      this.#absent.add(path);
    } else if (prefix !== path) {
      if (!this.placements.has(prefix)) this.setPlacement(prefix, shard);
    } else {
      const root = p?.root ?? topLevelOf(path) ?? path;
      if (this.#confirmedSize >= CONFIRMED_ROUTES) {
        this.#confirmed.clear();
        this.#confirmedSize = 0;
      }
      let m = this.#confirmed.get(root);
      if (m === undefined) this.#confirmed.set(root, (m = new Map()));
      if (!m.has(path)) this.#confirmedSize++;
      m.set(path, shard);
    }
    this.#gen++;
    if (p !== undefined) for (const h of p.held) this.#release(h);
  }

  #arrive(e: Envelope): void {
    if (this.#spawning.size > 0) {
      const waiting = this.#spawning.get(pathOf(e.to));
      if (waiting !== undefined) {
        waiting.push(e);
        return;
      }
    }
    this.#deliverLocal(e);
  }

  /**
   * Opens an envelope and hands it to its target in this thread, or to dead letters. Its
   * recipient is only ever an actor of this thread, or a stand-in here (this shard is the
   * authority of a placed root, and forwards to where it runs): an envelope is never sent on
   * by a shard that merely thinks the actor lives elsewhere, so none can bounce between two.
   */
  #deliverLocal(e: Envelope, final = false): void {
    let opened;
    try {
      opened = open(e, this.system.refOf, this.#refs);
    } catch (error) {
      this.system.logger.error(`troupe: shard ${this.shard}: an envelope is refused`, error);
      return;
    }
    const to = opened.to as LocalRef;
    const found = this.system.lookupHere(to.path);
    const here = found instanceof RemoteTarget ? null : found;
    if (here === null && !final && this.#unsure(to.path)) {
      // it may be placed here by a spawn frame still on its way (it came on another port):
      // the authority's answer comes after that frame
      this.#pending.get(to.path)!.held.push({ to: null, envelope: e });
      return;
    }
    const sys = this.system;
    switch (opened.kind) {
      case 'system':
        if (here !== null) here.sendSystem(opened.body as SystemMessage);
        else sys.systemUndeliverable(to, opened.body as SystemMessage);
        return;
      case 'reply': {
        const failure = new ReplyFailure(new RemoteError(opened.body as CrossedError));
        if (here !== null) here.deliver(failure, opened.meta);
        else sys.undeliverable(to, failure, opened.meta);
        return;
      }
      default: {
        if (this.#watches.size > 0) this.#watchEnded(opened.body);
        const d =
          here !== null
            ? here.deliver(opened.body, opened.meta)
            : sys.undeliverable(to, opened.body, opened.meta);
        this.#answerUndelivered(to, d, opened.meta);
      }
    }
  }

  /**
   * Whether this shard cannot tell, for an envelope that found no actor here, that none is
   * here: it does not know the path as placed here. Then it asks (and the envelope waits).
   */
  #unsure(path: string): boolean {
    if (!path.startsWith(USER)) return false;
    const r = this.#resolve(path, null, true);
    return r === HOLD && this.#pending.has(path);
  }

  /**
   * An ask from another shard that could not be delivered here (no such actor, a full
   * mailbox…) is answered at once with AskDeliveryError, as a same-thread ask is rejected at
   * once: the asker does not wait for its deadline (or forever, with `timeout: Infinity`).
   */
  #answerUndelivered(to: LocalRef, d: Delivery, meta: MessageMeta | null): void {
    if (d === 'enqueued' || meta === null || meta.replyTo === null) return;
    (meta.replyTo as LocalRef).deliverWithMeta(
      new ReplyFailure(new AskDeliveryError(to.path, d)),
      null,
    );
  }

  #deadEnvelope(e: Envelope, reason: 'unknown-actor'): void {
    this.system.deadLetters.publish({
      message: e.body,
      recipient: e.to,
      ...(e.from === undefined ? {} : { sender: e.from }),
      reason,
    });
  }

  // ---- placed roots arriving here ---------------------------------------------------------

  /** Marks a placed root as being spawned here: its envelopes wait for the spawn. */
  spawning(path: string): void {
    if (!this.#spawning.has(path)) this.#spawning.set(path, []);
  }

  /**
   * The spawn of `path` here is over: the envelopes that waited for it are delivered (its
   * spawn worked), or returned to be sent back with `spawn-failed`.
   */
  spawned(path: string, failed = false): Envelope[] {
    const waiting = this.#spawning.get(path) ?? [];
    this.#spawning.delete(path);
    this.#gen++;
    if (failed) return waiting;
    for (const e of waiting) this.#deliverLocal(e);
    return [];
  }

  /** A placed root that ran here has stopped: it is no longer found here. */
  detachedStopped(path: string): void {
    const d = this.detached.get(path);
    if (d === undefined || !d.cell.gone) return;
    this.detached.delete(path);
    if (this.placements.get(path) === this.shard) this.unsetPlacement(path);
  }

  #spawnHere(frame: Extract<ShardFrame, { k: 'spawn' }>, from: number): void {
    this.spawning(frame.path);
    this.setPlacement(frame.path, this.shard);
    this.system.spawnDetached(frame, from).then(
      () => this.spawned(frame.path),
      (error: unknown) => {
        this.unsetPlacement(frame.path);
        // what waited for it goes back to its stand-in, which keeps it for its parent's decision
        this.post(from, {
          v: SHARD_PROTOCOL_VERSION,
          k: 'spawn-failed',
          path: frame.path,
          spawnId: frame.spawnId,
          error: error instanceof Error ? `${error.name}: ${error.message}` : describe(error),
          envelopes: this.spawned(frame.path, true),
        });
      },
    );
  }

  // ---- a shard dies -----------------------------------------------------------------------

  /**
   * A shard's thread is gone. Its port closes; the watchers here of its actors are told
   * (`shard-lost`); every placement there is forgotten, so what is sent to its actors from now
   * on goes by its authority (a stand-in waiting for its supervisor's directive) or is a dead
   * letter; the stand-ins here of children that lived there fail (their parents decide); the
   * actors here whose parent lived there are killed (nobody supervises them any more). On the
   * main thread every other shard is told. Returns the placed roots it had.
   */
  lost(shard: number): string[] {
    if (shard === this.shard || shard >= this.count || this.#ports[shard] === null) return [];
    const gone = (path: string): boolean => this.#resolve(path, tempShard(path), false) === shard;
    const watched = [...this.#watches].filter(([path]) => gone(path));
    this.#outgoing[shard] = null;
    this.#ports[shard]?.close();
    this.#ports[shard] = null;
    const roots: string[] = [];
    for (const [path, s] of [...this.placements])
      if (s === shard) {
        roots.push(path);
        if (!this.remoteKids.has(path)) this.unsetPlacement(path);
      }
    for (const [root, m] of [...this.#confirmed])
      for (const [path, s] of [...m])
        if (s === shard) {
          m.delete(path);
          this.#confirmedSize--;
          if (m.size === 0) this.#confirmed.delete(root);
        }
    this.#gen++;
    if (this.shard === 0) this.broadcast({ v: SHARD_PROTOCOL_VERSION, k: 'lost', shard });
    this.stores.lost(shard);
    for (const [path, watchers] of watched) {
      this.#watches.delete(path);
      const ref = this.system.refOf(this.system.addressOf(path as ActorPath));
      for (const w of watchers)
        w.tell({ type: 'troupe.terminated', ref, reason: 'shard-lost' } satisfies Terminated);
    }
    // questions that shard will never answer: ask again, by what is known now
    for (const [path, p] of [...this.#pending]) {
      if (p.asked !== shard) continue;
      this.#pending.delete(path);
      for (const h of p.held) this.#release(h);
    }
    for (const kid of [...this.remoteKids.values()]) if (kid.shard === shard) kid.shardLost(shard);
    for (const d of [...this.detached.values()]) if (d.parentShard === shard) d.orphaned();
    return roots;
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
