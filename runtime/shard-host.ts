/**
 * A worker shard: a full actor system in this thread, with the router that links it to the
 * others (runtime/shards/node.ts starts it). Its router runs what other shards place here;
 * it forwards its dead letters and log lines to the main thread (the node has one
 * dead-letter stream and one logger), and stops its actors when told, answering `terminated`.
 */
import { workerData } from 'node:worker_threads';
import { ActorSystem } from './system.ts';
import { describe, encodeValue, type DeadLetter } from './core/index.ts';
import { shardWorkerExtension } from './shards/extension.ts';
import type { ShardRouter } from './shards/router.ts';
import { SHARD_PROTOCOL_VERSION } from './shards/protocol.ts';
import type { HostData } from './shards/node.ts';
import { ShardOffloads } from './shards/offload-link.ts';

const data = workerData as HostData;
// the user's setup (a tracer provider…) before any actor runs
if (data.setup !== undefined) await import(data.setup);

/** The node's logger is the main thread's: lines go there (details as text). */
const detail = (d: unknown): string =>
  d instanceof Error ? (d.stack ?? `${d.name}: ${d.message}`) : describe(d);
const logLine =
  (level: 'info' | 'warn' | 'error') =>
  (message: string, ...details: unknown[]): void =>
    routes?.post(0, {
      v: SHARD_PROTOCOL_VERSION,
      k: 'log',
      level,
      message,
      details: details.map(detail),
    });

let routes: ShardRouter | null = null;
const system: ActorSystem = new ActorSystem(
  {
    logger: { info: logLine('info'), warn: logLine('warn'), error: logLine('error') },
    nodeId: data.nodeId,
    throughput: data.throughput,
    timeSliceMs: data.timeSliceMs,
    askTimeoutMs: data.askTimeoutMs,
    extensions: [shardWorkerExtension.with({ shard: data.shard, ports: data.ports })],
  },
  { shard: data.shard, offloads: () => new ShardOffloads(data.offload, () => routes!) },
);
const router = system.extension(shardWorkerExtension);
routes = router;

function crossing(d: DeadLetter) {
  let message: unknown;
  try {
    message = encodeValue(d.message);
  } catch {
    message = describe(d.message);
  }
  return {
    message,
    recipient: d.recipient,
    ...(d.sender === undefined ? {} : { sender: d.sender }),
    reason: d.reason,
    ...(d.error === undefined
      ? {}
      : {
          error:
            d.error instanceof Error ? `${d.error.name}: ${d.error.message}` : describe(d.error),
        }),
  };
}

system.deadLetters.subscribe((d) =>
  router.post(0, { v: SHARD_PROTOCOL_VERSION, k: 'dead', letter: crossing(d) }),
);

// the node has one event stream: supervision events of this shard's supervisors go there
system.events.subscribe((e) => {
  let event: unknown;
  try {
    event = encodeValue(e);
  } catch {
    event = encodeValue({ ...e, error: describe((e as { error?: unknown }).error) });
  }
  router.post(0, { v: SHARD_PROTOCOL_VERSION, k: 'event', event });
});

// however this shard's system ends (told to, or its root supervisor failing), the main thread
// hears it; then the ports close and the thread can end
void system.whenTerminated.then(() => {
  router.post(0, { v: SHARD_PROTOCOL_VERSION, k: 'terminated' });
  router.close();
});

router.onControl = (frame, from) => {
  if (from === 0 && frame.k === 'offloaded') {
    (system.offloads as ShardOffloads).answered(frame);
    return;
  }
  // only the main thread stops this shard
  if (from !== 0 || frame.k !== 'shutdown') {
    system.logger.error(
      `troupe: shard ${data.shard}: a ${frame.k} frame from shard ${from} is refused (only the main thread sends shutdown or offloaded)`,
    );
    return;
  }
  // placed roots left (their parents stopped them already, unless those were lost): killed
  for (const d of [...router.detached.values()]) d.cell.kill();
  void system.shutdown();
};
