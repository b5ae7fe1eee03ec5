/**
 * What one shard waits for from the others: the watches and snapshot subscriptions it sent
 * to actors there, and the asks whose requests went there. When a shard dies its actors cannot
 * say they stopped, nor answer: the shard that waits tells the watchers (`troupe.terminated`,
 * reason `shard-lost`) and fails the asks at once (ShardLostError), instead of letting them
 * wait for ever or for their deadline.
 *
 * Both are bounded: asks by ASKS_TRACKED (the oldest forgotten first: such an ask then waits
 * for its deadline), watches by what the actors of this shard watch.
 */
import type { ActorRef } from '../core/index.ts';
import type { SystemMessage } from '../core/index.ts';
import type { Terminated } from '../core/index.ts';

/** Asks sent to other shards remembered (to fail them at once if that shard dies). */
export const ASKS_TRACKED = 100_000;

export class Waiting {
  /** Watched path → watchers here. */
  readonly #watches = new Map<string, Set<ActorRef<unknown>>>();
  /** Reply path of an ask → the shard its request went to. */
  readonly #asks = new Map<string, number>();

  /** A system message sent to `path` on another shard: a watch or subscription starts or ends. */
  sent(path: string, msg: SystemMessage): void {
    const add =
      msg.type === 'watch' ? msg.watcher : msg.type === 'subscribe' ? msg.subscriber : null;
    const remove =
      msg.type === 'unwatch' ? msg.watcher : msg.type === 'unsubscribe' ? msg.subscriber : null;
    if (add !== null) {
      let set = this.#watches.get(path);
      if (set === undefined) this.#watches.set(path, (set = new Set()));
      set.add(add);
    } else if (remove !== null) {
      const set = this.#watches.get(path);
      set?.delete(remove);
      if (set?.size === 0) this.#watches.delete(path);
    }
  }

  /** An ask whose request went to `shard`, answered at `replyPath`. */
  asked(replyPath: string, shard: number): void {
    if (this.#asks.size >= ASKS_TRACKED) {
      const oldest = this.#asks.keys().next().value;
      if (oldest !== undefined) this.#asks.delete(oldest);
    }
    this.#asks.set(replyPath, shard);
  }

  /** A user message arrived at `path` here: an answer ends an ask, a terminated notice a watch. */
  arrived(path: string, body: unknown): void {
    if (this.#asks.size > 0) this.#asks.delete(path);
    if (this.#watches.size === 0) return;
    const t = body as Partial<Terminated> | null;
    if (t !== null && typeof t === 'object' && t.type === 'troupe.terminated' && t.ref)
      this.#watches.delete(t.ref.path);
  }

  /**
   * A shard died: the watches of paths `on` says lived there, with their watchers (to be
   * told), and the reply paths of the asks that went there (to be failed). Both are forgotten.
   */
  lost(
    shard: number,
    on: (path: string) => boolean,
  ): {
    watched: [string, Set<ActorRef<unknown>>][];
    asks: string[];
  } {
    const watched = [...this.#watches].filter(([path]) => on(path));
    for (const [path] of watched) this.#watches.delete(path);
    const asks: string[] = [];
    for (const [path, s] of [...this.#asks])
      if (s === shard) {
        asks.push(path);
        this.#asks.delete(path);
      }
    return { watched, asks };
  }
}
