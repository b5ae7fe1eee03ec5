/**
 * What the kernel asks of the shard routes (runtime/shards/router.ts implements it): where
 * an actor of another thread lives, where a child is placed, and what a placed actor's
 * spawn and stop change. The kernel holds one (`system.router`) when the node runs actors on
 * more than one thread; the shards' extension sets it at start (ExtensionCore.setRoutes).
 */
import type { ActorPath } from '../../protocol/address.ts';
import type { Behaviour } from './behaviour.ts';
import type { ActorCell } from './cell.ts';
import type { ResolvedSpawnOptions, ShardChoice } from './options.ts';
import type { LocalRef, Target } from './ref.ts';

export interface ShardRoutes {
  /** This thread's shard (0: the main thread). */
  readonly shard: number;
  /** Where each placed root lives, by path (shard ids). */
  readonly placements: ReadonlyMap<string, number>;
  /** Placed roots whose parent lives on another shard and that run here, by path. */
  readonly detached: ReadonlyMap<string, { readonly cell: ActorCell }>;
  /** The route to an actor of another shard, or null when none is known. */
  targetFor(path: ActorPath): Target | null;
  /** Every shard learns that a top-level actor lives on `shard`. */
  announce(path: string, shard: number): void;
  /** Every shard forgets where a placed root lived. */
  retract(path: string): void;
  /** The shard a child of `parent` goes to (asked: `options.shard`). */
  chooseShard(
    behaviour: Behaviour<any, any, any>,
    asked: ShardChoice | undefined,
    parent: ActorCell,
  ): number;
  /** Spawns a child of `parent` on another shard; its stand-in joins the parent's children. */
  spawnRemote(
    parent: ActorCell,
    behaviour: Behaviour<any, any, any>,
    o: ResolvedSpawnOptions,
    key: string | number,
    shard: number,
  ): LocalRef;
}

/** Put before the names of temporary receivers: which shard they live on (`s3-`; none on 0). */
export function tempPrefix(shard: number): string {
  return shard === 0 ? '' : `s${shard}-`;
}
