/**
 * Nodes as an extension (runtime/core/extension.ts): this node's links to other nodes.
 *
 *   createSystem({
 *     nodeId: 'a',
 *     extensions: [nodes({ node: { listen: 7400 }, peers, secret })],
 *   });
 *
 * Its options are runtime/nodes/options.ts's; `node.name`, the node's name in links, is the
 * system's nodeId (given, it must be equal). Made, it
 * listens (`ready`), links topics to the peers, resolves addresses of other nodes' actors,
 * fails at once the asks waiting on a node that goes down, and closes its links after the
 * actors have stopped.
 */
import { parseAddress } from '../../protocol/address.ts';
import { defineExtension, InvalidOptionError, plainObject } from '../core/index.ts';
import { topicsOf } from '../topics/extension.ts';
import { NodeDownError, NodeRuntime, NodeTarget } from './node.ts';
import { resolveNodesOptions, type NodesOptions } from './options.ts';
import type { NetOptions } from './net.ts';

/** A node's links, made by `nodes(…)`: `ready` resolves when it listens. */
export interface NodesPart {
  readonly runtime: NodeRuntime;
  readonly ready: Promise<void>;
}

/** `nodes(…)`'s options, as given but for `node.name` (optional here: the system's nodeId). */
export interface NodesExtensionOptions extends Omit<NodesOptions, 'node'> {
  readonly node: Omit<NonNullable<NodesOptions['node']>, 'name'> & { readonly name?: string };
}

const UNNAMED = 'unnamed';

/** Checks the options now (naming the field); the net's options are made with the nodeId. */
function resolve(
  v: NodesExtensionOptions | undefined,
  field: string,
): (nodeId: string) => NetOptions {
  const o = plainObject(field, v);
  const node = plainObject(`${field}.node`, o.node);
  const named = (name: unknown) =>
    resolveNodesOptions({ ...o, node: { ...node, name } }, undefined, field)!;
  named(node.name ?? UNNAMED);
  return (nodeId) => named(node.name ?? nodeId);
}

export const nodesExtension = defineExtension(
  'troupe.nodes',
  (core, netOptions: (nodeId: string) => NetOptions): NodesPart => {
    const system = core.system;
    const options = netOptions(system.nodeId);
    if (options.link.node !== system.nodeId)
      throw new InvalidOptionError(
        'nodes.node.name',
        options.link.node,
        `the system's nodeId (${system.nodeId})`,
      );
    const nodes = new NodeRuntime(system, options);
    topicsOf(system).link({
      peers: () => nodes.net.peersUp,
      send: (node, body) => nodes.sendTopics(node, body),
    });
    core.onShutdown('disconnect', 'node links', () => nodes.net.close());
    const ready = nodes.net.start();
    // a failure to listen is the caller's to see (await system.nodeReady); not unhandled
    ready.catch((e: unknown) => core.logger.error('troupe: the node could not listen', e));
    // an actor of another node: its node's link
    core.addResolver((address) => {
      const parsed = parseAddress(address);
      if (parsed.type !== 'actor' || parsed.node === system.nodeId) return undefined;
      return nodes.targetFor(address, parsed.path, parsed.node);
    });
    // an ask to another node fails at once when that node goes down
    core.addAskGuard((ref, fail) => {
      const t = system.foreignTarget(ref.address);
      if (!(t instanceof NodeTarget)) return null;
      return nodes.askWaiting(t.node, (why) => fail(new NodeDownError(t.node, ref.path, why)));
    });
    return { runtime: nodes, ready };
  },
  resolve,
);

/** The nodes' extension with its options (runtime/nodes/options.ts). */
export function nodes(options: NodesExtensionOptions): typeof nodesExtension {
  return nodesExtension.with(options);
}
