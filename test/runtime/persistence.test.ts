import { describe, expect, it } from 'vitest';
import {
  InMemoryStore,
  PersistenceConflictError,
  type StoredSnapshot,
} from '../../runtime/core/persistence.ts';

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
});
