/**
 * createSystem's options: the kernel's (runtime/core/options.ts) and, deprecated, the flat
 * options of the built-in parts from before they were extensions. Each flat option becomes
 * its part's extension, checked as before (errors name `options.gateway.port`):
 *
 *   shards, shardSetup, shardLimits          → shards({ count, setup, limits })
 *   node, peers, secret, tls, link           → nodes({ node, peers, secret, tls, link })
 *   cluster                                  → cluster({ … })
 *   gateway                                  → gateway({ … })
 *
 * They keep working for this release; new code gives the extensions (README, "Parts").
 */
import {
  KERNEL_OPTIONS,
  plainObject,
  resolveKernelOptions,
  type Extension,
  type KernelOptions,
} from './core/index.ts';
import { resolveNodesOptions, type NodesOptions } from './nodes/options.ts';
import { nodesExtension } from './nodes/extension.ts';
import { resolveClusterOptions, type ClusterOptions } from './cluster/options.ts';
import { clusterExtension } from './cluster/extension.ts';
import type { GatewayOptions } from './gateway/options.ts';
import { gatewayExtension } from './gateway/extension.ts';
import {
  resolveShardCount,
  resolveShardLimits,
  resolveShardSetup,
  shardsExtension,
} from './shards/extension.ts';

export {
  DEFAULT_THROUGHPUT,
  DEFAULT_SHUTDOWN_MS,
  DEFAULT_TIME_SLICE_MS,
  type SpawnOptions,
  type ShardChoice,
} from './core/index.ts';

export interface SystemOptions extends KernelOptions {
  /** @deprecated `shards({ count })` (runtime/shards/extension.ts). */
  readonly shards?: number | 'auto';
  /** @deprecated `shards({ setup })`. */
  readonly shardSetup?: string | URL;
  /** @deprecated `shards({ limits })`. */
  readonly shardLimits?: {
    readonly maxOldGenerationSizeMb?: number;
    readonly maxYoungGenerationSizeMb?: number;
  };
  /** @deprecated `nodes({ node, peers, secret, tls, link })` (runtime/nodes/extension.ts). */
  readonly node?: NodesOptions['node'];
  /** @deprecated `nodes({ peers })`. */
  readonly peers?: NodesOptions['peers'];
  /** @deprecated `nodes({ secret })`. */
  readonly secret?: NodesOptions['secret'];
  /** @deprecated `nodes({ tls })`. */
  readonly tls?: NodesOptions['tls'];
  /** @deprecated `nodes({ link })`. */
  readonly link?: NodesOptions['link'];
  /** @deprecated `cluster({ … })` (runtime/cluster/extension.ts). */
  readonly cluster?: ClusterOptions;
  /** @deprecated `gateway({ … })` (runtime/gateway/extension.ts). */
  readonly gateway?: GatewayOptions;
}

const FLAT_OPTIONS = [
  'shards',
  'shardSetup',
  'shardLimits',
  'node',
  'peers',
  'secret',
  'tls',
  'link',
  'cluster',
  'gateway',
] as const;

/**
 * The kernel's options, with the extensions the flat options stand for first (shards,
 * nodes, cluster, gateway: the order they need), then those given, then `last` (the parts
 * every system has). `mainThread`: false on a worker shard, which has no gateway.
 */
export function kernelOptionsOf(
  v: unknown,
  last: readonly Extension<unknown>[],
  mainThread = true,
): KernelOptions {
  const o = v === undefined ? {} : plainObject('options', v);
  // checked first as before, naming a bad or unknown option
  const kernel = resolveKernelOptions(o, [...KERNEL_OPTIONS, ...FLAT_OPTIONS]);
  const parts: Extension<unknown>[] = [];
  const count = resolveShardCount('options.shards', o.shards);
  const setup = resolveShardSetup('options.shardSetup', o.shardSetup);
  const limits = resolveShardLimits('options.shardLimits', o.shardLimits);
  if (count > 1) parts.push(shardsExtension.with({ count, setup, limits }, 'options'));
  const net = resolveNodesOptions(o, o.nodeId as string | undefined);
  if (net !== null) parts.push(nodesExtension.with({ node: o.node!, ...pick(o) }, 'options'));
  if (resolveClusterOptions(o.cluster, net !== null) !== null)
    parts.push(clusterExtension.with(o.cluster as ClusterOptions, 'options.cluster'));
  if (o.gateway !== undefined) {
    const gateway = gatewayExtension.with(o.gateway as GatewayOptions, 'options.gateway');
    if (mainThread) parts.push(gateway);
  }
  const given = Object.fromEntries(
    Object.entries(o).filter(([k]) => !(FLAT_OPTIONS as readonly string[]).includes(k)),
  );
  const ids = new Set(kernel.extensions.map((e) => e.id));
  return {
    ...given,
    nodeId: net === null ? kernel.nodeId : net.link.node,
    extensions: [...parts, ...kernel.extensions, ...last.filter((e) => !ids.has(e.id))],
  };
}

function pick(o: Record<string, unknown>): Omit<NodesOptions, 'node'> {
  const out: Record<string, unknown> = {};
  for (const k of ['peers', 'secret', 'tls', 'link']) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
