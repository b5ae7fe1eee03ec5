/**
 * A node among nodes: the ActorSystem's side of runtime/nodes/net.ts. Refs to actors of
 * another node (`troupe://<node>/<path>`) deliver through a NodeTarget: the message is sealed
 * into an envelope (runtime/boundary.ts) and batched onto the link to that node; envelopes that
 * arrive are opened with this system's refs and delivered as if sent here.
 *
 * - FIFO per pair of actors across a link: one link per pair of nodes, envelopes in order.
 * - What crosses: user messages (tell, ask, replies and their failures), and the system
 *   messages that make sense between nodes: watch, unwatch, subscribe, unsubscribe, stop. A
 *   body that cannot cross throws SerializationError at the tell (naming the field).
 * - A message for a node with no link up, or whose link refuses more (its socket over
 *   `maxBufferedBytes`), is a dead letter: `node-unreachable`.
 * - A node that goes down (heartbeats missed, link closed and not back): the watchers here of
 *   its actors get `troupe.terminated` with reason `node-down`; asks waiting on it fail at once
 *   with NodeDownError; later messages to it are dead letters until it is back.
 */
import { TroupeError } from '../error.ts';
import type { ActorPath, Address } from '../address.ts';
import { open, seal } from '../boundary.ts';
import { ReplyFailure } from '../ask.ts';
import { encodeValue, decodeValue } from '../refcodec.ts';
import { LocalRef, type Delivery, type Target } from '../ref.ts';
import type { SystemMessage } from '../system-message.ts';
import type { Envelope } from '../envelope.ts';
import type { Terminated } from '../notices.ts';
import type { ActorSystem } from '../system.ts';
import { NodeNet, type NetOptions } from './net.ts';
import { TOPICS_PATH, type TopicsEnvelopeBody } from './topics.ts';

/** An ask waited on a node that went down. */
export class NodeDownError extends TroupeError {
  readonly node: string;
  constructor(node: string, path: string, why: string) {
    super('ERR_NODE_DOWN', `${path} lives on node ${node}, which is down (${why})`);
    this.node = node;
  }
}

const CROSSING_SYSTEM = new Set(['watch', 'unwatch', 'subscribe', 'unsubscribe', 'stop']);

/** A body that says a ReplyFailure: the error, encoded. */
interface FailureBody {
  readonly failure: unknown;
}

export class NodeRuntime {
  readonly #system: ActorSystem;
  readonly net: NodeNet;
  /** Targets by address of actors on other nodes (bounded: cleared when it grows past). */
  readonly #targets = new Map<string, NodeTarget>();
  /** Watches made from here on actors of each node: watcher → watched, per node. */
  readonly #watches = new Map<string, Map<string, { watcher: LocalRef; watched: LocalRef }>>();
  /** Asks waiting on each node: what fails them. */
  readonly #asks = new Map<string, Set<(why: string) => void>>();
  readonly #refs = new Map<unknown, ReturnType<ActorSystem['refOf']>>();
  /** `troupe://<this node>/`: an envelope's `to` must start with it. */
  readonly #ownPrefix: string;
  readonly #topicsAddress: string;

  constructor(system: ActorSystem, options: NetOptions) {
    this.#system = system;
    this.#ownPrefix = `troupe://${system.nodeId}/`;
    this.#topicsAddress = `troupe://${system.nodeId}${TOPICS_PATH}`;
    this.net = new NodeNet(options, {
      envelopes: (from, envelopes) => this.#arrived(from, envelopes),
      peerUp: (peer) => system.topics.peerUp(peer),
      peerDown: (peer, reason) => this.#down(peer, reason),
      log: (m) => system.logger.warn(m),
      refused: (peer, envelopes, why) => {
        for (const e of envelopes)
          system.deadLetters.publish({
            message: e.body,
            recipient: e.to,
            ...(e.from === undefined ? {} : { sender: e.from }),
            reason: 'node-unreachable',
            error: new TroupeError('ERR_ENVELOPE_TOO_BIG', `not sent to node ${peer}: ${why}`),
          });
      },
    });
  }

  /** Topics between nodes: an envelope to `node`'s TOPICS_PATH, from the running actor. */
  sendTopics(node: string, body: TopicsEnvelopeBody): void {
    const sys = this.#system;
    const cur = sys.current;
    const to = { address: `troupe://${node}${TOPICS_PATH}` } as unknown as LocalRef;
    const envelope = seal('user', to, body, sys.tracing ? sys.traceMeta(cur) : cur);
    if (this.net.send(node, envelope) !== 'sent')
      sys.deadLetter(body, to, cur, 'node-unreachable', undefined);
  }

  /** The target of an address on another node (null for this node's). */
  targetFor(address: Address, path: ActorPath, node: string): Target {
    let t = this.#targets.get(address);
    if (t === undefined) {
      if (this.#targets.size >= 65_536) this.#targets.clear();
      t = new NodeTarget(this, node, path, address);
      this.#targets.set(address, t);
    }
    return t;
  }

  /** An ask to `node` is waiting: it fails at once if the node goes down. */
  askWaiting(node: string, fail: (why: string) => void): () => void {
    let set = this.#asks.get(node);
    if (set === undefined) this.#asks.set(node, (set = new Set()));
    set.add(fail);
    return () => set.delete(fail);
  }

  // ---- to another node ------------------------------------------------------------------

  deliver(t: NodeTarget, msg: unknown, meta: unknown): Delivery {
    let envelope: Envelope;
    if (msg instanceof ReplyFailure) {
      envelope = {
        ...seal('reply', t.ref, null, meta),
        body: { failure: encodeValue(msg.error) } satisfies FailureBody,
      };
    } else envelope = seal('user', t.ref, msg, meta);
    return this.#send(t, envelope, msg, meta);
  }

  sendSystem(t: NodeTarget, msg: SystemMessage): void {
    if (!CROSSING_SYSTEM.has(msg.type)) {
      this.#system.logger.warn(
        `troupe: a ${msg.type} system message for ${t.address} was not sent: it does not cross nodes`,
      );
      return;
    }
    if (msg.type === 'watch' || msg.type === 'unwatch') {
      const watcher = msg.watcher as unknown as LocalRef;
      let m = this.#watches.get(t.node);
      if (m === undefined) this.#watches.set(t.node, (m = new Map()));
      const key = `${watcher.address} ${t.address}`;
      if (msg.type === 'watch') m.set(key, { watcher, watched: t.ref });
      else m.delete(key);
    }
    const envelope = seal('system', t.ref, msg, null);
    const r = this.#send(t, envelope, msg, null);
    if (r === 'dead-letter' && msg.type === 'watch')
      // the node cannot be reached: the watcher learns it at once
      this.#terminated(msg.watcher as unknown as LocalRef, t.ref, 'node-down');
  }

  #send(t: NodeTarget, envelope: Envelope, msg: unknown, meta: unknown): Delivery {
    const r = this.net.send(t.node, envelope);
    if (r === 'sent') return 'enqueued';
    this.#system.deadLetter(msg, t.ref, meta, 'node-unreachable', undefined);
    return 'dead-letter';
  }

  // ---- from another node ----------------------------------------------------------------

  #arrived(from: string, envelopes: readonly Envelope[]): void {
    const sys = this.#system;
    for (const e of envelopes) {
      let opened;
      try {
        opened = open(e, sys.refOf, this.#refs);
      } catch (error) {
        sys.logger.warn(`troupe: an envelope from node ${from} was dropped: ${String(error)}`);
        continue;
      }
      const to = opened.to as LocalRef;
      // open() has checked the address; only its node is read here (a string compare: this
      // runs for every envelope)
      const address = to.address;
      if (!address.startsWith(this.#ownPrefix)) {
        // a node delivers only to its own actors: it never forwards for a peer
        sys.logger.warn(`troupe: an envelope from node ${from} for ${to.address} was dropped`);
        continue;
      }
      if (address.length === this.#topicsAddress.length && address === this.#topicsAddress) {
        this.#topics(from, opened.body, opened.meta);
        continue;
      }
      switch (opened.kind) {
        case 'user': {
          const body = opened.body as Partial<Terminated> | null;
          // the watched actor's own notice: its watch is over (no node-down after it)
          if (
            body !== null &&
            typeof body === 'object' &&
            body.type === 'troupe.terminated' &&
            body.ref !== undefined
          )
            this.#watches.get(from)?.delete(`${to.address} ${body.ref.address}`);
          to.deliverWithMeta(opened.body, opened.meta);
          break;
        }
        case 'reply': {
          const body = opened.body as FailureBody | null;
          const error =
            body !== null && typeof body === 'object' && 'failure' in body
              ? decodeValue(body.failure, sys.refOf)
              : new Error('a failed reply');
          to.deliverWithMeta(new ReplyFailure(error), opened.meta);
          break;
        }
        case 'system': {
          const m = opened.body as SystemMessage;
          if (typeof m !== 'object' || m === null || !CROSSING_SYSTEM.has(m.type)) {
            sys.logger.warn(`troupe: a system message from node ${from} was dropped`);
            break;
          }
          to.sendSystem(m);
          break;
        }
      }
    }
  }

  #topics(from: string, body: unknown, meta: unknown): void {
    const b = body as Partial<{ topic: unknown; msg: unknown; interest: unknown }> | null;
    if (b === null || typeof b !== 'object') return;
    if (typeof b.topic === 'string') this.#system.topics.deliverHere(b.topic, b.msg, meta);
    else if (Array.isArray(b.interest))
      this.#system.topics.interest(from, b.interest as readonly string[]);
  }

  #down(node: string, why: string): void {
    this.#system.topics.peerDown(node);
    const watches = this.#watches.get(node);
    this.#watches.delete(node);
    for (const { watcher, watched } of watches?.values() ?? [])
      this.#terminated(watcher, watched, 'node-down');
    const asks = this.#asks.get(node);
    this.#asks.delete(node);
    for (const fail of asks ?? []) fail(why);
  }

  #terminated(watcher: LocalRef, watched: LocalRef, reason: 'node-down'): void {
    watcher.tell({ type: 'troupe.terminated', ref: watched, reason } satisfies Terminated);
  }
}

/** Where messages for an actor of another node go: its node's link. */
export class NodeTarget implements Target {
  readonly path: ActorPath;
  readonly node: string;
  readonly address: Address;
  readonly ref: LocalRef;
  readonly remote = true;
  readonly #runtime: NodeRuntime;
  constructor(runtime: NodeRuntime, node: string, path: ActorPath, address: Address) {
    this.#runtime = runtime;
    this.node = node;
    this.path = path;
    this.address = address;
    // only its address is read by seal(); revived refs for it come from the system
    this.ref = { address } as unknown as LocalRef;
  }
  get gone(): boolean {
    return false;
  }
  deliver(msg: unknown, meta: unknown): Delivery {
    return this.#runtime.deliver(this, msg, meta);
  }
  sendSystem(msg: SystemMessage): void {
    this.#runtime.sendSystem(this, msg);
  }
}
