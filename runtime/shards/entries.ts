/**
 * Messages as the entries of a shard link (runtime/shards/link.ts): made from a message and
 * its in-thread meta, turned back into what arrives, sent on again, or made a dead letter.
 *
 * `entryOf` checks what crosses: a user message that cannot throws SerializationError naming
 * the field (in the sender's turn); troupe's own messages (system messages, notices) never
 * throw: what cannot cross in them is replaced by its description (runtime/shards/errors.ts),
 * and one that still cannot is refused (null, with the error) for the caller to report.
 */
import { MessageMeta, type EnvelopeKind } from '../core/index.ts';
import { senderOf } from '../core/index.ts';
import { decodeValue, encodeValue } from '../core/index.ts';
import { injectTrace } from '../core/index.ts';
import type { ReplyFailure } from '../core/index.ts';
import type { ActorRef } from '../core/index.ts';
import type { Address } from '../../protocol/address.ts';
import type { DeadLetter, DeadLetterReason } from '../core/index.ts';
import type { SystemMessage } from '../core/index.ts';
import { crossError, isNotice, plainNotice, plainSystem } from './errors.ts';
import {
  crossing,
  ENCODED,
  kindCode,
  KIND_SYSTEM,
  KIND_USER,
  type InEntry,
  type OutEntry,
} from './link.ts';

/** What `entryOf` gives for a runtime message that cannot cross even described. */
export interface Refused {
  readonly refused: unknown;
}

/** The message as an entry for a link, checked (and encoded when it must be). */
export function entryOf(
  kind: EnvelopeKind,
  to: Address,
  msg: unknown,
  meta: unknown,
): OutEntry | Refused {
  let body = kind === 'reply' ? crossError((msg as ReplyFailure).error) : msg;
  let encoding = 0;
  if (!crossing(body)) {
    encoding = ENCODED;
    try {
      body = encodeValue(body);
    } catch (error) {
      if (kind === 'user' && !isNotice(msg)) throw error;
      // troupe's own messages must not fail their sender: what cannot cross is described
      const plain = kind === 'system' ? plainSystem(msg as SystemMessage) : plainNotice(msg);
      try {
        if (plain === null) throw error;
        body = encodeValue(plain);
      } catch {
        return { refused: error };
      }
    }
  }
  const from = senderOf(meta);
  const m = meta instanceof MessageMeta ? meta : null;
  return {
    kind: kindCode(kind),
    to,
    from: from?.address,
    replyTo: m?.replyTo?.address,
    corr: m?.corr ?? 0,
    trace: m?.trace ? injectTrace(m.trace) : undefined,
    principal: m?.principal ?? undefined,
    body,
    encoding,
  };
}

/**
 * An entry read back as one to send again (an arrival sent on); `forced`: its body encoded
 * whatever it holds (for a control frame, which is structured-cloned: refs must be data).
 */
export function resendEntry(e: InEntry, forced = false): OutEntry {
  const enc = crossing(e.body) && !forced ? 0 : ENCODED;
  return {
    kind: kindCode(e.kind),
    to: e.to,
    from: e.from,
    replyTo: e.replyTo,
    corr: e.corr,
    trace: e.trace,
    principal: e.principal,
    body: enc === 0 ? e.body : encodeValue(e.body),
    encoding: enc,
  };
}

/** An entry made here whose route turned out to be this shard (or nowhere), as it arrives. */
export function arrivalOf(e: OutEntry, refOf: (a: Address) => ActorRef<unknown>): InEntry {
  return {
    kind: e.kind === KIND_USER ? 'user' : e.kind === KIND_SYSTEM ? 'system' : 'reply',
    to: e.to,
    from: e.from,
    replyTo: e.replyTo,
    corr: e.corr,
    trace: e.trace,
    principal: e.principal,
    body: e.encoding === ENCODED ? decodeValue(e.body, refOf) : e.body,
  };
}

/** The dead letter of an entry that has nowhere to go. */
export function deadLetterOf(
  e: OutEntry | InEntry,
  reason: DeadLetterReason,
  error: unknown,
  refOf: (a: Address) => ActorRef<unknown>,
): DeadLetter {
  const body =
    typeof e.kind === 'number' && (e as OutEntry).encoding === ENCODED
      ? decodeValue(e.body, refOf)
      : e.body;
  return {
    message: body,
    recipient: e.to,
    ...(e.from === undefined ? {} : { sender: e.from }),
    reason,
    ...(error === undefined ? {} : { error }),
  };
}
