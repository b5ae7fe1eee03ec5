/**
 * The client protocol, version 1: what a browser or server app and a node's gateway say to
 * each other over one WebSocket (runtime/gateway on the node, protocol/client in the app).
 * The full specification, for writing a client in another language, is
 * protocol/CLIENT-PROTOCOL.md; this module is its code, shared by both ends, and runs in
 * browsers (it imports nothing of Node's and nothing of the runtime).
 *
 * Every frame is one binary WebSocket message holding one msgpack map with an `op`. Values an
 * app receives (snapshots, events, replies) are plain data in the ref codec's data form
 * (`{ $ref }`, `{ $date }`, `{ $error }`, `{ $esc }`; runtime/core/refcodec.ts); what an app sends
 * reaches the actor as plain data as decoded (tags are not revived: a client hands no refs).
 *
 * Decoding is defensive on the gateway's side (clients are untrusted): the byte length is
 * capped first, msgpack is read by msgpackr's no-eval build with records off, maps as plain
 * objects (a key that is a number, boolean or nil read as its string form, one that is a map,
 * an array, binary or a timestamp refused), no extension types; then the value is walked
 * (depth, array lengths, string lengths, map keys' lengths included, key counts; `__proto__`,
 * `__proto_`, `constructor`, `prototype` refused); then the frame is checked against its op's
 * shape. A refusal is a ClientProtocolError carrying the close code. A well-formed `send` or
 * `ask` whose message holds a number that is not finite (msgpack's floats carry NaN and
 * ±Infinity; data has none) is a BadMessageError instead: that request is answered with
 * `error` `bad-message` and the connection stays open.
 *
 * Nesting depth counts maps and arrays, the frame's own map being depth 1: a map or array at
 * depth maxDepth + 1 is refused, so a `message` (itself at depth 2) holds at most
 * maxDepth − 2 levels of maps and arrays inside it.
 *
 * Over 600 lines: every frame's schema and the decoder's checks, kept in one place so the
 * protocol can be read, and checked against CLIENT-PROTOCOL.md, in one file.
 */
import { Packr } from 'msgpackr';
// the build without `new Function`: nothing from a peer is compiled, and pages need no unsafe-eval
import { Unpackr } from 'msgpackr/unpack-no-eval';

export const CLIENT_PROTOCOL_VERSION = 1;
/** The WebSocket subprotocol a client offers (and the gateway selects) for version 1. */
export const SUBPROTOCOL = 'troupe.v1';
/** Prefix of the subprotocol that carries a browser's token: `troupe.auth.<base64url(token)>`. */
export const AUTH_SUBPROTOCOL_PREFIX = 'troupe.auth.';

/** Close codes (the WebSocket application range, plus the two standard ones `ws` uses). */
export const CLIENT_CLOSE = {
  /** The gateway is shutting down. */
  goingAway: 1001,
  /** A message in more fragments than allowed (sent by `ws`). */
  tooManyFragments: 1008,
  /** A frame over the byte cap (sent by `ws`). */
  tooBig: 1009,
  /** A frame that is not msgpack, not a map, a text frame, an unknown op or a bad field. */
  badFrame: 4000,
  /** Frames faster than the rate limit allows (token bucket per connection). */
  rateLimited: 4002,
  /** More subscriptions than allowed on one connection. */
  tooManySubscriptions: 4003,
  /** More connections than allowed for one principal. */
  tooManyConnections: 4004,
  /** No frame, subscription or pending ask for the idle time. */
  idle: 4005,
  /** The connection's send buffer went over its cap (a client that does not read). */
  slowConsumer: 4006,
  /** More asks in flight than allowed on one connection. */
  tooManyAsks: 4007,
} as const;

export type ClientCloseCode = (typeof CLIENT_CLOSE)[keyof typeof CLIENT_CLOSE];

/** Error codes of `error` frames: a refused or failed request (the connection stays open). */
export type ErrorCode =
  /** `authorize` said no. */
  | 'forbidden'
  /** A step of the gateway's admission chain said no (a check: a guardrail, a policy). */
  | 'refused'
  /** A step of the admission chain said no for a limit (a rate, a budget): try later. */
  | 'limited'
  /** A target that is not an actor address or path, a temp address, or a bad topic. */
  | 'bad-target'
  /**
   * A `subscribe`, `send` or `ask` with the id of a subscription or an ask in flight on this
   * connection (`ping` and `unsubscribe` are never refused so).
   */
  | 'duplicate-id'
  /** The ask had no reply in time. */
  | 'timeout'
  /** The actor failed while handling the ask, or the message could not be delivered. */
  | 'failed'
  /** A value that cannot be carried (a reply or snapshot that is not data). */
  | 'not-serializable'
  /** A `send` or `ask` whose message is not data: it holds a number that is not finite. */
  | 'bad-message'
  /**
   * `authorize` or an admission step threw (or did not answer in time), or something else
   * went wrong on the node: its log says what.
   */
  | 'internal';

export const ERROR_CODES: readonly ErrorCode[] = [
  'forbidden',
  'refused',
  'limited',
  'bad-target',
  'duplicate-id',
  'timeout',
  'failed',
  'not-serializable',
  'bad-message',
  'internal',
];

/** W3C trace context of the request, continued into the actors. */
export interface TraceCarrier {
  readonly traceparent: string;
  readonly tracestate?: string;
}

export type SubscriptionKind = 'snapshot' | 'events' | 'topic';

/** Where a resumed snapshot subscription left off. */
export interface Since {
  readonly epoch: string;
  readonly version: number;
}

export type ClientFrame =
  | {
      readonly op: 'subscribe';
      readonly id: number;
      readonly kind: SubscriptionKind;
      readonly target: string;
      readonly since?: Since;
    }
  | { readonly op: 'unsubscribe'; readonly id: number }
  | {
      readonly op: 'send';
      readonly id: number;
      readonly target: string;
      readonly message: unknown;
      readonly trace?: TraceCarrier;
    }
  | {
      readonly op: 'ask';
      readonly id: number;
      readonly target: string;
      readonly message: unknown;
      readonly timeoutMs?: number;
      readonly trace?: TraceCarrier;
    }
  | { readonly op: 'ping'; readonly id: number };

/** A JSON Patch operation (RFC 6902). */
/**
 * An actor's failure as an `ended` frame carries it: the error's name, message, string code,
 * and its own fields of scalar values (`data`: a budget error's cap, limit and spent…).
 */
export interface EndedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface PatchOperation {
  readonly op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  readonly path: string;
  readonly value?: unknown;
  readonly from?: string;
}

export interface ServerLimits {
  readonly maxFrameBytes: number;
  readonly messagesPerSecond: number;
  readonly burst: number;
  readonly maxSubscriptions: number;
  readonly maxPendingAsks: number;
  readonly maxAskTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly coalesceMs: number;
}

export type ServerFrame =
  | {
      readonly op: 'welcome';
      readonly protocol: number;
      readonly session: string;
      readonly node: string;
      readonly limits: ServerLimits;
    }
  | { readonly op: 'ok'; readonly id: number }
  | {
      readonly op: 'state';
      readonly id: number;
      readonly epoch: string;
      readonly version: number;
      readonly snapshot: unknown;
    }
  | {
      readonly op: 'patch';
      readonly id: number;
      readonly epoch: string;
      readonly base: number;
      readonly version: number;
      readonly patch: readonly PatchOperation[];
    }
  | { readonly op: 'event'; readonly id: number; readonly event: unknown }
  | {
      readonly op: 'ended';
      readonly id: number;
      readonly reason: string;
      /** Why a `failed` actor failed: the error's name, message, code and own fields. */
      readonly error?: EndedError;
    }
  | { readonly op: 'reply'; readonly id: number; readonly value: unknown }
  | {
      readonly op: 'error';
      readonly id: number;
      readonly code: ErrorCode;
      readonly message: string;
    }
  | { readonly op: 'pong'; readonly id: number };

/** Caps on what a client frame may hold (the gateway's options set maxFrameBytes). */
export interface ClientDecodeLimits {
  readonly maxFrameBytes: number;
  readonly maxDepth: number;
  readonly maxArrayLength: number;
  /**
   * Longest string, a map's keys included, in UTF-16 code units (`String.length`): the
   * "characters" of CLIENT-PROTOCOL.md, where an emoji counts 2. Every length in characters
   * of this module is counted so.
   */
  readonly maxStringLength: number;
  readonly maxKeys: number;
}

export const DEFAULT_CLIENT_DECODE_LIMITS: ClientDecodeLimits = Object.freeze({
  maxFrameBytes: 64 * 1024,
  maxDepth: 32,
  maxArrayLength: 4_096,
  maxStringLength: 64 * 1024,
  maxKeys: 1_024,
});

/**
 * Longest target (address or path; a topic's name is shorter, runtime/topics/topics.ts), in
 * characters as the client sent it, before an entity's kind and id are decoded: a longer one
 * is answered `error` `bad-target`. The one spelling `authorize` sees may be longer (an escaped
 * character takes three characters per UTF-8 byte); decoding never lengthens an id, so this
 * cap also keeps every id within MAX_ENTITY_ID_LENGTH_CHARS.
 */
export const MAX_TARGET_LENGTH = 1_024;
/** Longest `tracestate`, in characters. */
export const MAX_TRACESTATE_LENGTH = 512;
/** Largest id: ids are unsigned integers a client numbers as it likes (exact in a double). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

export class ClientProtocolError extends Error {
  readonly code = 'ERR_CLIENT_PROTOCOL';
  /** The close code the connection closes with. */
  readonly closeCode: ClientCloseCode;
  constructor(closeCode: ClientCloseCode, why: string) {
    super(why);
    this.name = 'ClientProtocolError';
    this.closeCode = closeCode;
  }
}

/**
 * A well-formed `send` or `ask` whose message is not data (it holds NaN or ±Infinity): the
 * gateway answers request `id` with `error` `bad-message`; the connection stays open.
 */
export class BadMessageError extends Error {
  readonly code = 'ERR_BAD_MESSAGE';
  readonly id: number;
  readonly errorCode: ErrorCode = 'bad-message';
  constructor(id: number, why: string) {
    super(why);
    this.name = 'BadMessageError';
    this.id = id;
  }
}

const CODEC_OPTIONS = {
  mapsAsObjects: true,
  structuredClone: false,
  int64AsType: 'number',
  useRecords: false,
  moreTypes: false,
} as const;

const packr = new Packr(CODEC_OPTIONS);
const unpackr = new Unpackr(CODEC_OPTIONS);

/** One frame as bytes. */
export function encodeFrame(frame: ClientFrame | ServerFrame): Uint8Array {
  return packr.pack(frame);
}

const FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  '__proto_',
  'constructor',
  'prototype',
]);

const PROTO_KEYS: ReadonlySet<string> = new Set(['__proto__', '__proto_']);

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** How msgpackr's error for a map key with no string form begins (msgpackr/unpack.js). */
const MSGPACKR_KEY_ERROR = 'Invalid property type for record';
const NON_SCALAR_KEY =
  'a map key that is a map, an array, binary or a timestamp (keys are strings, numbers, booleans or nil)';

function bad(why: string): ClientProtocolError {
  return new ClientProtocolError(CLIENT_CLOSE.badFrame, why);
}

/** Set by the walk when a value (the frame's `message`) held a number that is not finite. */
interface NonFinite {
  seen: boolean;
}

/**
 * The msgpack value in `bytes`, walked against `limits`; throws ClientProtocolError. With
 * `nonFinite`, a number that is not finite under the frame's `message` key is noted there
 * instead (the caller answers it once the frame's shape is known good).
 */
function unpackChecked(
  bytes: Uint8Array,
  limits: ClientDecodeLimits,
  forbidden: ReadonlySet<string> = FORBIDDEN_KEYS,
  nonFinite: NonFinite | null = null,
): Record<string, unknown> {
  if (bytes.byteLength > limits.maxFrameBytes)
    throw new ClientProtocolError(
      CLIENT_CLOSE.tooBig,
      `a frame of ${bytes.byteLength} bytes (at most ${limits.maxFrameBytes})`,
    );
  let value: unknown;
  try {
    // one value per frame: trailing bytes are refused
    const values = unpackr.unpackMultiple(bytes);
    if (values === undefined || values.length !== 1)
      throw new Error(`${values?.length ?? 0} values`);
    value = values[0];
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    // msgpackr turns a key into a string as it reads the map, and throws for a key that has
    // no string form (a map, an array, binary, a timestamp) with a message about its records
    if (why.startsWith(MSGPACKR_KEY_ERROR)) throw bad(NON_SCALAR_KEY);
    throw bad(`a frame that is not one msgpack value: ${why}`);
  }
  checkValue(value, limits, 0, forbidden, null, nonFinite);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad('a frame that is not a map');
  return value as Record<string, unknown>;
}

/**
 * Walks `v` at `depth` (the frame's map is depth 0 here, so a map or array at depth maxDepth
 * is refused). A number that is not finite is refused, or noted in `lenient` when given.
 * `messageOf`, given only for the frame's own map, is where its `message` is walked leniently.
 */
function checkValue(
  v: unknown,
  limits: ClientDecodeLimits,
  depth: number,
  forbidden: ReadonlySet<string>,
  lenient: NonFinite | null,
  messageOf: NonFinite | null = null,
): void {
  switch (typeof v) {
    case 'string':
      if (v.length > limits.maxStringLength) throw bad(`a string of ${v.length} characters`);
      return;
    case 'number':
      if (Number.isFinite(v)) return;
      if (lenient === null) throw bad('a number that is not finite');
      lenient.seen = true;
      return;
    case 'boolean':
      return;
    case 'object':
      break;
    default:
      throw bad(`a ${typeof v} in a frame`);
  }
  if (v === null) return;
  if (depth >= limits.maxDepth) throw bad(`nested deeper than ${limits.maxDepth}`);
  if (Array.isArray(v)) {
    if (v.length > limits.maxArrayLength) throw bad(`an array of ${v.length} items`);
    for (let i = 0; i < v.length; i++) checkValue(v[i], limits, depth + 1, forbidden, lenient);
    return;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null)
    // binary data, dates (msgpack timestamps) and extension values are not in this protocol
    throw bad('a value that is not plain data (binary, a timestamp or an extension type)');
  let keys = 0;
  for (const k in v) {
    if (++keys > limits.maxKeys) throw bad(`a map of more than ${limits.maxKeys} keys`);
    // a key is a string like any other: the same cap (msgpackr decodes it before we see it)
    if (k.length > limits.maxStringLength) throw bad(`a map key of ${k.length} characters`);
    if (forbidden.has(k)) throw bad(`a "${k}" key`);
    checkValue(
      (v as Record<string, unknown>)[k],
      limits,
      depth + 1,
      forbidden,
      messageOf !== null && k === 'message' ? messageOf : lenient,
    );
  }
}

/**
 * A `uint` of §2 (ids, `timeoutMs`, versions): a number whose value is an integer 0…MAX_ID,
 * whatever msgpack format carried it. msgpack libraries differ in how they write a number
 * (msgpackr itself writes 2^32 and over as float 64; others write 1.0 as a float), and
 * msgpackr does not say which format it read: the value is what both ends can agree on.
 */
const isId = (x: unknown): x is number =>
  typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= MAX_ID;

/** Its length is the gateway's to judge (`bad-target`, runtime/gateway/targets.ts). */
const isTarget = (x: unknown): x is string => typeof x === 'string';

/** A short description of a value from a peer, that cannot throw (no toString of its own is called). */
function described(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : typeof v;
}

/**
 * Refuses a field of `m` not in `keys`: `m` is the frame of `op`, or its map `part` (`since`,
 * `trace`).
 */
function only(m: Record<string, unknown>, keys: readonly string[], op: unknown, part = ''): void {
  for (const k in m)
    if (!keys.includes(k))
      throw bad(
        `a ${described(op)} frame${part && `'s ${part}`} with an unknown field ${described(k)}`,
      );
}

function checkTrace(op: string, t: unknown): void {
  if (t === undefined) return;
  if (typeof t !== 'object' || t === null || Array.isArray(t))
    throw bad(`a ${op} frame whose trace is not a map`);
  const c = t as Record<string, unknown>;
  only(c, ['traceparent', 'tracestate'], op, 'trace');
  if (typeof c.traceparent !== 'string' || !TRACEPARENT.test(c.traceparent))
    throw bad(`a ${op} frame with a bad traceparent`);
  if (
    c.tracestate !== undefined &&
    (typeof c.tracestate !== 'string' || c.tracestate.length > MAX_TRACESTATE_LENGTH)
  )
    throw bad(`a ${op} frame with a bad tracestate`);
}

/**
 * A client's frame, checked (the gateway's side). Throws ClientProtocolError (the connection
 * closes with its code) or, for a well-formed `send` or `ask` whose message holds a number that
 * is not finite, BadMessageError (that request is answered).
 */
export function decodeClientFrame(
  bytes: Uint8Array,
  limits: ClientDecodeLimits = DEFAULT_CLIENT_DECODE_LIMITS,
): ClientFrame {
  const nonFinite: NonFinite = { seen: false };
  const f = unpackChecked(bytes, limits, FORBIDDEN_KEYS, nonFinite);
  const op = f.op;
  if (!isId(f.id)) throw bad(`a frame without a valid id (op ${described(op)})`);
  switch (op) {
    case 'subscribe': {
      only(f, ['op', 'id', 'kind', 'target', 'since'], op);
      if (f.kind !== 'snapshot' && f.kind !== 'events' && f.kind !== 'topic')
        throw bad('a subscribe frame with an unknown kind');
      if (!isTarget(f.target)) throw bad('a subscribe frame with a bad target');
      if (f.since !== undefined) {
        const s = f.since as Record<string, unknown> | null;
        if (
          f.kind !== 'snapshot' ||
          typeof s !== 'object' ||
          s === null ||
          Array.isArray(s) ||
          typeof s.epoch !== 'string' ||
          s.epoch.length > 64 ||
          !isId(s.version)
        )
          throw bad('a subscribe frame with a bad since');
        only(s, ['epoch', 'version'], op, 'since');
      }
      break;
    }
    case 'unsubscribe':
    case 'ping':
      only(f, ['op', 'id'], op);
      break;
    case 'send':
      only(f, ['op', 'id', 'target', 'message', 'trace'], op);
      if (!isTarget(f.target)) throw bad('a send frame with a bad target');
      if (!('message' in f)) throw bad('a send frame without a message');
      checkTrace(op, f.trace);
      break;
    case 'ask':
      only(f, ['op', 'id', 'target', 'message', 'timeoutMs', 'trace'], op);
      if (!isTarget(f.target)) throw bad('an ask frame with a bad target');
      if (!('message' in f)) throw bad('an ask frame without a message');
      if (f.timeoutMs !== undefined && !(isId(f.timeoutMs) && f.timeoutMs > 0))
        throw bad('an ask frame with a bad timeoutMs');
      checkTrace(op, f.trace);
      break;
    default:
      throw bad(`an unknown op ${described(op)}`);
  }
  if (nonFinite.seen)
    throw new BadMessageError(
      f.id,
      `a ${op} whose message holds a number that is not finite (NaN or ±Infinity): data has finite numbers only`,
    );
  return f as unknown as ClientFrame;
}

/** Server frames are bigger (snapshots): the client's caps. */
export const DEFAULT_SERVER_DECODE_LIMITS: ClientDecodeLimits = Object.freeze({
  maxFrameBytes: 16 * 1024 * 1024,
  maxDepth: 128,
  maxArrayLength: 1_000_000,
  maxStringLength: 16 * 1024 * 1024,
  maxKeys: 100_000,
});

/** A gateway's frame, checked (the client's side). Throws ClientProtocolError. */
export function decodeServerFrame(
  bytes: Uint8Array,
  limits: ClientDecodeLimits = DEFAULT_SERVER_DECODE_LIMITS,
): ServerFrame {
  // an app's data may have keys named `constructor` or `prototype`; only `__proto__` is refused
  const f = unpackChecked(bytes, limits, PROTO_KEYS);
  const op = f.op;
  const ok = ((): boolean => {
    switch (op) {
      case 'welcome':
        return (
          typeof f.protocol === 'number' &&
          typeof f.session === 'string' &&
          typeof f.node === 'string' &&
          typeof f.limits === 'object' &&
          f.limits !== null
        );
      case 'ok':
      case 'pong':
        return isId(f.id);
      case 'state':
        return isId(f.id) && typeof f.epoch === 'string' && isId(f.version) && 'snapshot' in f;
      case 'patch':
        return (
          isId(f.id) &&
          typeof f.epoch === 'string' &&
          isId(f.base) &&
          isId(f.version) &&
          Array.isArray(f.patch)
        );
      case 'event':
        return isId(f.id) && 'event' in f;
      case 'ended':
        return (
          isId(f.id) &&
          typeof f.reason === 'string' &&
          (f.error === undefined ||
            (typeof f.error === 'object' &&
              f.error !== null &&
              typeof (f.error as EndedError).name === 'string' &&
              typeof (f.error as EndedError).message === 'string'))
        );
      case 'reply':
        return isId(f.id) && 'value' in f;
      case 'error':
        return isId(f.id) && typeof f.code === 'string' && typeof f.message === 'string';
      default:
        return false;
    }
  })();
  if (!ok) throw bad(`a server frame that is not of protocol ${CLIENT_PROTOCOL_VERSION}`);
  return f as unknown as ServerFrame;
}

// ---- the token in a subprotocol -------------------------------------------------------------

/** `troupe.auth.<base64url of the token's UTF-8>`: a valid subprotocol for any token. */
export function authSubprotocol(token: string): string {
  const bytes = new TextEncoder().encode(token);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return (
    AUTH_SUBPROTOCOL_PREFIX + btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  );
}

/** The token an auth subprotocol carries, or null for a malformed one. */
export function tokenOfSubprotocol(protocol: string): string | null {
  if (!protocol.startsWith(AUTH_SUBPROTOCOL_PREFIX)) return null;
  const b64 = protocol.slice(AUTH_SUBPROTOCOL_PREFIX.length);
  if (b64.length === 0 || !/^[A-Za-z0-9_-]+$/.test(b64)) return null;
  try {
    const bin = atob(b64.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

// ---- what a client sends --------------------------------------------------------------------

/** A request the SDK refuses to send (it would close the connection): the field and why. */
export class InvalidRequestError extends TypeError {
  readonly code = 'invalid-request';
  constructor(what: string) {
    super(what);
    this.name = 'InvalidRequestError';
  }
}

/** Checks a target as the gateway will; throws InvalidRequestError. */
export function checkTarget(target: unknown): asserts target is string {
  if (typeof target !== 'string' || target.length === 0 || target.length > MAX_TARGET_LENGTH)
    throw new InvalidRequestError(`a target must be 1 to ${MAX_TARGET_LENGTH} characters`);
}

/**
 * A value in data form, for a message: dates become `{ $date }`, `undefined` properties are
 * left out (and an `undefined` value is nil); what has no data form (functions, symbols,
 * bigints, non-finite numbers, class instances, cycles) throws InvalidRequestError naming where.
 */
export function toData(value: unknown, at = '$', depth = 0, seen = new Set<object>()): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidRequestError(`${at} is not a finite number`);
      return value;
    case 'undefined':
      return null;
    case 'object':
      break;
    default:
      throw new InvalidRequestError(`${at} is a ${typeof value}, which has no data form`);
  }
  if (value === null) return null;
  // a message is at depth 2 of its frame, and the gateway refuses a map or array (a date's
  // `{ $date }` included) deeper than maxDepth: maxDepth − 1 levels, the message's own included
  if (depth >= DEFAULT_CLIENT_DECODE_LIMITS.maxDepth - 1)
    throw new InvalidRequestError(`${at} is nested too deep`);
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new InvalidRequestError(`${at} is an invalid date`);
    return { $date: value.toISOString() };
  }
  if (seen.has(value)) throw new InvalidRequestError(`${at} is a cycle`);
  seen.add(value);
  let out: unknown;
  if (Array.isArray(value)) out = value.map((v, i) => toData(v, `${at}[${i}]`, depth + 1, seen));
  else {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null)
      throw new InvalidRequestError(`${at} is not plain data (a class instance)`);
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      if (v !== undefined) o[k] = toData(v, `${at}.${k}`, depth + 1, seen);
    out = o;
  }
  seen.delete(value);
  return out;
}
