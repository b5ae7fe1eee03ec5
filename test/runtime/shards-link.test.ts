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
import type { Address } from '../../protocol/address.ts';
import { Acks } from '../../runtime/shards/acks.ts';

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
    principal: undefined,
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
  reader.read(bytes, refOf, (kind, to, from, replyTo, corr, trace, principal, body) =>
    out.push({ kind, to, from, replyTo, corr, trace, principal, body }),
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
    const first = readAll(r, w.take(0, [])!);
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
    expect(readAll(r, w.take(0, [])!)).toMatchObject([{ to: B, from: A, body: 'again' }]);
    expect(w.take(0, [])).toBeNull();
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
      const [a, b] = readAll(new LinkReader(), w.take(0, [])!, system.refOf);
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
      readAll(r, w.take(0, [])!);
    }
    w.acked([2]);
    expect(w.unacknowledged(noRefs).map((e) => e.body)).toEqual([{ n: 0 }, { n: 2 }]);
    w.acked([1, 3]);
    expect(w.unacknowledged(noRefs)).toEqual([]);
  });

  it('reads back a frame kept from before the record ids were reused', () => {
    const w = new LinkWriter();
    const r = new LinkReader();
    w.pushTell(A, B, { x: 1 }); // frame 1 defines the record { x }
    readAll(r, w.take(0, [])!);
    w.pushTell(A, B, { x: 2 }); // frame 2 uses it by its id, and is kept
    readAll(r, w.take(0, [])!);
    // enough new shapes that msgpackr gives { x }'s id to another; all those acknowledged
    for (let i = 0; i < 100; i++) {
      w.pushTell(A, B, { [`f${i}`]: i });
      readAll(r, w.take(0, [])!);
    }
    w.acked([1, ...Array.from({ length: 100 }, (_, i) => i + 3)]);
    expect(w.unacknowledged(noRefs).map((e) => e.body)).toEqual([{ x: 2 }]);
  });

  it('carries the acknowledgement of the other way in each frame', () => {
    const w = new LinkWriter();
    const r = new LinkReader();
    w.pushTell(A, B, 1);
    readAll(r, w.take(0, [])!);
    expect(r.acks).toBe(0);
    w.pushTell(A, B, 2);
    readAll(r, w.take([41, 43], [])!);
    expect(r.acks).toEqual([41, 43]);
  });

  it('numbers addresses up to INTERNED_ADDRESSES, then sends them whole', () => {
    const w = new LinkWriter();
    const r = new LinkReader();
    const addr = (i: number): Address => `troupe://local/user/$${i.toString(36)}` as Address;
    for (let i = 0; i <= INTERNED_ADDRESSES; i++) w.pushTell(addr(i), undefined, i);
    w.pushTell(addr(INTERNED_ADDRESSES), undefined, 'past');
    w.pushTell(addr(0), undefined, 'first');
    const out = readAll(r, w.take(0, [])!);
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

describe('acknowledgements', () => {
  it('acknowledge each frame once its messages are taken, not held back by a message stuck in another mailbox', () => {
    const stuck = { taken: 0, size: 1, gone: false };
    const busy = { taken: 0, size: 1, gone: false };
    const acks = new Acks(2);
    // frame 1: a message for `stuck`; frame 2: one for `busy`
    acks.begin();
    acks.queued(stuck as never);
    acks.end(1, 1);
    acks.begin();
    acks.queued(busy as never);
    acks.end(1, 2);
    expect(acks.due(1)).toBe(0);
    busy.taken = 1; // busy took its message; stuck still has its own
    expect(acks.due(1)).toEqual([2]);
    expect(acks.waiting(1)).toBe(true);
    stuck.gone = true; // it stopped: its messages went to dead letters
    expect(acks.due(1)).toEqual([1]);
    expect(acks.waiting(1)).toBe(false);
  });

  it('keep a frame unacknowledged while one of its messages waits before a mailbox', () => {
    const cell = { taken: 0, size: 0, gone: false };
    const acks = new Acks(2);
    acks.begin();
    const waiting = acks.pending();
    acks.end(0, 1);
    expect(acks.due(0)).toBe(0);
    cell.size = 1;
    waiting.delivered(cell as never);
    expect(acks.due(0)).toBe(0);
    cell.taken = 1;
    expect(acks.due(0)).toEqual([1]);
  });
});

describe('acknowledgements under a backlog', () => {
  it('find the handled frames behind a stuck one within a few calls, each once', () => {
    const acks = new Acks(2);
    const stuck = { taken: 0, size: 1, gone: false };
    const cells = Array.from({ length: 600 }, () => ({ taken: 0, size: 1, gone: false }));
    acks.begin();
    acks.queued(stuck as never);
    acks.end(1, 1);
    cells.forEach((c, i) => {
      acks.begin();
      acks.queued(c as never);
      acks.end(1, i + 2);
    });
    for (const c of cells) c.taken = 1;
    const seen: number[] = [];
    for (let call = 0; call < 5; call++) {
      const due = acks.due(1);
      if (due !== 0) seen.push(...due);
    }
    expect(seen.sort((a, b) => a - b)).toEqual(cells.map((_, i) => i + 2));
    expect(acks.waiting(1)).toBe(true); // the stuck one
  });
});
