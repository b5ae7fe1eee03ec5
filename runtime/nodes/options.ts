/**
 * The options of a node among nodes, checked at `createSystem`, naming the field:
 *
 *   createSystem({
 *     node: { name: 'a', listen: { host: '0.0.0.0', port: 7400 } },
 *     peers: [{ name: 'b', url: 'ws://10.0.0.2:7400' }],
 *     secret: process.env.TROUPE_SECRET,          // the same on every node, ≥ 16 characters
 *     tls: { cert, key, ca },                      // optional: wss
 *     link: { heartbeatMs: 1_000, heartbeatMisses: 3, handshakeMs: 5_000,
 *             maxBufferedBytes: 16 MiB, maxQueued: 1,000,000, maxFrameBytes: 8 MiB,
 *             maxHandshakes: 128, maxHandshakesPerIp: 16 },
 *   });
 *
 * `node.name` is this node's id (the host part of its actors' addresses); `listen` where its
 * link server listens (port 0: any free port, read back from `system.nodes.net.port`);
 * `advertise` the URL others dial to reach it (a cluster's members are told it).
 *
 * `link.handshakeMs` bounds both ends' handshake, and on the server a connection's whole way
 * from its TCP accept to a ready link; `link.maxHandshakes` and `link.maxHandshakesPerIp` cap
 * the server's connections on that way, in all and from one remote address
 * (runtime/nodes/handshakes.ts: past a cap, 503 at once).
 */
import { InvalidOptionError, onlyKnownOptions, optionObject } from '../core/index.ts';
import { DEFAULT_DECODE_LIMITS } from '../../protocol/node-link.ts';
import { DEFAULT_LINK_OPTIONS, type LinkOptions } from './link.ts';
import type { NetOptions, PeerSpec } from './net.ts';
import { LINK_MAX_HANDSHAKES, LINK_MAX_HANDSHAKES_PER_IP } from './handshakes.ts';

export const MIN_SECRET_LENGTH = 16;

export interface NodeOptions {
  readonly name: string;
  readonly listen?: { readonly host?: string; readonly port?: number } | number;
  /**
   * The URL other nodes dial to reach this one (`ws://host:port` or `wss://…`): what a
   * cluster's members are told. Default: the listen address (127.0.0.1 for 0.0.0.0/::).
   */
  readonly advertise?: string;
}

export interface LinkTuning {
  readonly heartbeatMs?: number;
  readonly heartbeatMisses?: number;
  readonly handshakeMs?: number;
  readonly maxBufferedBytes?: number;
  readonly maxQueued?: number;
  readonly maxFrameBytes?: number;
  /** Default LINK_MAX_HANDSHAKES (128). */
  readonly maxHandshakes?: number;
  /** Default LINK_MAX_HANDSHAKES_PER_IP (16). */
  readonly maxHandshakesPerIp?: number;
}

export interface NodesOptions {
  readonly node?: NodeOptions;
  readonly peers?: readonly PeerSpec[];
  readonly secret?: string;
  readonly tls?: NetOptions['tls'];
  readonly link?: LinkTuning;
}

const NODE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

const plain = optionObject;
const known = onlyKnownOptions;

function positive(field: string, v: unknown, d: number, integer = false): number {
  if (v === undefined) return d;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v)))
    throw new InvalidOptionError(field, v, integer ? 'an integer > 0' : 'a number > 0');
  return v;
}

/** The net's options, or null without `node`; `nodeId` is the system's own option, if given. */
export function resolveNodesOptions(
  o: Record<string, unknown>,
  nodeId: string | undefined,
  p = 'options',
): NetOptions | null {
  if (o.node === undefined) {
    for (const k of ['peers', 'secret', 'tls', 'link', 'cluster'])
      if (o[k] !== undefined)
        throw new InvalidOptionError(`${p}.${k}`, o[k], `given only with ${p}.node`);
    return null;
  }
  const node = plain(`${p}.node`, o.node);
  known(`${p}.node`, node, ['name', 'listen', 'advertise']);
  if (
    node.advertise !== undefined &&
    (typeof node.advertise !== 'string' || !/^wss?:\/\/[^/]+\/?$/.test(node.advertise))
  )
    throw new InvalidOptionError(
      `${p}.node.advertise`,
      node.advertise,
      'ws://host:port or wss://host:port',
    );
  if (typeof node.name !== 'string' || !NODE_ID.test(node.name))
    throw new InvalidOptionError(
      `${p}.node.name`,
      node.name,
      'letters, digits, "-", "_", "." or ":"',
    );
  if (nodeId !== undefined && nodeId !== node.name)
    throw new InvalidOptionError(
      'options.nodeId',
      nodeId,
      `absent or equal to ${p}.node.name (${node.name})`,
    );
  let host = '127.0.0.1';
  let port = 0;
  if (typeof node.listen === 'number') port = node.listen;
  else if (node.listen !== undefined) {
    const l = plain(`${p}.node.listen`, node.listen);
    known(`${p}.node.listen`, l, ['host', 'port']);
    if (l.host !== undefined) {
      if (typeof l.host !== 'string' || l.host.length === 0)
        throw new InvalidOptionError(`${p}.node.listen.host`, l.host, 'a host name or address');
      host = l.host;
    }
    if (l.port !== undefined) port = l.port as number;
  }
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new InvalidOptionError(`${p}.node.listen.port`, port, 'a port number (0: any free port)');
  if (typeof o.secret !== 'string' || o.secret.length < MIN_SECRET_LENGTH)
    throw new InvalidOptionError(
      `${p}.secret`,
      typeof o.secret === 'string' ? `${o.secret.length} characters` : o.secret,
      `the cluster's secret, the same on every node, at least ${MIN_SECRET_LENGTH} characters`,
    );
  const peers: PeerSpec[] = [];
  if (o.peers !== undefined) {
    if (!Array.isArray(o.peers)) throw new InvalidOptionError(`${p}.peers`, o.peers, 'an array');
    (o.peers as unknown[]).forEach((peer, i) => {
      const f = `${p}.peers[${i}]`;
      const r = plain(f, peer);
      known(f, r, ['name', 'url']);
      if (typeof r.name !== 'string' || !NODE_ID.test(r.name))
        throw new InvalidOptionError(`${f}.name`, r.name, 'a node id');
      if (r.name === node.name)
        throw new InvalidOptionError(`${f}.name`, r.name, 'another node than this one');
      if (typeof r.url !== 'string' || !/^wss?:\/\/[^/]+\/?$/.test(r.url))
        throw new InvalidOptionError(`${f}.url`, r.url, 'ws://host:port or wss://host:port');
      peers.push({ name: r.name, url: r.url });
    });
  }
  let tls: NetOptions['tls'];
  if (o.tls !== undefined) {
    const t = plain(`${p}.tls`, o.tls);
    known(`${p}.tls`, t, ['cert', 'key', 'ca']);
    for (const k of ['cert', 'key'])
      if (typeof t[k] !== 'string' && !Buffer.isBuffer(t[k]))
        throw new InvalidOptionError(`${p}.tls.${k}`, t[k], 'PEM text or a Buffer');
    tls = t as unknown as NetOptions['tls'];
  }
  const l = o.link === undefined ? {} : plain(`${p}.link`, o.link);
  known(`${p}.link`, l, [
    'heartbeatMs',
    'heartbeatMisses',
    'handshakeMs',
    'maxBufferedBytes',
    'maxQueued',
    'maxFrameBytes',
    'maxHandshakes',
    'maxHandshakesPerIp',
  ]);
  const d = DEFAULT_LINK_OPTIONS;
  const link: LinkOptions = {
    node: node.name,
    secret: o.secret,
    heartbeatMs: positive(`${p}.link.heartbeatMs`, l.heartbeatMs, d.heartbeatMs),
    heartbeatMisses: positive(
      `${p}.link.heartbeatMisses`,
      l.heartbeatMisses,
      d.heartbeatMisses,
      true,
    ),
    handshakeMs: positive(`${p}.link.handshakeMs`, l.handshakeMs, d.handshakeMs),
    maxBufferedBytes: positive(
      `${p}.link.maxBufferedBytes`,
      l.maxBufferedBytes,
      d.maxBufferedBytes,
      true,
    ),
    maxQueued: positive(`${p}.link.maxQueued`, l.maxQueued, d.maxQueued, true),
    limits: {
      ...DEFAULT_DECODE_LIMITS,
      maxFrameBytes: positive(
        `${p}.link.maxFrameBytes`,
        l.maxFrameBytes,
        DEFAULT_DECODE_LIMITS.maxFrameBytes,
        true,
      ),
    },
  };
  return {
    link,
    listen: { host, port },
    peers,
    maxHandshakes: positive(`${p}.link.maxHandshakes`, l.maxHandshakes, LINK_MAX_HANDSHAKES, true),
    maxHandshakesPerIp: positive(
      `${p}.link.maxHandshakesPerIp`,
      l.maxHandshakesPerIp,
      LINK_MAX_HANDSHAKES_PER_IP,
      true,
    ),
    ...(tls === undefined ? {} : { tls }),
    ...(node.advertise === undefined ? {} : { advertise: node.advertise as string }),
  };
}
