/**
 * The client gateway: a WebSocket endpoint on the node's HTTP(S) server where browser and
 * server apps watch actors and talk to them (protocol/CLIENT-PROTOCOL.md).
 *
 * - Before the upgrade, every connection is held to `handshakeTimeoutMs` and counted against
 *   `maxHalfOpen` and `maxHalfOpenPerIp` (runtime/gateway/door.ts): 408 past the deadline, 503
 *   with Retry-After over a cap.
 * - The upgrade is authenticated before the 101: the token comes from the
 *   `troupe.auth.<base64url>` subprotocol (browsers can set no other header) or
 *   `Authorization: Bearer …` (server clients), never from the query string; a browser's
 *   `Origin` must be the `publicOrigin` or one of `allowedOrigins` (never judged from the
 *   request's Host header); `authenticate(token, request)` gives the principal or null. A
 *   refused upgrade gets an HTTP status (400, 401, 403, 404, 408, 500, 503) and no socket.
 * - Each request's target is resolved to its one spelling (runtime/gateway/targets.ts), then
 *   checked by `authorize(principal, op, target, detail)` when it comes
 *   (runtime/gateway/connection.ts); subscriptions go through shared hubs
 *   (runtime/gateway/hubs.ts), which use the core's subscription system messages, so the
 *   actor may be on any shard or node.
 * - Limits are options with defaults (runtime/gateway/options.ts) and close codes.
 * - At shutdown, every subscription is sent `ended` with reason `shutdown`, then each
 *   connection is closed with 1001; an upgrade that comes meanwhile gets 503 with Retry-After.
 * - `/troupe/client.js` (under the gateway's path) serves the browser bundle of the client
 *   SDK when it has been built (`npm run build:client`).
 *
 * Over 600 lines: the gateway's upgrade, its HTTP side, its hubs' host and shutdown, which
 * share one server and one set of limits (a connection is runtime/gateway/connection.ts).
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Tracer } from '@opentelemetry/api';
import {
  CLIENT_CLOSE,
  CLIENT_PROTOCOL_VERSION,
  DEFAULT_CLIENT_DECODE_LIMITS,
  SUBPROTOCOL,
  type ClientDecodeLimits,
  type Since,
  type SubscriptionKind,
} from '../../protocol/client-protocol.ts';
import { TempReceiver } from '../core/index.ts';
import type { ActorRef, LocalRef } from '../core/index.ts';
import { MessageMeta } from '../core/index.ts';
import { stampPrincipal } from '../core/index.ts';
import type { Terminated } from '../core/index.ts';
import type { Kernel } from '../core/index.ts';
import { topicsOf } from '../topics/extension.ts';
import { entitiesExtension } from '../cluster/extension.ts';
import type { Clock } from '../core/index.ts';
import { every, type Repeating } from '../core/index.ts';
import type { AdmissionStep } from './admission.ts';
import { Connection } from './connection.ts';
import { ConnectionAsks } from './asks.ts';
import { Door, type DoorSocket } from './door.ts';
import { BadTargetError, resolveClientTarget, type ClientTarget } from './targets.ts';
import { bundleFile, serveBundle } from './bundle.ts';
export { CLIENT_BUNDLE_URL } from './bundle.ts';
import { credentialInQuery, normalOrigin, tokenOf, writeRefusal } from './upgrade-request.ts';
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
  /** The admission chain a send or ask goes through after authorize (admission.ts). */
  readonly admission: readonly AdmissionStep[];
  /** The system's tracer when tracing, else null. */
  readonly tracer: Tracer | null;
  /** The system's clock: rate limits, the idle timeout and every timer of a connection. */
  readonly clock: Clock;
  /** The target, or why it is refused. */
  resolve(op: GatewayOp, target: string): Target | string;
  /** Tells `ref` `message` for `principal` (stamped), in the caller's trace context. */
  tell(ref: ActorRef<unknown>, message: unknown, principal: Principal): void;
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
  /** Asks in flight, over every connection. */
  readonly asks: number;
  /** Connections not (yet) WebSockets, held to the handshake deadline (runtime/gateway/door.ts). */
  readonly halfOpen: number;
  /** Upgrades and connections refused, by HTTP status (408 and 503 from the door included). */
  readonly refused: Readonly<Record<number, number>>;
  /** Connections closed by the gateway, by close code. */
  readonly closed: Readonly<Record<number, number>>;
}

type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

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

export class Gateway implements GatewayCore, HubHost {
  readonly limits: Required<GatewayLimits>;
  readonly decodeLimits: ClientDecodeLimits;
  readonly authorize: Authorize;
  readonly admission: readonly AdmissionStep[];
  readonly coalesceMs: number;
  readonly historyVersions: number;
  readonly resumeWindowMs: number;
  readonly clock: Clock;
  /** Resolves when the gateway listens (at once with a server of yours). */
  readonly ready: Promise<void>;
  private readonly system: Kernel;
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
  private readonly door: Door;
  private readonly heartbeat: Repeating;
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
    publicOrigin: () => this.publicOrigin,
    clientUrl: () => `${this.options.path}/client.js`,
    endpoint: () => this.options.path,
    secure: () => this.server instanceof HttpsServer,
    logError: (m, e) => this.logError(m, e),
  };
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void =>
    void this.upgrade(req, socket, head);
  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void =>
    this.request(req, res);
  /** A TCP connection accepted by the gateway's own server enters the door (before any TLS). */
  private readonly onConnection = (socket: DoorSocket): void => {
    const tls = this.server instanceof HttpsServer;
    if (this.door.enter(socket, tls) === null) return;
    this.refusedBy[503] = (this.refusedBy[503] ?? 0) + 1;
    // no HTTP can be written before a TLS handshake
    if (tls) socket.destroy();
    else
      this.refuse(socket, 503, 'too many connections waiting to upgrade: try again', true, false);
  };
  private readonly onSecure = (socket: DoorSocket): void => this.door.secured(socket);

  constructor(system: Kernel, options: ResolvedGatewayOptions) {
    this.system = system;
    this.clock = system.clock;
    this.options = options;
    this.limits = options.limits;
    this.decodeLimits = {
      ...DEFAULT_CLIENT_DECODE_LIMITS,
      maxFrameBytes: options.limits.maxFrameBytes,
    };
    this.authorize = options.authorize;
    this.admission = options.admission;
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
    this.door = new Door(options.limits, this.clock, (socket, beforeTls) => {
      if (!beforeTls) return this.refuse(socket, 408, 'the handshake took too long');
      this.refusedBy[408] = (this.refusedBy[408] ?? 0) + 1;
      socket.destroy();
    });
    this.ownServer = options.server === null;
    if (options.server !== null) {
      this.server = options.server as ReturnType<typeof createHttpServer>;
      this.ready = Promise.resolve();
    } else {
      const limits = options.limits;
      // Node checks its own timeouts only every connectionsCheckingInterval: the door keeps the
      // handshake deadline; these bound the rest (a slow body, a kept-alive connection's next
      // request) in about a second
      const http = { connectionsCheckingInterval: Math.min(1_000, limits.handshakeTimeoutMs) };
      this.server =
        options.tls === null
          ? createHttpServer(http, this.onRequest)
          : (createHttpsServer(
              {
                ...http,
                cert: options.tls.cert,
                key: options.tls.key,
                handshakeTimeout: limits.handshakeTimeoutMs,
              },
              this.onRequest,
            ) as unknown as ReturnType<typeof createHttpServer>);
      this.server.on('connection', this.onConnection);
      if (options.tls !== null) this.server.on('secureConnection', this.onSecure);
      this.server.headersTimeout = limits.handshakeTimeoutMs;
      this.server.requestTimeout = Math.max(limits.handshakeTimeoutMs, 10_000);
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
    this.heartbeat = every(this.clock, options.limits.heartbeatMs, () => this.beat());
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

  /**
   * The origin the gateway's own pages are served from (the inspector's): the `publicOrigin`
   * option, or else, on the gateway's own server listening at a named host (not 0.0.0.0 or
   * ::), the origin of that address (`http://127.0.0.1:7300`); null otherwise (before it
   * listens, too). A browser's page of this origin may connect and use the inspector's
   * session cookie. Never taken from a request's Host header.
   */
  get publicOrigin(): string | null {
    if (this.options.publicOrigin !== null) return this.options.publicOrigin;
    const l = this.options.listen;
    const a = this.server.address() as AddressInfo | null;
    if (l === null || a === null || l.host === '0.0.0.0' || l.host === '::' || l.host === '[::]')
      return null;
    const host = l.host.includes(':') && !l.host.startsWith('[') ? `[${l.host}]` : l.host;
    const scheme = this.server instanceof HttpsServer ? 'https' : 'http';
    try {
      return new URL(`${scheme}://${host}:${a.port}`).origin;
    } catch {
      return null;
    }
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
    let asks = 0;
    for (const c of this.connections) {
      subscriptions += c.subs.size;
      asks += c.asks.size;
    }
    return {
      connections: this.connections.size,
      subscriptions,
      hubs: this.snapshotHubs.size + this.eventHubs.size,
      ...this.counters,
      asks,
      halfOpen: this.door.size,
      refused: { ...this.refusedBy },
      closed: { ...this.closedBy },
    };
  }

  /**
   * Sends every subscription `ended` (`shutdown`), closes every connection (1001), ends the
   * hubs' subscriptions and stops listening. Until then an upgrade gets 503 with Retry-After.
   */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      this.heartbeat.stop();
      const closing = [...this.connections];
      for (const c of closing) c.shutdown();
      for (const h of [...this.snapshotHubs.values()]) h.close();
      for (const h of [...this.eventHubs.values()]) h.close();
      this.wss.close();
      // every socket closed or cut off (CLOSE_GRACE_MS) before the server stops
      await Promise.all(closing.map((c) => c.socketClosed));
      this.server.off('upgrade', this.onUpgrade);
      this.server.off('connection', this.onConnection);
      this.server.off('secureConnection', this.onSecure);
      this.door.close();
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
    // no handshake deadline while a request is served; the next one's headers have one
    const socket = req.socket as DoorSocket;
    // refused at the door as it came in: answered already
    if (socket.writableEnded || socket.destroyed) return void res.destroy();
    this.door.serving(socket);
    res.once('finish', () => this.door.served(socket));
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
    const file = bundleFile(path, this.options.path);
    if (file !== null && (req.method === 'GET' || req.method === 'HEAD')) {
      const origin = req.headers.origin;
      return serveBundle(
        file,
        req,
        res,
        origin !== undefined && this.originAllowed(req) ? origin : null,
      );
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  }

  // ---- the upgrade --------------------------------------------------------------------------

  /**
   * Answers `status` and closes (runtime/gateway/upgrade-request.ts); with `retry`, a
   * Retry-After. Once per socket: an answered one is left alone.
   */
  private refuse(socket: Duplex, status: number, why: string, retry = false, count = true): void {
    if (socket.destroyed || socket.writableEnded) return;
    if (count) this.refusedBy[status] = (this.refusedBy[status] ?? 0) + 1;
    writeRefusal(socket, status, why, retry);
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const ours = url.pathname === this.options.path;
    // on a server of yours, other upgrade paths are yours
    if (!ours && !this.ownServer) return;
    // Node's HTTP server takes its error listener off an upgrading socket: a reset from the
    // client (ECONNRESET) until `ws` puts its own would be an uncaught error without this one
    socket.on('error', () => undefined);
    // refused as it came in (the door was full): answered already
    if (socket.writableEnded || socket.destroyed) return;
    if (!ours) return this.refuse(socket, 404, 'no WebSocket endpoint here');
    // on a server of yours, an upgrade to this path enters the door as it comes
    if (this.door.enter(socket as DoorSocket) !== null)
      return this.refuse(socket, 503, 'too many connections waiting to upgrade: try again', true);
    if (this.closing !== null)
      return this.refuse(socket, 503, 'the gateway is shutting down', true);
    const inQuery = credentialInQuery(url);
    if (inQuery !== null) return this.refuse(socket, 400, inQuery);
    if (!this.originAllowed(req))
      return this.refuse(socket, 403, `origin ${String(req.headers.origin)} is not allowed`);
    const given = tokenOf(req);
    if ('refused' in given) return this.refuse(socket, 400, given.refused);
    let token = given.token;
    // the inspector page's session cookie, only from a page of the gateway's public origin
    if (token === null && this.inspector !== null && this.sameOrigin(req))
      token = sessionToken(req);
    // the door's deadline (handshakeTimeoutMs) runs on: past it, 408 (and this socket answered)
    let principal: Principal | null;
    try {
      principal = await this.options.authenticate(token, req);
    } catch (error) {
      if (socket.writableEnded || socket.destroyed) return;
      this.logError('troupe: the gateway’s authenticate threw', error);
      return this.refuse(socket, 500, 'authentication failed');
    }
    if (socket.writableEnded || socket.destroyed) return;
    if (principal === null || principal === undefined)
      return this.refuse(socket, 401, 'not authenticated');
    // the principal the connection acts for: a frozen copy, stamped (runtime/core/principal.ts)
    let p: Principal;
    try {
      p = stampPrincipal(principal);
    } catch (error) {
      this.logError('troupe: the gateway’s authenticate returned a bad principal', error);
      return this.refuse(socket, 500, 'authentication failed');
    }
    if (this.closing !== null)
      return this.refuse(socket, 503, 'the gateway is shutting down', true);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.door.upgraded(socket as DoorSocket);
      this.connected(ws, p);
    });
  }

  /**
   * The request comes from a page of the gateway's public origin (its Origin header says so;
   * a browser sets it, and a page cannot). The Host header plays no part: any name can point
   * at this server.
   */
  private sameOrigin(req: IncomingMessage): boolean {
    const own = this.publicOrigin;
    return own !== null && normalOrigin(req.headers.origin) === own;
  }

  private originAllowed(req: IncomingMessage): boolean {
    // server clients send none; a browser always does
    if (req.headers.origin === undefined) return true;
    const allowed = this.options.allowedOrigins;
    if (allowed === '*') return true;
    const origin = normalOrigin(req.headers.origin);
    return origin !== null && (allowed.has(origin) || origin === this.publicOrigin);
  }

  private connected(ws: WebSocket, principal: Principal): void {
    const session = randomBytes(12).toString('base64url');
    const conn = new Connection(this, ws, principal, session, new ConnectionAsks(this.system));
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

  tell(ref: ActorRef<unknown>, message: unknown, principal: Principal): void {
    const sys = this.system;
    const trace = sys.tracing ? sys.telemetry.callerContext() : null;
    (ref as LocalRef).deliverWithMeta(message, new MessageMeta(null, null, 0, trace, principal));
  }

  resolve(op: GatewayOp, target: string): Target | string {
    let t: ClientTarget;
    try {
      t = resolveClientTarget(op, target, this.system.nodeId);
    } catch (e) {
      // a bug here must not take the node down: the request is refused, the reason logged
      if (!(e instanceof BadTargetError))
        this.logError('troupe: a target could not be resolved', e);
      return e instanceof Error ? e.message : 'a bad target';
    }
    if (t.type === 'topic') return { ref: null, name: t.name };
    if (
      t.parsed.type === 'entity' &&
      !this.system.extension(entitiesExtension).defines(t.parsed.kind)
    )
      return `no entity kind ${JSON.stringify(t.parsed.kind)} is defined`;
    let ref: ActorRef<unknown>;
    try {
      ref = this.system.refOf(t.address);
    } catch (e) {
      return (e as Error).message;
    }
    return { ref, name: t.address };
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
    topicsOf(this.system).subscribe(topic, r.ref);
    return () => {
      topicsOf(this.system).unsubscribe(topic, r.ref);
      r.close();
    };
  }

  dropped(hub: SnapshotHub | EventHub): void {
    if (hub instanceof SnapshotHub) {
      if (this.snapshotHubs.get(hub.key) === hub) this.snapshotHubs.delete(hub.key);
    } else if (this.eventHubs.get(hub.key) === hub) this.eventHubs.delete(hub.key);
  }
}
