/** The wire of a shard link (runtime/shards/link.ts), without threads: writer → bytes → reader. */
import { describe, expect, it } from 'vitest';
import { createSystem, encodeValue, type ActorRef } from '../../index.ts';
import {
  crossing,
  ENCODED,
  INTERNED_ADDRESSES,
  KIND_SYSTEM,
  KIND_USER,
  LinkReader,
  LinkWriter,
  type InEntry,
  type OutEntry,
} from '../../runtime/shards/link.ts';
import type { Address } from '../../runtime/address.ts';

const A = 'troupe://local/user/a' as Address;
const B = 'troupe://local/user/b' as Address;

function entry(o: Partial<OutEntry>): OutEntry {
  return {
    kind: KIND_USER,
    to: A,
    from: undefined,
    replyTo: undefined,
    corr: 0,
    trace: undefined,
    body: null,
    encoding: 0,
    ...o,
  };
}

const noRefs = (a: Address): never => {
  throw new Error(`no refs here (${a})`);
};

function readAll(
  reader: LinkReader,
  bytes: Uint8Array,
  refOf: (a: Address) => ActorRef<unknown> = noRefs,
): InEntry[] {
  const out: InEntry[] = [];
  reader.read(bytes, refOf, (kind, to, from, replyTo, corr, trace, body) =>
    out.push({ kind, to, from, replyTo, corr, trace, body }),
  );
  return out;
}

describe('shard link', () => {
  it('carries every field of the envelope, in order, across frames', () => {
    const w = new LinkWriter();
    const r = new LinkReader();
    w.pushTell(A, B, { type: 'inc' });
    w.push(entry({ kind: KIND_SYSTEM, to: B, body: { type: 'watch' } }));
    w.push(
      entry({
        from: A,
        replyTo: 'troupe://local/temp/ask-1' as Address,
        corr: 7,
        trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
        body: { q: [1, 2, 3], when: new Date(5) },
      }),
    );
    const first = readAll(r, w.take(0)!);
    expect(first).toEqual([
      {
        kind: 'user',
        to: A,
        from: B,
        replyTo: undefined,
        corr: 0,
        trace: undefined,
        body: { type: 'inc' },
      },
      {
        kind: 'system',
        to: B,
        from: undefined,
        replyTo: undefined,
        corr: 0,
        trace: undefined,
        body: { type: 'watch' },
      },
      {
        kind: 'user',
        to: A,
        from: A,
        replyTo: 'troupe://local/temp/ask-1',
        corr: 7,
        trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
        body: { q: [1, 2, 3], when: new Date(5) },
      },
    ]);
    // the next frame names A and B by number: the reader keeps its numbering in step
    w.pushTell(B, A, 'again');
    expect(readAll(r, w.take(0)!)).toMatchObject([{ to: B, from: A, body: 'again' }]);
    expect(w.take(0)).toBeNull();
  });

  it('revives refs in bodies with the reading system, and errors through the ref codec', async () => {
    const system = createSystem();
    try {
      const ref = system.spawn({
        kind: 'x',
        init: () => null,
        receive: (s) => s,
      }) as ActorRef<unknown>;
      const w = new LinkWriter();
      w.pushTell(A, undefined, { who: ref });
      const err = Object.assign(new Error('boom'), { code: 'ERR_X' });
      w.push(entry({ body: encodeValue({ err }), encoding: ENCODED }));
      const [a, b] = readAll(new LinkReader(), w.take(0)!, system.refOf);
      expect((a!.body as { who: ActorRef<unknown> }).who).toBe(ref);
      expect((b!.body as { err: Error }).err).toMatchObject({ message: 'boom', code: 'ERR_X' });
    } finally {
      await system.shutdown();
    }
  });

  it('keeps frames until they are acknowledged, and reads back those that were not', () => {
    const w = new LinkWriter();
    const r = new LinkReader();
    for (let i = 0; i < 3; i++) {
      w.pushTell(A, B, { n: i });
      readAll(r, w.take(0)!);
    }
    w.acked(1);
    expect(w.unacknowledged(noRefs).map((e) => e.body)).toEqual([{ n: 1 }, { n: 2 }]);
    w.acked(3);
    expect(w.unacknowledged(noRefs)).toEqual([]);
  });

  it('carries the acknowledgement of the other way in each frame', () => {
    const w = new LinkWriter();
    const r = new LinkReader();
    w.pushTell(A, B, 1);
    readAll(r, w.take(0)!);
    expect(r.ack).toBe(0);
    w.pushTell(A, B, 2);
    readAll(r, w.take(41)!);
    expect(r.ack).toBe(41);
  });

  it('numbers addresses up to INTERNED_ADDRESSES, then sends them whole', () => {
    const w = new LinkWriter();
    const r = new LinkReader();
    const addr = (i: number): Address => `troupe://local/user/$${i.toString(36)}` as Address;
    for (let i = 0; i <= INTERNED_ADDRESSES; i++) w.pushTell(addr(i), undefined, i);
    w.pushTell(addr(INTERNED_ADDRESSES), undefined, 'past');
    w.pushTell(addr(0), undefined, 'first');
    const out = readAll(r, w.take(0)!);
    expect(out.at(-3)!.to).toBe(addr(INTERNED_ADDRESSES));
    expect(out.at(-2)).toMatchObject({ to: addr(INTERNED_ADDRESSES), body: 'past' });
    expect(out.at(-1)).toMatchObject({ to: addr(0), body: 'first' });
  });

  it('lets plain data, refs and dates cross as they are, and sends the rest to the ref codec', () => {
    expect(
      crossing({ type: 'inc', n: 1, list: [1, 'a', null, true], nested: { d: new Date(1) } }),
    ).toBe(true);
    expect(crossing(Object.create(null))).toBe(true);
    for (const v of [
      new Error('x'),
      { f: () => 1 },
      { n: NaN },
      { big: 1n },
      new Map(),
      new (class X {})(),
      { d: new Date(NaN) },
      JSON.parse('{"__proto__": {"x": 1}}'),
    ])
      expect(crossing(v)).toBe(false);
    const deep: Record<string, unknown> = {};
    let at = deep;
    for (let i = 0; i < 70; i++) at = (at.x = {}) as Record<string, unknown>;
    expect(crossing(deep)).toBe(false);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(crossing(cycle)).toBe(false);
  });
});
