/**
 * One real shard in the test's own thread (shard 2, a full ActorSystem with its router), and
 * shards 0 and 1 played by hand on the other ends of its ports: a test sends it exactly the
 * frames it wants, in the order it wants, and reads what it sends back. For races between
 * ports that real threads make only sometimes.
 */
import { MessageChannel } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { ActorSystem } from '../../runtime/system.ts';
import { shardWorkerExtension } from '../../runtime/shards/extension.ts';
import { ShardOffloads } from '../../runtime/shards/offload-link.ts';
import type { ShardRouter } from '../../runtime/shards/router.ts';
import { LinkReader, LinkWriter } from '../../runtime/shards/link.ts';
import { SHARD_PROTOCOL_VERSION } from '../../runtime/shards/protocol.ts';
import type { Address } from '../../protocol/address.ts';
import type { DeadLetter } from '../../runtime/core/dead-letters.ts';

export const tick = (ms = 5): Promise<unknown> => sleep(ms);

export interface Played {
  /** The real shard. */
  readonly system: ActorSystem;
  readonly dead: DeadLetter[];
  /** A control frame from shard 0 (the main thread) or shard 1. */
  control(from: 0 | 1, frame: object): void;
  /** A message to `path` in a frame of its own, from shard 0 or 1. */
  tell(from: 0 | 1, path: string, body: unknown): void;
  /** Messages to `path`, all in one frame. */
  tellMany(from: 0 | 1, path: string, bodies: readonly unknown[]): void;
  /** What the real shard sent to shard 0 or 1: control frames, and the messages of its frames. */
  sent(to: 0 | 1): { frames: Record<string, unknown>[]; messages: { to: string; body: unknown }[] };
  close(): void;
}

export const address = (path: string): Address => `troupe://n${path}` as Address;

export function playShards(): Played {
  const c0 = new MessageChannel();
  const c1 = new MessageChannel();
  let router: ShardRouter | null = null;
  const system = new ActorSystem(
    {
      nodeId: 'n',
      logger: { info() {}, warn() {}, error() {} },
      extensions: [shardWorkerExtension.with({ shard: 2, ports: [c0.port2, c1.port2, null] })],
    },
    {
      shard: 2,
      offloads: () =>
        new ShardOffloads(
          { maxThreads: 1, maxQueue: 10, timeoutMs: 1_000, idleTimeoutMs: 1_000 },
          () => router!,
        ),
    },
  );
  router = system.extension(shardWorkerExtension);
  const dead: DeadLetter[] = [];
  system.deadLetters.subscribe((d) => dead.push(d));
  const received: unknown[][] = [[], []];
  c0.port1.on('message', (m) => received[0]!.push(m));
  c1.port1.on('message', (m) => received[1]!.push(m));
  const writers = [new LinkWriter(), new LinkWriter()];
  const ports = [c0.port1, c1.port1];
  return {
    system,
    dead,
    control(from, frame) {
      ports[from]!.postMessage({ v: SHARD_PROTOCOL_VERSION, ...frame });
    },
    tell(from, path, body) {
      this.tellMany(from, path, [body]);
    },
    tellMany(from, path, bodies) {
      const w = writers[from]!;
      for (const body of bodies) w.pushTell(address(path), undefined, body);
      ports[from]!.postMessage(w.take(0, []));
    },
    sent(to) {
      const reader = new LinkReader();
      const frames: Record<string, unknown>[] = [];
      const messages: { to: string; body: unknown }[] = [];
      for (const m of received[to]!) {
        if (m instanceof Uint8Array)
          reader.read(m, system.refOf, (_k, t, _f, _r, _c, _tr, _p, body) =>
            messages.push({ to: t, body }),
          );
        else {
          frames.push(m as Record<string, unknown>);
          if ((m as { k?: unknown }).k === 'link-reset') reader.reset();
        }
      }
      return { frames, messages };
    },
    close() {
      c0.port1.close();
      c1.port1.close();
      router!.close();
    },
  };
}
