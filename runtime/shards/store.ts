/**
 * Persistence for actors placed on another shard than the store they were given. A store is
 * an object of one thread (an in-memory map, a Redis client of the main thread): it stays
 * there. The spawning shard lends it under an id (`lend`); the actor's shard gets a
 * ShardStore, which asks the owning shard to `load`, `save` and `delete` and waits for the
 * answer (`store` and `stored` frames, runtime/shards/protocol.ts). Compare-and-set works as
 * with the store itself: a conflict comes back as PersistenceConflictError with its versions.
 *
 * A store is lent for the life of the node (stores are few: one per kind of data, not per
 * actor). When the owning shard dies, requests in flight and later ones reject with
 * ShardLostError: the actor fails, and its supervisor decides.
 */
import type { TroupeError } from '../core/index.ts';
import {
  PersistenceConflictError,
  type LoadedSnapshot,
  type PersistenceStore,
  type SaveOptions,
  type StoredSnapshot,
} from '../core/index.ts';
import type { ActorPath } from '../../protocol/address.ts';
import { SHARD_PROTOCOL_VERSION, type ShardFrame, type StoreErrorFrame } from './protocol.ts';
import { crossError, RemoteError, ShardLostError } from './errors.ts';
import type { ShardRouter } from './router.ts';

/** How a lent store is named in a spawn frame. */
export interface LentStore {
  readonly owner: number;
  readonly id: number;
}

type StoreOp = Extract<ShardFrame, { k: 'store' }>;

/** A store of another shard, reached through the ports. */
export class ShardStore implements PersistenceStore {
  readonly #links: StoreLinks;
  /** The store it reaches (lent again under the same name). */
  readonly lent: LentStore;
  constructor(links: StoreLinks, lent: LentStore) {
    this.#links = links;
    this.lent = lent;
  }

  load(key: string): Promise<LoadedSnapshot | undefined> {
    return this.#links.request(this.lent, { op: 'load', key }) as Promise<
      LoadedSnapshot | undefined
    >;
  }

  save(key: string, snapshot: StoredSnapshot, options: SaveOptions): Promise<number> {
    return this.#links.request(this.lent, {
      op: 'save',
      key,
      snapshot,
      expectedVersion: options.expectedVersion,
    }) as Promise<number>;
  }

  delete(key: string): Promise<void> {
    return this.#links.request(this.lent, { op: 'delete', key }) as Promise<void>;
  }
}

/** A shard's side of store lending: the stores it lends, and its requests to others. */
export class StoreLinks {
  readonly #router: ShardRouter;
  readonly #lentIds = new Map<PersistenceStore, number>();
  readonly #lent = new Map<number, PersistenceStore>();
  readonly #pending = new Map<
    number,
    { owner: number; resolve: (v: unknown) => void; reject: (e: unknown) => void }
  >();
  #seq = 0;

  constructor(router: ShardRouter) {
    this.#router = router;
  }

  /** Lends `store` to other shards: its name there. */
  lend(store: PersistenceStore): LentStore {
    if (store instanceof ShardStore) return store.lent;
    let id = this.#lentIds.get(store);
    if (id === undefined) {
      id = this.#lentIds.size + 1;
      this.#lentIds.set(store, id);
      this.#lent.set(id, store);
    }
    return { owner: this.#router.shard, id };
  }

  /** The store a spawn frame names: this shard's own, or a ShardStore for another's. */
  storeFor(lent: LentStore): PersistenceStore {
    if (lent.owner === this.#router.shard) {
      const own = this.#lent.get(lent.id);
      if (own !== undefined) return own;
    }
    return new ShardStore(this, lent);
  }

  request(
    lent: LentStore,
    op: Omit<StoreOp, 'v' | 'k' | 'req' | 'id'> & Partial<Pick<StoreOp, 'snapshot'>>,
  ): Promise<unknown> {
    const r = this.#router;
    if (!r.isLive(lent.owner))
      return Promise.reject(new ShardLostError(lent.owner, `store ${lent.id}` as ActorPath));
    const req = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(req, { owner: lent.owner, resolve, reject });
      r.post(lent.owner, { v: SHARD_PROTOCOL_VERSION, k: 'store', req, id: lent.id, ...op });
    });
  }

  /** A request from another shard for a store this one lent: answered with `stored`. */
  serve(frame: StoreOp, from: number): void {
    const r = this.#router;
    const answer = (f: Omit<Extract<ShardFrame, { k: 'stored' }>, 'v' | 'k' | 'req'>): void => {
      try {
        r.post(from, { v: SHARD_PROTOCOL_VERSION, k: 'stored', req: frame.req, ...f });
      } catch (error) {
        // what the store gave cannot be carried to that thread: the request fails with why
        r.post(from, {
          v: SHARD_PROTOCOL_VERSION,
          k: 'stored',
          req: frame.req,
          ok: false,
          error: storeError(error),
        });
      }
    };
    const store = this.#lent.get(frame.id);
    if (store === undefined) {
      answer({ ok: false, error: { name: 'Error', message: `no store ${frame.id} lent here` } });
      return;
    }
    let work: Promise<unknown>;
    try {
      work =
        frame.op === 'load'
          ? store.load(frame.key)
          : frame.op === 'save'
            ? store.save(frame.key, frame.snapshot!, {
                expectedVersion: frame.expectedVersion ?? null,
              })
            : (store.delete?.(frame.key) ?? Promise.resolve());
    } catch (error) {
      work = Promise.reject(error);
    }
    work.then(
      (value) => answer({ ok: true, value: value ?? null }),
      (error: unknown) => answer({ ok: false, error: storeError(error) }),
    );
  }

  /** The answer to one of this shard's requests. */
  answered(frame: Extract<ShardFrame, { k: 'stored' }>): void {
    const p = this.#pending.get(frame.req);
    if (p === undefined) return;
    this.#pending.delete(frame.req);
    if (frame.ok) p.resolve(frame.value ?? undefined);
    else p.reject(revive(frame.error!));
  }

  /** A shard died: what was asked of its stores fails. */
  lost(shard: number): void {
    for (const [req, p] of [...this.#pending])
      if (p.owner === shard) {
        this.#pending.delete(req);
        p.reject(new ShardLostError(shard, `a store of shard ${shard}` as ActorPath));
      }
  }
}

function storeError(error: unknown): StoreErrorFrame {
  if (error instanceof PersistenceConflictError)
    return {
      name: error.name,
      message: error.message,
      code: error.code,
      key: error.key,
      expectedVersion: error.expectedVersion,
      actualVersion: error.actualVersion,
    };
  return crossError(error);
}

function revive(e: StoreErrorFrame): TroupeError {
  if (e.code === 'ERR_PERSISTENCE_CONFLICT' && typeof e.key === 'string')
    return new PersistenceConflictError(e.key, e.expectedVersion ?? null, e.actualVersion ?? null);
  return new RemoteError(e);
}
