/**
 * The gateway's decoder of client frames (protocol/client-protocol.ts, `decodeClientFrame`),
 * against protocol/CLIENT-PROTOCOL.md §2, §3 and §6: what closes a connection (4000, with a
 * reason), what is answered, and what is read as it is. Frames that msgpackr would not write
 * are built byte by byte.
 */
import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import {
  CLIENT_CLOSE,
  ClientProtocolError,
  DEFAULT_CLIENT_DECODE_LIMITS,
  decodeClientFrame,
  encodeFrame,
  type ClientDecodeLimits,
} from '../../protocol/client-protocol.ts';

const packr = new Packr({ useRecords: false });
const pack = (v: unknown): Buffer => packr.pack(v);

const BIG: ClientDecodeLimits = { ...DEFAULT_CLIENT_DECODE_LIMITS, maxFrameBytes: 1024 * 1024 };

/** The close code `bytes` is refused with, or 'accepted'. */
function verdict(bytes: Uint8Array, limits: ClientDecodeLimits = BIG): number | 'accepted' {
  try {
    decodeClientFrame(bytes, limits);
    return 'accepted';
  } catch (e) {
    if (!(e instanceof ClientProtocolError)) throw e;
    return e.closeCode;
  }
}

/** The ClientProtocolError `bytes` is refused with. */
function refusal(bytes: Uint8Array): ClientProtocolError {
  try {
    decodeClientFrame(bytes, BIG);
  } catch (e) {
    if (e instanceof ClientProtocolError) return e;
    throw e;
  }
  throw new Error('the frame was accepted');
}

/** A send whose message is a map of one entry, its key given as msgpack bytes. */
const sendKeyed = (key: number[]): Buffer =>
  Buffer.concat([
    Buffer.from([0x84]),
    ...['op', 'send', 'id', 1, 'target', '/user/board', 'message'].map(pack),
    Buffer.from([0x81, ...key]),
    pack(1),
  ]);

const send = (message: unknown) => ({ op: 'send', id: 1, target: '/user/board', message });

describe('decodeClientFrame: map keys', () => {
  const max = DEFAULT_CLIENT_DECODE_LIMITS.maxStringLength;

  it('takes a key of maxStringLength characters and refuses one more, as for values', () => {
    expect(verdict(pack(send({ ['k'.repeat(max)]: 1 })))).toBe('accepted');
    expect(verdict(pack(send({ ['k'.repeat(max + 1)]: 1 })))).toBe(CLIENT_CLOSE.badFrame);
    expect(verdict(pack(send({ v: 'k'.repeat(max + 1) })))).toBe(CLIENT_CLOSE.badFrame);
  });

  it('caps keys at any depth, the frame’s own map included', () => {
    expect(verdict(pack(send([{ a: { ['k'.repeat(max + 1)]: 1 } }])))).toBe(CLIENT_CLOSE.badFrame);
    expect(verdict(pack({ op: 'ping', id: 1, ['k'.repeat(max + 1)]: 1 }))).toBe(
      CLIENT_CLOSE.badFrame,
    );
  });
});

describe('decodeClientFrame: fields not listed', () => {
  const since = { epoch: 'e', version: 1 };
  const subscribe = (s: unknown) => ({
    op: 'subscribe',
    id: 1,
    kind: 'snapshot',
    target: '/user/board',
    since: s,
  });
  const traced = (trace: unknown) => ({ ...send(1), trace });
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

  it('takes a since of epoch and version, and refuses any other field in it', () => {
    expect(verdict(pack(subscribe(since)))).toBe('accepted');
    for (const extra of ['x', 'op', 'id', 'base'])
      expect(verdict(pack(subscribe({ ...since, [extra]: 1 }))), extra).toBe(CLIENT_CLOSE.badFrame);
  });

  it('takes a trace of traceparent and tracestate, and refuses any other field, op included', () => {
    expect(verdict(pack(traced({ traceparent, tracestate: 'a=1' })))).toBe('accepted');
    for (const extra of ['x', 'op'])
      expect(verdict(pack(traced({ traceparent, [extra]: 'x' }))), extra).toBe(
        CLIENT_CLOSE.badFrame,
      );
  });
});

describe('decodeClientFrame: keys that are not strings', () => {
  it.each([
    ['nil', [0xc0], 'null'],
    ['true', [0xc3], 'true'],
    ['an integer', [0x01], '1'],
    ['a negative integer', [0xff], '-1'],
    ['a float', [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], '1.5'],
  ])('reads a key that is %s as its string form', (_what, key, as) => {
    expect(decodeClientFrame(sendKeyed(key), BIG)).toMatchObject({ message: { [as]: 1 } });
  });

  it.each([
    ['a map', [0x80]],
    ['a map with entries', [0x81, 0xa1, 0x61, 0x01]],
    ['an array', [0x91, 0x01]],
    ['binary', [0xc4, 0x01, 0x41]],
    ['a timestamp', [0xd6, 0xff, 0, 0, 0, 0]],
  ])('refuses a key that is %s with 4000 and a reason of its own', (_what, key) => {
    const e = refusal(sendKeyed(key));
    expect(e.closeCode).toBe(CLIENT_CLOSE.badFrame);
    // not msgpackr's own text (it speaks of records and of its options)
    expect(e.message).toBe(refusal(sendKeyed([0x80])).message);
    expect(e.message).not.toMatch(/record|mapsAsObjects/);
  });
});

describe('decodeClientFrame: uint fields judge the value, not the msgpack format', () => {
  /** `v` written as a msgpack float 64 (0xcb) or float 32 (0xca). */
  const asFloat = (v: number, bits: 32 | 64): Buffer => {
    const b = Buffer.alloc(bits === 64 ? 9 : 5);
    b[0] = bits === 64 ? 0xcb : 0xca;
    if (bits === 64) b.writeDoubleBE(v, 1);
    else b.writeFloatBE(v, 1);
    return b;
  };
  /** A map of `entries`, each a key and its value's msgpack bytes. */
  const map = (entries: [string, Buffer][]): Buffer =>
    Buffer.concat([
      Buffer.from([0x80 + entries.length]),
      ...entries.flatMap(([k, v]) => [pack(k), v]),
    ]);

  it('takes an id written as a float 64 or float 32 holding an integer', () => {
    for (const bits of [64, 32] as const)
      expect(
        decodeClientFrame(
          map([
            ['op', pack('ping')],
            ['id', asFloat(1, bits)],
          ]),
          BIG,
        ),
      ).toEqual({ op: 'ping', id: 1 });
    expect(
      decodeClientFrame(
        map([
          ['op', pack('ping')],
          ['id', asFloat(2 ** 53 - 1, 64)],
        ]),
        BIG,
      ),
    ).toEqual({ op: 'ping', id: 2 ** 53 - 1 });
  });

  it('takes a timeoutMs and a since.version written as floats', () => {
    const ask = map([
      ['op', pack('ask')],
      ['id', pack(1)],
      ['target', pack('/user/board')],
      ['message', pack(null)],
      ['timeoutMs', asFloat(100, 64)],
    ]);
    expect(decodeClientFrame(ask, BIG)).toMatchObject({ timeoutMs: 100 });
    const since = map([
      ['op', pack('subscribe')],
      ['id', pack(1)],
      ['kind', pack('snapshot')],
      ['target', pack('/user/board')],
      [
        'since',
        map([
          ['epoch', pack('e')],
          ['version', asFloat(1, 64)],
        ]),
      ],
    ]);
    expect(decodeClientFrame(since, BIG)).toMatchObject({ since: { epoch: 'e', version: 1 } });
  });

  it('refuses a float that is not an integer, a negative, and 2^53 in any format', () => {
    for (const id of [
      asFloat(1.5, 64),
      asFloat(1.5, 32),
      asFloat(-1, 64),
      pack(-1),
      asFloat(2 ** 53, 64),
    ])
      expect(
        verdict(
          map([
            ['op', pack('ping')],
            ['id', id],
          ]),
        ),
      ).toBe(CLIENT_CLOSE.badFrame);
    // 2^53 as a uint 64
    const u64 = Buffer.from([0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0]);
    expect(
      verdict(
        map([
          ['op', pack('ping')],
          ['id', u64],
        ]),
      ),
    ).toBe(CLIENT_CLOSE.badFrame);
  });

  it('matches what the reference encoder writes: ids of 2^32 and over go as float 64', () => {
    const bytes = encodeFrame({ op: 'ping', id: 2 ** 32 });
    const key = pack('id');
    expect(bytes[Buffer.from(bytes).indexOf(key) + key.length]).toBe(0xcb);
    expect(decodeClientFrame(bytes)).toEqual({ op: 'ping', id: 2 ** 32 });
  });
});

describe('decodeClientFrame: characters are UTF-16 code units', () => {
  const max = DEFAULT_CLIENT_DECODE_LIMITS.maxStringLength;

  it('counts an emoji as 2: 32,768 of them are at the cap, one more is over it', () => {
    expect(verdict(pack(send('😀'.repeat(max / 2))))).toBe('accepted');
    expect(verdict(pack(send('😀'.repeat(max / 2 + 1))))).toBe(CLIENT_CLOSE.badFrame);
    expect(verdict(pack(send({ ['😀'.repeat(max / 2 + 1)]: 1 })))).toBe(CLIENT_CLOSE.badFrame);
  });
});

describe('decodeClientFrame: nil, repeated keys and since', () => {
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const ask = { op: 'ask', id: 1, target: '/user/board', message: 1 };
  const subscribe = (kind: string, since: unknown) => ({
    op: 'subscribe',
    id: 1,
    kind,
    target: '/user/board',
    since,
  });

  it('refuses nil for an optional field, and takes nil as a message', () => {
    for (const frame of [
      { ...ask, timeoutMs: null },
      { ...ask, trace: null },
      { ...ask, trace: { traceparent, tracestate: null } },
      subscribe('snapshot', null),
    ])
      expect(verdict(pack(frame)), JSON.stringify(frame)).toBe(CLIENT_CLOSE.badFrame);
    expect(verdict(pack({ ...ask, message: null }))).toBe('accepted');
  });

  it('reads a map with a key twice as its last entry, keys of one string form included', () => {
    const twice = Buffer.concat([
      Buffer.from([0x83]),
      ...['op', 'ping', 'id', 1, 'id', 2].map((v) => pack(v)),
    ]);
    expect(decodeClientFrame(twice, BIG)).toEqual({ op: 'ping', id: 2 });
    // { type: 'a', 1: 'x', '1': 'y' } as a send's message
    const message = Buffer.concat([
      Buffer.from([0x83]),
      ...['type', 'a'].map((v) => pack(v)),
      Buffer.from([0x01]),
      pack('x'),
      ...['1', 'y'].map((v) => pack(v)),
    ]);
    const frame = Buffer.concat([
      Buffer.from([0x84]),
      ...['op', 'send', 'id', 1, 'target', '/user/board', 'message'].map((v) => pack(v)),
      message,
    ]);
    expect(decodeClientFrame(frame, BIG)).toMatchObject({ message: { type: 'a', 1: 'y' } });
  });

  it('takes since on snapshot subscriptions only, with an epoch of at most 64 characters', () => {
    expect(verdict(pack(subscribe('snapshot', { epoch: 'e'.repeat(64), version: 0 })))).toBe(
      'accepted',
    );
    expect(verdict(pack(subscribe('snapshot', { epoch: 'e'.repeat(65), version: 0 })))).toBe(
      CLIENT_CLOSE.badFrame,
    );
    for (const kind of ['events', 'topic'])
      expect(verdict(pack(subscribe(kind, { epoch: 'e', version: 0 }))), kind).toBe(
        CLIENT_CLOSE.badFrame,
      );
  });
});
