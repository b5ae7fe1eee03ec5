/**
 * Virtual actors and the cluster as extensions (runtime/core/extension.ts).
 *
 * - `entitiesExtension`: `define` and `entity` (runtime/cluster/entities.ts). Every system
 *   has it (runtime/system.ts adds it); alone, its directory and reminders are this node's;
 *   with a cluster, the cluster's (Redis).
 * - `cluster(options)`: this node as a member of a cluster on Redis (runtime/cluster/cluster.ts),
 *   given with `nodes(…)`: members link to each other, entities are placed across them, and
 *   at shutdown the node drains its entities and leaves before its actors stop.
 *
 *   createSystem({ nodeId: 'a', extensions: [nodes({ … }), cluster({ redis, name: 'shop' })] })
 */
import { ENTITY_SCHEME } from '../../protocol/address.ts';
import { decodeValue, defineExtension, InvalidOptionError } from '../core/index.ts';
import { nodesExtension, type NodesPart } from '../nodes/extension.ts';
import { ClusterRuntime } from './cluster.ts';
import { LocalDirectory } from './directory.ts';
import { Entities } from './entities.ts';
import { resolveClusterOptions, type ClusterOptions, type ResolvedCluster } from './options.ts';
import { LocalReminders } from './reminders.ts';

/** The entities' options: the cluster whose directory and reminders they use, if any. */
interface EntitiesConfig {
  readonly cluster: ClusterRuntime | null;
}

export const entitiesExtension = defineExtension(
  'troupe.entities',
  (core, config: EntitiesConfig): Entities => {
    const system = core.system;
    const cluster = config.cluster;
    let nodes: NodesPart | undefined;
    const directory = cluster?.directory ?? new LocalDirectory(system.nodeId);
    const entities: Entities = new Entities(
      {
        nodeId: system.nodeId,
        now: () => core.clock.now(),
        spawnEntity: (behaviour, name, store, key, mailbox) =>
          system.spawnPart(behaviour, {
            name,
            persistence: { store, key },
            ...(mailbox === undefined ? {} : { mailbox }),
          }),
        stop: (ref) => system.stop(ref),
        quiet: (ref) => system.cellAt(ref.path)?.quiet ?? true,
        watch: (ref, listener) => system.watch(ref, listener),
        forward: (node, address, kind, msg, meta) =>
          nodes?.runtime.forward(node, address, kind, msg, meta) ?? false,
        deadLetter: (address, msg, meta, reason, error) =>
          system.deadLetter(msg, system.refOf(address), meta, reason, error),
        logError: (m, e) => core.logger.error(m, e),
        remind: (address, body) => {
          try {
            system.refOf(address).tell(decodeValue(body, system.refOf));
          } catch (e) {
            core.logger.error(`troupe: a reminder of ${address} could not be sent`, e);
          }
        },
      },
      directory,
      cluster?.reminders ?? new LocalReminders(core.clock),
      core.clock,
    );
    // on a worker shard the main thread holds the entities (runtime/shards/extension.ts relays)
    if (core.shard === 0)
      core.addResolver((address) =>
        address.startsWith(ENTITY_SCHEME) ? entities.targetFor(address) : undefined,
      );
    core.setReminders((path, time, msg) => entities.remindAt(path, time, msg));
    core.onTerminated(() => entities.close());
    core.onStarted(() => {
      nodes = system.findExtension(nodesExtension);
      if (nodes !== undefined) nodes.runtime.entities = entities;
    });
    if (directory instanceof LocalDirectory) {
      directory.countActive(() => entities.activeCount);
      entities.startReminders();
    }
    return entities;
  },
  (config: EntitiesConfig | undefined) => config ?? { cluster: null },
);

/** This node in its cluster: `ready` resolves once it listens and has joined. */
export interface ClusterPart {
  readonly runtime: ClusterRuntime;
  readonly ready: Promise<void>;
}

export const clusterExtension = defineExtension(
  'troupe.cluster',
  (core, options: ResolvedCluster): ClusterPart => {
    const system = core.system;
    if (system.findExtension(entitiesExtension) !== undefined)
      throw new InvalidOptionError(
        'cluster',
        options.name,
        'given at createSystem, before anything used entities',
      );
    let nodes: NodesPart | undefined;
    // made below, once the runtime it takes its directory from exists
    const made: { entities?: Entities } = {};
    const runtime = new ClusterRuntime(
      system.nodeId,
      () => nodes!.runtime.net.advertise,
      options,
      {
        joined: (m) => {
          // one dialler per pair: the node whose id sorts first
          if (system.nodeId < m.node) nodes!.runtime.net.addPeer({ name: m.node, url: m.url });
        },
        left: (node, why) => {
          nodes!.runtime.net.removePeer(node, `it left the cluster (${why})`, why === 'left');
          made.entities!.nodeLeft(node);
        },
        lost: () => made.entities!.lostAll(),
        log: (m, e) => (e === undefined ? core.logger.warn(m) : core.logger.error(m, e)),
        load: () => made.entities!.activeCount,
      },
      core.clock,
    );
    const entities = system.extension(entitiesExtension.with({ cluster: runtime }));
    made.entities = entities;
    // a graceful leave: no new activations here, entities passivated (snapshots saved,
    // claims released), membership left; then the actors stop
    core.onShutdown('drain', 'entities', () => entities.drain());
    core.onShutdown('leave', 'cluster', () => runtime.leave());
    core.onShutdown('release', 'cluster', () => runtime.close());
    let joined!: (started: Promise<void>) => void;
    const ready = new Promise<void>((resolve) => (joined = resolve));
    core.onStarted(() => {
      nodes = system.findExtension(nodesExtension);
      if (nodes === undefined)
        throw new InvalidOptionError('cluster', options.name, 'given with nodes(…)');
      joined(
        nodes.ready.then(async () => {
          await runtime.start();
          entities.startReminders();
        }),
      );
    });
    ready.catch((e: unknown) =>
      core.logger.error(`troupe: the node could not join cluster ${options.name}`, e),
    );
    if (options.leaveOnSigterm) {
      // a graceful leave: entities passivated, membership left, then the process exits
      const onSigterm = (): void => void system.shutdown().then(() => process.exit(0));
      process.once('SIGTERM', onSigterm);
      core.onTerminated(() => process.off('SIGTERM', onSigterm));
    }
    return { runtime, ready };
  },
  (v: ClusterOptions | undefined, field: string) => resolveClusterOptions(v ?? {}, true, field)!,
);

/** The cluster's extension with its options (runtime/cluster/options.ts); needs `nodes(…)`. */
export function cluster(options: ClusterOptions): typeof clusterExtension {
  return clusterExtension.with(options);
}
