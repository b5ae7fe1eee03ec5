import { describe, expect, it } from 'vitest';
import {
  fromReceive,
  InMemoryStore,
  type ActorRef,
  type ChildFailure,
  type LoadedSnapshot,
  type PersistenceStore,
  type StoredSnapshot,
} from '../../index.ts';
import { createTestProbe, nextTurn, settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

type Msg = { type: 'add'; n: number; notify?: ActorRef<number> } | { type: 'get' };
const adder = (version = 1, migrate?: (s: unknown, from: number) => unknown) =>
  fromReceive<{ total: number }, Msg, number>(
    { total: 0 },
    (s, m, ctx) => {
      if (m.type === 'get') {
        ctx.reply(s.total);
        return s;
      }
      const next = { total: s.total + m.n };
      m.notify?.tell(next.total);
      return next;
    },
    { schemaVersion: version, ...(migrate ? { migrate } : {}) },
  );

/** A store whose saves wait until released, to watch what an actor does meanwhile. */
class GatedStore implements PersistenceStore {
  readonly inner = new InMemoryStore();
  private gates: (() => void)[] = [];
  load(key: string): Promise<LoadedSnapshot | undefined> {
    return this.inner.load(key);
  }
  async save(
    key: string,
    snapshot: StoredSnapshot,
    o: { expectedVersion: number | null },
  ): Promise<number> {
    await new Promise<void>((r) => this.gates.push(r));
    return this.inner.save(key, snapshot, o);
  }
  release(): void {
    const g = this.gates;
    this.gates = [];
    for (const r of g) r();
  }
  get waiting(): number {
    return this.gates.length;
  }
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await nextTurn();
}

describe('persistent actors', () => {
  it('saves after each message and starts from the snapshot when spawned again', async () => {
    const store = new InMemoryStore();
    const a = testSystem();
    const ref = a.system.spawn(adder(), { name: 'acc', persistence: { store } });
    ref.tell({ type: 'add', n: 2 });
    ref.tell({ type: 'add', n: 3 });
    await settle(a.system);
    expect(await store.load('/user/acc')).toEqual({
      snapshot: { schemaVersion: 1, data: { total: 5 } },
      version: 2,
    });
    await a.system.shutdown();
    const b = testSystem();
    const again = b.system.spawn(adder(), {
      name: 'acc',
      persistence: { store, key: '/user/acc' },
    });
    await expect(again.ask({ type: 'get' })).resolves.toBe(5);
    await b.system.shutdown();
  });

  it('holds replies and outgoing messages until the snapshot is saved, and the next message until then', async () => {
    const { system } = testSystem();
    const store = new GatedStore();
    const ref = system.spawn(adder(), { name: 'acc', persistence: { store } });
    const probe = createTestProbe(system);
    ref.tell({ type: 'add', n: 1, notify: probe.ref });
    ref.tell({ type: 'add', n: 1, notify: probe.ref });
    await turns(10);
    expect(store.waiting).toBe(1);
    expect(probe.pending).toEqual([]);
    store.release();
    await turns(10);
    expect(probe.pending).toEqual([1]);
    expect(store.waiting).toBe(1);
    store.release();
    await probe.expectMessage(1);
    await probe.expectMessage(2);
    await system.shutdown();
  });

  it('fails with ERR_PERSISTENCE_CONFLICT when another writer saved first, and a restart reloads the newer snapshot', async () => {
    const { system } = testSystem();
    const store = new InMemoryStore();
    const failures: ChildFailure[] = [];
    const sup = system.spawn(
      fromReceive<null, 'go', ActorRef<Msg, number>>(
        null,
        (s, _m, ctx) => (
          ctx.reply(ctx.spawn(adder(), { name: 'acc', persistence: { store, key: 'acc' } })),
          s
        ),
        { onChildFailure: (f) => (failures.push(f), 'restart') },
      ),
    );
    const acc = await sup.ask('go');
    acc.tell({ type: 'add', n: 1 });
    await settle(system);
    // someone else writes version 2
    await store.save('acc', { schemaVersion: 1, data: { total: 100 } }, { expectedVersion: 1 });
    acc.tell({ type: 'add', n: 1 });
    await settle(system);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.error).toMatchObject({
      code: 'ERR_PERSISTENCE_CONFLICT',
      key: 'acc',
      expectedVersion: 1,
      actualVersion: 2,
    });
    await expect(acc.ask({ type: 'get' })).resolves.toBe(100);
    await system.shutdown();
  });

  it('migrates an older snapshot with migrate(old, fromVersion)', async () => {
    const store = new InMemoryStore();
    await store.save(
      '/user/acc',
      { schemaVersion: 1, data: { sum: 9 } },
      { expectedVersion: null },
    );
    const { system } = testSystem();
    const calls: number[] = [];
    const ref = system.spawn(
      adder(2, (old, from) => {
        calls.push(from);
        return { total: (old as { sum: number }).sum };
      }),
      { name: 'acc', persistence: { store } },
    );
    await expect(ref.ask({ type: 'get' })).resolves.toBe(9);
    expect(calls).toEqual([1]);
    await system.shutdown();
  });

  it('fails with ERR_MIGRATION when an older snapshot has no migrate, or the snapshot is newer', async () => {
    for (const stored of [1, 3]) {
      const store = new InMemoryStore();
      await store.save(
        '/user/acc',
        { schemaVersion: stored, data: { total: 1 } },
        { expectedVersion: null },
      );
      const { system } = testSystem();
      const ref = system.spawn(adder(2), { name: 'acc', persistence: { store } });
      const probe = createTestProbe(system);
      const t = await probe.expectTerminated(ref);
      expect(t.error).toMatchObject({
        code: 'ERR_MIGRATION',
        storedVersion: stored,
        behaviourVersion: 2,
      });
      await system.shutdown();
    }
  });

  it('fails with ERR_NOT_SERIALIZABLE when its state cannot be stored, naming where', async () => {
    const { system } = testSystem();
    const ref = system.spawn(
      fromReceive<{ cb?: () => void }, 'go'>({}, () => ({ cb: () => undefined })),
      { persistence: { store: new InMemoryStore() } },
    );
    const probe = createTestProbe(system);
    probe.watch(ref);
    ref.tell('go');
    const t = await probe.expectMessage<{ error: unknown }>();
    expect(t.error).toMatchObject({ code: 'ERR_NOT_SERIALIZABLE', at: '$.cb' });
    await system.shutdown();
  });
});
