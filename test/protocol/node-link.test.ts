/**
 * The node-link frames: what round-trips, and every way a frame from the network is refused
 * (each with the close code its link closes with).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import {
  BatchReader,
  BatchWriter,
  CLOSE,
  DEFAULT_DECODE_LIMITS,
  LinkCodec,
  LinkProtocolError,
  NODE_PROTOCOL_VERSION,
  nonce,
  proofMatches,
  proofOf,
  type BatchEntry,
  type BatchFrame,
  type DecodeLimits,
  type NodeFrame,
  type Unsent,
} from '../../protocol/node-link.ts';
import type { Address } from '../../protocol/address.ts';

/** A packer that knows nothing of the protocol: what a hostile peer can send. */
const raw = new Packr({ structuredClone: false, useRecords: false, mapsAsObjects: true });

const V = NODE_PROTOCOL_VERSION;

/** A ref as these tests revive it (the runtime revives the system's refs). */
class FakeRef {
  readonly address: string;
  constructor(address: string) {
    this.address = address;
  }
}
const revive = (a: Address): unknown => new FakeRef(a);
const isRef = (v: object): boolean => v instanceof FakeRef;

/** A codec trusting its peer (after the handshake). */
function trusted(limits?: DecodeLimits): LinkCodec {
  const c = new LinkCodec(limits);
  c.trust(revive);
  return c;
}

/** Decodes and reads every entry (a batch), or the frame. */
function readAll(
  bytes: Uint8Array,
  codec: LinkCodec,
  reader = new BatchReader(codec.limits, isRef),
): BatchEntry[] | NodeFrame {
  const f = codec.decode(bytes);
  if (f[1] !== 'batch') return f;
  const out: BatchEntry[] = [];
  reader.read(f as BatchFrame, (kind, to, from, replyTo, corr, trace, principal, body, encoded) =>
    out.push({ kind, to, from, replyTo, corr, trace, principal, body, encoded }),
  );
  return out;
}

function refusal(bytes: Uint8Array, codec = new LinkCodec()): LinkProtocolError {
  try {
    readAll(bytes, codec);
  } catch (e) {
    expect(e).toBeInstanceOf(LinkProtocolError);
    return e as LinkProtocolError;
  }
  throw new Error('the frame was accepted');
}

const entry = (n: number, over: Partial<BatchEntry> = {}): BatchEntry => ({
  kind: 'user',
  to: 'troupe://b/user/x' as Address,
  from: undefined,
  replyTo: undefined,
  corr: 0,
  trace: undefined,
  principal: undefined,
  body: { n },
  encoded: false,
  ...over,
});

const kinds = { user: 0, system: 1, reply: 2 } as const;
function pushAll(w: BatchWriter, entries: readonly BatchEntry[]): void {
  for (const e of entries)
    w.push(kinds[e.kind], e.to, e.from, e.replyTo, e.corr, e.trace, e.principal, e.body, e.encoded);
}

describe('node-link frames', () => {
  it('round-trips every control kind, before and after the peer is trusted', () => {
    const frames: Exclude<NodeFrame, BatchFrame>[] = [
      [V, 'hello', 'node-a', nonce()],
      [V, 'welcome', 'node-b', nonce(), proofOf('s', 'server', 'node-b', nonce(), nonce())],
      [V, 'proof', proofOf('s', 'client', 'node-a', nonce(), nonce())],
      [V, 'ready'],
      [V, 'ping', 12.5],
      [V, 'pong', 12.5],
      [V, 'bye', 'shutting down'],
    ];
    const a = new LinkCodec();
    const b = new LinkCodec();
    for (const f of frames) expect(b.decode(a.encode(f))).toEqual(f);
    b.trust(revive);
    for (const f of frames) expect(b.decode(a.encode(f))).toEqual(f);
  });

  it('carries batches: every field, addresses numbered across frames', () => {
    const w = new BatchWriter(DEFAULT_DECODE_LIMITS.maxFrameBytes, (a) => !a.includes('/temp/'));
    const codec = trusted();
    const reader = new BatchReader(codec.limits, isRef);
    const frames: Uint8Array[] = [];
    const sent: BatchEntry[] = [
      entry(1, { from: 'troupe://a/user/p' as Address }),
      entry(5, { principal: { id: 'alice', scopes: ['read'] }, trace: { traceparent: 'x' } }),
      entry(2, {
        kind: 'system',
        replyTo: 'troupe://a/temp/r1' as Address,
        corr: 7,
        trace: { traceparent: '00-aa-bb-01' },
        body: { $ref: 'troupe://a/user/p' },
        encoded: true,
      }),
      entry(3, {
        kind: 'reply',
        body: { s: 'é', d: new Date(5), u: undefined, list: [null, true, -1.5] },
      }),
    ];
    for (let round = 0; round < 3; round++) {
      pushAll(w, sent);
      // the fast path: a plain tell
      expect(w.pushTell('troupe://b/user/y' as Address, undefined, 'hi')).toBe(sent.length + 1);
      const unsent: Unsent[] = [];
      w.take(frames, [], unsent);
      expect(unsent).toEqual([]);
      const got = readAll(frames.at(-1)!, codec, reader);
      expect(got).toEqual([...sent, entry(0, { to: 'troupe://b/user/y' as Address, body: 'hi' })]);
    }
    // numbered addresses are sent once as strings: later frames are smaller than the first
    expect(frames[1]!.byteLength).toBeLessThan(frames[0]!.byteLength);
  });

  it('splits a batch over the frame cap, and gives back an entry that alone does not fit or pack', () => {
    const w = new BatchWriter(1_000);
    const codec = trusted({ ...DEFAULT_DECODE_LIMITS, maxFrameBytes: 1_000 });
    const reader = new BatchReader(codec.limits, isRef);
    const big = (n: number, size: number) => entry(n, { body: { n, pad: 'x'.repeat(size) } });
    // changed after it was sent: it no longer packs
    const bigint = entry(9, { body: { n: 9, no: Symbol('no') } });
    pushAll(w, [big(0, 300), big(1, 300), big(2, 2_000), bigint, big(3, 300), big(4, 300)]);
    const frames: Uint8Array[] = [];
    const counts: number[] = [];
    const unsent: Unsent[] = [];
    w.take(frames, counts, unsent);
    expect(frames.length).toBeGreaterThan(1);
    const got = frames.flatMap((f) => readAll(f, codec, reader) as BatchEntry[]);
    expect(got.map((e) => (e.body as { n: number }).n)).toEqual([0, 1, 3, 4]);
    expect(counts.reduce((a, b) => a + b)).toBe(4);
    expect(unsent.map((u) => (u.entries[0]!.body as { n: number }).n)).toEqual([2, 9]);
    expect(unsent[0]!.why).toMatch(/frame cap/);
    expect(unsent[1]!.why).toMatch(/does not pack/);
  });

  it('refuses other versions, unknown kinds and malformed fields, each with its close code', () => {
    expect(refusal(raw.pack([V + 1, 'hello', 'a', nonce()])).closeCode).toBe(CLOSE.version);
    expect(refusal(raw.pack([V, 'evil'])).closeCode).toBe(CLOSE.unexpected);
    expect(refusal(raw.pack({ v: V, k: 'hello' })).closeCode).toBe(CLOSE.badFrame);
    expect(refusal(raw.pack([V, 'hello', 'a b', nonce()])).closeCode).toBe(CLOSE.badFrame);
    expect(refusal(raw.pack([V, 'proof', 'short'])).closeCode).toBe(CLOSE.badFrame);
    expect(refusal(raw.pack([V, 'ping', 'now'])).closeCode).toBe(CLOSE.badFrame);
    expect(refusal(Buffer.from([0x92, 0x01])).closeCode).toBe(CLOSE.badFrame); // truncated
    // a batch before the handshake
    expect(refusal(raw.pack([V, 'batch', 0, 'troupe://b/user/x', 1])).closeCode).toBe(
      CLOSE.unexpected,
    );
    // malformed entries after it
    const to = 'troupe://b/user/x';
    for (const bad of [
      [V, 'batch', 'flags', to, 1],
      [V, 'batch', 128, to, 1], // an unknown flag
      [V, 'batch', 3, to, 1], // kind 3
      [V, 'batch', 0, 'not an address', 1],
      [V, 'batch', 0, 5, 1], // an address number never given
      [V, 'batch', 0, ['troupe://b/user/x', 'more'], 1],
      [V, 'batch', 0, to], // no body
      [V, 'batch', 8, to, 'troupe://a/temp/r', 1.5, 1], // a fractional corr
      [V, 'batch', 16, to, { traceparent: 1 }, 1], // a trace that is not headers
      [V, 'batch', 64, to, 'alice', 1], // a principal that is not a map
      [V, 'batch', 64, to, { name: 'alice' }, 1], // …or has no string id
      [V, 'batch', 64, to, { id: 'alice' }], // then no body
    ])
      expect(refusal(raw.pack(bad), trusted()).closeCode).toBe(CLOSE.badFrame);
  });

  it('refuses __proto__, constructor and prototype keys anywhere', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const body = JSON.parse(`{"${key}":{"polluted":true}}`) as unknown;
      const e = refusal(
        raw.pack([V, 'batch', 0, 'troupe://b/user/x', { deep: [body] }]),
        trusted(),
      );
      expect(e.closeCode).toBe(CLOSE.badFrame);
      expect(refusal(raw.pack([V, 'bye', body])).closeCode).toBe(CLOSE.badFrame);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a frame over the byte cap before reading it, and values over the caps', () => {
    const limits = {
      maxFrameBytes: 1_000,
      maxDepth: 8,
      maxArrayLength: 10,
      maxStringLength: 100,
      maxKeys: 5,
    };
    expect(refusal(new Uint8Array(1_001), trusted(limits)).closeCode).toBe(CLOSE.tooBig);
    let deep: unknown = 1;
    for (let i = 0; i < 10; i++) deep = [deep];
    const one = (body: unknown) => raw.pack([V, 'batch', 0, 'troupe://b/user/x', body]);
    expect(refusal(one(deep), trusted(limits)).closeCode).toBe(CLOSE.badFrame);
    expect(refusal(one(new Array(11).fill(0)), trusted(limits)).closeCode).toBe(CLOSE.badFrame);
    expect(refusal(one('x'.repeat(101)), trusted(limits)).closeCode).toBe(CLOSE.badFrame);
    const wide = Object.fromEntries([...'abcdef'].map((k) => [k, 1]));
    expect(refusal(one(wide), trusted(limits)).closeCode).toBe(CLOSE.badFrame);
    // a batch longer than the array cap
    const long = [V, 'batch', ...new Array<unknown>(12).fill(0)];
    expect(refusal(raw.pack(long), trusted(limits)).closeCode).toBe(CLOSE.badFrame);
    expect(refusal(raw.pack([V, 'bye', 'x'.repeat(101)]), trusted(limits)).closeCode).toBe(
      CLOSE.badFrame,
    );
  });

  it('answers any bytes with a frame or a LinkProtocolError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        try {
          readAll(bytes, new LinkCodec());
          readAll(bytes, trusted());
        } catch (e) {
          expect(e).toBeInstanceOf(LinkProtocolError);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('proves the secret without sending it: the proof depends on the role, the node and both nonces', () => {
    const [n1, n2] = [nonce(), nonce()];
    const p = proofOf('secret', 'server', 'b', n1, n2);
    expect(p).not.toContain('secret');
    expect(proofMatches(p, proofOf('secret', 'server', 'b', n1, n2))).toBe(true);
    expect(proofMatches(p, proofOf('other', 'server', 'b', n1, n2))).toBe(false);
    expect(proofMatches(p, proofOf('secret', 'client', 'b', n1, n2))).toBe(false);
    expect(proofMatches(p, proofOf('secret', 'server', 'c', n1, n2))).toBe(false);
    expect(proofMatches(p, proofOf('secret', 'server', 'b', nonce(), n2))).toBe(false);
    expect(proofMatches('AAAA', p)).toBe(false);
  });
});
