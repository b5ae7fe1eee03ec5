import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  InMemoryStore,
  PersistenceConflictError,
  type StoredSnapshot,
} from '../../runtime/core/persistence.ts';
import { DEFLATE_FROM_BYTES, SnapshotBytes } from '../../runtime/core/snapshot-bytes.ts';

function snap(data: unknown, schemaVersion = 1): StoredSnapshot {
  return { schemaVersion, data };
}

describe('InMemoryStore', () => {
  it('loads undefined for a key never saved', async () => {
    const store = new InMemoryStore();
    await expect(store.load('/user/none')).resolves.toBeUndefined();
    expect(store.keys()).toEqual([]);
  });

  it('creates version 1 when saving with expectedVersion null', async () => {
    const store = new InMemoryStore();
    await expect(store.save('k', snap({ n: 1 }), { expectedVersion: null })).resolves.toBe(1);
    await expect(store.load('k')).resolves.toEqual({
      snapshot: { schemaVersion: 1, data: { n: 1 } },
      version: 1,
    });
    expect(store.keys()).toEqual(['k']);
  });

  it('adds one to the version on each save that names the current version', async () => {
    const store = new InMemoryStore();
    let v = await store.save('k', snap(0), { expectedVersion: null });
    for (let i = 1; i <= 5; i++) {
      const next = await store.save('k', snap(i, 2), { expectedVersion: v });
      expect(next).toBe(v + 1);
      v = next;
    }
    await expect(store.load('k')).resolves.toEqual({
      snapshot: { schemaVersion: 2, data: 5 },
      version: 6,
    });
  });

  it('refuses a save expecting an older version with ERR_PERSISTENCE_CONFLICT and both versions', async () => {
    const store = new InMemoryStore();
    await store.save('k', snap('a'), { expectedVersion: null });
    await store.save('k', snap('b'), { expectedVersion: 1 });
    const err = await store
      .save('k', snap('stale'), { expectedVersion: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PersistenceConflictError);
    expect(err).toMatchObject({
      code: 'ERR_PERSISTENCE_CONFLICT',
      key: 'k',
      expectedVersion: 1,
      actualVersion: 2,
    });
    await expect(store.load('k')).resolves.toMatchObject({ snapshot: { data: 'b' }, version: 2 });
  });

  it('refuses a save expecting a version ahead of the stored one', async () => {
    const store = new InMemoryStore();
    await store.save('k', snap('a'), { expectedVersion: null });
    await expect(store.save('k', snap('x'), { expectedVersion: 2 })).rejects.toMatchObject({
      code: 'ERR_PERSISTENCE_CONFLICT',
      expectedVersion: 2,
      actualVersion: 1,
    });
  });

  it('refuses a create (expectedVersion null) when a snapshot is already stored', async () => {
    const store = new InMemoryStore();
    await store.save('k', snap('first'), { expectedVersion: null });
    await expect(store.save('k', snap('second'), { expectedVersion: null })).rejects.toMatchObject({
      code: 'ERR_PERSISTENCE_CONFLICT',
      expectedVersion: null,
      actualVersion: 1,
    });
    await expect(store.load('k')).resolves.toMatchObject({ snapshot: { data: 'first' } });
  });

  it('refuses an update when nothing is stored yet, with actualVersion null', async () => {
    const store = new InMemoryStore();
    await expect(store.save('k', snap('x'), { expectedVersion: 1 })).rejects.toMatchObject({
      code: 'ERR_PERSISTENCE_CONFLICT',
      key: 'k',
      expectedVersion: 1,
      actualVersion: null,
    });
    await expect(store.save('k', snap('x'), { expectedVersion: 0 })).rejects.toMatchObject({
      code: 'ERR_PERSISTENCE_CONFLICT',
      expectedVersion: 0,
      actualVersion: null,
    });
    await expect(store.load('k')).resolves.toBeUndefined();
  });

  it('versions each key on its own', async () => {
    const store = new InMemoryStore();
    await store.save('a', snap(1), { expectedVersion: null });
    await store.save('a', snap(2), { expectedVersion: 1 });
    await expect(store.save('b', snap(1), { expectedVersion: null })).resolves.toBe(1);
    expect(store.keys().sort()).toEqual(['a', 'b']);
  });

  it('stores a copy: mutating the saved object afterwards does not change the store', async () => {
    const store = new InMemoryStore();
    const data = { list: [1, 2], nested: { x: 'a' } };
    const s = { schemaVersion: 1, data };
    await store.save('k', s, { expectedVersion: null });
    data.list.push(3);
    data.nested.x = 'changed';
    (s as { schemaVersion: number }).schemaVersion = 9;
    await expect(store.load('k')).resolves.toEqual({
      snapshot: { schemaVersion: 1, data: { list: [1, 2], nested: { x: 'a' } } },
      version: 1,
    });
  });

  it('hands out a copy: mutating a loaded snapshot does not change the store', async () => {
    const store = new InMemoryStore();
    await store.save('k', snap({ list: [1] }), { expectedVersion: null });
    const first = await store.load('k');
    (first!.snapshot.data as { list: number[] }).list.push(99);
    const second = await store.load('k');
    expect(second!.snapshot.data).toEqual({ list: [1] });
    expect(second!.snapshot).not.toBe(first!.snapshot);
  });

  it('forgets a deleted key; a new create never reuses a version a stale writer may hold', async () => {
    const store = new InMemoryStore();
    await store.save('k', snap('a'), { expectedVersion: null });
    await store.save('k', snap('b'), { expectedVersion: 1 });
    await expect(store.delete('k')).resolves.toBeUndefined();
    await expect(store.load('k')).resolves.toBeUndefined();
    expect(store.keys()).toEqual([]);
    await expect(store.save('k', snap('c'), { expectedVersion: null })).resolves.toBe(3);
    await expect(store.save('k', snap('stale'), { expectedVersion: 1 })).rejects.toMatchObject({
      code: 'ERR_PERSISTENCE_CONFLICT',
    });
  });

  it('deletes a key that was never saved without complaint', async () => {
    const store = new InMemoryStore();
    await expect(store.delete('missing')).resolves.toBeUndefined();
  });

  it('rejects, rather than throws, when a snapshot cannot be copied', async () => {
    const store = new InMemoryStore();
    let result: Promise<number> | undefined;
    expect(() => {
      result = store.save('k', snap({ f: () => 0 }), { expectedVersion: null });
    }).not.toThrow();
    await expect(result).rejects.toBeDefined();
    await expect(store.load('k')).resolves.toBeUndefined();
  });

  it("gives back exactly what it took, for any value of the ref codec's plain form", async () => {
    // plain objects, arrays, strings, finite numbers, booleans and null (runtime/core/refcodec.ts)
    const plain = fc
      .jsonValue({ maxDepth: 6 })
      .map((v) => JSON.parse(JSON.stringify(v)) as unknown);
    const seed =
      process.env.STORE_SEED !== undefined ? Number(process.env.STORE_SEED) : Date.now() >>> 0;
    console.log(`InMemoryStore round trip: seed ${seed} (STORE_SEED=${seed} replays it)`);
    const store = new InMemoryStore();
    let version: number | null = null;
    await fc.assert(
      fc.asyncProperty(plain, async (data) => {
        version = await store.save('k', snap(data), { expectedVersion: version });
        const loaded = await store.load('k');
        expect(loaded!.snapshot.data).toStrictEqual(data);
      }),
      { seed, numRuns: 300 },
    );
  });

  it('keeps a snapshot as its encoded bytes, objects of one shape costing their values', async () => {
    const store = new InMemoryStore();
    const message = (i: number) => ({
      role: 'user',
      content: `message ${i}`,
      source: { kind: 'user' },
    });
    const data = { messages: Array.from({ length: 50 }, (_, i) => message(i)) };
    await store.save('k', snap(data), { expectedVersion: null });
    const bytes = (store as unknown as { entries: Map<string, { bytes: string }> }).entries.get(
      'k',
    )!.bytes;
    // the keys of the 50 messages are written once (a record), not 50 times as JSON has them
    expect(bytes.length).toBeLessThan(JSON.stringify(data).length / 2);
    // and they read back as the same snapshot
    expect((await store.load('k'))!.snapshot.data).toStrictEqual(data);
  });
});

describe('SnapshotBytes', () => {
  it('keeps a small snapshot as msgpack and deflates a large one; both read back as written', () => {
    const codec = new SnapshotBytes();
    const small = { n: 1, s: 'short' };
    const large = { text: 'the same sentence, again and again. '.repeat(40), n: [1, 2, 3] };
    const a = codec.encode(small);
    const b = codec.encode(large);
    expect(a.length).toBeLessThan(DEFLATE_FROM_BYTES);
    expect(a.charCodeAt(0)).toBe(0);
    expect(b.charCodeAt(0)).toBe(1);
    // deflated: far smaller than the 1,440 characters of its text
    expect(b.length).toBeLessThan(200);
    expect(codec.decode(a)).toStrictEqual(small);
    expect(codec.decode(b)).toStrictEqual(large);
    // each read is a new copy
    expect(codec.decode(b)).not.toBe(codec.decode(b));
  });

  it('refuses a function rather than writing it as undefined', () => {
    expect(() => new SnapshotBytes().encode({ f: () => 0 })).toThrow(TypeError);
  });
});
