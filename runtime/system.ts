/**
 * The actor system as users make it: the kernel (runtime/core/system.ts) with the parts every
 * system has (topics, entities) and those its options name (shards, nodes, cluster, gateway,
 * or any extension), each an extension (runtime/core/extension.ts).
 *
 *   const system = createSystem({
 *     nodeId: 'a',
 *     extensions: [nodes({ node: { listen: 7400 }, secret }), gateway({ listen: 8080, … })],
 *   });
 *
 * The members below (`topics`, `define`, `entity`, `nodes`, `cluster`, `gateway`, `shards`,
 * `nodeReady`) read those extensions; the kernel knows none of them.
 */
import { Kernel, ShardPlacementError, type KernelPlace } from './core/system.ts';
import type { ActorRef } from './core/ref.ts';
import type { Behaviour } from './core/behaviour.ts';
import type { Topics } from './topics/topics.ts';
import { topicsExtension } from './topics/extension.ts';
import type { Entities, EntityOptions } from './cluster/entities.ts';
import { clusterExtension, entitiesExtension } from './cluster/extension.ts';
import type { ClusterRuntime } from './cluster/cluster.ts';
import { nodesExtension } from './nodes/extension.ts';
import type { NodeRuntime } from './nodes/node.ts';
import { gatewayExtension } from './gateway/extension.ts';
import type { Gateway } from './gateway/gateway.ts';
import { shardsExtension } from './shards/extension.ts';
import type { ShardNode } from './shards/node.ts';
import { kernelOptionsOf, type SystemOptions } from './options.ts';
import './system-api.ts';

export {
  InvalidBehaviourError,
  ReminderUnavailableError,
  ShardPlacementError,
  SystemTerminatedError,
  type SystemState,
  type TerminationReport,
} from './core/system.ts';

const READY = Promise.resolve();

export class ActorSystem extends Kernel {
  constructor(options?: SystemOptions, place?: KernelPlace) {
    const main = (place?.shard ?? 0) === 0;
    super(kernelOptionsOf(options, [entitiesExtension], main), place);
  }

  /** Publish and subscribe by topic, here and across linked nodes (runtime/topics/topics.ts). */
  override get topics(): Topics {
    return this.extension(topicsExtension);
  }

  /** Virtual actors: `define` and `entity` (runtime/cluster/entities.ts). */
  get entities(): Entities {
    return this.extension(entitiesExtension);
  }

  /**
   * Defines a kind of virtual actor (runtime/cluster/entities.ts): `entity(kind, id)` refs
   * reach one activation of `behaviour` per id, activated on its first message, passivated
   * when idle, its state kept in its snapshots. Define each kind on every node of a cluster.
   * Throws InvalidOptionError on a bad kind, behaviour or option.
   */
  override define(
    kind: string,
    behaviour: Behaviour<any, any, any>,
    options?: EntityOptions,
  ): void {
    if (this.shard !== 0) throw new ShardPlacementError();
    this.entities.define(kind, behaviour, options);
  }

  /** A ref to the entity `id` of `kind` (`troupe:entity/<kind>/<id>`), wherever it lives. */
  override entity<In = unknown, Reply = unknown>(kind: string, id: string): ActorRef<In, Reply> {
    return this.refOf(this.entities.address(kind, id)) as ActorRef<In, Reply>;
  }

  /** This node's links to other nodes (`nodes(…)`), or null for a node alone. */
  get nodes(): NodeRuntime | null {
    return this.findExtension(nodesExtension)?.runtime ?? null;
  }

  /** The cluster on Redis this node is a member of (`cluster(…)`), or null. */
  get cluster(): ClusterRuntime | null {
    return this.findExtension(clusterExtension)?.runtime ?? null;
  }

  /** The client gateway (`gateway(…)`), or null; `gateway.ready` resolves when it listens. */
  get gateway(): Gateway | null {
    return this.findExtension(gatewayExtension) ?? null;
  }

  /** On the main thread of a sharded system (`shards(…)`): the shards' threads; else null. */
  get shards(): ShardNode | null {
    return this.findExtension(shardsExtension) ?? null;
  }

  /**
   * Resolves when the node listens for links and, in a cluster, has joined it (at once for a
   * node alone); rejects if it cannot.
   */
  get nodeReady(): Promise<void> {
    return (
      this.findExtension(clusterExtension)?.ready ??
      this.findExtension(nodesExtension)?.ready ??
      READY
    );
  }
}

/** Creates an actor system. Throws InvalidOptionError naming a bad option. */
export function createSystem(options?: SystemOptions): ActorSystem {
  return new ActorSystem(options);
}
