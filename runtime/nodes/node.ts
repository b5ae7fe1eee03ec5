/**
 * A node among nodes: the ActorSystem's side of runtime/nodes/net.ts. Refs to actors of
 * another node (`troupe://<node>/<path>`) deliver through a NodeTarget: the message goes onto
 * the link to that node as a batch entry (protocol/node-link.ts: the envelope's fields, with
 * the body as it is when it packs, else in the ref codec's form); entries that arrive are
 * delivered with this system's refs as if sent here.
 *
 * - FIFO per pair of actors across a link: one link per pair of nodes, envelopes in order.
 * - What crosses: user messages (tell, ask, replies and their failures), and the system
 *   messages that make sense between nodes: watch, unwatch, subscribe, unsubscribe, stop. A
 *   body that cannot cross throws SerializationError at the tell (naming the field).
 * - What comes in is checked before use (runtime/nodes/inbound.ts): a system or topics body
 *   that breaks its schema closes the link (4000); a stop for a guardian or a system actor
 *   (anything not under `/user/`) is dropped with a log line.
 * - A message for a node with no link up, or whose link refuses more (its socket over
 *   `maxBufferedBytes`), is a dead letter: `node-unreachable`.
 * - A node that goes down (heartbeats missed, link closed and not back): the watchers here of
 *   its actors get `troupe.terminated` with reason `node-down`; asks waiting on it fail at once
 *   with NodeDownError; later messages to it are dead letters until it is back.
 */
import { TroupeError } from '../core/index.ts';
import { ENTITY_SCHEME, type ActorPath, type Address } from '../../protocol/address.ts';
import { ReplyFailure } from '../core/index.ts';
import { encodeValue, decodeValue } from '../core/index.ts';
import { isActorRef, LocalRef, type Delivery, type Target } from '../core/index.ts';
import type { SystemMessage } from '../core/index.ts';
import { MessageMeta } from '../core/index.ts';
import type { Terminated } from '../core/index.ts';
import { ActorCell, senderOf } from '../core/index.ts';
import { extractTrace, injectTrace } from '../core/index.ts';
import { crossing } from '../core/index.ts';
import { isTempAddress } from '../core/index.ts';
import { LINK_CLOSED, type NodeLink } from './link.ts';
import {
  CLOSE,
  LinkProtocolError,
  type EachEntry,
  type WirePrincipal,
} from '../../protocol/node-link.ts';
import { stampPrincipal, type Principal } from '../core/index.ts';
import type { Kernel } from '../core/index.ts';
import { topicsOf } from '../topics/extension.ts';
import { NodeNet, type NetOptions } from './net.ts';
import { TOPICS_PATH, type TopicsEnvelopeBody } from '../topics/topics.ts';
import {
  checkSystemMessage,
  checkTopicsBody,
  CROSSING_SYSTEM,
  peerMayStop,
  terminatedRefOf,
} from './inbound.ts';

/** An ask waited on a node that went down. */
export class NodeDownError extends TroupeError {
  readonly node: string;
  constructor(node: string, path: string, why: string) {
    super('ERR_NODE_DOWN', `${path} lives on node ${node}, which is down (${why})`);
    this.node = node;
  }
}

/** What this node knows of an address that came over a link. */
interface Slot {
  readonly ref: LocalRef;
  /** Of an actor of this node (a node delivers only to its own). */
  readonly own: boolean;
  /** An entity's (runtime/cluster/entities.ts): for the entities of this node. */
  readonly entity: boolean;
  /** This node's topics address. */
  readonly topics: boolean;
  /** The meta of a message whose only meta is this sender (made once, immutable). */
  sender: MessageMeta | null;
}

/** Addresses met over links that are remembered (bounded: cleared when full). */
const SLOTS = 65_536;

export class NodeRuntime {
  readonly #system: Kernel;
  /** Where entity messages go (runtime/cluster/entities-extension.ts sets it); none: dropped. */
  entities: EntityPort | null = null;
  readonly net: NodeNet;
  /** Targets by address of actors on other nodes (bounded: cleared when it grows past). */
  readonly #targets = new Map<string, NodeTarget>();
  /** Watches made from here on actors of each node: watcher → watched, per node. */
  readonly #watches = new Map<string, Map<string, { watcher: LocalRef; watched: LocalRef }>>();
  /** Asks waiting on each node: what fails them. */
  readonly #asks = new Map<string, Set<(why: string) => void>>();
  readonly #slots = new Map<string, Slot>();
  /** `troupe://<this node>/`: an entry's `to` must start with it. */
  readonly #ownPrefix: string;
  readonly #topicsAddress: string;

  constructor(system: Kernel, options: NetOptions) {
    this.#system = system;
    this.#ownPrefix = `troupe://${system.nodeId}/`;
    this.#topicsAddress = `troupe://${system.nodeId}${TOPICS_PATH}`;
    // the links' timers (heartbeats, deadlines, backoff) run on the system's clock
    const clocked = { ...options, link: { ...options.link, clock: system.clock } };
    this.net = new NodeNet(clocked, {
      entry: this.#entry,
      revive: (address) => system.refOf(address),
      isRef: isActorRef,
      peerUp: (peer) => topicsOf(system).peerUp(peer),
      peerDown: (peer, reason) => this.#down(peer, reason),
      log: (m) => system.logger.warn(m),
      unsent: (peer, entries, why) => {
        for (const e of entries) {
          let message = e.body;
          if (e.encoded)
            try {
              message = decodeValue(e.body, system.refOf);
            } catch {
              // as it was sent
            }
          if (why === LINK_CLOSED && e.to.startsWith(ENTITY_SCHEME) && e.kind !== 'reply') {
            // an entity's message the link held when it closed: looked up again (its node may
            // be gone; another takes it). One too big or that no longer packs is a dead letter
            const meta =
              e.from === undefined &&
              e.replyTo === undefined &&
              e.trace === undefined &&
              e.principal === undefined
                ? null
                : new MessageMeta(
                    e.from === undefined ? null : system.refOf(e.from),
                    e.replyTo === undefined ? null : system.refOf(e.replyTo),
                    e.corr,
                    e.trace === undefined ? null : extractTrace(e.trace),
                    e.principal === undefined ? null : stampPrincipal(e.principal),
                  );
            if (this.entities !== null) {
              this.entities.rerouted(e.to, e.kind, message, meta);
              continue;
            }
          }
          system.deadLetters.publish({
            message,
            recipient: e.to,
            ...(e.from === undefined ? {} : { sender: e.from }),
            reason: 'node-unreachable',
            error: new TroupeError('ERR_NOT_SENT', `not sent to node ${peer}: ${why}`),
          });
        }
      },
    });
  }

  /** Topics between nodes: an entry to `node`'s TOPICS_PATH, from the running actor. */
  sendTopics(node: string, body: TopicsEnvelopeBody): void {
    const sys = this.#system;
    const cur = sys.current;
    const meta = sys.tracing || (cur !== null && cur.principal !== null) ? sys.sendMeta(cur) : cur;
    const address = `troupe://${node}${TOPICS_PATH}` as Address;
    if (!this.forward(node, address, 'user', body, meta))
      sys.deadLetter(body, { address } as unknown as LocalRef, cur, 'node-unreachable', undefined);
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

  /**
   * An ask to `node` is waiting: it fails at once if the node goes down. The function returned
   * forgets it (its reply came, it timed out, or it was never delivered); a node with no ask
   * waiting keeps no entry (node names come from addresses, which come from outside).
   */
  askWaiting(node: string, fail: (why: string) => void): () => void {
    let set = this.#asks.get(node);
    if (set === undefined) this.#asks.set(node, (set = new Set()));
    set.add(fail);
    return () => {
      set.delete(fail);
      if (set.size === 0 && this.#asks.get(node) === set) this.#asks.delete(node);
    };
  }

  /** Asks waiting on other nodes, and watches held for them (tests: nothing is kept). */
  get waiting(): { readonly asks: number; readonly watches: number } {
    let asks = 0;
    let watches = 0;
    for (const s of this.#asks.values()) asks += s.size;
    for (const m of this.#watches.values()) watches += m.size;
    return { asks, watches };
  }

  // ---- to another node ------------------------------------------------------------------

  /**
   * A message for an actor of another node. Throws SerializationError (naming the field) for
   * a body that cannot cross, in the sender's turn.
   */
  deliver(t: NodeTarget, msg: unknown, meta: unknown): Delivery {
    let sent: boolean;
    if ((meta === null || meta instanceof ActorCell) && crossing(msg)) {
      // the common tell: from an actor (or from outside any), no reply address, no trace (a
      // ReplyFailure does not pass `crossing`)
      const link = this.net.linkTo(t.node);
      sent = link !== undefined && link.tell(t.address, meta?.ref.address, msg);
    } else sent = this.forward(t.node, t.address, 'user', msg, meta);
    if (sent) return 'enqueued';
    this.#system.deadLetter(msg, t.ref, meta, 'node-unreachable', undefined);
    return 'dead-letter';
  }

  /**
   * Sends to `address` on `node` (an actor's, an entity's, the topics'): a system message, a
   * reply failure, or a user message with its sender, reply address and trace. False when no
   * link to it is up or it takes no more. Throws SerializationError for a user message that
   * cannot cross.
   */
  forward(
    node: string,
    address: Address,
    kind: 'user' | 'system',
    msg: unknown,
    meta: unknown,
  ): boolean {
    const link = this.net.linkTo(node);
    if (link === undefined) return false;
    if (kind === 'system')
      return link.push(
        'system',
        address,
        undefined,
        undefined,
        0,
        undefined,
        undefined,
        encodeValue(msg),
        true,
      );
    if (msg instanceof ReplyFailure)
      return link.push(
        'reply',
        address,
        senderOf(meta)?.address,
        undefined,
        0,
        undefined,
        undefined,
        encodeValue(msg.error),
        true,
      );
    const m = meta instanceof MessageMeta ? meta : null;
    const plain = crossing(msg);
    return link.push(
      'user',
      address,
      senderOf(meta)?.address,
      m?.replyTo?.address,
      m?.corr ?? 0,
      m?.trace ? injectTrace(m.trace) : undefined,
      m?.principal ?? undefined,
      plain ? msg : encodeValue(msg),
      !plain,
    );
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
      if (m.size === 0) this.#watches.delete(t.node);
    }
    if (this.forward(t.node, t.address, 'system', msg, null)) return;
    this.#system.deadLetter(msg, t.ref, null, 'node-unreachable', undefined);
    if (msg.type === 'watch') {
      // the node cannot be reached: the watcher learns it at once, and nothing is kept
      const m = this.#watches.get(t.node);
      m?.delete(`${(msg.watcher as unknown as LocalRef).address} ${t.address}`);
      if (m?.size === 0) this.#watches.delete(t.node);
      this.#terminated(msg.watcher as unknown as LocalRef, t.ref, 'node-down');
    }
  }

  // ---- from another node ----------------------------------------------------------------

  /** A peer's principal, stamped here (the peer proved the secret); one out of shape ends the link. */
  #principal(p: WirePrincipal): Principal {
    try {
      return stampPrincipal(p);
    } catch (error) {
      throw new LinkProtocolError(CLOSE.badFrame, `a bad principal: ${(error as Error).message}`);
    }
  }

  #slot(address: Address): Slot {
    let s = this.#slots.get(address);
    if (s === undefined) {
      s = {
        ref: this.#system.refOf(address) as LocalRef,
        own: address.startsWith(this.#ownPrefix),
        entity: address.startsWith(ENTITY_SCHEME),
        topics: address === this.#topicsAddress,
        sender: null,
      };
      // an ask's reply address is used once: not remembered
      if (!isTempAddress(address)) {
        if (this.#slots.size >= SLOTS) this.#slots.clear();
        this.#slots.set(address, s);
      }
    }
    return s;
  }

  /**
   * An entry from a link (checked by protocol/node-link.ts: addresses parse). Its body is
   * checked here before use (runtime/nodes/inbound.ts): a body in the ref codec's form that
   * does not decode, a system message or a topics message that is not what its schema says,
   * throws LinkProtocolError, which closes the link (runtime/nodes/link.ts) and is logged.
   */
  readonly #entry: (link: NodeLink, ...entry: Parameters<EachEntry>) => void = (
    link,
    kind,
    to,
    from,
    replyTo,
    corr,
    trace,
    principal,
    body,
    encoded,
  ) => {
    const sys = this.#system;
    const peer = link.peer!;
    const t = this.#slot(to);
    if (!t.own && !t.entity) {
      // a node delivers only to its own actors: it never forwards for a peer
      sys.logger.warn(`troupe: a message from node ${peer} for ${to} was dropped`);
      return;
    }
    let msg = body;
    if (encoded)
      try {
        msg = decodeValue(body, sys.refOf);
      } catch (error) {
        throw new LinkProtocolError(
          CLOSE.badFrame,
          `a body that does not decode: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    if (kind === 'system') msg = checkSystemMessage(msg);
    let meta: MessageMeta | null = null;
    if (replyTo !== undefined || trace !== undefined || principal !== undefined)
      meta = new MessageMeta(
        from === undefined ? null : this.#slot(from).ref,
        replyTo === undefined ? null : this.#slot(replyTo).ref,
        corr,
        trace === undefined ? null : extractTrace(trace),
        principal === undefined ? null : this.#principal(principal),
      );
    else if (from !== undefined) {
      const f = this.#slot(from);
      meta = f.sender ??= new MessageMeta(f.ref, null, 0, null);
    }
    if (t.topics) {
      if (kind !== 'user')
        throw new LinkProtocolError(CLOSE.badFrame, `a ${kind} entry for the topics`);
      this.#topics(peer, checkTopicsBody(msg), meta);
      return;
    }
    if (t.entity) {
      if (kind === 'reply') msg = new ReplyFailure(msg);
      try {
        if (this.entities === null) throw new Error('this node keeps no entities');
        this.entities.arrived(to, kind === 'system' ? 'system' : 'user', msg, meta);
      } catch (error) {
        // a kind or id this node refuses
        sys.logger.warn(
          `troupe: a message from node ${peer} for ${to} was dropped: ${String(error)}`,
        );
      }
      return;
    }
    switch (kind) {
      case 'user': {
        // the watched actor's own notice: its watch is over (no node-down after it)
        const watched = terminatedRefOf(msg);
        if (watched !== null) this.#watches.get(peer)?.delete(`${to} ${watched}`);
        t.ref.deliverWithMeta(msg, meta);
        return;
      }
      case 'reply':
        t.ref.deliverWithMeta(new ReplyFailure(msg), meta);
        return;
      case 'system': {
        const m = msg as SystemMessage;
        if (m.type === 'stop' && !peerMayStop(to.slice(this.#ownPrefix.length - 1))) {
          sys.logger.warn(
            `troupe: a stop from node ${peer} for ${to} was dropped (not a user actor)`,
          );
          return;
        }
        t.ref.sendSystem(m);
      }
    }
  };

  #topics(from: string, body: TopicsEnvelopeBody, meta: unknown): void {
    if ('topic' in body) topicsOf(this.#system).deliverHere(body.topic, body.msg, meta);
    else topicsOf(this.#system).interest(from, body.interest);
  }

  #down(node: string, why: string): void {
    topicsOf(this.#system).peerDown(node);
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
/** What a node needs of its entities (runtime/cluster/entities.ts). */
export interface EntityPort {
  /** A message for an entity that came from another node. */
  arrived(to: Address, kind: 'user' | 'system', msg: unknown, meta: unknown): void;
  /** An entity's message a closing link held: looked up again. */
  rerouted(to: Address, kind: 'user' | 'system', msg: unknown, meta: unknown): void;
}

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
