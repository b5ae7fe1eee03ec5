/**
 * Shards on the main thread: `createSystem({ shards: N })` starts N − 1 worker threads, each
 * a full actor system with its own scheduler (runtime/shards/host.ts); the main thread is
 * shard 0. Every pair of shards gets its own MessageChannel (protocol.ts says why).
 *
 * Placement (at `system.spawn`, main thread only): `{ shard: k }` places an actor on shard k;
 * without it a portable behaviour (portable.ts) goes round-robin over the shards, and any
 * other behaviour stays on the main thread. The main thread keeps the table of where each
 * top-level actor lives and tells every shard before the spawn returns; a spawned actor's
 * children live on its shard. An actor on another shard cannot have persistence yet (its
 * store is an object of this thread).
 *
 * Which thread owns the node's sockets and Redis clients (the node links, the gateway, the
 * cluster's directory of later issues): the main thread. Its event loop does the I/O, the
 * shards only compute; envelopes for actors on shards cross one port, already batched. A
 * shard that needs the network asks an actor on the main thread, like any other message.
 *
 * Shutdown: the main thread's actors stop, then every shard is told to stop its own (each in
 * parallel with the others, each in its own children-first order) and answers `terminated`;
 * then its thread is ended. No thread is left running.
 *
 * Not yet (each is named here so that nobody relies on it by accident):
 * - a child on another shard than its parent, and so a supervisor on one shard supervising
 *   children on another: a child lives on its parent's shard;
 * - restarting the actors of a shard that died: a shard whose thread dies (an uncaught
 *   error, `process.exit()`, out of memory) is logged as an error and the rest of the system
 *   keeps running; every shard forgets its placements, the watchers of its actors get
 *   `troupe.terminated` with reason `shard-lost`, and messages sent to them afterwards are
 *   dead letters; but its actors are not started again elsewhere, the messages that were
 *   queued in it are lost with it (not counted as dead letters), and asks in flight to them
 *   wait for their deadline;
 * - persistence for an actor placed on another shard (refused at spawn, naming the option);
 * - one offload pool for the node: `ctx.offload` on a worker shard uses a pool of that shard's
 *   own (made on its first task), not the main thread's;
 * - top-level names of actors placed on worker shards are not reused after they stop.
 */
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import { InvalidOptionError } from '../error.ts';
import { childPath, type ActorPath } from '../address.ts';
import { LocalRef } from '../ref.ts';
import { NameTakenError } from '../cell.ts';
import type { ResolvedSpawnOptions } from '../options.ts';
import type { ActorSystem } from '../system.ts';
import type { Behaviour } from '../behaviour.ts';
import { portableOrigin } from './portable.ts';
import { ShardRouter } from './router.ts';
import { SHARD_PROTOCOL_VERSION, type ShardFrame, type TopKey } from './protocol.ts';

/** The worker's entry: host.ts run directly, host.js in the published build (dist/). */
const HOST = new URL(import.meta.url.endsWith('.ts') ? './host.ts' : './host.js', import.meta.url);

/** Longest a shard may take to stop its actors at shutdown before its thread is ended. */
export const SHARD_SHUTDOWN_MS = 10_000;

export class NotPortableError extends InvalidOptionError {
  constructor(shard: number) {
    super(
      'options.shard',
      shard,
      'the main thread (0) for a behaviour that is not portable: make it with portable(import.meta.url, name, behaviour) to place it on another shard',
    );
  }
}

export interface ShardLimits {
  readonly maxOldGenerationSizeMb?: number;
  readonly maxYoungGenerationSizeMb?: number;
}

/** What a worker shard is given at start. */
export interface HostData {
  readonly shard: number;
  readonly nodeId: string;
  readonly ports: (MessagePort | null)[];
  readonly throughput: number;
  readonly timeSliceMs: number;
  readonly askTimeoutMs: number;
  /** A module to import before the shard's system starts. */
  readonly setup: string | undefined;
  /** Its thread's memory limits. */
  readonly limits?: ShardLimits | undefined;
}

export class ShardNode {
  readonly router: ShardRouter;
  readonly count: number;
  readonly #system: ActorSystem;
  readonly #workers: (Worker | null)[];
  #next = 0;
  #closing: Promise<void> | null = null;
  readonly #terminated = new Map<number, () => void>();

  constructor(system: ActorSystem, count: number, host: Omit<HostData, 'shard' | 'ports'>) {
    this.#system = system;
    this.count = count;
    const ports: (MessagePort | null)[][] = Array.from({ length: count }, () =>
      new Array<MessagePort | null>(count).fill(null),
    );
    for (let i = 0; i < count; i++)
      for (let j = i + 1; j < count; j++) {
        const ch = new MessageChannel();
        ports[i]![j] = ch.port1;
        ports[j]![i] = ch.port2;
      }
    this.router = new ShardRouter(system, 0, ports[0]!);
    this.router.onControl = (frame, from) => this.#onControl(frame, from);
    this.#workers = [null];
    for (let k = 1; k < count; k++) {
      const own = ports[k]!;
      const data: HostData = { ...host, shard: k, ports: own };
      const w = new Worker(HOST, {
        ...(host.limits === undefined ? {} : { resourceLimits: host.limits }),
        workerData: data,
        transferList: own.filter((p): p is MessagePort => p !== null),
      });
      w.on('error', (error) =>
        system.logger.error(`troupe: shard ${k} failed with an uncaught error`, error),
      );
      w.on('exit', (code) => {
        this.#workers[k] = null;
        this.#terminated.get(k)?.();
        if (this.#closing !== null) return;
        const lost = this.router.lost(k);
        system.logger.error(
          `troupe: shard ${k} exited (code ${code}); its ${lost.length} top-level actor(s) are lost, and messages to them are dead letters`,
        );
      });
      this.#workers.push(w);
    }
  }

  /** Shard ids whose thread is running (0 always). */
  get live(): number[] {
    return this.#workers.flatMap((w, i) => (i === 0 || w !== null ? [i] : []));
  }

  /** Where a new top-level actor goes (`shard`: asked for, or undefined). */
  place(behaviour: Behaviour<any, any, any>, shard: number | 'least-loaded' | undefined): number {
    if (shard === 'least-loaded') {
      if (portableOrigin(behaviour) === undefined) return 0;
      return this.leastLoaded();
    }
    if (shard !== undefined) {
      if (shard >= this.count)
        throw new InvalidOptionError('options.shard', shard, `a shard from 0 to ${this.count - 1}`);
      if (shard !== 0 && portableOrigin(behaviour) === undefined) throw new NotPortableError(shard);
      return shard;
    }
    if (portableOrigin(behaviour) === undefined) return 0;
    // the next live shard (shard 0 always is)
    for (;;) {
      const s = this.#next;
      this.#next = (this.#next + 1) % this.count;
      if (s === 0 || this.#workers[s] !== null) return s;
    }
  }

  /**
   * The live shard with the fewest top-level actors placed on it (as the placement table
   * counts them: an actor is counted until a spawn under its name replaces it), lowest id
   * first on a tie.
   */
  leastLoaded(): number {
    const load = new Array<number>(this.count).fill(0);
    for (const s of this.router.placements.values()) load[s] = (load[s] ?? 0) + 1;
    let best = 0;
    for (const s of this.live) if (load[s]! < load[best]!) best = s;
    return best;
  }

  /** Spawns a portable behaviour as a top-level actor on shard `shard` (≠ 0). */
  spawnRemote(
    behaviour: Behaviour<any, any, any>,
    o: ResolvedSpawnOptions,
    shard: number,
    key: TopKey,
  ): LocalRef<any, any> {
    if (o.persistence !== null)
      throw new InvalidOptionError(
        'options.persistence',
        'a store',
        'absent for an actor on another shard than the main thread (not yet supported)',
      );
    if (this.#workers[shard] === null)
      throw new InvalidOptionError('options.shard', shard, 'a shard whose thread is running');
    const path: ActorPath = childPath(
      '/user' as ActorPath,
      typeof key === 'number' ? '$' + key.toString(36) : key,
    );
    if (this.router.placements.has(key)) throw new NameTakenError(path);
    this.router.placements.set(key, shard);
    // the spawn first: that shard holds what arrives for the actor until it runs; then
    // every shard learns where it is
    this.router.post(shard, {
      v: SHARD_PROTOCOL_VERSION,
      k: 'spawn',
      key,
      origin: portableOrigin(behaviour)!,
      options: {
        mailbox: { capacity: o.mailbox.capacity, overflow: o.mailbox.overflow },
        ...(o.shutdown === undefined ? {} : { shutdown: o.shutdown }),
      },
    });
    this.router.broadcast({ v: SHARD_PROTOCOL_VERSION, k: 'placed', key, shard });
    return new LocalRef(this.#system, path, this.router.targetFor(path));
  }

  /** A top-level actor on the main thread: every shard learns where it is. */
  placedHere(key: TopKey): void {
    this.router.placements.set(key, 0);
    this.router.broadcast({ v: SHARD_PROTOCOL_VERSION, k: 'placed', key, shard: 0 });
  }

  /** A top-level actor on the main thread stopped. */
  unplacedHere(key: TopKey): void {
    if (this.router.placements.get(key) !== 0) return;
    this.router.placements.delete(key);
    this.router.broadcast({ v: SHARD_PROTOCOL_VERSION, k: 'unplaced', key });
  }

  #onControl(frame: ShardFrame, from: number): void {
    switch (frame.k) {
      case 'spawned':
        if (frame.error !== undefined) {
          this.#system.logger.error(
            `troupe: shard ${from} could not spawn /user/${String(frame.key)}: ${frame.error}`,
          );
          this.router.placements.delete(frame.key);
          this.router.broadcast({ v: SHARD_PROTOCOL_VERSION, k: 'unplaced', key: frame.key });
        }
        return;
      case 'dead': {
        const l = frame.letter;
        this.#system.deadLetters.publish({
          message: l.message,
          recipient: l.recipient as never,
          ...(l.sender === undefined ? {} : { sender: l.sender as never }),
          reason: l.reason as never,
          ...(l.error === undefined ? {} : { error: l.error }),
        });
        return;
      }
      case 'terminated':
        this.#terminated.get(from)?.();
        return;
      case 'log':
        this.#system.logger[frame.level](`[shard ${from}] ${frame.message}`, ...frame.details);
        return;
      default:
        this.#system.logger.error(`troupe: shard ${from} sent an unexpected ${frame.k} frame`);
    }
  }

  /** Stops every shard's actors, then ends the threads. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (let k = 1; k < this.count; k++) {
      const w = this.#workers[k];
      if (w === null || w === undefined) continue;
      waits.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.#system.logger.warn(
              `troupe: shard ${k} did not stop within ${SHARD_SHUTDOWN_MS} ms; its thread is ended`,
            );
            resolve();
          }, SHARD_SHUTDOWN_MS);
          this.#terminated.set(k, () => {
            clearTimeout(timer);
            resolve();
          });
        }).then(() => w.terminate().then(() => undefined)),
      );
      this.router.post(k, { v: SHARD_PROTOCOL_VERSION, k: 'shutdown' });
    }
    await Promise.all(waits);
    this.router.close();
  }
}
