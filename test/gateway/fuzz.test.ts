/**
 * A fuzz test of the client gateway, bounded in time (about 8–10 s): dozens of raw sockets
 * throw junk at one node while a few well-behaved SDK clients use it.
 *
 * The fuzzers (principal alice, raw `ws` sockets offering troupe.v1) send random bytes, random
 * msgpack values (fast-check's `anything`, packed several ways), maps with wrong ops, ids,
 * fields and `__proto__`-like keys, extension types, timestamps, binary, deep nesting, text
 * frames, truncated or mutated copies of valid frames, frames over 64 KiB, hand-made WebSocket
 * frames that break the framing (RSV bits, bad opcodes, unmasked, too many fragments, bad close
 * codes, invalid UTF-8), floods, and valid frames (subscriptions, sends, asks). Every frame is
 * first judged by the protocol's own decoder (`decodeClientFrame`): the first frame it refuses on
 * a connection must be what closes that connection, with the code it names; a connection may also
 * be closed by a limit (4002–4007); nothing is served after the refused frame.
 *
 * Meanwhile well-behaved SDK clients (principal carol) follow a `board` actor's snapshots and
 * events, keep sending `inc` and asking `get`: none may see an error or leave state `open`, the
 * board counts exactly the incs they sent, and each reconstructed snapshot equals its state.
 *
 * FUZZ_SEED=<n> replays a run's generators (the interleaving of sockets still varies); FUZZ_MS
 * sets the fuzzing time.
 */
import { describe, it, expect } from 'vitest';
import type { Socket } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { fromReceive, type ActorRef, type Logger } from '../../index.ts';
import {
  BadMessageError,
  CLIENT_CLOSE,
  ClientProtocolError,
  ERROR_CODES,
  MAX_ID,
  SUBPROTOCOL,
  decodeClientFrame,
  decodeServerFrame,
  encodeFrame,
  type ClientFrame,
  type ServerFrame,
} from '../../protocol/client-protocol.ts';
import { connect, type TroupeClient } from '../../protocol/client/node.ts';
import { encodeValue } from '../../runtime/core/refcodec.ts';
import { board } from '../fixtures/gateway-behaviours.ts';
import { startGateway, type GatewayHarness } from '../support/gateway.ts';

const SEED =
  process.env.FUZZ_SEED !== undefined && process.env.FUZZ_SEED !== ''
    ? Number(process.env.FUZZ_SEED) >>> 0
    : (Math.random() * 2 ** 32) >>> 0;
const FUZZ_MS = Number(process.env.FUZZ_MS ?? 7_500);
const FUZZERS = 30;
const WELL_BEHAVED = 4;
const MAX_PER_PRINCIPAL = 64;
const REPLAY = `seed ${SEED} (replay: FUZZ_SEED=${SEED})`;

/** Close codes a fuzzing socket may see from the gateway. */
const DECODE_CODES: ReadonlySet<number> = new Set([1002, 1007, 1008, 1009, CLIENT_CLOSE.badFrame]);
const LIMIT_CODES: ReadonlySet<number> = new Set([4002, 4003, 4004, 4005, 4006, 4007]);
/** The application range 4000–4007 (4001 is no code of the protocol's: flagged on its own). */
const ALLOWED_CODES: ReadonlySet<number> = new Set([...DECODE_CODES, ...LIMIT_CODES, 4001]);

/**
 * What the node logs, at error level, for each message to an entity kind it does not define
 * (a fuzzer sends to `troupe:entity/kind/id`): expected, and not the gateway's.
 */
const ENTITY_NOISE = /^error: troupe: entity troupe:entity\/[^ ]*: its messages go to dead letters/;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- a seeded PRNG (mulberry32) ------------------------------------------------------------

class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
  /** One of the weighted entries. */
  weighted<T>(entries: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of entries) total += w;
    let x = this.next() * total;
    for (const [w, v] of entries) if ((x -= w) < 0) return v;
    return entries[entries.length - 1]![1];
  }
}

// ---- actors the fuzzers may touch (the board is only read by them) ---------------------------

interface SinkState {
  count: number;
  last: unknown;
}
/** The sink's state as it is now (the actor runs in this thread). */
let sinkState: SinkState = { count: 0, last: null };
/** Keeps whatever it is sent as its state; answers an ask with the message. */
const sink = fromReceive<SinkState, unknown, unknown>({ count: 0, last: null }, (s, msg, ctx) => {
  sinkState = { count: s.count + 1, last: msg };
  if (ctx.replyTo !== undefined) ctx.reply(msg);
  return sinkState;
});
/** Answers an ask with the message; its state never changes. */
const echo = fromReceive<null, unknown, unknown>(null, (s, msg, ctx) => {
  if (ctx.replyTo !== undefined) ctx.reply(msg);
  return s;
});
/** Never answers (asks to it time out). */
const mute = fromReceive<null, unknown, unknown>(null, (s) => s);

// ---- values and frames -----------------------------------------------------------------------

const PACKRS = [
  new Packr({ useRecords: false }),
  new Packr({ useRecords: false }),
  new Packr({ useRecords: false, moreTypes: true }),
  new Packr({ useRecords: false, structuredClone: true }),
  new Packr({ useRecords: false, bundleStrings: true }),
  new Packr({ useRecords: false, variableMapSize: true }),
  new Packr({ useRecords: true }),
];
const packr = PACKRS[0]!;

const KEYS = [
  'a',
  'b',
  'n',
  'type',
  'op',
  'id',
  '',
  '/',
  '~',
  '~0',
  '~1',
  'a/b',
  '0',
  '1',
  '-1',
  'length',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'toJSON',
  '$ref',
  '$date',
  '$error',
  '$esc',
  '__proto',
  'ключ',
  '🔑',
  ' ',
];
const STRINGS = [
  '',
  'x',
  'get',
  'inc',
  'troupe://local/user/board',
  '/user/sink',
  '$ref',
  '~1~0',
  '\u0000',
  '\ud800',
  'é',
  '🎭',
  '2026-12-03T00:00:00.000Z',
  'not a date',
];
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  63,
  64,
  127,
  128,
  255,
  256,
  65_535,
  65_536,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 32,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
  2 ** 53,
  0.5,
  -1.5,
  1e-300,
  1e300,
  Number.MIN_VALUE,
  Number.MAX_VALUE,
];

/** Random plain data, as the protocol carries it (what a valid message may hold). */
function data(r: Rng, depth: number): unknown {
  const k = r.int(0, depth <= 0 ? 5 : 9);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.chance(0.5) ? r.pick(NUMBERS) : r.int(-1000, 1000);
    case 3:
      return r.chance(0.3) ? r.next() * 1e6 - 5e5 : r.int(0, 100);
    case 4:
      return r.chance(0.5)
        ? r.pick(STRINGS)
        : String.fromCharCode(...Array.from({ length: r.int(0, 24) }, () => r.int(0, 0x2fff)));
    case 5: {
      // looks like one of the ref codec's tags
      const tag = r.pick(['$ref', '$date', '$error', '$esc']);
      return { [tag]: depth > 0 ? data(r, depth - 1) : r.pick(STRINGS) };
    }
    case 6:
    case 7:
      return Array.from({ length: r.int(0, 5) }, () => data(r, depth - 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(0, 5); i > 0; i--) o[r.pick(KEYS)] = data(r, depth - 1);
      return o;
    }
  }
}

/** `{ a: { a: … leaf } }`, `depth` maps deep. */
function nestedMaps(depth: number, leaf: unknown, key = 'a'): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = { [key]: v };
  return v;
}

const HOLE = '\u0001hole\u0001';
const HOLE_BYTES = Buffer.concat([Buffer.from([0xa0 | HOLE.length]), Buffer.from(HOLE)]);
/** `skeleton` packed, with the string HOLE in it replaced by the raw msgpack `raw`. */
function splice(skeleton: unknown, raw: Uint8Array): Buffer {
  const b = Buffer.from(packr.pack(skeleton));
  const i = b.indexOf(HOLE_BYTES);
  if (i < 0) return b;
  return Buffer.concat([b.subarray(0, i), raw, b.subarray(i + HOLE_BYTES.length)]);
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/**
 * Raw msgpack for a value msgpack can carry but the protocol refuses, or mangled headers;
 * `which` 9 and 10 are deep nesting.
 */
function rawValue(r: Rng, which = r.int(0, 13)): Buffer {
  const EXT_TYPES = [0x00, 0x42, 0x62, 0x65, 0x69, 0x70, 0x72, 0x73, 0x74, 0x78, 0xff, 0x01, 0x7f];
  switch (which) {
    case 0: {
      // fixext 1/2/4/8/16
      const size = r.pick([1, 2, 4, 8, 16]);
      const head = 0xd4 + [1, 2, 4, 8, 16].indexOf(size);
      return Buffer.concat([Buffer.from([head, r.pick(EXT_TYPES)]), r.bytes(size)]);
    }
    case 1: {
      // ext 8 with a random type, sometimes a length that lies
      const n = r.int(0, 40);
      const claimed = r.chance(0.2) ? r.int(0, 255) : n;
      return Buffer.concat([Buffer.from([0xc7, claimed, r.int(0, 255)]), r.bytes(n)]);
    }
    case 2: {
      // ext 16 / ext 32, lying lengths
      const n = r.int(0, 64);
      return r.chance(0.5)
        ? Buffer.concat([Buffer.from([0xc8, 0, n, r.int(0, 255)]), r.bytes(n)])
        : Buffer.concat([
            Buffer.from([0xc9]),
            u32(r.chance(0.5) ? n : 0xffffffff),
            Buffer.from([r.int(0, 255)]),
            r.bytes(n),
          ]);
    }
    case 3: {
      // timestamps: 32, 64 and 96 bits (nanoseconds out of range sometimes)
      const k = r.int(0, 2);
      if (k === 0) return Buffer.concat([Buffer.from([0xd6, 0xff]), r.bytes(4)]);
      if (k === 1) return Buffer.concat([Buffer.from([0xd7, 0xff]), r.bytes(8)]);
      return Buffer.concat([Buffer.from([0xc7, 12, 0xff]), r.bytes(12)]);
    }
    case 4: {
      // bin 8/16/32
      const n = r.int(0, 100);
      const k = r.int(0, 2);
      if (k === 0) return Buffer.concat([Buffer.from([0xc4, n]), r.bytes(n)]);
      if (k === 1) return Buffer.concat([Buffer.from([0xc5, 0, n]), r.bytes(n)]);
      return Buffer.concat([Buffer.from([0xc6]), u32(r.chance(0.3) ? 0x7fffffff : n), r.bytes(n)]);
    }
    case 5:
      // never used (0xc1), nil, float32, NaN and infinities as float64
      return r.pick([
        Buffer.from([0xc1]),
        Buffer.from([0xc0]),
        Buffer.from([0xca, 0x7f, 0xc0, 0x00, 0x00]),
        Buffer.from([0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]),
        Buffer.from([0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0]),
        Buffer.from([0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0]),
        Buffer.from([0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        Buffer.from([0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        Buffer.from([0xd3, 0x00, 0x20, 0, 0, 0, 0, 0, 0]),
      ]);
    case 6:
      // headers that claim more than there is
      return r.pick([
        Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0]),
        Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x61, 0xc0]),
        Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]),
        Buffer.from([0xdc, 0x10, 0x00, 0xc0]),
        Buffer.from([0xde, 0x00, 0x05, 0xa1, 0x61]),
        Buffer.from([0xd9, 0x20, 0x61]),
        Buffer.from([0x9f]),
        Buffer.from([0x8f]),
      ]);
    case 7:
      // strings that are not UTF-8
      return Buffer.concat([
        Buffer.from([0xa4]),
        r.pick([r.bytes(4), Buffer.from('c328a1ff', 'hex')]),
      ]);
    case 8: {
      // maps whose keys are not strings
      const key = r.pick([
        Buffer.from([0x01]),
        Buffer.from([0xc0]),
        Buffer.from([0xc3]),
        Buffer.from([0x90]),
        Buffer.from([0x81, 0xa1, 0x61, 0x01]),
        Buffer.from([0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]),
      ]);
      return Buffer.concat([Buffer.from([0x81]), key, Buffer.from([0x01])]);
    }
    case 9: {
      // deep nesting: arrays, around the limit and far past it
      const depth = r.pick([30, 31, 32, 33, 64, 1_000, 20_000, 60_000]);
      return Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]);
    }
    case 10: {
      // deep nesting: maps
      const depth = r.pick([30, 31, 32, 33, 100, 5_000]);
      const one = Buffer.from([0x81, 0xa1, 0x61]);
      return Buffer.concat([...Array.from({ length: depth }, () => one), Buffer.from([0x01])]);
    }
    case 11: {
      // a record definition (msgpackr's 0x72) and a use of it
      return Buffer.concat([
        Buffer.from([0xd4, 0x72, 0x40 + r.int(0, 63)]),
        Buffer.from(packr.pack(['op', 'id'])),
        Buffer.from(packr.pack('ping')),
        Buffer.from([r.int(0, 127)]),
      ]);
    }
    case 12: {
      // bundled strings (msgpackr's 0x62) with a lying size
      return Buffer.concat([Buffer.from([0xd6, 0x62]), u32(r.int(0, 2 ** 32 - 1)), r.bytes(8)]);
    }
    default:
      return r.bytes(r.int(1, 12));
  }
}

// ---- the decoder as the oracle ---------------------------------------------------------------

type Verdict =
  | { readonly kind: 'ok'; readonly frame: ClientFrame }
  /** A well-formed send or ask with NaN or ±Infinity in its message: answered `bad-message`. */
  | { readonly kind: 'answered'; readonly id: number }
  | { readonly kind: 'refused'; readonly code: number; readonly why: string }
  | { readonly kind: 'crash'; readonly why: string };

function judge(bytes: Uint8Array): Verdict {
  try {
    return { kind: 'ok', frame: decodeClientFrame(bytes) };
  } catch (e) {
    if (e instanceof BadMessageError) return { kind: 'answered', id: e.id };
    if (e instanceof ClientProtocolError)
      return { kind: 'refused', code: e.closeCode, why: e.message };
    return { kind: 'crash', why: `${(e as Error)?.name}: ${(e as Error)?.message}` };
  }
}

const isGet = (m: unknown): boolean => isDeepStrictEqual(m, { type: 'get' });
/** Fuzzers never change the board: the well-behaved clients' invariants depend on it. */
const harmless = (f: ClientFrame): boolean =>
  (f.op !== 'send' && f.op !== 'ask') ||
  !/board/i.test(f.target) ||
  (f.op === 'ask' && isGet(f.message));

// ---- hand-made WebSocket frames (client to server: masked) -----------------------------------

function wsFrame(
  r: Rng,
  opcode: number,
  payload: Uint8Array,
  o: { fin?: boolean; rsv?: number; mask?: boolean; claim?: bigint } = {},
): Buffer {
  const fin = o.fin ?? true;
  const mask = o.mask ?? true;
  const m = mask ? 0x80 : 0;
  const n = payload.length;
  const head = [(fin ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | (opcode & 0x0f)];
  let ext = Buffer.alloc(0);
  const claim = o.claim ?? BigInt(n);
  if (claim < 126n) head.push(m | Number(claim));
  else if (claim < 65_536n) {
    head.push(m | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(Number(claim));
  } else {
    head.push(m | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(claim);
  }
  const body = Buffer.from(payload);
  if (!mask) return Buffer.concat([Buffer.from(head), ext, body]);
  const key = r.bytes(4);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([Buffer.from(head), ext, key, body]);
}

/** A frame that breaks the framing, and the close code `ws` answers it with. */
function brokenWire(r: Rng, valid: Uint8Array): { name: string; bytes: Buffer; code: number } {
  const closeWith = (code: number, reason: Buffer = Buffer.alloc(0)): Buffer => {
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code);
    return wsFrame(r, 0x8, Buffer.concat([p, reason]));
  };
  switch (r.int(0, 13)) {
    case 0:
      return { name: 'rsv1', bytes: wsFrame(r, 0x2, valid, { rsv: 4 }), code: 1002 };
    case 1:
      return {
        name: 'rsv2/3',
        bytes: wsFrame(r, 0x2, valid, { rsv: r.pick([1, 2, 3]) }),
        code: 1002,
      };
    case 2:
      return {
        name: 'reserved opcode',
        bytes: wsFrame(r, r.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), valid),
        code: 1002,
      };
    case 3:
      return { name: 'unmasked', bytes: wsFrame(r, 0x2, valid, { mask: false }), code: 1002 };
    case 4:
      return { name: 'long ping', bytes: wsFrame(r, 0x9, r.bytes(r.int(126, 300))), code: 1002 };
    case 5:
      return {
        name: 'fragmented ping',
        bytes: wsFrame(r, 0x9, r.bytes(4), { fin: false }),
        code: 1002,
      };
    case 6:
      return { name: 'orphan continuation', bytes: wsFrame(r, 0x0, valid), code: 1002 };
    case 7:
      return {
        name: 'new message inside a fragmented one',
        bytes: Buffer.concat([
          wsFrame(r, 0x2, valid.subarray(0, 1), { fin: false }),
          wsFrame(r, 0x2, valid),
        ]),
        code: 1002,
      };
    case 8:
      return {
        name: 'text not UTF-8',
        bytes: wsFrame(
          r,
          0x1,
          r.pick([
            Buffer.from('ff', 'hex'),
            Buffer.from('c328a1', 'hex'),
            Buffer.from('eda080', 'hex'),
          ]),
        ),
        code: 1007,
      };
    case 9:
      return {
        name: 'bad close code',
        bytes: r.chance(0.2)
          ? wsFrame(r, 0x8, Buffer.from([0x03]))
          : closeWith(r.pick([0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65_535])),
        code: 1002,
      };
    case 10:
      return {
        name: 'close reason not UTF-8',
        bytes: closeWith(4000, Buffer.from('ff', 'hex')),
        code: 1007,
      };
    case 11: {
      const parts = [wsFrame(r, 0x2, r.bytes(1), { fin: false })];
      for (let i = 0; i < 70; i++) parts.push(wsFrame(r, 0x0, r.bytes(1), { fin: false }));
      return { name: 'too many fragments', bytes: Buffer.concat(parts), code: 1008 };
    }
    case 12: {
      const parts = [wsFrame(r, 0x2, r.bytes(2_000), { fin: false })];
      for (let i = 0; i < 40; i++) parts.push(wsFrame(r, 0x0, r.bytes(2_000), { fin: i === 39 }));
      return { name: 'fragments over the cap', bytes: Buffer.concat(parts), code: 1009 };
    }
    default:
      return {
        name: 'length over the cap',
        bytes: wsFrame(r, 0x2, r.bytes(8), { claim: r.pick([65_537n, 2n ** 40n, 2n ** 63n + 5n]) }),
        code: 1009,
      };
  }
}

/** `bytes` in fragments (pings between some), as one write. */
function fragmented(r: Rng, bytes: Uint8Array, parts: number): Buffer {
  const out: Buffer[] = [];
  const cut = [0];
  for (let i = 1; i < parts; i++) cut.push(Math.floor((bytes.length * i) / parts));
  cut.push(bytes.length);
  for (let i = 0; i < parts; i++) {
    out.push(
      wsFrame(r, i === 0 ? 0x2 : 0x0, bytes.subarray(cut[i], cut[i + 1]), { fin: i === parts - 1 }),
    );
    if (r.chance(0.3)) out.push(wsFrame(r, r.pick([0x9, 0xa]), r.bytes(r.int(0, 20))));
  }
  return Buffer.concat(out);
}

// ---- the fuzzing connections -----------------------------------------------------------------

interface FuzzConn {
  readonly serial: number;
  readonly ws: WebSocket;
  readonly closed: Promise<void>;
  opened: boolean;
  welcomed: boolean;
  closedWith: { code: number; reason: string } | null;
  /** The first frame that should close it (the decoder's verdict or the framing's). */
  fatal: { kind: string; code: number; why: string } | null;
  /** A limit it was made to cross (its close code then is the limit's). */
  limit: { kind: string; code: number } | null;
  /** Ids of frames sent after the fatal one: nothing may answer them. */
  readonly after: Set<number>;
  nextId: number;
  /** Ids this connection has used (for duplicates and unsubscribes). */
  readonly used: number[];
}

interface Tally {
  [key: string]: number;
}
const bump = (t: Tally, k: string, n = 1): void => {
  t[k] = (t[k] ?? 0) + n;
};

describe('the gateway under fuzzing', () => {
  it('closes bad connections with the right codes and serves well-behaved clients throughout', async () => {
    console.log(`gateway fuzz: ${REPLAY}, ${FUZZ_MS} ms, ${FUZZERS} fuzzers`);
    const started = performance.now();
    /** What went wrong, by kind: how often, and the first few cases. */
    const violations = new Map<string, { count: number; examples: string[] }>();
    const violation = (what: string, example: string): void => {
      const v = violations.get(what) ?? { count: 0, examples: [] };
      v.count++;
      if (v.examples.length < 3) v.examples.push(example);
      violations.set(what, v);
    };
    const uncaught: string[] = [];
    const onUncaught = (e: unknown): void => {
      uncaught.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
    };
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    const logs: string[] = [];
    const logger: Logger = {
      info: () => undefined,
      warn: (message) => logs.push(`warn: ${message}`),
      error: (message, ...details) =>
        logs.push(`error: ${message} ${details.map((d) => String(d)).join(' ')}`),
    };
    let lag = 0;
    let tick = performance.now();
    const lagTimer = setInterval(() => {
      const now = performance.now();
      lag = Math.max(lag, now - tick - 20);
      tick = now;
    }, 20);

    const sent: Tally = {};
    const served: Tally = {};
    const errorCodes: Tally = {};
    const closes: Tally = {};
    const byKind: Record<string, Tally> = {};
    const conns: FuzzConn[] = [];
    const goods: Good[] = [];
    const extra: TroupeClient[] = [];
    let crashesSent = 0;
    let harness: GatewayHarness | null = null;

    interface Good {
      readonly name: string;
      readonly client: TroupeClient;
      readonly errors: string[];
      readonly stops: (() => void)[];
      board: { n: number } | null;
      boardAt: { epoch: string; version: number } | null;
      sink: unknown;
      events: number[];
      incs: number;
      asks: number;
      snapshots: number;
      lastN: number;
    }

    try {
      harness = await startGateway(
        {
          limits: {
            messagesPerSecond: 10_000,
            burst: 10_000,
            maxConnectionsPerPrincipal: MAX_PER_PRINCIPAL,
          },
        },
        { logger },
      );
      const h = harness;
      const system = h.system;
      const boardRef = system.spawn(board, { name: 'board' }) as ActorRef<unknown>;
      system.spawn(sink, { name: 'sink' });
      system.spawn(echo, { name: 'echo' });
      system.spawn(mute, { name: 'mute' });
      const node = system.nodeId;
      const deadline = Date.now() + FUZZ_MS;

      // ---- well-behaved clients -----------------------------------------------------------

      const wellBehaved = async (i: number): Promise<void> => {
        const r = new Rng(SEED ^ (0x5eed0000 + i));
        const client = connect(h.url, { token: 'carol' });
        const g: Good = {
          name: `sdk#${i}`,
          client,
          errors: [],
          stops: [],
          board: null,
          boardAt: null,
          sink: undefined,
          events: [],
          incs: 0,
          asks: 0,
          snapshots: 0,
          lastN: -1,
        };
        goods.push(g);
        g.stops.push(
          client.on('state', (c) => {
            if (c.state !== 'open')
              g.errors.push(
                `state ${c.state} (${c.code ?? ''} ${c.reason ?? ''} ${String(c.error ?? '')})`,
              );
          }),
        );
        const onError = (what: string) => ({
          onError: (e: Error) => g.errors.push(`${what} error: ${e.message}`),
          onEnd: (reason: string) => g.errors.push(`${what} ended: ${reason}`),
        });
        const stopBoard = client.subscribe<{ n: number }>(
          '/user/board',
          (snap, info) => {
            g.snapshots++;
            const at = g.boardAt;
            if (at !== null && at.epoch === info.epoch && info.version <= at.version)
              g.errors.push(`board version ${info.version} after ${at.version}`);
            if (g.board !== null && snap.n < g.board.n)
              g.errors.push(`board n ${snap.n} after ${g.board.n}`);
            g.board = snap;
            g.boardAt = { epoch: info.epoch, version: info.version };
          },
          onError('board snapshots'),
        );
        g.stops.push(stopBoard);
        if (i === 0) {
          const stopSink = client.subscribe(
            '/user/sink',
            (snap) => {
              g.sink = snap;
            },
            onError('sink snapshots'),
          );
          g.stops.push(stopSink);
          const stopEvents = client.subscribeEvents<{ type: string; n: number }>(
            '/user/board',
            (e) => {
              if (e.type !== 'bumped') g.errors.push(`event ${JSON.stringify(e)}`);
              const last = g.events[g.events.length - 1];
              if (last !== undefined && e.n !== last + 1)
                g.errors.push(`bumped ${e.n} after ${last}`);
              g.events.push(e.n);
            },
            onError('board events'),
          );
          g.stops.push(stopEvents);
          await stopEvents.ready;
          await stopSink.ready;
        }
        await client.ready;
        await stopBoard.ready;
        while (Date.now() < deadline) {
          const k = r.int(1, 3);
          await Promise.all(
            Array.from({ length: k }, () =>
              client.send('/user/board', { type: 'inc' }).then(
                () => {
                  g.incs++;
                },
                (e: unknown) => {
                  g.errors.push(`send: ${String(e)}`);
                },
              ),
            ),
          );
          try {
            const s = await client.ask<{ n: number }>('/user/board', { type: 'get' });
            g.asks++;
            if (typeof s?.n !== 'number') g.errors.push(`get answered ${JSON.stringify(s)}`);
            else {
              if (s.n < g.lastN) g.errors.push(`get n ${s.n} after ${g.lastN}`);
              if (s.n < g.incs) g.errors.push(`get n ${s.n} but ${g.incs} incs sent`);
              g.lastN = s.n;
            }
          } catch (e) {
            g.errors.push(`ask: ${String(e)}`);
          }
          await sleep(r.int(0, 15));
        }
      };

      // ---- fuzzers --------------------------------------------------------------------------

      let serial = 0;
      const open = (): Promise<FuzzConn | null> => {
        const ws = new WebSocket(h.url, [SUBPROTOCOL], {
          perMessageDeflate: false,
          headers: { authorization: 'Bearer alice' },
        });
        let resolveClosed!: () => void;
        const c: FuzzConn = {
          serial: serial++,
          ws,
          closed: new Promise((res) => (resolveClosed = res)),
          opened: false,
          welcomed: false,
          closedWith: null,
          fatal: null,
          limit: null,
          after: new Set(),
          nextId: 1,
          used: [],
        };
        conns.push(c);
        ws.on('error', () => undefined);
        ws.on('close', (code, reason) => {
          c.closedWith = { code, reason: reason.toString() };
          resolveClosed();
        });
        ws.on('message', (raw: Buffer, isBinary) => {
          if (!isBinary) return violation('a text frame from the gateway', `#${c.serial}`);
          let f: ServerFrame;
          try {
            f = decodeServerFrame(raw);
          } catch (e) {
            return violation(
              'a frame from the gateway that decodeServerFrame refuses',
              `#${c.serial} (${(e as Error).message}): ${raw.subarray(0, 80).toString('hex')}`,
            );
          }
          bump(served, f.op);
          if (f.op === 'welcome') {
            if (c.welcomed) violation('a second welcome', `#${c.serial}`);
            c.welcomed = true;
            return;
          }
          if (!c.welcomed) violation('a frame before the welcome', `#${c.serial}: ${f.op}`);
          if (c.after.has(f.id))
            violation(
              'an answer to a frame sent after a refused one',
              `#${c.serial}: ${f.op} ${f.id}`,
            );
          if (f.op === 'error') {
            bump(errorCodes, f.code);
            if (!ERROR_CODES.includes(f.code)) violation('an unknown error code', f.code);
            if (f.code === 'internal') violation('an internal error', f.message);
          }
        });
        return new Promise((resolve) => {
          ws.once('open', () => {
            c.opened = true;
            resolve(c);
          });
          ws.once('unexpected-response', (_req, res) => {
            violation('an upgrade refused', `#${c.serial}: HTTP ${res.statusCode}`);
            ws.terminate();
            resolve(null);
          });
          void c.closed.then(() => resolve(null));
        });
      };

      const live = (c: FuzzConn): boolean =>
        c.closedWith === null && c.ws.readyState === WebSocket.OPEN;
      const wire = (c: FuzzConn): Socket => (c.ws as unknown as { _socket: Socket })._socket;

      /**
       * Judges a message the connection is about to send: false when it must not be sent (it
       * would change the board, or it is one more that crashes the decoder).
       */
      const judged = (c: FuzzConn, kind: string, bytes: Uint8Array): boolean => {
        const v = judge(bytes);
        if (v.kind === 'ok') return harmless(v.frame);
        // refused without reaching an actor, the connection going on
        if (v.kind === 'answered') return true;
        if (v.kind === 'crash') {
          violation(
            `decodeClientFrame threw instead of refusing the frame (${v.why})`,
            `${kind}: ${Buffer.from(bytes).subarray(0, 60).toString('hex')}`,
          );
          // a few are sent, to see what the gateway does with them
          if (crashesSent >= 3) return false;
          crashesSent++;
        }
        c.fatal ??= { kind, code: v.kind === 'refused' ? v.code : -1, why: v.why };
        return true;
      };

      /** Sends binary bytes, judged first. */
      const fire = (c: FuzzConn, kind: string, bytes: Uint8Array): void => {
        if (!judged(c, kind, bytes)) return;
        c.ws.send(bytes, { binary: true });
        bump(sent, kind);
      };

      const id = (r: Rng, c: FuzzConn): number => {
        if (r.chance(0.05) && c.used.length > 0) return r.pick(c.used);
        if (r.chance(0.02)) return r.pick([0, MAX_ID, 2 ** 32, 2 ** 31 - 1]);
        const n = c.nextId++;
        c.used.push(n);
        if (c.used.length > 64) c.used.shift();
        return n;
      };

      const TARGETS = [
        '/user/board',
        '/user/sink',
        '/user/echo',
        '/user/mute',
        '/user/nobody',
        '/user/sink/child',
        '/user',
        '/system',
        '/',
        `troupe://${node}/user/sink`,
        'troupe://elsewhere/user/sink',
        'troupe:entity/kind/id',
        'troupe:entity/%E0%A4%A/x',
        `troupe://${node}/temp/x`,
        'troupe://',
        'nonsense',
        '/user/../user/sink',
        '/user/./sink',
        '/user/a b',
        'x'.repeat(1_024),
        // spellings of one entity, and its activation's paths (never reached from a client)
        'troupe:entity/kind/%69d',
        'troupe:entity/%6Bind/i%64',
        'troupe:entity/kind/%zz',
        '/system/e.kind.aWQ',
        `troupe://${node}/system/e.kind.aWQ`,
      ];
      const SAFE = TARGETS.filter((t) => !t.includes('board'));

      /** A frame that the decoder accepts (it may still be refused: bad target, …). */
      const validFrame = (r: Rng, c: FuzzConn): ClientFrame => {
        const i = id(r, c);
        switch (r.int(0, 14)) {
          case 0:
          case 12:
            return { op: 'ping', id: i };
          case 1:
          case 2:
            return {
              op: 'subscribe',
              id: i,
              kind: r.chance(0.7) ? 'snapshot' : 'events',
              target: r.pick(TARGETS),
            };
          case 14:
            // a resume, from where this node never was
            return {
              op: 'subscribe',
              id: i,
              kind: 'snapshot',
              target: r.pick(TARGETS),
              ...(r.chance(0.9)
                ? {
                    since: {
                      epoch: r.bytes(r.int(0, 12)).toString('base64url'),
                      version: r.int(0, 40),
                    },
                  }
                : {}),
            };
          case 3:
            return {
              op: 'subscribe',
              id: i,
              kind: 'topic',
              target: r.chance(0.1) ? 't'.repeat(300) : `topic-${r.int(0, 5)}`,
            };
          case 4:
            return {
              op: 'unsubscribe',
              id: c.used.length > 0 && r.chance(0.8) ? r.pick(c.used) : i,
            };
          case 5:
          case 6:
            return {
              op: 'send',
              id: i,
              target: r.chance(0.8) ? '/user/sink' : r.pick(SAFE),
              // nesting up to the decoder's limit (31 maps under the frame)
              message: r.chance(0.05)
                ? nestedMaps(r.int(25, 31), r.int(0, 9), r.pick(['a', '$ref', '$esc']))
                : data(r, 4),
              ...(r.chance(0.1)
                ? {
                    trace: {
                      traceparent: `00-${r.bytes(16).toString('hex')}-${r.bytes(8).toString('hex')}-01`,
                      ...(r.chance(0.5) ? { tracestate: 'a=b' } : {}),
                    },
                  }
                : {}),
            };
          case 7:
            return {
              op: 'ask',
              id: i,
              target: r.pick(['/user/sink', '/user/echo']),
              message: data(r, 4),
              ...(r.chance(0.5) ? { timeoutMs: r.int(1, 5_000) } : {}),
            };
          case 8:
            return { op: 'ask', id: i, target: '/user/board', message: { type: 'get' } };
          case 9:
            return {
              op: 'ask',
              id: i,
              target: '/user/mute',
              message: data(r, 2),
              timeoutMs: r.int(1, 300),
            };
          case 10:
            return { op: 'send', id: i, target: r.pick(SAFE), message: data(r, 2) };
          case 11:
            return {
              op: 'ask',
              id: i,
              target: r.pick(SAFE),
              message: data(r, 2),
              timeoutMs: r.int(1, 300),
            };
          default:
            return {
              op: 'ask',
              id: c.used.length > 0 ? r.pick(c.used) : i,
              target: '/user/echo',
              message: null,
            };
        }
      };

      // pools for frames that are wrong
      const OPS: unknown[] = [
        'subscribe',
        'unsubscribe',
        'send',
        'ask',
        'ping',
        'welcome',
        'reply',
        'pong',
        'SEND',
        'Ping',
        '',
        'ping\u0000',
        'x'.repeat(2_000),
        '__proto__',
        'constructor',
        1,
        -1,
        null,
        true,
        [],
        ['ping'],
        {},
        { toString: 0 },
        { valueOf: 1, toString: 2 },
        [{ toString: null }],
      ];
      const IDS: unknown[] = [
        0,
        1,
        -1,
        -0,
        0.5,
        MAX_ID,
        MAX_ID + 1,
        2 ** 64,
        1e300,
        -1e300,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        18_446_744_073_709_551_615n,
        -9_223_372_036_854_775_808n,
        '1',
        null,
        true,
        [],
        {},
        [1],
      ];
      const FIELD_VALUES: unknown[] = [
        null,
        '',
        '/user/sink',
        'x'.repeat(1_025),
        1,
        -1,
        0,
        1.5,
        1e21,
        true,
        [],
        {},
        { epoch: 'e', version: -1 },
        { epoch: 'x'.repeat(65), version: 1 },
        { epoch: 'e', version: 1, extra: 1 },
        { traceparent: 'nope' },
        { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, tracestate: 'x'.repeat(513) },
        { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, extra: 1 },
        { traceparent: `00-${'A'.repeat(32)}-${'b'.repeat(16)}-01` },
        'snapshot',
        'events',
        'topic',
        'nope',
      ];
      const FIELDS = ['kind', 'target', 'message', 'since', 'timeoutMs', 'trace', 'extra', 'value'];

      const wrongMap = (r: Rng): Buffer => {
        const entries: [unknown, unknown][] = [];
        if (r.chance(0.9)) entries.push(['op', r.pick(OPS)]);
        if (r.chance(0.9)) entries.push(['id', r.pick(IDS)]);
        for (let n = r.int(0, 4); n > 0; n--) {
          const k = r.pick(FIELDS);
          entries.push([k, k === 'message' ? data(r, 3) : r.pick(FIELD_VALUES)]);
        }
        if (r.chance(0.2))
          entries.push([
            r.pick(['__proto__', 'constructor', 'prototype', '__proto_', 'toString', 'valueOf']),
            r.pick(FIELD_VALUES),
          ]);
        const map = new Map(entries);
        return Buffer.from(r.pick(PACKRS).pack(r.chance(0.5) ? map : Object.fromEntries(entries)));
      };

      /** `__proto__`, `constructor`, … keys inside an otherwise valid frame. */
      const protoKeys = (r: Rng): Buffer => {
        const key = r.pick(['__proto__', '__proto_', 'constructor', 'prototype']);
        let inner: unknown = new Map<string, unknown>([
          [key, r.chance(0.5) ? { polluted: true } : 1],
        ]);
        for (let d = r.int(0, 5); d > 0; d--)
          inner = r.chance(0.5) ? [inner] : new Map([['a', inner]]);
        return Buffer.from(
          packr.pack(
            r.chance(0.8)
              ? new Map<string, unknown>([
                  ['op', 'send'],
                  ['id', 1],
                  ['target', '/user/sink'],
                  ['message', inner],
                ])
              : new Map<string, unknown>([
                  ['op', 'ping'],
                  ['id', 1],
                  [key, inner],
                ]),
          ),
        );
      };

      const anything = fc.sample(
        fc.anything({
          maxDepth: 4,
          maxKeys: 6,
          withBigInt: true,
          withBoxedValues: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withNullPrototype: true,
          withObjectString: true,
          withSparseArray: true,
          withTypedArray: true,
          key: fc.oneof(
            fc.string(),
            fc.constantFrom(
              'op',
              'id',
              'target',
              'message',
              '__proto__',
              'constructor',
              'toString',
              '$ref',
            ),
          ),
        }),
        { seed: SEED | 0, numRuns: 400 },
      );
      const anyValue = (r: Rng): Buffer | null => {
        let v = r.pick(anything);
        if (r.chance(0.4))
          v = {
            op: r.pick(['ping', 'send', 'ask', 'subscribe']),
            id: r.int(0, 9),
            target: '/user/sink',
            message: v,
          };
        try {
          return Buffer.from(r.pick(PACKRS).pack(v));
        } catch {
          return null;
        }
      };

      const mutate = (r: Rng, bytes: Uint8Array): Buffer => {
        const b = Buffer.from(bytes);
        switch (r.int(0, 5)) {
          case 0:
            for (let n = r.int(1, 4); n > 0; n--) b[r.int(0, b.length - 1)]! ^= 1 << r.int(0, 7);
            return b;
          case 1:
            for (let n = r.int(1, 3); n > 0; n--) b[r.int(0, b.length - 1)] = r.int(0, 255);
            return b;
          case 2:
            return b.subarray(0, r.int(0, b.length - 1));
          case 3:
            return Buffer.concat([b, r.chance(0.5) ? r.bytes(r.int(1, 8)) : b]);
          case 4: {
            const at = r.int(0, b.length - 1);
            return Buffer.concat([b.subarray(0, at), r.bytes(r.int(1, 4)), b.subarray(at)]);
          }
          default: {
            const at = r.int(0, b.length - 1);
            return Buffer.concat([b.subarray(0, at), b.subarray(at + r.int(1, 3))]);
          }
        }
      };

      /** A frame that should not close the connection. */
      const benign = (r: Rng, c: FuzzConn): void => {
        const k = r.int(0, 199);
        if (k < 10) {
          // a valid frame in fragments, pings between
          const bytes = encodeFrame(validFrame(r, c));
          if (!judged(c, 'fragmented valid', bytes)) return;
          const parts = r.int(1, Math.min(8, bytes.length));
          wire(c).write(fragmented(r, bytes, parts));
          bump(sent, 'fragmented valid');
          return;
        }
        if (k < 20) {
          wire(c).write(wsFrame(r, r.pick([0x9, 0xa]), r.bytes(r.int(0, 125))));
          bump(sent, 'control frame');
          return;
        }
        if (k === 20) {
          // a valid send of exactly the cap, or just under
          const size = r.pick([65_535, 65_536]);
          const skeleton = { op: 'send', id: id(r, c), target: '/user/echo', message: '' };
          const overhead = encodeFrame(skeleton as ClientFrame).length - 1 + 3;
          const frame = { ...skeleton, message: 'm'.repeat(size - overhead) };
          const bytes = encodeFrame(frame as ClientFrame);
          fire(c, bytes.length === size ? `valid of ${size} bytes` : 'valid near the cap', bytes);
          return;
        }
        fire(c, 'valid', encodeFrame(validFrame(r, c)));
      };

      /** A frame that should close the connection (or crosses a limit). */
      const hostile = (r: Rng, c: FuzzConn): void => {
        const kind = r.weighted<string>([
          [10, 'random bytes'],
          [10, 'random msgpack'],
          [14, 'wrong map'],
          [8, 'extension/binary/timestamp'],
          [5, 'deep'],
          [6, 'proto keys'],
          [12, 'mutated valid'],
          [5, 'text'],
          [4, 'oversized'],
          [10, 'broken framing'],
          [1, 'flood'],
          [1, 'too many subscriptions'],
          [1, 'too many asks'],
          [0.3, 'slow reader'],
        ]);
        switch (kind) {
          case 'random bytes': {
            const n = r.weighted([
              [3, r.int(0, 16)],
              [3, r.int(17, 300)],
              [1, r.int(301, 5_000)],
            ]);
            return fire(c, kind, r.bytes(n));
          }
          case 'random msgpack': {
            const b = anyValue(r);
            return fire(c, kind, b ?? r.bytes(3));
          }
          case 'wrong map':
            return fire(c, kind, wrongMap(r));
          case 'extension/binary/timestamp':
          case 'deep': {
            const raw = kind === 'deep' ? rawValue(r, r.pick([9, 10])) : rawValue(r);
            const where = r.int(0, 3);
            const skeleton =
              where === 0
                ? HOLE
                : where === 1
                  ? { op: 'send', id: 1, target: '/user/sink', message: { v: HOLE } }
                  : where === 2
                    ? { op: 'ping', id: HOLE }
                    : { op: 'subscribe', id: 1, kind: 'snapshot', target: HOLE };
            return fire(c, kind, splice(skeleton, raw));
          }
          case 'proto keys':
            return fire(c, kind, protoKeys(r));
          case 'mutated valid': {
            let f = validFrame(r, c);
            while (!harmless(f) || /board/.test(JSON.stringify(f))) f = validFrame(r, c);
            return fire(c, kind, mutate(r, encodeFrame(f)));
          }
          case 'text':
            if (r.chance(0.3)) {
              // invalid UTF-8 in a text frame: ws refuses it before the gateway sees it
              c.ws.send(Buffer.from('c328a1', 'hex'), { binary: false });
              if (c.fatal === null)
                c.fatal = { kind: 'text not UTF-8', code: 1007, why: 'invalid UTF-8' };
            } else {
              c.ws.send(
                r.chance(0.5)
                  ? JSON.stringify(validFrame(r, c))
                  : r.bytes(r.int(0, 40)).toString('latin1'),
              );
              if (c.fatal === null)
                c.fatal = { kind, code: CLIENT_CLOSE.badFrame, why: 'a text frame' };
            }
            bump(sent, kind);
            return;
          case 'oversized': {
            const n = r.pick([65_537, 65_600, 100_000, 300_000]);
            const bytes = r.chance(0.5)
              ? r.bytes(n)
              : encodeFrame({ op: 'send', id: 1, target: '/user/sink', message: 'x'.repeat(n) });
            return fire(c, kind, bytes);
          }
          case 'broken framing': {
            const b = brokenWire(r, encodeFrame(validFrame(r, c)));
            wire(c).write(b.bytes);
            if (c.fatal === null)
              c.fatal = { kind: `framing: ${b.name}`, code: b.code, why: b.name };
            bump(sent, `framing: ${b.name}`);
            return;
          }
          case 'flood': {
            // faster than the rate limit (10 000 frames/s, a bucket of 10 000)
            const frames: Buffer[] = [];
            for (let n = 0; n < 16_000; n++)
              frames.push(wsFrame(r, 0x2, encodeFrame({ op: 'ping', id: n })));
            wire(c).write(Buffer.concat(frames));
            c.limit = { kind, code: CLIENT_CLOSE.rateLimited };
            bump(sent, kind);
            return;
          }
          case 'too many subscriptions': {
            for (let n = 0; n < 260; n++)
              c.ws.send(
                encodeFrame({ op: 'subscribe', id: 1_000_000 + n, kind: 'topic', target: `t${n}` }),
              );
            c.limit = { kind, code: CLIENT_CLOSE.tooManySubscriptions };
            bump(sent, kind);
            return;
          }
          case 'too many asks': {
            for (let n = 0; n < 70; n++)
              c.ws.send(
                encodeFrame({
                  op: 'ask',
                  id: 2_000_000 + n,
                  target: '/user/mute',
                  message: n,
                  timeoutMs: 3_000,
                }),
              );
            c.limit = { kind, code: CLIENT_CLOSE.tooManyAsks };
            bump(sent, kind);
            return;
          }
          default: {
            // stops reading while big replies pile up, then reads again
            const s = wire(c);
            s.pause();
            const big = 'b'.repeat(60_000);
            for (let n = 0; n < 50; n++)
              c.ws.send(
                encodeFrame({ op: 'ask', id: 3_000_000 + n, target: '/user/echo', message: big }),
              );
            c.limit = { kind, code: CLIENT_CLOSE.slowConsumer };
            bump(sent, kind);
            setTimeout(() => {
              for (let n = 50; n < 100 && live(c); n++)
                c.ws.send(
                  encodeFrame({ op: 'ask', id: 3_000_000 + n, target: '/user/echo', message: big }),
                );
            }, 30);
            setTimeout(() => s.resume(), 400);
            return;
          }
        }
      };

      const fuzzer = async (slot: number): Promise<void> => {
        const r = new Rng(SEED ^ (0xf0220000 + slot * 7919));
        while (Date.now() < deadline) {
          const c = await open();
          if (c === null) {
            await sleep(10);
            continue;
          }
          // most connections turn hostile after a while; some stay well-formed to the end
          const budget = r.chance(0.05)
            ? Infinity
            : r.weighted([
                [4, r.int(0, 5)],
                [2, r.int(6, 40)],
                [1, r.int(41, 200)],
              ]);
          let n = 0;
          while (Date.now() < deadline && live(c) && c.fatal === null && c.limit === null) {
            for (
              let b = r.int(1, 6);
              b > 0 && live(c) && c.fatal === null && c.limit === null;
              b--
            ) {
              if (n++ < budget) benign(r, c);
              else hostile(r, c);
            }
            if (c.ws.bufferedAmount > 1_000_000) await sleep(20);
            await sleep(r.int(0, 4));
          }
          if (c.fatal !== null && live(c) && r.chance(0.5)) {
            // what comes after a refused frame is never served
            for (let k = r.int(1, 4); k > 0; k--) {
              const after = 3_000_000_000_000 + c.serial * 16 + k;
              c.after.add(after);
              c.ws.send(
                encodeFrame(
                  r.chance(0.5)
                    ? { op: 'ping', id: after }
                    : { op: 'ask', id: after, target: '/user/echo', message: k },
                ),
              );
            }
          }
          // the next connection while this one closes
        }
      };

      await Promise.all([
        ...Array.from({ length: WELL_BEHAVED }, (_, i) => wellBehaved(i)),
        ...Array.from({ length: FUZZERS }, (_, i) => fuzzer(i)),
      ]);
      const fuzzedFor = performance.now() - started;

      // ---- the well-behaved clients saw a consistent board ---------------------------------------

      const actual = (await boardRef.ask({ type: 'get' }, { timeout: 5_000 })) as { n: number };
      const incs = goods.reduce((a, g) => a + g.incs, 0);
      expect.soft(actual.n, `the board counts every inc the clients sent; ${REPLAY}`).toBe(incs);
      const settle = async (ok: () => boolean, ms: number): Promise<void> => {
        const end = Date.now() + ms;
        while (!ok() && Date.now() < end) await sleep(10);
      };
      await settle(
        () =>
          goods.every(
            (g) =>
              isDeepStrictEqual(g.board, actual) &&
              (g.name !== 'sdk#0' ||
                (isDeepStrictEqual(g.sink, encodeValue(sinkState)) &&
                  g.events[g.events.length - 1] === actual.n)),
          ),
        3_000,
      );
      for (const g of goods) {
        expect.soft(g.errors, `${g.name} saw no error; ${REPLAY}`).toEqual([]);
        expect.soft(g.client.state, `${g.name} is still open; ${REPLAY}`).toBe('open');
        expect
          .soft(g.board, `${g.name}'s board snapshot is the board's state; ${REPLAY}`)
          .toEqual(actual);
        expect.soft(g.asks, `${g.name} asked`).toBeGreaterThan(0);
      }
      const g0 = goods.find((g) => g.name === 'sdk#0')!;
      expect
        .soft(g0.sink, `sdk#0's sink snapshot is the sink's state; ${REPLAY}`)
        .toEqual(encodeValue(sinkState));
      expect
        .soft(g0.events[g0.events.length - 1], `sdk#0 saw every bump; ${REPLAY}`)
        .toBe(actual.n);

      // ---- the node is still up: a new client connects, asks, subscribes --------------------------

      const fresh = connect(h.url, { token: 'bob', reconnect: false });
      extra.push(fresh);
      try {
        await fresh.ready;
        expect
          .soft(await fresh.ask('/user/board', { type: 'get' }), `a new client's ask; ${REPLAY}`)
          .toEqual(actual);
        let seen: unknown;
        const stopFresh = fresh.subscribe('/user/board', (s) => (seen = s));
        await stopFresh.ready;
        await settle(() => seen !== undefined, 3_000);
        expect.soft(seen, `a new client's snapshot; ${REPLAY}`).toEqual(actual);
        await fresh.ping();
      } catch (e) {
        violation('a new client could not use the node', String(e));
      }

      // ---- every fuzzing connection was closed as it should be ------------------------------------

      const doomed = conns.filter((c) => c.fatal !== null || c.limit !== null);
      await settle(() => doomed.every((c) => c.closedWith !== null), 2_000);
      for (const c of conns) {
        if (!c.opened) continue;
        if (c.closedWith === null) {
          bump(closes, 'open');
          if (c.fatal !== null)
            violation(
              `stayed open after a frame the decoder refuses`,
              `#${c.serial}: ${c.fatal.kind} (${c.fatal.why})`,
            );
          // the rate and the buffer depend on timing; counts do not
          else if (
            c.limit !== null &&
            (c.limit.code === CLIENT_CLOSE.tooManySubscriptions ||
              c.limit.code === CLIENT_CLOSE.tooManyAsks)
          )
            violation(`stayed open after crossing a limit`, `#${c.serial}: ${c.limit.kind}`);
          continue;
        }
        const { code, reason } = c.closedWith;
        bump(closes, String(code));
        const kind = c.fatal?.kind ?? c.limit?.kind ?? 'none';
        bump((byKind[kind] ??= {}), String(code));
        const expected = c.fatal === null ? 'none' : String(c.fatal.code);
        const example = `#${c.serial}: "${reason}" after ${kind}${c.fatal === null ? '' : ` (${c.fatal.why})`}`;
        if (!ALLOWED_CODES.has(code)) {
          violation(`closed with ${code} (not an allowed code) where ${expected} was due`, example);
          continue;
        }
        if (DECODE_CODES.has(code)) {
          if (c.fatal === null)
            violation(`closed with ${code} though it sent no frame the decoder refuses`, example);
          else if (c.fatal.code !== code)
            violation(`closed with ${code} where ${expected} was due`, example);
        } else if (
          code === 4001 ||
          (LIMIT_CODES.has(code) && c.limit === null && code !== 4003 && code !== 4007)
        )
          // 4003 and 4007 can come from random valid frames too
          violation(`closed with ${code} without crossing that limit`, example);
      }

      // the gateway counted what the sockets saw
      const stats = system.gateway!.stats();
      for (const code of Object.keys(stats.closed).map(Number))
        if (code >= 4000 && stats.closed[code] !== (closes[String(code)] ?? 0))
          violation(
            `the gateway's count of closes with ${code} is not what the sockets saw`,
            `counted ${stats.closed[code]}, seen ${closes[String(code)] ?? 0}`,
          );

      // ---- nothing leaks: with the fuzzers gone, alice may open her full quota again ---------------

      for (const c of conns) if (c.closedWith === null) c.ws.terminate();
      await settle(() => system.gateway!.stats().connections === WELL_BEHAVED + 1, 2_000);
      const after = system.gateway!.stats();
      expect.soft(after.connections, `connections left; ${REPLAY}`).toBe(WELL_BEHAVED + 1);
      // 4 board subscriptions, the sink's and the events' of sdk#0, the fresh client's
      expect.soft(after.subscriptions, `subscriptions left; ${REPLAY}`).toBe(WELL_BEHAVED + 3);
      const quota = await Promise.all(Array.from({ length: MAX_PER_PRINCIPAL }, () => open()));
      await sleep(100);
      const refusedQuota = quota.filter((c) => c === null || c.closedWith !== null).length;
      for (const c of quota) c?.ws.terminate();

      // ---- the report -------------------------------------------------------------------------------

      clearInterval(lagTimer);
      const report = {
        seed: SEED,
        fuzzedMs: Math.round(fuzzedFor),
        connections: conns.length - quota.length,
        maxEventLoopLagMs: Math.round(lag),
        closeCodes: closes,
        closeCodesByFirstBadFrame: byKind,
        framesSent: sent,
        framesServed: served,
        errorCodes,
        wellBehaved: goods.map((g) => ({
          name: g.name,
          incs: g.incs,
          asks: g.asks,
          snapshots: g.snapshots,
          events: g.events.length,
        })),
        board: actual,
        gateway: { ...stats, connections: after.connections },
        entityDeadLetterLogs: logs.filter((l) => ENTITY_NOISE.test(l)).length,
        otherLogs: logs.filter((l) => !ENTITY_NOISE.test(l)).slice(0, 10),
        violations: Object.fromEntries([...violations].map(([k, v]) => [k, v.count])),
        decoderCrashesSent: crashesSent,
      };
      console.log(`gateway fuzz report: ${JSON.stringify(report, null, 2)}`);

      expect
        .soft(
          refusedQuota,
          `alice could not open her ${MAX_PER_PRINCIPAL} connections again (a leaked count?); ${REPLAY}`,
        )
        .toBe(0);
      expect.soft(Object.fromEntries(violations), `protocol violations; ${REPLAY}`).toEqual({});
      expect.soft(uncaught, `uncaught exceptions in the process; ${REPLAY}`).toEqual([]);
      expect
        .soft(
          logs.filter((l) => l.startsWith('error:') && !ENTITY_NOISE.test(l)),
          `errors the node logged; ${REPLAY}`,
        )
        .toEqual([]);
    } finally {
      clearInterval(lagTimer);
      for (const g of goods) for (const stop of g.stops.splice(0)) stop();
      await Promise.all([...goods.map((g) => g.client.close()), ...extra.map((c) => c.close())]);
      for (const c of conns) if (c.closedWith === null) c.ws.terminate();
      await harness?.close();
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
    }
  }, 45_000);
});
