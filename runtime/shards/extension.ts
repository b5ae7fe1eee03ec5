/**
 * Shards as an extension (runtime/core/extension.ts): threads that run actors, the main
 * thread being shard 0 (runtime/shards/node.ts).
 *
 *   createSystem({ extensions: [shards({ count: 4, setup: new URL('./setup.ts', import.meta.url) })] })
 *
 * On the main thread `shards(…)` starts the worker shards and sets the kernel's shard routes
 * (runtime/core/routes.ts); its instance is the ShardNode, or null for one shard. On a
 * worker shard, runtime/shard-host.ts makes `shardWorker(…)` instead: the router that links
 * it to the others, and the resolver that relays to the main thread what only it reaches
 * (entities, other nodes).
 */
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import { parseAddress, ENTITY_SCHEME, type ActorPath } from '../../protocol/address.ts';
import {
  defineExtension,
  InvalidOptionError,
  onlyKnown,
  plainObject,
  type Kernel,
} from '../core/index.ts';
import { ShardNode, type ShardLimits } from './node.ts';
import { RelayTarget, ShardRouter } from './router.ts';

export interface ShardsOptions {
  /** Threads that run actors, the main thread included; `'auto'`: the available parallelism. */
  readonly count?: number | 'auto';
  /** A module each worker shard imports before its actors start (a file URL or absolute path). */
  readonly setup?: string | URL;
  /** Memory limits of each worker shard's thread, in MB (Node's Worker `resourceLimits`). */
  readonly limits?: {
    readonly maxOldGenerationSizeMb?: number;
    readonly maxYoungGenerationSizeMb?: number;
  };
}

export interface ResolvedShards {
  readonly count: number;
  readonly setup: string | undefined;
  readonly limits: ShardLimits | undefined;
}

/** `count`: 1 to 256, or 'auto'. */
export function resolveShardCount(field: string, v: unknown): number {
  if (v === undefined) return 1;
  if (v === 'auto') return availableParallelism();
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 256)
    throw new InvalidOptionError(field, v, "an integer from 1 to 256, or 'auto'");
  return v;
}

/** `setup`: a file URL. */
export function resolveShardSetup(field: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (v instanceof URL && v.protocol === 'file:') return v.href;
  if (typeof v === 'string' && v.startsWith('file:')) return v;
  if (typeof v === 'string' && isAbsolute(v)) return pathToFileURL(v).href;
  throw new InvalidOptionError(field, v, 'a file URL or an absolute path');
}

/** `limits`: MB > 0 for each limit given. */
export function resolveShardLimits(field: string, v: unknown): ShardLimits | undefined {
  if (v === undefined) return undefined;
  const o = plainObject(field, v);
  onlyKnown(field, o, ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb']);
  for (const [k, x] of Object.entries(o))
    if (x !== undefined && (typeof x !== 'number' || !Number.isFinite(x) || x <= 0))
      throw new InvalidOptionError(`${field}.${k}`, x, 'a number of MB > 0');
  return o as ShardLimits;
}

function resolveShards(v: ShardsOptions | undefined, field: string): ResolvedShards {
  const o = v === undefined ? {} : plainObject(field, v);
  onlyKnown(field, o, ['count', 'setup', 'limits']);
  return {
    count: resolveShardCount(`${field}.count`, o.count),
    setup: resolveShardSetup(`${field}.setup`, o.setup),
    limits: resolveShardLimits(`${field}.limits`, o.limits),
  };
}

/** Starts the worker shards of a node and routes between them; null for one shard. */
export function startShards(
  core: {
    readonly system: Kernel;
    readonly shard: number;
    setRoutes(routes: ShardRouter): void;
    onShutdown(phase: 'disconnect', name: string, task: () => Promise<void>): void;
  },
  o: ResolvedShards,
): ShardNode | null {
  if (core.shard !== 0)
    throw new InvalidOptionError('shards', o.count, 'given on the main thread only');
  if (o.count === 1) return null;
  const system = core.system;
  const node = new ShardNode(system, o.count, {
    nodeId: system.nodeId,
    throughput: system.throughput,
    timeSliceMs: system.timeSliceMs,
    askTimeoutMs: system.askTimeoutMs,
    setup: o.setup,
    limits: o.limits,
    offload: system.offloads.options,
  });
  core.setRoutes(node.router);
  core.onShutdown('disconnect', 'shards', () => node.close());
  return node;
}

export const shardsExtension = defineExtension('troupe.shards', startShards, resolveShards);

/** The shards' extension with its options: `createSystem({ extensions: [shards({ count: 4 })] })`. */
export function shards(options: ShardsOptions): typeof shardsExtension {
  return shardsExtension.with(options);
}

/** A worker shard's place in its node (runtime/shard-host.ts). */
export interface ShardWorkerContext {
  readonly shard: number;
  readonly ports: (MessagePort | null)[];
}

/**
 * The extension of a worker shard's kernel: its router, and a resolver that relays to the
 * main thread entities and actors of other nodes (only the main thread holds them).
 */
export const shardWorkerExtension = defineExtension(
  'troupe.shard-worker',
  (core, context: ShardWorkerContext) => {
    const router = new ShardRouter(core.system, context.shard, context.ports);
    core.setRoutes(router);
    const nodeId = core.system.nodeId;
    core.addResolver((address) => {
      if (address.startsWith(ENTITY_SCHEME))
        return new RelayTarget(router, address, address as string as ActorPath);
      const parsed = parseAddress(address);
      if (parsed.type !== 'actor' || parsed.node === nodeId) return undefined;
      return new RelayTarget(router, address, parsed.path);
    });
    return router;
  },
  (context: ShardWorkerContext | undefined) => {
    if (context === undefined)
      throw new InvalidOptionError('shardWorker', context, 'made by runtime/shard-host.ts');
    return context;
  },
);
