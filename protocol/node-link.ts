/**
 * The node-link protocol: the frames two troupe nodes exchange over one WebSocket, and how a
 * frame is decoded when it comes from the network (never trusted).
 *
 * Every frame is one binary WebSocket message holding one msgpack value: an array whose
 * first two items are the protocol version and the frame's kind (a discriminated union):
 *
 *   [v, 'hello',   node, nonce]                 the dialling node: who it is, a fresh nonce
 *   [v, 'welcome', node, nonce, proof]          the listening node: who it is, its nonce, and
 *                                               HMAC(secret, 'troupe-link/server' ‖ its node ‖
 *                                               the dialler's nonce ‖ its nonce)
 *   [v, 'proof',   proof]                       the dialler: HMAC(secret, 'troupe-link/client'
 *                                               ‖ its node ‖ the listener's nonce ‖ its nonce)
 *   [v, 'ready']                                the listener accepts: envelopes may flow
 *   [v, 'batch',   envelopes]                   envelopes (runtime/envelope.ts) in send order
 *   [v, 'ping',    t] / [v, 'pong', t]          heartbeats (t: the pinger's clock, echoed)
 *   [v, 'bye',     reason]                      a graceful end
 *
 * The secret never crosses: each side proves it knows it by an HMAC-SHA256 over the other's
 * fresh nonce, compared in constant time. A node that fails the handshake gets close code
 * 4004 and learns nothing.
 *
 * Decoding (decodeFrame): the frame's byte length is capped first (the transport's
 * `maxPayload` too); msgpack is read with msgpackr's no-eval build, maps as plain objects,
 * no structured-clone extension, 64-bit integers as numbers, records off until the peer has
 * proved the secret (record definitions are code msgpackr compiles: only then does the link
 * switch to msgpackr's compiling build, for speed); then the value is
 * walked: nesting depth, array lengths, string lengths and key counts are capped, and the keys
 * `__proto__`, `constructor` and `prototype` (and msgpackr's renamed `__proto_`) are refused;
 * then the frame is checked against its kind's shape. Any refusal is a LinkProtocolError with
 * the close code the link closes with (4000–4999) and a reason to log.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Packr, Unpackr } from 'msgpackr';
// the build without `new Function`: record definitions from a peer are not compiled
import { Unpackr as SafeUnpackr } from 'msgpackr/unpack-no-eval';
import { TroupeError } from '../runtime/error.ts';
import type { Envelope } from '../runtime/envelope.ts';

export const NODE_PROTOCOL_VERSION = 1;

/** Close codes of a node link (WebSocket application range). */
export const CLOSE = {
  /** A frame that is not msgpack, or not of this protocol's shapes. */
  badFrame: 4000,
  /** A frame over the byte cap. */
  tooBig: 4001,
  /** Another protocol version. */
  version: 4002,
  /** A frame kind not known, or not allowed in the link's state. */
  unexpected: 4003,
  /** The handshake failed: a wrong proof (secret), a node not expected. */
  auth: 4004,
  /** The handshake took too long. */
  handshakeTimeout: 4005,
  /** Heartbeats missed. */
  heartbeat: 4006,
  /** The link's send buffer stayed over its cap. */
  backpressure: 4007,
  /** Another link to the same node replaced this one. */
  replaced: 4008,
  /** The node is shutting down. */
  shutdown: 4009,
} as const;

export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/** Caps on what a frame may hold (named; the link's options may lower them). */
export interface DecodeLimits {
  /** Bytes of one frame. */
  readonly maxFrameBytes: number;
  /** Nesting depth of the value. */
  readonly maxDepth: number;
  /** Items of one array (envelopes in a batch included). */
  readonly maxArrayLength: number;
  /** Characters of one string. */
  readonly maxStringLength: number;
  /** Keys of one object. */
  readonly maxKeys: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxFrameBytes: 8 * 1024 * 1024,
  maxDepth: 64,
  maxArrayLength: 65_536,
  maxStringLength: 4 * 1024 * 1024,
  maxKeys: 4_096,
});

export class LinkProtocolError extends TroupeError {
  /** The close code the link closes with. */
  readonly closeCode: CloseCode;
  constructor(closeCode: CloseCode, why: string) {
    super('ERR_LINK_PROTOCOL', why);
    this.closeCode = closeCode;
  }
}

export type NodeFrame =
  | readonly [1, 'hello', string, string]
  | readonly [1, 'welcome', string, string, string]
  | readonly [1, 'proof', string]
  | readonly [1, 'ready']
  | readonly [1, 'batch', readonly Envelope[]]
  | readonly [1, 'ping', number]
  | readonly [1, 'pong', number]
  | readonly [1, 'bye', string];

export type NodeFrameKind = NodeFrame[1];

const KINDS: ReadonlySet<string> = new Set([
  'hello',
  'welcome',
  'proof',
  'ready',
  'batch',
  'ping',
  'pong',
  'bye',
]);

const FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  '__proto_',
  'constructor',
  'prototype',
]);

/** A node id as a link carries it: what runtime/address.ts accepts. */
const NODE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const NONCE = /^[A-Za-z0-9_-]{22,86}$/;
const PROOF = /^[A-Za-z0-9_-]{43}$/;

/** The options both ends use: the same on each side (msgpackr's asymmetries, DEPENDENCIES.md). */
const CODEC_OPTIONS = {
  mapsAsObjects: true,
  structuredClone: false,
  int64AsType: 'number',
  useRecords: false,
} as const;

/**
 * One link's codec: frames are packed without records until `trust()` (after the handshake),
 * then with records for speed, one Packr/Unpackr pair per link (made anew for each
 * connection). Each frame carries its own record definitions (no `sequential` state shared
 * between frames): a frame packed and then not sent (split for size) leaves nothing behind.
 */
export class LinkCodec {
  readonly limits: DecodeLimits;
  #packr = new Packr(CODEC_OPTIONS);
  #unpackr: Unpackr = new SafeUnpackr(CODEC_OPTIONS);
  #trusted = false;

  constructor(limits: DecodeLimits = DEFAULT_DECODE_LIMITS) {
    this.limits = limits;
  }

  get trusted(): boolean {
    return this.#trusted;
  }

  /**
   * The peer proved the secret: records on, both ways. Each side calls it at the same point
   * of the handshake (after sending, resp. reading, `ready`).
   */
  trust(): void {
    if (this.#trusted) return;
    this.#trusted = true;
    this.#packr = new Packr({ ...CODEC_OPTIONS, useRecords: true });
    // the peer proved the secret: msgpackr may compile its record definitions (its fast path)
    this.#unpackr = new Unpackr({ ...CODEC_OPTIONS, useRecords: true });
  }

  encode(frame: NodeFrame): Buffer {
    return this.#packr.pack(frame);
  }

  /** The frame in `bytes`, checked; throws LinkProtocolError with the close code. */
  decode(bytes: Uint8Array): NodeFrame {
    if (bytes.byteLength > this.limits.maxFrameBytes)
      throw new LinkProtocolError(
        CLOSE.tooBig,
        `a frame of ${bytes.byteLength} bytes (at most ${this.limits.maxFrameBytes})`,
      );
    let value: unknown;
    try {
      value = this.#unpackr.unpack(bytes);
    } catch (e) {
      throw new LinkProtocolError(
        CLOSE.badFrame,
        `a frame that is not msgpack: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    checkValue(value, this.limits, 0);
    return checkFrame(value);
  }
}

/** Walks a decoded value, refusing what is over the caps or a forbidden key. */
function checkValue(v: unknown, limits: DecodeLimits, depth: number): void {
  if (typeof v === 'string') {
    if (v.length > limits.maxStringLength)
      throw new LinkProtocolError(CLOSE.badFrame, `a string of ${v.length} characters`);
    return;
  }
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'bigint' || typeof v === 'function' || typeof v === 'symbol')
      throw new LinkProtocolError(CLOSE.badFrame, `a ${typeof v} in a frame`);
    return;
  }
  if (depth >= limits.maxDepth)
    throw new LinkProtocolError(CLOSE.badFrame, `nested deeper than ${limits.maxDepth}`);
  if (Array.isArray(v)) {
    if (v.length > limits.maxArrayLength)
      throw new LinkProtocolError(CLOSE.badFrame, `an array of ${v.length} items`);
    for (const x of v) checkValue(x, limits, depth + 1);
    return;
  }
  if (v instanceof Uint8Array) {
    if (v.byteLength > limits.maxStringLength)
      throw new LinkProtocolError(CLOSE.badFrame, `binary data of ${v.byteLength} bytes`);
    return;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null)
    throw new LinkProtocolError(CLOSE.badFrame, 'an object that is not plain data');
  const keys = Object.keys(v);
  if (keys.length > limits.maxKeys)
    throw new LinkProtocolError(CLOSE.badFrame, `an object of ${keys.length} keys`);
  for (const k of keys) {
    if (FORBIDDEN_KEYS.has(k)) throw new LinkProtocolError(CLOSE.badFrame, `a "${k}" key`);
    checkValue((v as Record<string, unknown>)[k], limits, depth + 1);
  }
}

function checkFrame(v: unknown): NodeFrame {
  if (!Array.isArray(v) || v.length < 2)
    throw new LinkProtocolError(CLOSE.badFrame, 'a frame that is not [version, kind, …]');
  if (v[0] !== NODE_PROTOCOL_VERSION)
    throw new LinkProtocolError(
      CLOSE.version,
      `protocol version ${String(v[0])} (this node speaks ${NODE_PROTOCOL_VERSION})`,
    );
  const kind = v[1];
  if (typeof kind !== 'string' || !KINDS.has(kind))
    throw new LinkProtocolError(CLOSE.unexpected, `an unknown frame kind ${String(kind)}`);
  const bad = (what: string) =>
    new LinkProtocolError(CLOSE.badFrame, `a ${kind} frame with ${what}`);
  switch (kind) {
    case 'hello':
      if (v.length !== 4 || !isNode(v[2]) || !isNonce(v[3])) throw bad('bad fields');
      break;
    case 'welcome':
      if (v.length !== 5 || !isNode(v[2]) || !isNonce(v[3]) || !isProof(v[4]))
        throw bad('bad fields');
      break;
    case 'proof':
      if (v.length !== 3 || !isProof(v[2])) throw bad('bad fields');
      break;
    case 'ready':
      if (v.length !== 2) throw bad('extra fields');
      break;
    case 'batch':
      if (v.length !== 3 || !Array.isArray(v[2])) throw bad('no envelope list');
      for (const e of v[2] as unknown[])
        if (typeof e !== 'object' || e === null || Array.isArray(e)) throw bad('a non-envelope');
      break;
    case 'ping':
    case 'pong':
      if (v.length !== 3 || typeof v[2] !== 'number' || !Number.isFinite(v[2]))
        throw bad('a bad time');
      break;
    case 'bye':
      if (v.length !== 3 || typeof v[2] !== 'string' || v[2].length > 1024)
        throw bad('a bad reason');
      break;
  }
  return v as unknown as NodeFrame;
}

const isNode = (x: unknown): x is string => typeof x === 'string' && NODE_ID.test(x);
const isNonce = (x: unknown): x is string => typeof x === 'string' && NONCE.test(x);
const isProof = (x: unknown): x is string => typeof x === 'string' && PROOF.test(x);

// ---- the handshake's proofs ---------------------------------------------------------------

/** A fresh nonce (32 random bytes, base64url). */
export function nonce(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The proof of `role` (`server`: the listener, `client`: the dialler) that it knows `secret`:
 * HMAC-SHA256 over the role, its own node id, the other side's nonce and its own nonce.
 */
export function proofOf(
  secret: string | Uint8Array,
  role: 'server' | 'client',
  node: string,
  theirNonce: string,
  ourNonce: string,
): string {
  return createHmac('sha256', secret)
    .update(`troupe-link/${role}\u0000${node}\u0000${theirNonce}\u0000${ourNonce}`)
    .digest('base64url');
}

/** Compares a proof received with the one expected, in constant time. */
export function proofMatches(received: string, expected: string): boolean {
  const a = Buffer.from(received, 'base64url');
  const b = Buffer.from(expected, 'base64url');
  return a.length === b.length && timingSafeEqual(a, b);
}
