/**
 * The client gateway: a WebSocket endpoint on the node's HTTP(S) server where browser and
 * server apps watch actors and talk to them (protocol/CLIENT-PROTOCOL.md).
 *
 * - The upgrade is authenticated before the 101: the token comes from the
 *   `troupe.auth.<base64url>` subprotocol (browsers can set no other header) or
 *   `Authorization: Bearer …` (server clients), never from the query string; the `Origin`
 *   must be allowed; `authenticate(token, request)` gives the principal or null. A refused
 *   upgrade gets an HTTP status (400, 401, 403, 408, 500) and no socket.
 * - Each request is checked by `authorize(principal, op, target, detail)` when it comes
 *   (runtime/gateway/connection.ts); subscriptions go through shared hubs
 *   (runtime/gateway/hubs.ts), which use the core's subscription system messages, so the
 *   actor may be on any shard or node.
 * - Limits are options with defaults (runtime/gateway/options.ts) and close codes.
 * - `/troupe/client.js` (under the gateway's path) serves the browser bundle of the client
 *   SDK when it has been built (`npm run build:client`).
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Tracer } from '@opentelemetry/api';
import {
  CLIENT_CLOSE,
  CLIENT_PROTOCOL_VERSION,
  DEFAULT_CLIENT_DECODE_LIMITS,
  SUBPROTOCOL,
  tokenOfSubprotocol,
  AUTH_SUBPROTOCOL_PREFIX,
  type ClientDecodeLimits,
  type Since,
  type SubscriptionKind,
} from '../../protocol/client-protocol.ts';
import { parseAddress, type Address } from '../address.ts';
import { isTempAddress, TempReceiver } from '../temp.ts';
import { MAX_TOPIC_LENGTH } from '../nodes/topics.ts';
import type { ActorRef } from '../ref.ts';
import type { Terminated } from '../notices.ts';
import type { ActorSystem } from '../system.ts';
import { Connection } from './connection.ts';
import { inspectorBehaviour, INSPECTOR_NAME, type InspectorMsg } from '../inspector/inspector.ts';
import { serveInspector, sessionToken, type InspectorHost } from './inspect-http.ts';
import { EventHub, SnapshotHub, type HubHost, type HubSubscriber } from './hubs.ts';
import type {
  Authorize,
  GatewayOp,
  Principal,
  ResolvedGatewayOptions,
  GatewayLimits,
} from './options.ts';

/** A target as resolved: the actor's ref (null for a topic) and the name `authorize` sees. */
export interface Target {
  readonly ref: ActorRef<unknown> | null;
  readonly name: string;
}

/** What a connection needs of the gateway. */
export interface GatewayCore {
  readonly limits: Required<GatewayLimits>;
  readonly decodeLimits: ClientDecodeLimits;
  readonly authorize: Authorize;
  /** The system's tracer when tracing, else null. */
  readonly tracer: Tracer | null;
  /** The target, or why it is refused. */
  resolve(op: GatewayOp, target: string): Target | string;
  join(
    kind: SubscriptionKind,
    target: Target,
    sub: HubSubscriber,
    since: Since | undefined,
  ): SnapshotHub | EventHub;
  count(what: 'framesIn' | 'framesOut' | 'dropped'): void;
  connectionClosed(conn: Connection, code: number): void;
  logError(message: string, error: unknown): void;
}

export interface GatewayStats {
  readonly connections: number;
  readonly subscriptions: number;
  readonly hubs: number;
  readonly framesIn: number;
  readonly framesOut: number;
  /** Snapshot versions published by the hubs. */
  readonly published: number;
  /** Snapshot updates merged into a later one (the coalescing window). */
  readonly coalesced: number;
  /** Frames not sent: their connection was closed, or over its buffer cap. */
  readonly dropped: number;
  /** Upgrades refused, by HTTP status. */
  readonly refused: Readonly<Record<number, number>>;
  /** Connections closed by the gateway, by close code. */
  readonly closed: Readonly<Record<number, number>>;
}

type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The close code `ws` sends for one of its errors (its receiver's codes). */
function closeCodeOf(code: string | undefined): number {
  switch (code) {
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
    case 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH':
      return CLIENT_CLOSE.tooBig;
    case 'WS_ERR_TOO_MANY_BUFFERED_PARTS':
      return CLIENT_CLOSE.tooManyFragments;
    case 'WS_ERR_INVALID_UTF8':
      return 1007;
    default:
      return 1002;
  }
}

/** Where the browser bundle is written by `npm run build:client`. */
export const CLIENT_BUNDLE_URL = new URL('../../dist/troupe-client.js', import.meta.url);

export class Gateway implements GatewayCore, HubHost {
  readonly limits: Required<GatewayLimits>;
  readonly decodeLimits: ClientDecodeLimits;
  readonly authorize: Authorize;
  readonly coalesceMs: number;
  readonly historyVersions: number;
  readonly resumeWindowMs: number;
  /** Resolves when the gateway listens (at once with a server of yours). */
  readonly ready: Promise<void>;
  private readonly system: ActorSystem;
  private readonly options: ResolvedGatewayOptions;
  private readonly server: ReturnType<typeof createHttpServer>;
  private readonly ownServer: boolean;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly perPrincipal = new Map<string, number>();
  private readonly snapshotHubs = new Map<string, SnapshotHub>();
  private readonly eventHubs = new Map<string, EventHub>();
  /** Snapshot hubs with no subscriber, waiting for resumes, oldest first. */
  private readonly lingeringHubs = new Set<SnapshotHub>();
  private readonly routes = new Map<string, HttpHandler>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly counters = {
    framesIn: 0,
    framesOut: 0,
    published: 0,
    coalesced: 0,
    dropped: 0,
  };
  private readonly refusedBy: Record<number, number> = {};
  private readonly closedBy: Record<number, number> = {};
  private closing: Promise<void> | null = null;
  /** `/system/inspector`, when the inspector is on. */
  readonly inspector: ActorRef<InspectorMsg> | null;
  private readonly inspectorHost: InspectorHost = {
    authenticate: (token, req) => this.options.authenticate(token, req),
    sameOrigin: (req) => this.sameOrigin(req),
    clientUrl: () => `${this.options.path}/client.js`,
    endpoint: () => this.options.path,
    secure: () => this.server instanceof HttpsServer,
    logError: (m, e) => this.logError(m, e),
  };
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void =>
    void this.upgrade(req, socket, head);
  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void =>
    this.request(req, res);

  constructor(system: ActorSystem, options: ResolvedGatewayOptions) {
    this.system = system;
    this.options = options;
    this.limits = options.limits;
    this.decodeLimits = {
      ...DEFAULT_CLIENT_DECODE_LIMITS,
      maxFrameBytes: options.limits.maxFrameBytes,
    };
    this.authorize = options.authorize;
    this.coalesceMs = options.snapshots.coalesceMs;
    this.historyVersions = options.snapshots.historyVersions;
    this.resumeWindowMs = options.snapshots.resumeWindowMs;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.limits.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
      ...({ maxFragments: options.limits.maxFragments } as object),
    });
    this.ownServer = options.server === null;
    if (options.server !== null) {
      this.server = options.server as ReturnType<typeof createHttpServer>;
      this.ready = Promise.resolve();
    } else {
      this.server =
        options.tls === null
          ? createHttpServer(this.onRequest)
          : (createHttpsServer(
              { cert: options.tls.cert, key: options.tls.key },
              this.onRequest,
            ) as unknown as ReturnType<typeof createHttpServer>);
      // slow or half-sent upgrade requests do not hold sockets open past the handshake time
      this.server.headersTimeout = options.limits.handshakeTimeoutMs;
      this.server.requestTimeout = Math.max(options.limits.handshakeTimeoutMs, 10_000);
      const l = options.listen!;
      this.ready = new Promise((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(l.port, l.host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    }
    this.server.on('upgrade', this.onUpgrade);
    this.heartbeat = setInterval(() => this.beat(), options.limits.heartbeatMs);
    this.heartbeat.unref();
    this.inspector =
      options.inspector === null
        ? null
        : system.spawnSystemActor(inspectorBehaviour(options.inspector), {
            name: INSPECTOR_NAME,
          });
  }

  /** The port it listens on (its own server, or yours once listening). */
  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  /** The endpoint's URL on this machine: `ws://127.0.0.1:<port>/troupe` (wss with TLS). */
  get url(): string {
    const a = this.server.address() as AddressInfo | null;
    const host =
      a === null || a.address === '0.0.0.0' || a.address === '::'
        ? '127.0.0.1'
        : a.family === 'IPv6'
          ? `[${a.address}]`
          : a.address;
    const scheme = this.server instanceof HttpsServer ? 'wss' : 'ws';
    return `${scheme}://${host}:${a?.port ?? 0}${this.options.path}`;
  }

  get tracer(): Tracer | null {
    return this.system.telemetry.currentTracer;
  }

  /** Serves GET requests for `path` on the gateway's own server (the inspector uses it). */
  route(path: string, handler: HttpHandler): void {
    this.routes.set(path, handler);
  }

  stats(): GatewayStats {
    let subscriptions = 0;
    for (const c of this.connections) subscriptions += c.subs.size;
    return {
      connections: this.connections.size,
      subscriptions,
      hubs: this.snapshotHubs.size + this.eventHubs.size,
      ...this.counters,
      refused: { ...this.refusedBy },
      closed: { ...this.closedBy },
    };
  }

  /** Closes every connection (1001), ends the hubs' subscriptions and stops listening. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      clearInterval(this.heartbeat);
      this.server.off('upgrade', this.onUpgrade);
      const closing = [...this.connections];
      for (const c of closing) c.close(CLIENT_CLOSE.goingAway, 'the node is shutting down');
      for (const h of [...this.snapshotHubs.values()]) h.close();
      for (const h of [...this.eventHubs.values()]) h.close();
      this.wss.close();
      // every socket closed or cut off (CLOSE_GRACE_MS) before the server stops
      await Promise.all(closing.map((c) => c.socketClosed));
      if (this.ownServer) {
        await this.ready.catch(() => undefined);
        await new Promise<void>((resolve) => {
          this.server.close(() => resolve());
          this.server.closeAllConnections();
        });
      }
    })());
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  private request(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = this.routes.get(path);
    if (route !== undefined && (req.method === 'GET' || req.method === 'HEAD'))
      return route(req, res);
    if (this.inspector !== null && (path === '/inspect' || path.startsWith('/inspect/'))) {
      void serveInspector(this.inspectorHost, path, req, res).catch((e: unknown) => {
        this.logError('troupe: the inspector page failed', e);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
      return;
    }
    const file =
      path === `${this.options.path}/client.js`
        ? CLIENT_BUNDLE_URL
        : path === `${this.options.path}/troupe-client.js.map`
          ? new URL('troupe-client.js.map', CLIENT_BUNDLE_URL)
          : null;
    if (file !== null && (req.method === 'GET' || req.method === 'HEAD')) {
      // a page on an allowed origin may load the bundle as a module script (CORS)
      const origin = req.headers.origin;
      const cors: Record<string, string> =
        origin !== undefined && this.originAllowed(req)
          ? { 'access-control-allow-origin': origin, vary: 'Origin' }
          : {};
      void readFile(file).then(
        (body) => {
          res.writeHead(200, {
            'content-type':
              file === CLIENT_BUNDLE_URL
                ? 'text/javascript; charset=utf-8'
                : 'application/json; charset=utf-8',
            'content-length': body.byteLength,
            'cache-control': 'no-cache',
            ...cors,
          });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        () => {
          res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...cors });
          res.end('the client bundle is not built: run `npm run build:client`\n');
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  }

  // ---- the upgrade --------------------------------------------------------------------------

  private refuse(socket: Duplex, status: number, why: string): void {
    this.refusedBy[status] = (this.refusedBy[status] ?? 0) + 1;
    if (socket.destroyed) return;
    const body = `${why}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
        'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // a client that does not close its side is cut off
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== this.options.path) {
      // on a server of yours, other upgrade paths are yours
      if (this.ownServer) this.refuse(socket, 404, 'no WebSocket endpoint here');
      return;
    }
    socket.on('error', () => undefined);
    if (this.closing !== null) return this.refuse(socket, 503, 'the gateway is shutting down');
    for (const k of url.searchParams.keys())
      if (/token|auth|key|secret|password/i.test(k))
        return this.refuse(
          socket,
          400,
          'a credential in the query string is refused: use the Sec-WebSocket-Protocol or Authorization header',
        );
    if (!this.originAllowed(req))
      return this.refuse(socket, 403, `origin ${String(req.headers.origin)} is not allowed`);
    const offered = (req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p.length > 0);
    if (!offered.includes(SUBPROTOCOL))
      return this.refuse(
        socket,
        400,
        `offer the subprotocol ${SUBPROTOCOL} (client protocol version ${CLIENT_PROTOCOL_VERSION})`,
      );
    let token: string | null = null;
    const auths = offered.filter((p) => p.startsWith(AUTH_SUBPROTOCOL_PREFIX));
    if (auths.length > 1) return this.refuse(socket, 400, 'more than one token');
    if (auths.length === 1) {
      token = tokenOfSubprotocol(auths[0]!);
      if (token === null) return this.refuse(socket, 400, 'a malformed token subprotocol');
    }
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer ([^\s].*)$/i.exec(header);
      if (m === null) return this.refuse(socket, 400, 'an Authorization header that is not Bearer');
      if (token !== null && token !== m[1]) return this.refuse(socket, 400, 'two different tokens');
      token = m[1]!;
    }
    // the inspector page's session cookie, only from a page of this very origin
    if (token === null && this.inspector !== null && this.sameOrigin(req))
      token = sessionToken(req);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.refuse(socket, 408, 'the handshake took too long');
    }, this.limits.handshakeTimeoutMs);
    let principal: Principal | null;
    try {
      principal = await this.options.authenticate(token, req);
    } catch (error) {
      clearTimeout(timer);
      if (timedOut) return;
      this.logError('troupe: the gateway’s authenticate threw', error);
      return this.refuse(socket, 500, 'authentication failed');
    }
    clearTimeout(timer);
    if (timedOut || socket.destroyed) return;
    if (principal === null || principal === undefined)
      return this.refuse(socket, 401, 'not authenticated');
    if (typeof principal !== 'object' || typeof principal.id !== 'string') {
      this.logError(
        'troupe: the gateway’s authenticate returned a principal without a string id',
        principal,
      );
      return this.refuse(socket, 500, 'authentication failed');
    }
    if (this.closing !== null) return this.refuse(socket, 503, 'the gateway is shutting down');
    const p = principal;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, p));
  }

  /** The request comes from a page of the gateway's own origin (a browser's Origin says so). */
  private sameOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return false;
    const scheme = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
    return origin.toLowerCase() === `${scheme}://${String(req.headers.host).toLowerCase()}`;
  }

  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    // server clients send none; a browser always does
    if (origin === undefined) return true;
    const o = this.options.origins;
    if (o === '*') return true;
    return o === 'same-origin' ? this.sameOrigin(req) : o.has(origin.toLowerCase());
  }

  private connected(ws: WebSocket, principal: Principal): void {
    const session = randomBytes(12).toString('base64url');
    const conn = new Connection(this, ws, principal, session);
    this.connections.add(conn);
    // on a framing error `ws` sends its close frame (1002, 1007, 1008, 1009) and closes by
    // itself: the code is counted here, the socket is left to finish sending it
    let wsCode: number | null = null;
    ws.on('error', (e: Error & { code?: string }) => (wsCode ??= closeCodeOf(e.code)));
    ws.on('close', (code) => conn.closed$(wsCode ?? code));
    const n = (this.perPrincipal.get(principal.id) ?? 0) + 1;
    this.perPrincipal.set(principal.id, n);
    if (n > this.limits.maxConnectionsPerPrincipal)
      return conn.close(
        CLIENT_CLOSE.tooManyConnections,
        `more than ${this.limits.maxConnectionsPerPrincipal} connections for this principal`,
      );
    const l = this.limits;
    conn.frame({
      op: 'welcome',
      protocol: CLIENT_PROTOCOL_VERSION,
      session,
      node: this.system.nodeId,
      limits: {
        maxFrameBytes: l.maxFrameBytes,
        messagesPerSecond: l.messagesPerSecond,
        burst: l.burst,
        maxSubscriptions: l.maxSubscriptions,
        maxPendingAsks: l.maxPendingAsks,
        maxAskTimeoutMs: l.maxAskTimeoutMs,
        idleTimeoutMs: l.idleTimeoutMs,
        coalesceMs: this.coalesceMs,
      },
    });
  }

  private beat(): void {
    for (const c of this.connections) {
      if (c.awaitingPong) {
        c.terminate();
        continue;
      }
      c.awaitingPong = true;
      c.ping();
    }
  }

  // ---- GatewayCore --------------------------------------------------------------------------

  resolve(op: GatewayOp, target: string): Target | string {
    if (op === 'topic') {
      if (target.length > MAX_TOPIC_LENGTH)
        return `a topic of more than ${MAX_TOPIC_LENGTH} characters`;
      return { ref: null, name: target };
    }
    const address = target.startsWith('/') ? `troupe://${this.system.nodeId}${target}` : target;
    try {
      parseAddress(address);
    } catch (e) {
      return `not an actor address or path: ${(e as Error).message}`;
    }
    if (isTempAddress(address)) return 'a temporary address cannot be reached from a client';
    const parsed = parseAddress(address);
    if (parsed.type === 'entity' && !this.system.entities.defines(parsed.kind))
      return `no entity kind ${JSON.stringify(parsed.kind.slice(0, 40))} is defined`;
    let ref: ActorRef<unknown>;
    try {
      ref = this.system.refOf(address as Address);
    } catch (e) {
      return (e as Error).message;
    }
    return { ref, name: address };
  }

  join(
    kind: SubscriptionKind,
    target: Target,
    sub: HubSubscriber,
    since: Since | undefined,
  ): SnapshotHub | EventHub {
    if (kind === 'snapshot') {
      let hub = this.snapshotHubs.get(target.name);
      if (hub === undefined || hub.ended) {
        hub = new SnapshotHub(this, target.name, target.ref!);
        // one that ended at once (an unknown actor) is not kept
        if (!hub.ended) this.snapshotHubs.set(target.name, hub);
      }
      hub.add(sub, since);
      return hub;
    }
    const key = `${kind} ${target.name}`;
    let hub = this.eventHubs.get(key);
    if (hub === undefined || hub.ended) {
      hub = new EventHub(
        this,
        key,
        kind === 'events' ? { ref: target.ref! } : { topic: target.name },
      );
      if (!hub.ended) this.eventHubs.set(key, hub);
    }
    hub.add(sub);
    return hub;
  }

  count(what: 'framesIn' | 'framesOut' | 'dropped' | 'coalesced' | 'published'): void {
    this.counters[what]++;
  }

  connectionClosed(conn: Connection, code: number): void {
    if (!this.connections.delete(conn)) return;
    if (code >= 4000 || code === 1006 || code === 1001)
      this.closedBy[code] = (this.closedBy[code] ?? 0) + 1;
    const id = conn.principal.id;
    const n = (this.perPrincipal.get(id) ?? 1) - 1;
    if (n <= 0) this.perPrincipal.delete(id);
    else this.perPrincipal.set(id, n);
  }

  logError(message: string, error: unknown): void {
    this.system.logger.error(message, error);
  }

  // ---- HubHost ------------------------------------------------------------------------------

  subscribe: HubHost['subscribe'] = (ref, listener) =>
    this.alsoWatched(ref, this.system.subscribe(ref, listener), listener);

  subscribeEvents: HubHost['subscribeEvents'] = (ref, listener) =>
    this.alsoWatched(ref, this.system.subscribeEvents(ref, listener), listener);

  /**
   * An actor of another node is watched too: when its node goes down no subscription answers,
   * its watch does (`node-down`), and the hub ends.
   */
  private alsoWatched(
    ref: ActorRef<unknown>,
    stop: () => void,
    listener: (t: Terminated) => void,
  ): () => void {
    if (!ref.address.startsWith('troupe://') || ref.address.startsWith(this.localPrefix))
      return stop;
    const unwatch = this.system.watch(ref, listener);
    return () => {
      stop();
      unwatch();
    };
  }

  private get localPrefix(): string {
    return `troupe://${this.system.nodeId}/`;
  }

  lingering(hub: SnapshotHub, on: boolean): void {
    if (!on) {
      this.lingeringHubs.delete(hub);
      return;
    }
    this.lingeringHubs.add(hub);
    // over the cap, the hub waiting longest goes
    if (this.lingeringHubs.size > this.limits.maxLingeringHubs) {
      const oldest = this.lingeringHubs.values().next().value!;
      oldest.close();
    }
  }

  subscribeTopic(topic: string, listener: (msg: unknown) => void): () => void {
    const r = new TempReceiver(
      this.system,
      `gw-topic-${randomBytes(6).toString('base64url')}`,
      (msg) => listener(msg),
    );
    this.system.topics.subscribe(topic, r.ref);
    return () => {
      this.system.topics.unsubscribe(topic, r.ref);
      r.close();
    };
  }

  dropped(hub: SnapshotHub | EventHub): void {
    if (hub instanceof SnapshotHub) {
      if (this.snapshotHubs.get(hub.key) === hub) this.snapshotHubs.delete(hub.key);
    } else if (this.eventHubs.get(hub.key) === hub) this.eventHubs.delete(hub.key);
  }
}
