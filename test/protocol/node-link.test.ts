/**
 * The node-link frames: what round-trips, and every way a frame from the network is refused
 * (each with the close code its link closes with).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import {
  CLOSE,
  LinkCodec,
  LinkProtocolError,
  nonce,
  proofMatches,
  proofOf,
  type NodeFrame,
} from '../../protocol/node-link.ts';

/** A packer that knows nothing of the protocol: what a hostile peer can send. */
const raw = new Packr({ structuredClone: false, useRecords: false, mapsAsObjects: true });

function refusal(bytes: Uint8Array, codec = new LinkCodec()): LinkProtocolError {
  try {
    codec.decode(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(LinkProtocolError);
    return e as LinkProtocolError;
  }
  throw new Error('the frame was accepted');
}

describe('node-link frames', () => {
  it('round-trips every kind, before and after the peer is trusted', () => {
    const frames: NodeFrame[] = [
      [1, 'hello', 'node-a', nonce()],
      [1, 'welcome', 'node-b', nonce(), proofOf('s', 'server', 'node-b', nonce(), nonce())],
      [1, 'proof', proofOf('s', 'client', 'node-a', nonce(), nonce())],
      [1, 'ready'],
      [1, 'ping', 12.5],
      [1, 'pong', 12.5],
      [1, 'bye', 'shutting down'],
      [
        1,
        'batch',
        [{ v: 1, to: 'troupe://b/user/x', kind: 'user', body: { n: 1, s: 'é' } } as never],
      ],
    ];
    const a = new LinkCodec();
    const b = new LinkCodec();
    for (const f of frames) expect(b.decode(a.encode(f))).toEqual(f);
    a.trust();
    b.trust();
    // records: the second frame of a shape reuses the first's record definition
    for (let i = 0; i < 3; i++) for (const f of frames) expect(b.decode(a.encode(f))).toEqual(f);
  });

  it('refuses other versions, unknown kinds and malformed fields, each with its close code', () => {
    expect(refusal(raw.pack([2, 'hello', 'a', nonce()])).closeCode).toBe(CLOSE.version);
    expect(refusal(raw.pack([1, 'evil'])).closeCode).toBe(CLOSE.unexpected);
    expect(refusal(raw.pack({ v: 1, k: 'hello' })).closeCode).toBe(CLOSE.badFrame);
    expect(refusal(raw.pack([1, 'hello', 'a b', nonce()])).closeCode).toBe(CLOSE.badFrame);
    expect(refusal(raw.pack([1, 'proof', 'short'])).closeCode).toBe(CLOSE.badFrame);
    expect(refusal(raw.pack([1, 'ping', 'now'])).closeCode).toBe(CLOSE.badFrame);
    expect(refusal(raw.pack([1, 'batch', [1, 2]])).closeCode).toBe(CLOSE.badFrame);
    expect(refusal(Buffer.from([0x92, 0x01])).closeCode).toBe(CLOSE.badFrame); // truncated
  });

  it('refuses __proto__, constructor and prototype keys anywhere', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const body = JSON.parse(`{"${key}":{"polluted":true}}`) as unknown;
      const e = refusal(raw.pack([1, 'batch', [{ v: 1, kind: 'user', body }]]));
      expect(e.closeCode).toBe(CLOSE.badFrame);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a frame over the byte cap before reading it, and values over the caps', () => {
    const codec = new LinkCodec({
      maxFrameBytes: 1_000,
      maxDepth: 8,
      maxArrayLength: 10,
      maxStringLength: 100,
      maxKeys: 5,
    });
    expect(refusal(new Uint8Array(1_001), codec).closeCode).toBe(CLOSE.tooBig);
    let deep: unknown = 1;
    for (let i = 0; i < 10; i++) deep = [deep];
    expect(refusal(raw.pack([1, 'batch', [{ body: deep }]]), codec).closeCode).toBe(CLOSE.badFrame);
    expect(refusal(raw.pack([1, 'batch', new Array(11).fill({})]), codec).closeCode).toBe(
      CLOSE.badFrame,
    );
    expect(refusal(raw.pack([1, 'bye', 'x'.repeat(101)]), codec).closeCode).toBe(CLOSE.badFrame);
    const wide = Object.fromEntries([...'abcdef'].map((k) => [k, 1]));
    expect(refusal(raw.pack([1, 'batch', [wide]]), codec).closeCode).toBe(CLOSE.badFrame);
  });

  it('answers any bytes with a frame or a LinkProtocolError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        try {
          new LinkCodec().decode(bytes);
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
