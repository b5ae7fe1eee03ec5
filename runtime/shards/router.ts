/**
 * The router of one shard: where an actor that does not live in this thread lives, and how
 * messages get there.
 *
 * Placement table: every top-level actor (`/user/<key>`) has a shard; the main thread
 * (shard 0) decides and tells every shard (`placed`) before the spawn returns its ref, and
 * its table is the authority. An actor's children live on its shard, so a path's first
 * segment under `/user` names its shard. Temporary receivers (ask replies, listeners) carry
 * their shard in their name (`/temp/s2-ask-7`; none on shard 0).
 *
 * A ref to an actor on another shard resolves to a RemoteTarget: `tell` seals the message
 * into an envelope at once (so a message that cannot cross throws SerializationError naming
 * the field, in the sender's turn), and the envelope joins the batch for that shard, posted
 * at the end of the current turn (a microtask). One port per pair of shards and one batch per
 * destination keep FIFO per sender→receiver pair.
 *
 * A shard that meets a top-level key it has not been told about yet (a ref that travelled
 * faster than the `placed` frame) holds the envelopes for it and asks the main thread
 * (`where`), whose answer comes on the same port as its `placed` frames: the held envelopes
 * then go, in order, or become dead letters (`unknown-actor`). At most HELD_PER_KEY wait per
 * key; more are dead letters.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Envelope, EnvelopeKind, MessageMeta } from '../envelope.ts';
import { open, seal } from '../boundary.ts';
import { AskDeliveryError, ReplyFailure } from '../ask.ts';
import { TroupeError } from '../error.ts';
import type { ActorPath, Address } from '../address.ts';
import type { ActorRef, Delivery, LocalRef, Target } from '../ref.ts';
import type { SystemMessage } from '../system-message.ts';
import type { Terminated } from '../notices.ts';
import type { ActorSystem } from '../system.ts';
import { checkFrame, SHARD_PROTOCOL_VERSION, type ShardFrame, type TopKey } from './protocol.ts';

/**
 * Envelopes per batch frame at most: a longer burst to one shard goes as several frames, so
 * the receiving shard starts on the first while the rest are still being sent.
 */
export const MAX_BATCH_ENVELOPES = 512;

/** Top-level keys remembered as absent (bounded: refs to nobody can come from outside). */
export const ABSENT_KEYS = 10_000;

/** Envelopes held for one top-level key while its shard is asked for. */
export const HELD_PER_KEY = 10_000;

const USER = '/user/';
const TEMP = '/temp/';

/** The name of a temporary receiver made on `shard`. */
export function tempPrefix(shard: number): string {
  return shard === 0 ? '' : `s${shard}-`;
}

/** `/user/$a/x` → 10 (a generated name's number), `/user/calc/x` → 'calc'; null off /user. */
export function topKeyOf(path: string): TopKey | null {
  if (!path.startsWith(USER)) return null;
  const end = path.indexOf('/', USER.length);
  const seg = end < 0 ? path.slice(USER.length) : path.slice(USER.length, end);
  if (seg.length === 0) return null;
  if (seg.startsWith('$')) {
    const n = Number.parseInt(seg.slice(1), 36);
    return Number.isSafeInteger(n) && n >= 0 && '$' + n.toString(36) === seg ? n : seg;
  }
  return seg;
}

/** The shard a temporary receiver lives on, from its name; null off /temp. */
function tempShard(path: string): number | null {
  if (!path.startsWith(TEMP)) return null;
  const m = /^s(\d+)-/.exec(path.slice(TEMP.length));
  return m === null ? 0 : Number(m[1]);
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

function crossError(error: unknown): CrossedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { name: 'Error', message: String(error) };
}

/** An actor or temporary receiver on another shard, as a ref's target. */
export class RemoteTarget implements Target {
  readonly path: ActorPath;
  readonly address: Address;
  /** A temporary receiver's shard (from its name), else null. */
  readonly tempShard: number | null;
  /** Its top-level key, whose shard the placement table gives, else null. */
  readonly key: TopKey | null;
  readonly #router: ShardRouter;
  constructor(router: ShardRouter, path: ActorPath, address: Address) {
    this.#router = router;
    this.path = path;
    this.address = address;
    this.tempShard = tempShard(path);
    this.key = this.tempShard === null ? topKeyOf(path) : null;
  }
  /** Gone once the placement table no longer puts it on another shard (it stopped, its shard died). */
  get gone(): boolean {
    return !this.#router.remoteBy(this.tempShard, this.key);
  }
  deliver(msg: unknown, meta: unknown): Delivery {
    return this.#router.send(this, msg instanceof ReplyFailure ? 'reply' : 'user', msg, meta);
  }
  sendSystem(msg: SystemMessage): void {
    this.#router.send(this, 'system', msg, null);
  }
}

interface Held {
  readonly to: RemoteTarget;
  readonly envelope: Envelope;
}

export class ShardRouter {
  readonly shard: number;
  readonly count: number;
  readonly #system: ActorSystem;
  /** Port to each shard by id (null: this one, or one that is gone). */
  readonly #ports: (MessagePort | null)[];
  /** Top-level key → shard (on the main thread: the authority). */
  readonly placements = new Map<TopKey, number>();
  readonly #outgoing: (Envelope[] | null)[];
  #flushing = false;
  readonly #held = new Map<TopKey, Held[]>();
  /** On a worker: envelopes for top-level actors whose spawn is under way here. */
  readonly #spawning = new Map<TopKey, Envelope[]>();
  readonly #targets = new Map<string, RemoteTarget>();
  /** Keys the main thread said nobody has (since): not asked for again. */
  readonly #absent = new Set<TopKey>();
  /**
   * Watches this shard sent to actors on other shards: watched path → watchers. When a shard
   * dies, its actors cannot say they stopped; this shard tells their watchers (`shard-lost`).
   */
  readonly #watches = new Map<string, Set<ActorRef<unknown>>>();
  /** Refs of the addresses met in arriving envelopes (boundary.ts `open`). */
  readonly #refs = new Map<unknown, ActorRef<unknown>>();
  /** Frames that are not for the router (spawn, shutdown…): the shard's host handles them. */
  onControl: ((frame: ShardFrame, from: number) => void) | null = null;

  constructor(system: ActorSystem, shard: number, ports: (MessagePort | null)[]) {
    this.#system = system;
    this.shard = shard;
    this.count = ports.length;
    this.#ports = ports;
    this.#outgoing = ports.map(() => null);
    ports.forEach((p, from) => {
      if (p === null) return;
      p.on('message', (data: unknown) => this.#onFrame(data, from));
    });
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

  /**
   * A shard's thread is gone: its port closes, and every top-level key placed there is
   * forgotten (and, on the main thread, every other shard is told): what is sent to its actors
   * from now on is a dead letter. Returns the keys it had.
   */
  lost(shard: number): TopKey[] {
    if (shard === this.shard || shard >= this.count || this.#ports[shard] === null) return [];
    this.#outgoing[shard] = null;
    this.#ports[shard]?.close();
    this.#ports[shard] = null;
    const keys = [...this.placements].filter(([, s]) => s === shard).map(([k]) => k);
    const lostKeys = new Set<TopKey>(keys);
    for (const k of keys) this.place(k, null);
    if (this.shard === 0) this.broadcast({ v: SHARD_PROTOCOL_VERSION, k: 'lost', shard });
    // the watchers here of actors that were there
    for (const [path, watchers] of [...this.#watches]) {
      const t = tempShard(path);
      const gone = t !== null ? t === shard : lostKeys.has(topKeyOf(path)!);
      if (!gone) continue;
      this.#watches.delete(path);
      const ref = this.#system.refOf(this.#system.addressOf(path as ActorPath));
      for (const w of watchers)
        w.tell({ type: 'troupe.terminated', ref, reason: 'shard-lost' } satisfies Terminated);
    }
    return keys;
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

  /** Lets the ports' listeners stop keeping the thread alive. */
  close(): void {
    this.#flush();
    for (const p of this.#ports) p?.close();
    this.#ports.fill(null);
  }

  /** Marks a top-level key as being spawned on this shard: its envelopes wait for the spawn. */
  spawning(key: TopKey): void {
    if (!this.#spawning.has(key)) this.#spawning.set(key, []);
  }

  /** The spawn of `key` here is done (or failed): the envelopes that waited for it go now. */
  spawned(key: TopKey): void {
    const waiting = this.#spawning.get(key);
    this.#spawning.delete(key);
    if (waiting !== undefined) for (const e of waiting) this.#deliverLocal(e);
  }

  /** The shard a path lives on, as far as this shard knows (null: unknown). */
  shardOf(path: string): number | null {
    const t = tempShard(path);
    if (t !== null) return t;
    const key = topKeyOf(path);
    if (key === null) return null;
    return this.placements.get(key) ?? null;
  }

  /**
   * The target of a path that is not a live actor of this thread: a RemoteTarget when it
   * lives (or may live: a key not yet known, on a worker) on another shard, else null.
   */
  targetFor(path: ActorPath): Target | null {
    const cached = this.#targets.get(path);
    if (cached !== undefined) return this.isRemote(path) ? cached : null;
    if (!this.isRemote(path)) return null;
    const t = new RemoteTarget(this, path, this.#system.addressOf(path));
    if (this.#targets.size < 100_000) this.#targets.set(path, t);
    return t;
  }

  /** Whether `path` lives (or, on a worker, may live) on another shard. */
  isRemote(path: string): boolean {
    const t = tempShard(path);
    return this.remoteBy(t, t === null ? topKeyOf(path) : null);
  }

  /** isRemote, from a path's temporary-receiver shard or top-level key. */
  remoteBy(t: number | null, key: TopKey | null): boolean {
    if (t !== null) return t !== this.shard && t < this.count && this.#ports[t] !== null;
    if (key === null) return false;
    const s = this.placements.get(key);
    // an actor placed here whose spawn is under way: its messages wait with the others
    if (s === this.shard) return this.#spawning.has(key);
    if (s !== undefined) return this.#ports[s] !== null;
    // unknown here: the main thread knows every key; a worker asks it, unless it answered
    // that nobody has that key
    return this.shard !== 0 && !this.#absent.has(key);
  }

  /** Seals a message for a remote target and batches it. Throws SerializationError for a body that cannot cross. */
  send(to: RemoteTarget, kind: EnvelopeKind, msg: unknown, meta: unknown): Delivery {
    if (kind === 'system') this.#noteWatch(to.path, msg as SystemMessage);
    // the boundary envelope (a failure reply carries its error as plain data)
    const envelope = seal(
      kind,
      to as unknown as ActorRef<unknown>,
      kind === 'reply' ? crossError((msg as ReplyFailure).error) : msg,
      meta,
    );
    const shard = to.tempShard ?? (to.key === null ? null : (this.placements.get(to.key) ?? null));
    if (shard === null) {
      // the main thread knows every placement: unknown there is no such actor (any more)
      if (this.shard !== 0) return this.#hold(to, envelope);
      // as for any address nobody lives at: a dead letter, a watch answered at once
      this.#deliverLocal(envelope);
      return 'dead-letter';
    }
    if (shard === this.shard) {
      // placed here: its spawn is under way (it waits with the others), or it is gone
      this.#arrive(envelope);
      return this.#spawning.has(to.key!) ? 'enqueued' : 'dead-letter';
    }
    if (this.#ports[shard] === null) {
      this.#deliverLocal(envelope);
      return 'dead-letter';
    }
    this.#enqueue(shard, envelope);
    return 'enqueued';
  }

  #enqueue(shard: number, envelope: Envelope): void {
    if (this.#ports[shard] === null || shard === this.shard) {
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
    const key = topKeyOf(to.path)!;
    let held = this.#held.get(key);
    if (held === undefined) {
      held = [];
      this.#held.set(key, held);
      this.post(0, { v: SHARD_PROTOCOL_VERSION, k: 'where', key });
    }
    if (held.length >= HELD_PER_KEY) {
      this.#deadEnvelope(envelope, 'unknown-actor');
      return 'dead-letter';
    }
    held.push({ to, envelope });
    return 'enqueued';
  }

  /** `placed` or `unplaced` arrived: record it, and release what waited for that key. */
  place(key: TopKey, shard: number | null): void {
    if (shard !== null && (shard >= this.count || shard < 0)) return;
    if (shard === null) {
      this.placements.delete(key);
      if (this.#absent.size >= ABSENT_KEYS) this.#absent.clear();
      this.#absent.add(key);
    } else {
      this.placements.set(key, shard);
      this.#absent.delete(key);
    }
    const held = this.#held.get(key);
    if (held === undefined) return;
    this.#held.delete(key);
    for (const h of held)
      if (shard === null || shard === this.shard) this.#arrive(h.envelope);
      else this.#enqueue(shard, h.envelope);
  }

  #onFrame(data: unknown, from: number): void {
    const frame = checkFrame(data);
    if (frame === null) {
      this.#system.logger.error(
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
        this.place(frame.key, frame.shard);
        return;
      case 'unplaced':
        this.place(frame.key, null);
        return;
      case 'lost':
        this.lost(frame.shard);
        return;
      case 'where': {
        const s = this.placements.get(frame.key);
        this.post(
          from,
          s === undefined
            ? { v: SHARD_PROTOCOL_VERSION, k: 'unplaced', key: frame.key }
            : { v: SHARD_PROTOCOL_VERSION, k: 'placed', key: frame.key, shard: s },
        );
        return;
      }
      default:
        this.onControl?.(frame, from);
    }
  }

  #arrive(e: Envelope): void {
    const key = typeof e.to === 'string' ? topKeyOf(this.#pathOf(e.to)) : null;
    if (key !== null) {
      const waiting = this.#spawning.get(key);
      if (waiting !== undefined) {
        waiting.push(e);
        return;
      }
    }
    this.#deliverLocal(e);
  }

  #pathOf(address: string): string {
    // troupe://<node>/<path>
    const i = address.indexOf('/', 'troupe://'.length);
    return i < 0 ? '' : address.slice(i);
  }

  /** Opens an envelope and hands it to its target in this thread. */
  #deliverLocal(e: Envelope): void {
    let opened;
    try {
      opened = open(e, this.#system.refOf, this.#refs);
    } catch (error) {
      this.#system.logger.error(`troupe: shard ${this.shard}: an envelope is refused`, error);
      return;
    }
    const to = opened.to as LocalRef;
    switch (opened.kind) {
      case 'system':
        to.sendSystem(opened.body as SystemMessage);
        return;
      case 'reply':
        to.deliverWithMeta(
          new ReplyFailure(new RemoteError(opened.body as CrossedError)),
          opened.meta,
        );
        return;
      default:
        if (this.#watches.size > 0) this.#watchEnded(opened.body);
        this.#answerUndelivered(to, to.deliverWithMeta(opened.body, opened.meta), opened.meta);
    }
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
    const sys = this.#system;
    sys.deadLetters.publish({
      message: e.body,
      recipient: e.to,
      ...(e.from === undefined ? {} : { sender: e.from }),
      reason,
    });
  }

  /** A ref for an address of this node, whichever shard it lives on. */
  refOf(address: Address): ActorRef<unknown> {
    return this.#system.refOf(address);
  }
}
