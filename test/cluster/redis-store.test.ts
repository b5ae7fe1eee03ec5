/**
 * The Redis snapshot store against a real Redis: versions and compare-and-set, deletes that
 * keep the version, and writes fenced by an entity's claim epoch.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PersistenceConflictError } from '../../runtime/core/persistence.ts';
import { createSystem, fromReceive, type ActorRef } from '../../index.ts';
import { RedisSnapshotStore, EntityLostError } from '../../runtime/cluster/redis-store.ts';
import { clusterKeys } from '../../runtime/cluster/keys.ts';
import { client, clusterName, dropCluster } from '../../bench/cluster/redis.ts';

const redis = client();
const names: string[] = [];
afterEach(async () => {
  for (const n of names.splice(0)) await dropCluster(n);
});
afterAll(() => redis.disconnect());

function store(): { s: RedisSnapshotStore; name: string } {
  const name = clusterName();
  names.push(name);
  return { s: new RedisSnapshotStore(redis, name), name };
}

describe('RedisSnapshotStore', () => {
  it('saves and loads versioned snapshots, compare-and-set', async () => {
    const { s } = store();
    expect(await s.load('k')).toBeUndefined();
    const v1 = await s.save(
      'k',
      { schemaVersion: 1, data: { n: 1, ref: { $ref: 'troupe://a/user/x' } } },
      { expectedVersion: null },
    );
    expect(v1).toBe(1);
    expect(await s.load('k')).toEqual({
      snapshot: { schemaVersion: 1, data: { n: 1, ref: { $ref: 'troupe://a/user/x' } } },
      version: 1,
    });
    const v2 = await s.save('k', { schemaVersion: 2, data: { n: 2 } }, { expectedVersion: 1 });
    expect(v2).toBe(2);
    // a writer that saw version 1 (or nothing) is refused, and told what is there
    const stale = s.save('k', { schemaVersion: 1, data: { n: 9 } }, { expectedVersion: 1 });
    await expect(stale).rejects.toBeInstanceOf(PersistenceConflictError);
    await expect(stale).rejects.toMatchObject({ expectedVersion: 1, actualVersion: 2 });
    await expect(
      s.save('k', { schemaVersion: 1, data: 0 }, { expectedVersion: null }),
    ).rejects.toMatchObject({
      actualVersion: 2,
    });
    expect((await s.load('k'))!.snapshot.data).toEqual({ n: 2 });
  });

  it('deletes a snapshot but never reuses its versions', async () => {
    const { s } = store();
    await s.save('k', { schemaVersion: 1, data: 1 }, { expectedVersion: null });
    await s.delete('k');
    expect(await s.load('k')).toBeUndefined();
    // a stale writer that saw version 1 cannot match a new first write
    await expect(
      s.save('k', { schemaVersion: 1, data: 2 }, { expectedVersion: 1 }),
    ).rejects.toBeInstanceOf(PersistenceConflictError);
    expect(await s.save('k', { schemaVersion: 1, data: 2 }, { expectedVersion: null })).toBe(2);
  });

  it('fences writes by the claim epoch: a writer whose claim moved on is refused', async () => {
    const { s, name } = store();
    const keys = clusterKeys(name);
    const claimKey = keys.claim('counter', 'x');
    await redis.hset(claimKey, 'node', 'a', 'inc', 'i1', 'epoch', '1');
    const a = s.fenced({ claimKey, epoch: 1, node: 'a', incarnation: 'i1' });
    expect(await a.save('e', { schemaVersion: 1, data: 'by a' }, { expectedVersion: null })).toBe(
      1,
    );
    // b claims it: epoch 2
    await redis.hset(claimKey, 'node', 'b', 'inc', 'i2', 'epoch', '2');
    const lost = a.save('e', { schemaVersion: 1, data: 'stale' }, { expectedVersion: 1 });
    await expect(lost).rejects.toBeInstanceOf(EntityLostError);
    await expect(lost).rejects.toMatchObject({ epoch: 1, currentEpoch: 2 });
    const b = s.fenced({ claimKey, epoch: 2, node: 'b', incarnation: 'i2' });
    expect(await b.save('e', { schemaVersion: 1, data: 'by b' }, { expectedVersion: 1 })).toBe(2);
    expect((await s.load('e'))!.snapshot.data).toBe('by b');
  });

  it('keeps the snapshots of any persistent actor: a new system starts it from them', async () => {
    const { s } = store();
    const counter = fromReceive<number, 'inc' | 'get', number>(
      0,
      (n, m, ctx) => {
        if (m === 'inc') return n + 1;
        ctx.reply(n);
        return n;
      },
      { persist: (n) => n, restore: (x) => x as number },
    );
    const one = createSystem();
    const a = one.spawn(counter, { name: 'c', persistence: { store: s } }) as ActorRef<
      'inc' | 'get',
      number
    >;
    a.tell('inc');
    a.tell('inc');
    expect(await a.ask('get')).toBe(2);
    await one.shutdown();
    const two = createSystem();
    const b = two.spawn(counter, { name: 'c', persistence: { store: s } }) as ActorRef<
      'inc' | 'get',
      number
    >;
    expect(await b.ask('get')).toBe(2);
    await two.shutdown();
  });

  it('leaves no keys behind', async () => {
    const { s, name } = store();
    await s.save('k', { schemaVersion: 1, data: 1 }, { expectedVersion: null });
    expect(await dropCluster(name)).toBe(1);
    expect(await dropCluster(name)).toBe(0);
  });
});
