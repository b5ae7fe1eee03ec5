/**
 * Topics: `system.topics.subscribe(topic, ref)` and `system.topics.publish(topic, msg)`, on one
 * node or across linked nodes (a swarm's shared blackboard).
 *
 * - A subscription is held where the subscriber lives; it ends with `unsubscribe` or when the
 *   subscriber stops (it is watched).
 * - Each node tells its peers which topics it has subscribers for (when a topic gets its first
 *   one, loses its last one, and to a peer whose link comes up); a publish goes to the local
 *   subscribers and once to each node with subscribers, which hands it to its own. Each
 *   subscriber gets the message as a tell from the publisher (its sender, when an actor).
 * - Between nodes these are envelopes to `/system/topics` (TOPICS_PATH): `{ topic, msg }` and
 *   `{ interest: [...topics] }` (the node's whole interest, each time).
 * - Topic names: 1–256 characters.
 */
import { InvalidOptionError } from '../core/index.ts';
import type { ActorPath } from '../../protocol/address.ts';
import { isActorRef, type ActorRef, type LocalRef } from '../core/index.ts';
import type { Kernel } from '../core/index.ts';

export const TOPICS_PATH = '/system/topics' as ActorPath;
export const MAX_TOPIC_LENGTH = 256;

/** What crosses to a node's TOPICS_PATH. */
export type TopicsEnvelopeBody =
  { readonly topic: string; readonly msg: unknown } | { readonly interest: readonly string[] };

/** How topics reach other nodes (runtime/nodes/node.ts); null for a node alone. */
export interface TopicsLinks {
  /** Nodes up now. */
  peers(): readonly string[];
  /** Sends to `node`'s topics (from the publishing actor, if any). */
  send(node: string, body: TopicsEnvelopeBody): void;
}

export class Topics {
  readonly #system: Kernel;
  /** Local subscribers by topic, each with its unwatch. */
  readonly #local = new Map<string, Map<string, { ref: ActorRef<unknown>; unwatch: () => void }>>();
  /** Topics each other node has subscribers for. */
  readonly #remote = new Map<string, Set<string>>();
  #links: TopicsLinks | null = null;

  constructor(system: Kernel) {
    this.#system = system;
  }

  /** Connects to other nodes (runtime/nodes/node.ts). */
  link(links: TopicsLinks): void {
    this.#links = links;
  }

  subscribe(topic: string, ref: ActorRef<any, any>): void {
    check(topic);
    if (!isActorRef(ref)) throw new InvalidOptionError('ref', ref, 'an actor ref');
    let subs = this.#local.get(topic);
    const first = subs === undefined;
    if (subs === undefined) this.#local.set(topic, (subs = new Map()));
    if (subs.has(ref.address)) return;
    const unwatch = this.#system.watch(ref, () => this.unsubscribe(topic, ref));
    subs.set(ref.address, { ref, unwatch });
    if (first) this.#announce();
  }

  unsubscribe(topic: string, ref: ActorRef<any, any>): void {
    const subs = this.#local.get(topic);
    const s = subs?.get(ref.address);
    if (subs === undefined || s === undefined) return;
    subs.delete(ref.address);
    s.unwatch();
    if (subs.size === 0) {
      this.#local.delete(topic);
      this.#announce();
    }
  }

  /** Delivers to every subscriber of `topic`, here and on every node with subscribers. */
  publish(topic: string, msg: unknown): void {
    check(topic);
    this.deliverHere(topic, msg, null);
    const links = this.#links;
    if (links === null) return;
    for (const [node, topics] of this.#remote)
      if (topics.has(topic)) links.send(node, { topic, msg });
  }

  /** The subscribers here (tests, tools). */
  subscribers(topic: string): readonly ActorRef<unknown>[] {
    return [...(this.#local.get(topic)?.values() ?? [])].map((s) => s.ref);
  }

  /** The other nodes known to have subscribers for `topic` (tests, tools). */
  nodesWith(topic: string): readonly string[] {
    return [...this.#remote].filter(([, t]) => t.has(topic)).map(([n]) => n);
  }

  // ---- from other nodes -----------------------------------------------------------------

  /** A publish from another node: to the subscribers here, with the publisher's meta. */
  deliverHere(topic: string, msg: unknown, meta: unknown): void {
    const subs = this.#local.get(topic);
    if (subs === undefined) return;
    for (const { ref } of subs.values())
      if (meta === null) ref.tell(msg);
      else (ref as LocalRef).deliverWithMeta(msg, meta);
  }

  /** What a peer has subscribers for (its whole interest). */
  interest(node: string, topics: readonly string[]): void {
    this.#remote.set(node, new Set(topics.filter((t) => typeof t === 'string')));
  }

  /** A peer's link came up: it learns this node's interest. */
  peerUp(node: string): void {
    this.#links?.send(node, { interest: [...this.#local.keys()] });
  }

  peerDown(node: string): void {
    this.#remote.delete(node);
  }

  #announce(): void {
    const links = this.#links;
    if (links === null) return;
    const interest = [...this.#local.keys()];
    for (const node of links.peers()) links.send(node, { interest });
  }
}

function check(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH)
    throw new InvalidOptionError('topic', topic, `a name of 1 to ${MAX_TOPIC_LENGTH} characters`);
}
