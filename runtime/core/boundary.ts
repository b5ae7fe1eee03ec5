/**
 * Crossing a boundary: a message and its in-thread meta become an Envelope
 * (runtime/core/envelope.ts) with every ref encoded as its address and the trace context as W3C
 * headers; on the other side the envelope is validated, then opened into a message and a
 * meta whose refs belong to the receiving system, and whose principal (who the message acts
 * for) is stamped again here. Threads, node links and persistent
 * mailboxes use this pair; nothing else builds envelopes by hand.
 *
 * Opening validates before trusting: an unknown version or kind, or an address that does not
 * parse, is refused with InvalidEnvelopeError (the caller drops that envelope, or closes that
 * link, and nothing else is harmed).
 */
import { TroupeError, describe } from './error.ts';
import { parseAddress, type Address } from '../../protocol/address.ts';
import { ENVELOPE_VERSION, MessageMeta, type Envelope, type EnvelopeKind } from './envelope.ts';
import { decodeValue, encodeValue } from './refcodec.ts';
import { extractTrace, injectTrace } from './telemetry.ts';
import { senderOf } from './cell.ts';
import type { ActorRef } from './ref.ts';
import { stampPrincipal, type Principal } from './principal.ts';

const KINDS: readonly EnvelopeKind[] = ['user', 'system', 'reply'];

export class InvalidEnvelopeError extends TroupeError {
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, why: string) {
    super('ERR_INVALID_ENVELOPE', `envelope ${field} ${describe(value)}: ${why}`);
    this.field = field;
    this.value = value;
  }
}

/** Seals a message for `to` with its in-thread meta. Throws SerializationError for a body that cannot cross. */
export function seal(
  kind: EnvelopeKind,
  to: ActorRef<unknown>,
  body: unknown,
  meta: unknown,
): Envelope {
  const from = senderOf(meta);
  const m = meta instanceof MessageMeta ? meta : null;
  return {
    v: ENVELOPE_VERSION,
    to: to.address,
    ...(from === undefined ? {} : { from: from.address }),
    ...(m?.replyTo ? { replyTo: m.replyTo.address, corr: m.corr } : {}),
    kind,
    ...(m?.trace ? { trace: injectTrace(m.trace) } : {}),
    ...(m?.principal ? { principal: m.principal } : {}),
    body: encodeValue(body),
  };
}

export interface OpenedEnvelope {
  readonly kind: EnvelopeKind;
  readonly to: ActorRef<unknown>;
  readonly body: unknown;
  /** The in-thread meta to deliver with: null, or a MessageMeta with the revived refs. */
  readonly meta: MessageMeta | null;
}

/**
 * Validates and opens an envelope; refs are made by `refOf` of the receiving system. With
 * `refs`, an address met before is not parsed again: its ref is taken from there (a link
 * that opens many envelopes to the same actors keeps one such cache).
 */
export function open(
  envelope: unknown,
  refOf: (address: Address) => ActorRef<unknown>,
  refs?: Map<unknown, ActorRef<unknown>>,
): OpenedEnvelope {
  if (typeof envelope !== 'object' || envelope === null)
    throw new InvalidEnvelopeError('', envelope, 'not an object');
  const e = envelope as Record<string, unknown>;
  if (e.v !== ENVELOPE_VERSION)
    throw new InvalidEnvelopeError('v', e.v, `unsupported version (expected ${ENVELOPE_VERSION})`);
  if (!(KINDS as readonly unknown[]).includes(e.kind))
    throw new InvalidEnvelopeError('kind', e.kind, `expected one of ${KINDS.join(', ')}`);
  const to = ref('to', e.to, refOf, refs);
  const from = e.from === undefined ? null : ref('from', e.from, refOf, refs);
  const replyTo = e.replyTo === undefined ? null : ref('replyTo', e.replyTo, refOf, refs);
  if (e.corr !== undefined && (typeof e.corr !== 'number' || !Number.isInteger(e.corr)))
    throw new InvalidEnvelopeError('corr', e.corr, 'expected an integer');
  let trace = null;
  if (e.trace !== undefined) {
    if (
      typeof e.trace !== 'object' ||
      e.trace === null ||
      Object.values(e.trace).some((v) => typeof v !== 'string')
    )
      throw new InvalidEnvelopeError('trace', e.trace, 'expected string headers');
    trace = extractTrace(e.trace as Record<string, string>);
  }
  const principal = e.principal === undefined ? null : openPrincipal(e.principal);
  const meta =
    from === null && replyTo === null && trace === null && principal === null
      ? null
      : new MessageMeta(from, replyTo, (e.corr as number | undefined) ?? 0, trace, principal);
  return { kind: e.kind as EnvelopeKind, to, body: decodeValue(e.body, refOf), meta };
}

/**
 * The envelope's principal, stamped on this side: the boundary is trusted (threads of one
 * node; nodes that share the cluster secret), its shape is not.
 */
export function openPrincipal(v: unknown): Principal {
  try {
    return stampPrincipal(v);
  } catch (error) {
    throw new InvalidEnvelopeError('principal', v, (error as Error).message);
  }
}

/** Refs kept by one cache before it starts again (bounded: addresses come from outside). */
export const REF_CACHE_SIZE = 4_096;

function ref(
  field: string,
  v: unknown,
  refOf: (address: Address) => ActorRef<unknown>,
  refs: Map<unknown, ActorRef<unknown>> | undefined,
): ActorRef<unknown> {
  const known = refs?.get(v);
  if (known !== undefined) return known;
  try {
    parseAddress(v);
  } catch (error) {
    throw new InvalidEnvelopeError(field, v, (error as Error).message);
  }
  const r = refOf(v as Address);
  if (refs !== undefined) {
    if (refs.size >= REF_CACHE_SIZE) refs.clear();
    refs.set(v, r);
  }
  return r;
}
