/**
 * The gateway's options, checked when it starts, naming the field:
 *
 *   createSystem({
 *     gateway: {
 *       listen: { host: '127.0.0.1', port: 8080 },    // or `server`: an http(s).Server of yours
 *       path: '/troupe',                               // where the WebSocket endpoint is
 *       tls: { cert, key },                             // optional: https and wss
 *       authenticate: (token, request) => principal | null,   // may return a promise
 *       authorize: (principal, op, target, detail) => boolean,  // may return a promise
 *       publicOrigin: 'https://ops.example',            // where its own pages are served from
 *       allowedOrigins: ['https://app.example'],        // or '*'; default: none but publicOrigin
 *       limits: { maxFrameBytes: 64 KiB, … },           // each with its default below
 *       snapshots: { coalesceMs: 16, … },               // each with its default below
 *     },
 *   });
 *
 * Origins: a browser always sends an `Origin`, and the gateway lets it upgrade only from the
 * `publicOrigin` or one of `allowedOrigins`; clients that send none (servers, tools) are not
 * judged by it. The public origin is the inspector's too (its sign-in form and its page's
 * WebSocket, which carries the session cookie). Default: on the gateway's own server at a
 * named host, the origin of what it listens on (`http://127.0.0.1:7300`); with `server`, or
 * listening on 0.0.0.0 or ::, none: set it to the origin people browse to (behind a proxy, the
 * proxy's). Origins are never judged from the Host header, which any client or DNS name sets.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { resolveAdmission, type AdmissionStep } from './admission.ts';
import { InvalidOptionError, onlyKnownOptions, optionObject } from '../core/index.ts';
import { resolveInspectorOptions, type InspectorOptions } from '../inspector/inspector.ts';

import type { Principal } from '../core/index.ts';

export type { Principal } from '../core/index.ts';

/**
 * What a client asks to do, as `authorize` sees it: subscribe to a `snapshot`, `events` or a
 * `topic`; `send` or `ask` a message; `approve`: asked as well as `send` / `ask` (both must
 * allow) for an approval decision, a message whose `type` is `approve` or `reject`
 * (actors/agent).
 */
export type GatewayOp = 'snapshot' | 'events' | 'topic' | 'send' | 'ask' | 'approve';

/** For `send` and `ask`: the message, so a rule can look at its type. */
export interface OpDetail {
  readonly message?: unknown;
}

export type Authenticate = (
  token: string | null,
  request: IncomingMessage,
) => Principal | null | Promise<Principal | null>;

/**
 * `target` is the actor's address for snapshot, events, send and ask, in its one spelling
 * (runtime/gateway/targets.ts): `troupe://<node>/<path>` (a client's `/user/a` is
 * `troupe://<this node>/user/a`) or `troupe:entity/<kind>/<id>` with the kind and id escaped as
 * `entityAddress(kind, id)` escapes them (protocol/address.ts). Compare it with an address built
 * the same way (`entityAddress('account', principal.id)`), never with a string glued from
 * parts: the gateway has decoded `%62ob` to `bob` before `authorize` sees it. For topic, the
 * topic's name as given.
 */
export type Authorize = (
  principal: Principal,
  op: GatewayOp,
  target: string,
  detail: OpDetail,
) => boolean | Promise<boolean>;

export interface GatewayLimits {
  /** Bytes of one frame from a client (close 1009 over it). */
  readonly maxFrameBytes?: number;
  /** Fragments of one message from a client (close 1008 over it). */
  readonly maxFragments?: number;
  /** Frames per second per connection, on average (token bucket; close 4002). */
  readonly messagesPerSecond?: number;
  /** Frames a connection may send at once before the rate applies (the bucket's size). */
  readonly burst?: number;
  /** Subscriptions on one connection (close 4003). */
  readonly maxSubscriptions?: number;
  /** Connections of one principal at a time (close 4004). */
  readonly maxConnectionsPerPrincipal?: number;
  /** Asks in flight on one connection (close 4007). */
  readonly maxPendingAsks?: number;
  /** Longest ask timeout a client may ask for; its default when it gives none is askTimeoutMs. */
  readonly maxAskTimeoutMs?: number;
  readonly askTimeoutMs?: number;
  /**
   * From a connection's TCP accept (on a server of yours: from its upgrade request) to the
   * 101: the TLS handshake, the request's headers and `authenticate` together, by the
   * gateway's own timer (HTTP 408 and close over it; before the TLS handshake, close). A
   * kept-alive connection's next request's headers get as long (runtime/gateway/door.ts).
   */
  readonly handshakeTimeoutMs?: number;
  /** Connections not yet upgraded, at once, from everywhere (HTTP 503 with Retry-After over it). */
  readonly maxHalfOpen?: number;
  /** Connections not yet upgraded, at once, from one IPv4 address or IPv6 /64 (503 over it). */
  readonly maxHalfOpenPerIp?: number;
  /** An `authorize` that has not answered in this time refuses the request (`internal`). */
  readonly authorizeTimeoutMs?: number;
  /** Snapshot hubs kept for resumes after their last subscriber left, at most (oldest go first). */
  readonly maxLingeringHubs?: number;
  /** A connection with no frame, no subscription and no ask for this long is closed (4005). */
  readonly idleTimeoutMs?: number;
  /** Ping interval; a connection that has not answered the last ping is terminated. */
  readonly heartbeatMs?: number;
  /** Bytes waiting in a connection's send buffer before it is closed as slow (4006). */
  readonly maxBufferedBytes?: number;
}

export interface SnapshotTuning {
  /** Updates closer together than this are merged, latest wins (ms; 0: none merged). */
  readonly coalesceMs?: number;
  /** Versions each actor's hub keeps, to answer a resume with a patch. */
  readonly historyVersions?: number;
  /** How long a hub outlives its last subscriber, so a reconnecting client can resume (ms). */
  readonly resumeWindowMs?: number;
}

export interface GatewayOptions {
  readonly listen?: { readonly host?: string; readonly port?: number } | number;
  readonly server?: HttpServer | HttpsServer;
  readonly path?: string;
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  readonly authenticate: Authenticate;
  readonly authorize: Authorize;
  /**
   * Steps a `send` or `ask` goes through after `authorize`, before the actor: each allows,
   * replaces the message, or refuses (runtime/gateway/admission.ts). Default: none.
   */
  readonly admission?: readonly AdmissionStep[];
  /** The origin the gateway's own pages are served from (see above); default: from `listen`. */
  readonly publicOrigin?: string;
  /** Origins of other sites whose pages may connect, or '*'; default: none. */
  readonly allowedOrigins?: readonly string[] | '*';
  readonly limits?: GatewayLimits;
  readonly snapshots?: SnapshotTuning;
  /**
   * The live inspector at `/inspect` (runtime/inspector): on by default (`false` turns it
   * off), with its sampling options.
   */
  readonly inspector?: boolean | InspectorOptions;
}

export interface ResolvedGatewayOptions {
  readonly listen: { readonly host: string; readonly port: number } | null;
  readonly server: HttpServer | HttpsServer | null;
  readonly path: string;
  readonly tls: { readonly cert: string | Buffer; readonly key: string | Buffer } | null;
  readonly authenticate: Authenticate;
  readonly authorize: Authorize;
  readonly admission: readonly AdmissionStep[];
  /** Null: derived from `listen` once listening (Gateway.publicOrigin). */
  readonly publicOrigin: string | null;
  readonly allowedOrigins: ReadonlySet<string> | '*';
  readonly limits: Required<GatewayLimits>;
  readonly snapshots: Required<SnapshotTuning>;
  readonly inspector: Required<InspectorOptions> | null;
}

export const DEFAULT_GATEWAY_LIMITS: Required<GatewayLimits> = Object.freeze({
  maxFrameBytes: 64 * 1024,
  maxFragments: 64,
  messagesPerSecond: 100,
  burst: 200,
  maxSubscriptions: 256,
  maxConnectionsPerPrincipal: 16,
  maxPendingAsks: 64,
  maxAskTimeoutMs: 60_000,
  askTimeoutMs: 5_000,
  handshakeTimeoutMs: 5_000,
  maxHalfOpen: 1_024,
  maxHalfOpenPerIp: 64,
  authorizeTimeoutMs: 5_000,
  maxLingeringHubs: 10_000,
  idleTimeoutMs: 300_000,
  heartbeatMs: 30_000,
  maxBufferedBytes: 1024 * 1024,
});

export const DEFAULT_SNAPSHOT_TUNING: Required<SnapshotTuning> = Object.freeze({
  coalesceMs: 16,
  historyVersions: 32,
  resumeWindowMs: 30_000,
});

const plain = optionObject;
const known = onlyKnownOptions;

function count(field: string, v: unknown, d: number, min: number): number {
  if (v === undefined) return d;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new InvalidOptionError(field, v, `an integer ≥ ${min}`);
  return v;
}

/** An origin option (`https://app.example`, a port if not the default), as browsers write it. */
function origin(field: string, x: unknown): string {
  if (typeof x !== 'string' || !/^https?:\/\/[^/\s?#@]+\/?$/i.test(x))
    throw new InvalidOptionError(field, x, 'an origin such as https://app.example');
  try {
    return new URL(x).origin;
  } catch {
    throw new InvalidOptionError(field, x, 'an origin such as https://app.example');
  }
}

export function resolveGatewayOptions(v: unknown, f = 'options.gateway'): ResolvedGatewayOptions {
  const o = plain(f, v);
  if ('origins' in o)
    throw new InvalidOptionError(
      `${f}.origins`,
      o.origins,
      'absent: it is allowedOrigins now (and publicOrigin for the gateway’s own pages)',
    );
  known(f, o, [
    'listen',
    'server',
    'path',
    'tls',
    'authenticate',
    'authorize',
    'admission',
    'publicOrigin',
    'allowedOrigins',
    'limits',
    'snapshots',
    'inspector',
  ]);
  if (typeof o.authenticate !== 'function')
    throw new InvalidOptionError(
      `${f}.authenticate`,
      o.authenticate,
      'a function (token, request) → principal | null',
    );
  if (typeof o.authorize !== 'function')
    throw new InvalidOptionError(
      `${f}.authorize`,
      o.authorize,
      'a function (principal, op, target, detail) → boolean',
    );
  let listen: { host: string; port: number } | null = null;
  let server: HttpServer | HttpsServer | null = null;
  if (o.server !== undefined) {
    const s = o.server as { on?: unknown; listen?: unknown };
    if (typeof s !== 'object' || s === null || typeof s.on !== 'function')
      throw new InvalidOptionError(`${f}.server`, o.server, 'an http or https Server');
    if (o.listen !== undefined || o.tls !== undefined)
      throw new InvalidOptionError(
        `${f}.listen`,
        o.listen ?? o.tls,
        `absent with ${f}.server (that server listens; its TLS is its own)`,
      );
    server = o.server as HttpServer;
  } else {
    let host = '127.0.0.1';
    let port = 0;
    if (typeof o.listen === 'number') port = o.listen;
    else if (o.listen !== undefined) {
      const l = plain(`${f}.listen`, o.listen);
      known(`${f}.listen`, l, ['host', 'port']);
      if (l.host !== undefined) {
        if (typeof l.host !== 'string' || l.host.length === 0)
          throw new InvalidOptionError(`${f}.listen.host`, l.host, 'a host name or address');
        host = l.host;
      }
      if (l.port !== undefined) port = l.port as number;
    }
    if (!Number.isInteger(port) || port < 0 || port > 65_535)
      throw new InvalidOptionError(`${f}.listen.port`, port, 'a port number (0: any free port)');
    listen = { host, port };
  }
  const path = o.path ?? '/troupe';
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~/-]*$/.test(path) || path.endsWith('//'))
    throw new InvalidOptionError(`${f}.path`, path, 'a URL path such as /troupe');
  let tls: ResolvedGatewayOptions['tls'] = null;
  if (o.tls !== undefined) {
    const t = plain(`${f}.tls`, o.tls);
    known(`${f}.tls`, t, ['cert', 'key']);
    for (const k of ['cert', 'key'])
      if (typeof t[k] !== 'string' && !Buffer.isBuffer(t[k]))
        throw new InvalidOptionError(`${f}.tls.${k}`, t[k], 'PEM text or a Buffer');
    tls = t as unknown as NonNullable<ResolvedGatewayOptions['tls']>;
  }
  const publicOrigin =
    o.publicOrigin === undefined ? null : origin(`${f}.publicOrigin`, o.publicOrigin);
  let allowedOrigins: ResolvedGatewayOptions['allowedOrigins'] = new Set();
  if (o.allowedOrigins === '*') allowedOrigins = '*';
  else if (o.allowedOrigins !== undefined) {
    if (!Array.isArray(o.allowedOrigins))
      throw new InvalidOptionError(
        `${f}.allowedOrigins`,
        o.allowedOrigins,
        "an array of origins, or '*'",
      );
    allowedOrigins = new Set(
      (o.allowedOrigins as unknown[]).map((x, i) => origin(`${f}.allowedOrigins[${i}]`, x)),
    );
  }
  const l = o.limits === undefined ? {} : plain(`${f}.limits`, o.limits);
  const d = DEFAULT_GATEWAY_LIMITS;
  known(`${f}.limits`, l, Object.keys(d));
  const limits: Required<GatewayLimits> = {
    maxFrameBytes: count(`${f}.limits.maxFrameBytes`, l.maxFrameBytes, d.maxFrameBytes, 256),
    maxFragments: count(`${f}.limits.maxFragments`, l.maxFragments, d.maxFragments, 1),
    messagesPerSecond: count(
      `${f}.limits.messagesPerSecond`,
      l.messagesPerSecond,
      d.messagesPerSecond,
      1,
    ),
    burst: count(`${f}.limits.burst`, l.burst, d.burst, 1),
    maxSubscriptions: count(
      `${f}.limits.maxSubscriptions`,
      l.maxSubscriptions,
      d.maxSubscriptions,
      1,
    ),
    maxConnectionsPerPrincipal: count(
      `${f}.limits.maxConnectionsPerPrincipal`,
      l.maxConnectionsPerPrincipal,
      d.maxConnectionsPerPrincipal,
      1,
    ),
    maxPendingAsks: count(`${f}.limits.maxPendingAsks`, l.maxPendingAsks, d.maxPendingAsks, 1),
    maxAskTimeoutMs: count(`${f}.limits.maxAskTimeoutMs`, l.maxAskTimeoutMs, d.maxAskTimeoutMs, 1),
    askTimeoutMs: count(`${f}.limits.askTimeoutMs`, l.askTimeoutMs, d.askTimeoutMs, 1),
    handshakeTimeoutMs: count(
      `${f}.limits.handshakeTimeoutMs`,
      l.handshakeTimeoutMs,
      d.handshakeTimeoutMs,
      1,
    ),
    maxHalfOpen: count(`${f}.limits.maxHalfOpen`, l.maxHalfOpen, d.maxHalfOpen, 1),
    maxHalfOpenPerIp: count(
      `${f}.limits.maxHalfOpenPerIp`,
      l.maxHalfOpenPerIp,
      d.maxHalfOpenPerIp,
      1,
    ),
    authorizeTimeoutMs: count(
      `${f}.limits.authorizeTimeoutMs`,
      l.authorizeTimeoutMs,
      d.authorizeTimeoutMs,
      1,
    ),
    maxLingeringHubs: count(
      `${f}.limits.maxLingeringHubs`,
      l.maxLingeringHubs,
      d.maxLingeringHubs,
      0,
    ),
    idleTimeoutMs: count(`${f}.limits.idleTimeoutMs`, l.idleTimeoutMs, d.idleTimeoutMs, 1),
    heartbeatMs: count(`${f}.limits.heartbeatMs`, l.heartbeatMs, d.heartbeatMs, 1),
    maxBufferedBytes: count(
      `${f}.limits.maxBufferedBytes`,
      l.maxBufferedBytes,
      d.maxBufferedBytes,
      1,
    ),
  };
  if (limits.burst < 1) throw new InvalidOptionError(`${f}.limits.burst`, limits.burst, '≥ 1');
  if (limits.askTimeoutMs > limits.maxAskTimeoutMs)
    throw new InvalidOptionError(
      `${f}.limits.askTimeoutMs`,
      limits.askTimeoutMs,
      `at most limits.maxAskTimeoutMs (${limits.maxAskTimeoutMs})`,
    );
  const s = o.snapshots === undefined ? {} : plain(`${f}.snapshots`, o.snapshots);
  const ds = DEFAULT_SNAPSHOT_TUNING;
  known(`${f}.snapshots`, s, Object.keys(ds));
  const snapshots: Required<SnapshotTuning> = {
    coalesceMs: count(`${f}.snapshots.coalesceMs`, s.coalesceMs, ds.coalesceMs, 0),
    historyVersions: count(
      `${f}.snapshots.historyVersions`,
      s.historyVersions,
      ds.historyVersions,
      1,
    ),
    resumeWindowMs: count(`${f}.snapshots.resumeWindowMs`, s.resumeWindowMs, ds.resumeWindowMs, 0),
  };
  return {
    listen,
    server,
    path,
    tls,
    authenticate: o.authenticate as Authenticate,
    authorize: o.authorize as Authorize,
    admission: resolveAdmission(`${f}.admission`, o.admission),
    publicOrigin,
    allowedOrigins,
    limits,
    snapshots,
    inspector:
      o.inspector === false ? null : resolveInspectorOptions(o.inspector, `${f}.inspector`),
  };
}
