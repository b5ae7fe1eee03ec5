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
 *   [v, 'ready']                                the listener accepts: batches may flow
 *   [v, 'batch',   entry, entry, …]             messages in send order (below)
 *   [v, 'ping',    t] / [v, 'pong', t]          heartbeats (t: the pinger's clock, echoed)
 *   [v, 'bye',     reason]                      a graceful end
 *
 * A batch carries the fields of the boundary envelope (protocol/envelope.ts) in a flat form,
 * each entry one after the other in the frame's array, in the layout the shard link uses too
 * (protocol/entries.ts):
 *
 *   flags, to, [from], [replyTo, corr], [trace], [principal], body
 *
 * - flags: bits 0–1 the kind (0 user, 1 system, 2 reply: an ask's failure), then which
 *   optional fields follow: 4 from, 8 replyTo and corr, 16 trace, 64 principal; 32 says the
 *   body is in the form of runtime/core/refcodec.ts (`{ $ref }`, `{ $error }`, …: what msgpack
 *   alone cannot carry);
 * - to, from, replyTo are addresses (protocol/address.ts), numbered per connection: the first
 *   time an address is sent it goes as its string and the reader gives it the next number
 *   (0, 1, 2… in the order first seen), after that as that number; an address the writer
 *   does not number (one used once, as an ask's reply address; or any new one past
 *   INTERNED_ADDRESSES numbered) goes as `[address]` each time;
 * - corr: an integer; trace: W3C trace context headers (string values);
 * - principal: who the message acts for (runtime/core/principal.ts), a map with a string `id`; the
 *   reading node stamps it again (a peer that proved the secret is trusted with it);
 * - body: msgpack, with a ref anywhere inside it as extension 0x54 holding its address, or
 *   `[address, uid]` for a ref bound to one spawn of the actor (runtime/core/ref.ts: a ref to an
 *   actor that stopped never reaches a new actor at its path); a reader takes either form,
 *   and a bare address (what troupe wrote before spawn uids) revives unbound
 *   (runtime/core/wire-ref.ts). In the refcodec form the bound ref is `{ $ref, $uid }`.
 *
 * Batches use msgpack records (after the handshake only); each frame carries the definitions
 * of the records it uses, so a frame is read without any earlier one, except for the address
 * numbering, which runs over the whole connection.
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
 * then the frame is checked against its kind's shape. A batch is checked entry by entry as it
 * is read (readBatch): the flags, each address (parsed the first time), corr, trace, and each
 * body walked as above. Any refusal is a LinkProtocolError with the close code the link closes
 * with (4000–4999) and a reason to log: the whole link, as the numbering of addresses cannot
 * be trusted after a bad frame.
 *
 * Over 600 lines: the whole wire of a node link: control frames, the handshake's proofs,
 * batches and the checks of what a peer sends (the entry layout itself is protocol/entries.ts).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Packr, Unpackr } from 'msgpackr';
// the build without `new Function`: record definitions from a peer are not compiled
import { Unpackr as SafeUnpackr } from 'msgpackr/unpack-no-eval';
import { TroupeError } from './error.ts';
import { parseAddress, type Address } from './address.ts';
import type { EnvelopeKind, WirePrincipal } from './envelope.ts';
import { unpackWithRefs } from './wire-ref.ts';
import {
  ENTRY_KINDS,
  FLAGS_KNOWN,
  HAS_FROM,
  HAS_PRINCIPAL,
  HAS_REPLY_TO,
  HAS_TRACE,
  KIND_MASK,
  ENCODED,
  kindCode,
  pushEntry,
  pushTell,
  readEntries,
  type EachEntry,
} from './entries.ts';

/** 2: batches of flat entries with numbered addresses (1 carried envelope objects). */
export const NODE_PROTOCOL_VERSION = 2;
type V = typeof NODE_PROTOCOL_VERSION;

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
  /** The node failed handling a frame (its log says why): a bug of its own, not the peer's. */
  internal: 4010,
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
  | readonly [V, 'hello', string, string]
  | readonly [V, 'welcome', string, string, string]
  | readonly [V, 'proof', string]
  | readonly [V, 'ready']
  | BatchFrame
  | readonly [V, 'ping', number]
  | readonly [V, 'pong', number]
  | readonly [V, 'bye', string];

/** A batch as decoded: its entries are checked as readBatch reads them. */
export type BatchFrame = readonly [V, 'batch', ...unknown[]];

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

/** A node id as a link carries it: what protocol/address.ts accepts. */
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
 * One link's codec for its frames: control frames are packed without records; batches are
 * packed by the link's BatchWriter. Frames are read without records until `trust()` (after
 * the handshake), then with records, by one Unpackr per link (made anew for each connection).
 */
export class LinkCodec {
  readonly limits: DecodeLimits;
  readonly #packr = new Packr(CODEC_OPTIONS);
  #unpackr: Unpackr = new SafeUnpackr(CODEC_OPTIONS);
  #trusted = false;
  /** Revives a ref found in a batch (after trust). */
  #revive: (address: Address) => unknown = refusedRef;

  constructor(limits: DecodeLimits = DEFAULT_DECODE_LIMITS) {
    this.limits = limits;
  }

  get trusted(): boolean {
    return this.#trusted;
  }

  /**
   * The peer proved the secret: batches (with records, and refs revived by `revive`) may be
   * read. Each side calls it at the same point of the handshake (after sending, resp. reading,
   * `ready`).
   */
  trust(revive: (address: Address) => unknown): void {
    if (this.#trusted) return;
    this.#trusted = true;
    this.#revive = (a) => revive(checkedAddress(a));
    // the peer proved the secret: msgpackr may compile its record definitions (its fast path)
    this.#unpackr = new Unpackr({ ...CODEC_OPTIONS, useRecords: true });
  }

  encode(frame: Exclude<NodeFrame, BatchFrame>): Buffer {
    return this.#packr.pack(frame);
  }

  /**
   * The frame in `bytes`, checked; throws LinkProtocolError with the close code. A batch is
   * returned with its entries unread: readBatch checks them.
   */
  decode(bytes: Uint8Array): NodeFrame {
    if (bytes.byteLength > this.limits.maxFrameBytes)
      throw new LinkProtocolError(
        CLOSE.tooBig,
        `a frame of ${bytes.byteLength} bytes (at most ${this.limits.maxFrameBytes})`,
      );
    let value: unknown;
    try {
      value = this.#trusted
        ? unpackWithRefs(this.#unpackr, bytes, this.#revive)
        : this.#unpackr.unpack(bytes);
    } catch (e) {
      if (e instanceof LinkProtocolError) throw e;
      // msgpackr's message may quote what it read: kept short for the log
      const why = e instanceof Error ? e.message : String(e);
      throw new LinkProtocolError(
        CLOSE.badFrame,
        `a frame that is not msgpack: ${why.length > 200 ? `${why.slice(0, 200)}…` : why}`,
      );
    }
    if (
      this.#trusted &&
      Array.isArray(value) &&
      value[1] === 'batch' &&
      value[0] === NODE_PROTOCOL_VERSION
    ) {
      if (value.length > this.limits.maxArrayLength)
        throw new LinkProtocolError(CLOSE.badFrame, `a batch of ${value.length} items`);
      return value as unknown as BatchFrame;
    }
    checkValue(value, this.limits, 0, null);
    return checkFrame(value);
  }
}

const refusedRef = (): never => {
  throw new LinkProtocolError(CLOSE.badFrame, 'a ref before the handshake');
};

function checkedAddress(a: unknown): Address {
  try {
    parseAddress(a);
  } catch (e) {
    throw new LinkProtocolError(CLOSE.badFrame, `a bad address: ${(e as Error).message}`);
  }
  return a as Address;
}

// ---- batches ------------------------------------------------------------------------------

export type { WirePrincipal } from './envelope.ts';
export {
  ENCODED,
  KIND_REPLY,
  KIND_SYSTEM,
  KIND_USER,
  kindCode,
  type EachEntry,
} from './entries.ts';

/** Addresses a connection numbers; more go as `[address]` each time. */
export const INTERNED_ADDRESSES = 65_536;
/** Array items one entry takes at most (flags, to, from, replyTo, corr, trace, principal, body). */
export const ENTRY_ITEMS_MAX = 8;

/** An entry of a batch, as given to the writer (or read back from a frame not sent). */
export interface BatchEntry {
  readonly kind: EnvelopeKind;
  readonly to: Address;
  readonly from: Address | undefined;
  readonly replyTo: Address | undefined;
  readonly corr: number;
  readonly trace: Readonly<Record<string, string>> | undefined;
  readonly principal: WirePrincipal | undefined;
  /** As it goes on the wire: as given, or in the ref codec's form when `encoded`. */
  readonly body: unknown;
  readonly encoded: boolean;
}

/** A frame that could not go, with the entries in it. */
export interface Unsent {
  readonly entries: readonly BatchEntry[];
  readonly why: string;
}

/**
 * The writing half of a connection's batches: entries are added as messages are sent, and
 * `take` packs what waits into frames under the frame cap (one per call, split as needed).
 * One per connection: the numbering of addresses starts again with it.
 */
export class BatchWriter {
  readonly #packr = new Packr({ ...CODEC_OPTIONS, useRecords: true });
  readonly #maxFrameBytes: number;
  readonly #numbered: (address: string) => boolean;
  readonly #ids = new Map<string, number>();
  readonly #names: string[] = [];
  /** The numbering of the frame being filled starts here (undone if it is not sent). */
  #idsAtFrame = 0;
  #values: unknown[] = [NODE_PROTOCOL_VERSION, 'batch'];
  #count = 0;

  /** `numbered` says which addresses to number (not those used once, as ask replies'). */
  constructor(maxFrameBytes: number, numbered: (address: string) => boolean = () => true) {
    this.#maxFrameBytes = maxFrameBytes;
    this.#numbered = numbered;
  }

  /** Entries waiting for the next frame. */
  get count(): number {
    return this.#count;
  }

  readonly #addressOf = (a: string): unknown => this.#address(a);

  #address(a: string): unknown {
    const id = this.#ids.get(a);
    if (id !== undefined) return id;
    if (this.#names.length >= INTERNED_ADDRESSES || !this.#numbered(a)) return [a];
    this.#ids.set(a, this.#names.length);
    this.#names.push(a);
    return a;
  }

  /** Adds an entry; returns the entries now waiting. */
  push(
    kind: number,
    to: Address,
    from: Address | undefined,
    replyTo: Address | undefined,
    corr: number,
    trace: Readonly<Record<string, string>> | undefined,
    principal: WirePrincipal | undefined,
    body: unknown,
    encoded: boolean,
  ): number {
    pushEntry(
      this.#values,
      this.#addressOf,
      kind,
      to,
      from,
      replyTo,
      corr,
      trace,
      principal,
      body,
      encoded,
    );
    return ++this.#count;
  }

  /** A user message as it is, from an actor (or nobody): the common case. */
  pushTell(to: Address, from: Address | undefined, body: unknown): number {
    pushTell(this.#values, this.#addressOf, to, from, body);
    return ++this.#count;
  }

  /**
   * Packs what waits into frames, in order, each under the frame cap. Bodies are checked when
   * they are sent but packed here: one changed meanwhile may no longer pack. A frame that does
   * not pack, or packs over the cap, is made again in halves; an entry that alone does not
   * pack or fit goes to `unsent` with the reason. `counts` gets each frame's entry count.
   */
  take(frames: Uint8Array[], counts: number[], unsent: Unsent[]): void {
    if (this.#count === 0) return;
    const values = this.#values;
    const count = this.#count;
    this.#values = [NODE_PROTOCOL_VERSION, 'batch'];
    this.#count = 0;
    const bytes = this.#pack(values);
    if (typeof bytes !== 'string') {
      this.#idsAtFrame = this.#names.length;
      frames.push(bytes);
      counts.push(count);
      return;
    }
    const entries = this.#entries(values);
    this.#undoNumbering();
    this.#halves(entries, frames, counts, unsent);
  }

  /** The frame, or why it cannot go. */
  #pack(values: unknown[]): Uint8Array | string {
    let bytes: Uint8Array;
    try {
      bytes = this.#packr.pack(values);
    } catch (e) {
      return `it does not pack: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (bytes.byteLength > this.#maxFrameBytes)
      return `an entry of ${bytes.byteLength} bytes (the frame cap is ${this.#maxFrameBytes})`;
    return bytes;
  }

  #halves(entries: BatchEntry[], frames: Uint8Array[], counts: number[], unsent: Unsent[]): void {
    for (const e of entries)
      this.push(
        kindCode(e.kind),
        e.to,
        e.from,
        e.replyTo,
        e.corr,
        e.trace,
        e.principal,
        e.body,
        e.encoded,
      );
    const values = this.#values;
    this.#values = [NODE_PROTOCOL_VERSION, 'batch'];
    this.#count = 0;
    const bytes = this.#pack(values);
    if (typeof bytes !== 'string') {
      this.#idsAtFrame = this.#names.length;
      frames.push(bytes);
      counts.push(entries.length);
      return;
    }
    this.#undoNumbering();
    if (entries.length === 1) {
      unsent.push({ entries, why: bytes });
      return;
    }
    const half = entries.length >> 1;
    this.#halves(entries.slice(0, half), frames, counts, unsent);
    this.#halves(entries.slice(half), frames, counts, unsent);
  }

  #undoNumbering(): void {
    const names = this.#names;
    for (let id = this.#idsAtFrame; id < names.length; id++) this.#ids.delete(names[id]!);
    names.length = this.#idsAtFrame;
  }

  /** The entries of values not packed yet (numbers are this writer's). */
  #entries(values: unknown[]): BatchEntry[] {
    const out: BatchEntry[] = [];
    readOwn(values, this.#names, (kind, to, from, replyTo, corr, trace, principal, body, encoded) =>
      out.push({ kind, to, from, replyTo, corr, trace, principal, body, encoded }),
    );
    return out;
  }

  /** The entries waiting, taken out (the link closed before they went). */
  drain(): BatchEntry[] {
    const out = this.#entries(this.#values);
    this.#values = [NODE_PROTOCOL_VERSION, 'batch'];
    this.#count = 0;
    return out;
  }

  /**
   * The entries of frames this writer packed and that were not sent (the link closed while
   * they waited for the socket to drain), read back with `revive` for refs.
   */
  unpackUnsent(frames: readonly Uint8Array[], revive: (address: Address) => unknown): BatchEntry[] {
    const out: BatchEntry[] = [];
    const unpackr = new Unpackr({ ...CODEC_OPTIONS, useRecords: true });
    const names = this.#names;
    for (const f of frames)
      readOwn(
        unpackWithRefs(unpackr, f, revive) as unknown[],
        names,
        (kind, to, from, replyTo, corr, trace, principal, body, encoded) =>
          out.push({ kind, to, from, replyTo, corr, trace, principal, body, encoded }),
      );
    return out;
  }
}

/** The entries of a batch this side wrote (trusted: no checks), addresses by `names`. */
function readOwn(v: readonly unknown[], names: readonly string[], each: EachEntry): void {
  readEntries(
    v,
    2,
    (x) => (typeof x === 'number' ? names[x] : Array.isArray(x) ? x[0] : x) as Address,
    each,
  );
}

/**
 * The reading half of a connection's batches: the numbering of addresses, and the checks.
 * One per connection.
 */
export class BatchReader {
  readonly #names: string[] = [];
  readonly #limits: DecodeLimits;
  readonly #isRef: (v: object) => boolean;

  /** `isRef` tells a revived ref (allowed in bodies) from other class instances. */
  constructor(limits: DecodeLimits, isRef: (v: object) => boolean) {
    this.#limits = limits;
    this.#isRef = isRef;
  }

  #address(v: unknown): Address {
    if (typeof v === 'number') {
      const a = this.#names[v];
      if (a === undefined) throw new LinkProtocolError(CLOSE.badFrame, `address number ${v}`);
      return a as Address;
    }
    if (typeof v === 'string') {
      const a = checkedAddress(v);
      // the numbering stops where the writer's does: past it, none is numbered
      if (this.#names.length < INTERNED_ADDRESSES) this.#names.push(a);
      return a;
    }
    if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') return checkedAddress(v[0]);
    throw new LinkProtocolError(CLOSE.badFrame, 'a batch entry with a bad address');
  }

  /**
   * Reads a batch from the network, calling `each` per entry in order; throws
   * LinkProtocolError at the first thing wrong (entries before it have been given).
   */
  read(frame: BatchFrame, each: EachEntry): void {
    const v = frame as readonly unknown[];
    const limits = this.#limits;
    const isRef = this.#isRef;
    const bad = (what: string): LinkProtocolError =>
      new LinkProtocolError(CLOSE.badFrame, `a batch entry with ${what}`);
    let i = 2;
    while (i < v.length) {
      const flags = v[i++];
      if (typeof flags !== 'number' || (flags & ~FLAGS_KNOWN) !== 0 || (flags & KIND_MASK) > 2)
        throw bad('bad flags');
      const to = this.#address(v[i++]);
      const from = (flags & HAS_FROM) !== 0 ? this.#address(v[i++]) : undefined;
      let replyTo: Address | undefined;
      let corr = 0;
      if ((flags & HAS_REPLY_TO) !== 0) {
        replyTo = this.#address(v[i++]);
        const c = v[i++];
        if (typeof c !== 'number' || !Number.isSafeInteger(c)) throw bad('a bad corr');
        corr = c;
      }
      let trace: Record<string, string> | undefined;
      if ((flags & HAS_TRACE) !== 0) {
        const t = v[i++];
        checkValue(t, limits, 1, null);
        if (typeof t !== 'object' || t === null || Array.isArray(t)) throw bad('a bad trace');
        for (const k in t)
          if (typeof (t as Record<string, unknown>)[k] !== 'string') throw bad('a bad trace');
        trace = t as Record<string, string>;
      }
      let principal: WirePrincipal | undefined;
      if ((flags & HAS_PRINCIPAL) !== 0) {
        const p = v[i++];
        checkValue(p, limits, 1, null);
        if (
          typeof p !== 'object' ||
          p === null ||
          Array.isArray(p) ||
          typeof (p as { id?: unknown }).id !== 'string'
        )
          throw bad('a bad principal');
        principal = p as WirePrincipal;
      }
      if (i >= v.length) throw bad('no body');
      const body = v[i++];
      checkValue(body, limits, 1, isRef);
      each(
        ENTRY_KINDS[flags & KIND_MASK]!,
        to,
        from,
        replyTo,
        corr,
        trace,
        principal,
        body,
        (flags & ENCODED) !== 0,
      );
    }
  }
}

/**
 * Walks a decoded value, refusing what is over the caps or a forbidden key. Plain objects,
 * arrays, strings, numbers, booleans, null, binary data and dates pass; another object only
 * when `isRef` says it is a revived ref.
 */
function checkValue(
  v: unknown,
  limits: DecodeLimits,
  depth: number,
  isRef: ((v: object) => boolean) | null,
): void {
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
    for (let i = 0; i < v.length; i++) checkValue(v[i], limits, depth + 1, isRef);
    return;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto === Object.prototype || proto === null) {
    let keys = 0;
    for (const k in v) {
      if (++keys > limits.maxKeys)
        throw new LinkProtocolError(
          CLOSE.badFrame,
          `an object of more than ${limits.maxKeys} keys`,
        );
      if (FORBIDDEN_KEYS.has(k)) throw new LinkProtocolError(CLOSE.badFrame, `a "${k}" key`);
      checkValue((v as Record<string, unknown>)[k], limits, depth + 1, isRef);
    }
    return;
  }
  if (v instanceof Uint8Array) {
    if (v.byteLength > limits.maxStringLength)
      throw new LinkProtocolError(CLOSE.badFrame, `binary data of ${v.byteLength} bytes`);
    return;
  }
  if (v instanceof Date || (isRef !== null && isRef(v))) return;
  throw new LinkProtocolError(CLOSE.badFrame, 'an object that is not plain data');
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
      // a trusted link's batches are read by BatchReader: here it is one before the handshake
      throw new LinkProtocolError(CLOSE.unexpected, 'a batch frame before the handshake');
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
