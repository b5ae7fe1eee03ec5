/**
 * A node's links to its peers (runtime/nodes/link.ts): its server, the dialling of the peers
 * it is given, reconnection, and one live link per peer.
 *
 * - The server: HTTP, or HTTPS when a certificate and key are given, with `ws` in `noServer`
 *   mode: only upgrades on LINK_PATH become links (anything else: 404, the socket destroyed;
 *   while the node shuts down: 503 with Retry-After). `maxHeaderSize` is set on the server;
 *   `maxPayload` and per-message deflate (off) on both ends.
 * - Before a connection is a link (runtime/nodes/handshakes.ts): it has `handshakeMs` from its
 *   TCP accept to its link's `ready`, on our own timer (408, or 4005 once upgraded), and at
 *   most `maxHandshakes` connections are in that state, `maxHandshakesPerIp` from one remote
 *   address (past either: 503 at once).
 * - Dialling: each peer of the static list is dialled, and dialled again after a link closes,
 *   with exponential backoff (RECONNECT_MIN_MS doubling to RECONNECT_MAX_MS) and ±50% jitter.
 * - One link per peer: when both nodes dialled each other, two links come up; both ends keep
 *   the one dialled by the node whose id sorts first and close the other (4008, `replaced`).
 * - A peer is up from its first ready link until its last one closes: then `peerDown`
 *   (`heartbeat` when heartbeats were missed, else the close's reason).
 */
import { createServer as createHttpServer, type Server, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Envelope } from '../core/index.ts';
import { systemClock, type Clock } from '../core/index.ts';
import { backgroundTimeout } from '../core/index.ts';
import { CLOSE, type BatchEntry } from '../../protocol/node-link.ts';
import {
  acceptLink,
  dialLink,
  LINK_PATH,
  type LinkHandlers,
  type LinkOptions,
  type NodeLink,
} from './link.ts';
import { Handshakes, LINK_MAX_HANDSHAKES, LINK_MAX_HANDSHAKES_PER_IP } from './handshakes.ts';

export const RECONNECT_MIN_MS = 100;
export const RECONNECT_MAX_MS = 5_000;
/** How long the links get to close at shutdown before their sockets are destroyed (real time). */
export const NET_CLOSE_GRACE_MS = 500;
/** Bytes of the HTTP headers of an upgrade. */
export const LINK_MAX_HEADER_BYTES = 8 * 1024;

export interface PeerSpec {
  /** The peer's node id. */
  readonly name: string;
  /** Where it listens: `ws://host:port` or `wss://host:port` (LINK_PATH is added). */
  readonly url: string;
}

export interface NetOptions {
  readonly link: LinkOptions;
  /** Where this node listens (port 0: any free port). */
  readonly listen: { readonly host: string; readonly port: number };
  readonly peers: readonly PeerSpec[];
  /** The URL others dial to reach this node (default: from `listen`). */
  readonly advertise?: string;
  /** Connections accepted and not yet ready links, at most (default LINK_MAX_HANDSHAKES). */
  readonly maxHandshakes?: number;
  /** The same from one remote address (default LINK_MAX_HANDSHAKES_PER_IP). */
  readonly maxHandshakesPerIp?: number;
  /** TLS for the server (wss), and what a dialler trusts. */
  readonly tls?: {
    readonly cert: string | Buffer;
    readonly key: string | Buffer;
    readonly ca?: string | Buffer;
  };
}

export interface NetHandlers extends Pick<LinkHandlers, 'entry' | 'revive' | 'isRef'> {
  peerUp(peer: string): void;
  peerDown(peer: string, reason: string): void;
  log(message: string): void;
  /** Entries a link took but that did not go (see LinkHandlers.unsent). */
  unsent(peer: string, entries: readonly BatchEntry[], why: string): void;
}

export type SendResult = 'sent' | 'no-link' | 'backpressure';

export class NodeNet {
  readonly #options: NetOptions;
  readonly #handlers: NetHandlers;
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  /** Ready links by peer (one kept per peer). */
  readonly #links = new Map<string, NodeLink>();
  /** Every link not closed yet (ready or not). */
  readonly #all = new Set<NodeLink>();
  readonly #sockets = new Set<Duplex>();
  /** Connections accepted that are not ready links yet: their deadline and caps. */
  readonly #handshakes: Handshakes;
  /** Per peer of the list: its dialled link (not closed yet) or the timer of the next dial. */
  readonly #dialling = new Map<string, { link: NodeLink | null; delay: number; timer: unknown }>();
  /** The links' clock (options.link.clock): the reconnect backoff runs on it. */
  readonly #clock: Clock;
  #closing = false;
  /** The peers this node dials: the static list, and members added (runtime/cluster). */
  readonly #peers = new Map<string, PeerSpec>();

  constructor(options: NetOptions, handlers: NetHandlers) {
    this.#options = options;
    this.#clock = options.link.clock ?? systemClock;
    for (const p of options.peers) this.#peers.set(p.name, p);
    this.#handlers = handlers;
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: options.link.limits.maxFrameBytes,
    });
    const serverOptions = { maxHeaderSize: LINK_MAX_HEADER_BYTES };
    this.#server =
      options.tls === undefined
        ? createHttpServer(serverOptions, notFound)
        : createHttpsServer(
            { ...serverOptions, cert: options.tls.cert, key: options.tls.key },
            notFound,
          );
    this.#handshakes = new Handshakes({
      handshakeMs: options.link.handshakeMs,
      maxHandshakes: options.maxHandshakes ?? LINK_MAX_HANDSHAKES,
      maxHandshakesPerIp: options.maxHandshakesPerIp ?? LINK_MAX_HANDSHAKES_PER_IP,
      tls: options.tls !== undefined,
      log: (m) => this.#handlers.log(m),
      clock: this.#clock,
    });
    this.#server.on('connection', (socket: Socket) => this.#handshakes.accepted(socket));
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
  }

  /** Connections accepted and not yet ready links, and how many were refused (tests, tools). */
  get handshakes(): { readonly pending: number; readonly refused: number } {
    return { pending: this.#handshakes.pending, refused: this.#handshakes.refused };
  }

  /** Listens, then dials the peers; resolves when it listens. */
  async start(): Promise<void> {
    const { host, port } = this.#options.listen;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    for (const p of this.#peers.values()) this.#dial(p, RECONNECT_MIN_MS);
  }

  /** The URL other nodes dial to reach this one. */
  get advertise(): string {
    if (this.#options.advertise !== undefined) return this.#options.advertise;
    const h = this.#options.listen.host;
    const host = h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h.includes(':') ? `[${h}]` : h;
    return `${this.#options.tls === undefined ? 'ws' : 'wss'}://${host}:${this.port}`;
  }

  /** Dials `peer` from now on (and again after each close), unless it is already known. */
  addPeer(peer: PeerSpec): void {
    const had = this.#peers.get(peer.name);
    if (had !== undefined && had.url === peer.url) return;
    this.#peers.set(peer.name, peer);
    if (this.#closing || this.#dialling.get(peer.name)?.link != null) return;
    this.#dial(peer, RECONNECT_MIN_MS);
  }

  /**
   * Stops dialling `peer` and closes the links to it (it left the cluster): gracefully when it
   * left, else at once (what the links held is given back rather than flushed into a socket
   * nobody reads).
   */
  removePeer(name: string, reason: string, graceful = true): void {
    this.#peers.delete(name);
    const d = this.#dialling.get(name);
    if (d?.timer != null) this.#clock.clearTimeout(d.timer);
    this.#dialling.delete(name);
    for (const l of [...this.#all])
      if (l.peer === name) l.close(graceful ? CLOSE.shutdown : CLOSE.heartbeat, reason);
  }

  /** The port it listens on. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  isUp(peer: string): boolean {
    return this.#links.has(peer);
  }

  get peersUp(): readonly string[] {
    return [...this.#links.keys()];
  }

  /** The ready link to `peer`, if any. */
  linkTo(peer: string): NodeLink | undefined {
    return this.#links.get(peer);
  }

  /** Sends an envelope (its body in the ref codec's form) to `peer`. */
  send(peer: string, envelope: Envelope): SendResult {
    const link = this.#links.get(peer);
    if (link === undefined) return 'no-link';
    return link.send(envelope) ? 'sent' : 'backpressure';
  }

  /** Says bye on every link, stops dialling, closes the server. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const d of this.#dialling.values())
      if (d.timer !== null) this.#clock.clearTimeout(d.timer);
    for (const l of this.#all) l.close(CLOSE.shutdown, 'the node is shutting down');
    this.#handshakes.close();
    this.#wss.close();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      // links that do not close in time go with their sockets
      // real time on purpose, whatever the system's clock: the server's close waits on it (a
      // simulated clock would hold a shutdown until the test moved it), and it only cuts off
      // sockets that were told to close
      // eslint-disable-next-line no-restricted-globals -- the sockets' cut-off (above)
      setTimeout(() => {
        for (const s of this.#sockets) s.destroy();
        this.#server.closeAllConnections();
      }, NET_CLOSE_GRACE_MS).unref();
    });
  }

  // ---- inside ---------------------------------------------------------------------------

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node's HTTP server takes its error listener off an upgrading socket: a reset from the
    // peer until `ws` puts its own would be an uncaught error without this one
    socket.on('error', () => undefined);
    if (this.#closing || req.url !== LINK_PATH) {
      socket.write(
        this.#closing
          ? 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n\r\n'
          : 'HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n',
      );
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const link = acceptLink(ws, this.#options.link, this.#linkHandlers);
      this.#all.add(link);
      this.#handshakes.upgraded(socket, link);
    });
  }

  #dial(peer: PeerSpec, delay: number): void {
    if (this.#closing || this.#links.has(peer.name)) {
      this.#dialling.set(peer.name, { link: null, delay: RECONNECT_MIN_MS, timer: null });
      return;
    }
    const url = peer.url.replace(/\/+$/, '') + LINK_PATH;
    const state = { link: null as NodeLink | null, delay, timer: null as unknown };
    this.#dialling.set(peer.name, state);
    const tls = this.#options.tls;
    state.link = dialLink(
      url,
      peer.name,
      this.#options.link,
      this.#linkHandlers,
      tls?.ca === undefined ? undefined : { ca: tls.ca },
    );
    this.#all.add(state.link);
  }

  /** The dialled link to `peer` closed: dial again after the backoff (with jitter). */
  #redial(peer: PeerSpec, wasReady: boolean): void {
    if (this.#closing) return;
    const state = this.#dialling.get(peer.name);
    const delay = wasReady
      ? RECONNECT_MIN_MS
      : Math.min(RECONNECT_MAX_MS, (state?.delay ?? RECONNECT_MIN_MS) * 2);
    const jittered = delay * (0.5 + Math.random());
    const timer = backgroundTimeout(this.#clock, () => this.#dial(peer, delay), jittered);
    this.#dialling.set(peer.name, { link: null, delay, timer });
  }

  readonly #linkHandlers: LinkHandlers = {
    ready: (link) => {
      this.#handshakes.ready(link);
      const peer = link.peer!;
      const have = this.#links.get(peer);
      if (have !== undefined && have !== link) {
        // both dialled: keep the link dialled by the node whose id sorts first
        const me = this.#options.link.node;
        const keepDialled = me < peer;
        const keep = (link.role === 'dialler') === keepDialled ? link : have;
        const drop = keep === link ? have : link;
        this.#links.set(peer, keep);
        drop.close(CLOSE.replaced, 'another link to the same node');
        return;
      }
      this.#links.set(peer, link);
      const d = this.#dialling.get(peer);
      if (d !== undefined) d.delay = RECONNECT_MIN_MS;
      this.#handlers.peerUp(peer);
    },
    // a replaced link's last batches are delivered too: the peer sent them before it knew
    entry: (link, kind, to, from, replyTo, corr, trace, principal, body, encoded) =>
      this.#handlers.entry(link, kind, to, from, replyTo, corr, trace, principal, body, encoded),
    revive: (address) => this.#handlers.revive(address),
    isRef: (value) => this.#handlers.isRef(value),
    closed: (link, code, reason) => {
      this.#all.delete(link);
      const peer = link.peer;
      const wasKept = peer !== null && this.#links.get(peer) === link;
      if (wasKept) {
        this.#links.delete(peer);
        this.#handlers.peerDown(
          peer,
          code === CLOSE.heartbeat ? 'heartbeat' : reason || `closed (${code})`,
        );
      }
      const state = peer === null ? undefined : this.#dialling.get(peer);
      if (state?.link === link) state.link = null;
      // dial again when the peer is down and no dial is under way (a replaced link: it is up)
      const spec = peer === null ? undefined : this.#peers.get(peer);
      if (
        spec !== undefined &&
        !this.#links.has(spec.name) &&
        state?.link == null &&
        state?.timer == null
      )
        this.#redial(spec, wasKept);
    },
    log: (m) => this.#handlers.log(m),
    unsent: (link, entries, why) => this.#handlers.unsent(link.peer!, entries, why),
  };
}

function notFound(_req: IncomingMessage, res: import('node:http').ServerResponse): void {
  res.writeHead(404).end();
}
