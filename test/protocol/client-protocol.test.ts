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
