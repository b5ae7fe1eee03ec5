/**
 * Shards on the main thread: `createSystem({ shards: N })` starts N − 1 worker threads, each
 * a full actor system with its own scheduler (runtime/shard-host.ts); the main thread is
 * shard 0. Every pair of shards gets its own MessageChannel (protocol.ts says why).
 *
 * Placement (runtime/shards/router.ts): `system.spawn` runs on the main thread and places
 * top-level actors (`{ shard: k }`, `'least-loaded'`, `'round-robin'`; by default portable
 * behaviours round-robin, others on the main thread); an actor's children live on its shard
 * unless `ctx.spawn` (or a supervisor's child spec) gives `shard`. Only portable behaviours
 * (portable.ts) can be placed on another shard than their parent's.
 *
 * Supervision crosses shards (runtime/shards/remote.ts): a supervisor on one shard supervises
 * children on others with the same protocol and rules as same-thread children.
 *
 * Which thread owns the node's sockets and Redis clients (the node links, the gateway, the
 * cluster's directory of later issues): the main thread. Its event loop does the I/O, the
 * shards only compute; envelopes for actors on shards cross one port, already batched. A
 * shard that needs the network asks an actor on the main thread, like any other message.
 *
 * A shard that dies (an uncaught error in its thread, `process.exit()` inside it, out of
 * memory under `shardLimits`) is detected by its thread's exit: every shard is told (`lost`),
 * each actor that ran there has failed and its supervisor decides (a restart starts it again
 * on a live shard), the watchers of its actors get `troupe.terminated` with reason
 * `shard-lost`, and the rest of the system keeps running.
 *
 * Shutdown: the main thread's actors stop (its top-level actors on other shards with them,
 * each children-first), then every shard is told to stop what is left and answers
 * `terminated`; then its thread is ended. No thread is left running.
 *
 * An actor placed on another shard keeps its snapshots in the store it was given, which stays
 * on the spawning shard (runtime/shards/store.ts).
 *
 * The node has one offload pool, on the main thread: a worker shard's tasks go there
 * (runtime/shards/offload-link.ts).
 */
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Kernel } from '../core/index.ts';
import type { RuntimeEvent } from '../core/index.ts';
import { crossOffloadError, type ResolvedOffloadOptions } from '../core/index.ts';
import { decodeValue } from '../core/index.ts';
import { ShardRouter } from './router.ts';
import { SHARD_PROTOCOL_VERSION, type ShardFrame } from './protocol.ts';

/** The worker's entry: runtime/shard-host.ts run directly, shard-host.js in the published build (dist/). */
const HOST = new URL(
  import.meta.url.endsWith('.ts') ? '../shard-host.ts' : '../shard-host.js',
  import.meta.url,
);

/** Longest a shard may take to stop its actors at shutdown before its thread is ended. */
export const SHARD_SHUTDOWN_MS = 10_000;

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
  /** The node's offload limits (its tasks go to the main thread's pool). */
  readonly offload: ResolvedOffloadOptions;
}

export class ShardNode {
  readonly router: ShardRouter;
  readonly count: number;
  readonly #system: Kernel;
  readonly #workers: (Worker | null)[];
  #closing: Promise<void> | null = null;
  readonly #terminated = new Map<number, () => void>();
  /** Tasks run on the node's pool for worker shards: shard → request → its abort. */
  readonly #offloads = new Map<number, Map<number, AbortController>>();

  constructor(system: Kernel, count: number, host: Omit<HostData, 'shard' | 'ports'>) {
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
        // nobody waits for its tasks any more
        for (const c of this.#offloads.get(k)?.values() ?? []) c.abort();
        this.#offloads.delete(k);
        if (this.#closing !== null) return;
        const lost = this.router.lost(k);
        system.logger.error(
          `troupe: shard ${k} exited (code ${code}); its ${lost.length} placed actor(s) failed with it, and their supervisors decide`,
        );
      });
      this.#workers.push(w);
    }
  }

  /** Shard ids whose thread is running (0 always). */
  get live(): number[] {
    return this.#workers.flatMap((w, i) => (i === 0 || w !== null ? [i] : []));
  }

  #onControl(frame: ShardFrame, from: number): void {
    switch (frame.k) {
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
      case 'event': {
        let event: RuntimeEvent;
        try {
          event = decodeValue(frame.event, this.#system.refOf) as RuntimeEvent;
        } catch (error) {
          this.#system.logger.error(
            `troupe: shard ${from} sent an event that cannot be read`,
            error,
          );
          return;
        }
        this.#system.events.publish(event);
        return;
      }
      case 'terminated':
        this.#terminated.get(from)?.();
        return;
      case 'offload':
        this.#runFor(from, frame);
        return;
      case 'offload-abort':
        this.#offloads.get(from)?.get(frame.req)?.abort();
        return;
      case 'log':
        this.#system.logger[frame.level](`[shard ${from}] ${frame.message}`, ...frame.details);
        return;
      default:
        this.#system.logger.error(`troupe: shard ${from} sent an unexpected ${frame.k} frame`);
    }
  }

  /** Runs a worker shard's task on the node's pool and answers with `offloaded`. */
  #runFor(from: number, frame: Extract<ShardFrame, { k: 'offload' }>): void {
    let mine = this.#offloads.get(from);
    if (mine === undefined) this.#offloads.set(from, (mine = new Map()));
    const c = new AbortController();
    mine.set(frame.req, c);
    const answer = (f: { ok: true; value: unknown } | { ok: false; error: unknown }): void => {
      mine.delete(frame.req);
      // an abort came from the shard: it settled the task already
      if (c.signal.aborted && !f.ok) return;
      const base = { v: SHARD_PROTOCOL_VERSION, k: 'offloaded', req: frame.req } as const;
      try {
        this.router.post(
          from,
          f.ok
            ? { ...base, ok: true, value: f.value }
            : { ...base, ok: false, error: crossOffloadError(f.error) },
        );
      } catch (error) {
        this.router.post(from, { ...base, ok: false, error: crossOffloadError(error) });
      }
    };
    this.#system.offloads
      .run({ module: frame.module, name: frame.name }, frame.input, {
        timeoutMs: frame.timeoutMs ?? Infinity,
        signal: c.signal,
      })
      .then(
        (value) => answer({ ok: true, value }),
        (error: unknown) => answer({ ok: false, error }),
      );
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
          const clock = this.#system.clock;
          const timer = clock.setTimeout(() => {
            this.#system.logger.warn(
              `troupe: shard ${k} did not stop within ${SHARD_SHUTDOWN_MS} ms; its thread is ended`,
            );
            resolve();
          }, SHARD_SHUTDOWN_MS);
          this.#terminated.set(k, () => {
            clock.clearTimeout(timer);
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
