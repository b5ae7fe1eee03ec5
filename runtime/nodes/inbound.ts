/**
 * What a node reads in the bodies of a link's entries, checked before anything uses it. The
 * link (protocol/node-link.ts) has already checked the frame: its shape, the addresses, the
 * caps on nesting, sizes and keys. Here is what only the runtime knows: the fields of each
 * system message that crosses nodes (runtime/core/system-message.ts), the bodies of the topics'
 * envelopes (runtime/topics/topics.ts), and the notice a watched actor sends its watchers.
 *
 * A `stop` from a peer is taken only for user actors (paths under `/user/`) and entities: the
 * guardians `/user` and `/system` (stopping either ends the whole node) and the system's own
 * actors are this node's to stop; such a stop is dropped, with a log line.
 *
 * A peer holds the cluster secret, but it may still be buggy or hostile: a body that is not
 * what its schema says throws LinkProtocolError (4000, `badFrame`), which closes that link
 * with the reason logged (runtime/nodes/link.ts). Nothing reaches an actor first: a watch
 * whose watcher is not a ref would otherwise throw in the watched actor's turn, outside any
 * handler, and end the process.
 *
 * The schemas, each field required unless marked, no other field allowed:
 *
 *   { type: 'watch' | 'unwatch',           watcher: ref }
 *   { type: 'subscribe' | 'unsubscribe',   subscriber: ref, events?: true }
 *   { type: 'stop', reason: 'normal' | 'failed' | 'shutdown', error?: any }
 *   topics: { topic: string of 1–MAX_TOPIC_LENGTH, msg: any } | { interest: topic names }
 */
import { CLOSE, LinkProtocolError } from '../../protocol/node-link.ts';
import { isActorRef } from '../core/index.ts';
import type { SystemMessage } from '../core/index.ts';
import { MAX_TOPIC_LENGTH, type TopicsEnvelopeBody } from '../topics/topics.ts';

/** The system messages that cross nodes; the others stay in their node. */
export const CROSSING_SYSTEM: ReadonlySet<string> = new Set([
  'watch',
  'unwatch',
  'subscribe',
  'unsubscribe',
  'stop',
]);

const STOP_REASONS: ReadonlySet<unknown> = new Set(['normal', 'failed', 'shutdown']);

const bad = (what: string): LinkProtocolError =>
  new LinkProtocolError(CLOSE.badFrame, `a system message ${what}`);

function isPlain(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Throws unless every key of `o` is one of `allowed`. */
function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const k in o)
    if (!allowed.includes(k)) throw bad(`${what} with a field ${JSON.stringify(k.slice(0, 40))}`);
}

/**
 * The system message in `m` (decoded: its refs revived), checked against its type's schema;
 * throws LinkProtocolError otherwise.
 */
export function checkSystemMessage(m: unknown): SystemMessage {
  if (!isPlain(m)) throw bad('that is not an object');
  const type = m.type;
  if (typeof type !== 'string' || !CROSSING_SYSTEM.has(type))
    throw bad(
      `of type ${typeof type === 'string' ? JSON.stringify(type.slice(0, 40)) : typeof type}`,
    );
  switch (type) {
    case 'watch':
    case 'unwatch':
      onlyKeys(m, ['type', 'watcher'], type);
      if (!isActorRef(m.watcher)) throw bad(`${type} whose watcher is not a ref`);
      break;
    case 'subscribe':
    case 'unsubscribe':
      onlyKeys(m, ['type', 'subscriber', 'events'], type);
      if (!isActorRef(m.subscriber)) throw bad(`${type} whose subscriber is not a ref`);
      if (m.events !== undefined && m.events !== true)
        throw bad(`${type} whose events is not true`);
      break;
    case 'stop':
      onlyKeys(m, ['type', 'reason', 'error'], type);
      if (!STOP_REASONS.has(m.reason)) throw bad('stop with a reason that is not one');
      break;
  }
  return m as unknown as SystemMessage;
}

/** The body of an envelope to a node's topics, checked; throws LinkProtocolError otherwise. */
export function checkTopicsBody(b: unknown): TopicsEnvelopeBody {
  const refuse = (what: string): LinkProtocolError =>
    new LinkProtocolError(CLOSE.badFrame, `a topics message ${what}`);
  if (!isPlain(b)) throw refuse('that is not an object');
  if ('interest' in b) {
    onlyKeys(b, ['interest'], 'interest');
    const i = b.interest;
    if (!Array.isArray(i) || !i.every(isTopic)) throw refuse('whose interest is not topic names');
    return b as unknown as TopicsEnvelopeBody;
  }
  for (const k in b)
    if (k !== 'topic' && k !== 'msg')
      throw refuse(`with a field ${JSON.stringify(k.slice(0, 40))}`);
  if (!isTopic(b.topic)) throw refuse('whose topic is not a topic name');
  return b as unknown as TopicsEnvelopeBody;
}

const isTopic = (t: unknown): t is string =>
  typeof t === 'string' && t.length > 0 && t.length <= MAX_TOPIC_LENGTH;

/**
 * Whether a user message is a watched actor's `troupe.terminated` notice (its watch is over),
 * with a ref in `ref`. A notice whose `ref` is not a ref is an ordinary message to its actor.
 */
export function terminatedRefOf(msg: unknown): string | null {
  if (typeof msg !== 'object' || msg === null) return null;
  const b = msg as { type?: unknown; ref?: unknown };
  if (b.type !== 'troupe.terminated' || !isActorRef(b.ref)) return null;
  return b.ref.address;
}

/** Whether a peer may stop the actor of this node at `path`: a user actor, not a guardian. */
export function peerMayStop(path: string): boolean {
  return path.startsWith('/user/') && path.length > 6;
}
