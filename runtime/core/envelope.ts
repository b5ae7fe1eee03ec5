/**
 * The in-thread meta of a message (the envelope it becomes at a boundary is the wire's:
 * protocol/envelope.ts). Inside one thread the mailbox stores the message and a MessageMeta,
 * or just the sending cell, or nothing, so a plain tell allocates nothing but the message.
 */
import type { Context } from '@opentelemetry/api';
import type { ActorRef } from './ref.ts';
import type { Principal } from './principal.ts';

export {
  ENVELOPE_VERSION,
  type Envelope,
  type EnvelopeKind,
  type WirePrincipal,
} from '../../protocol/envelope.ts';

/**
 * In-thread meta of a message that needs more than its sender: an ask (reply address and
 * correlation id), a traced message (the sender's span context) or one that acts for a
 * principal (a stamped one, runtime/core/principal.ts). `from` is the sender's ref when the sender
 * is an actor.
 */
export class MessageMeta {
  readonly from: ActorRef<unknown> | null;
  readonly replyTo: ActorRef<unknown> | null;
  readonly corr: number;
  readonly trace: Context | null;
  readonly principal: Principal | null;
  constructor(
    from: ActorRef<unknown> | null,
    replyTo: ActorRef<unknown> | null,
    corr: number,
    trace: Context | null,
    principal: Principal | null = null,
  ) {
    this.from = from;
    this.replyTo = replyTo;
    this.corr = corr;
    this.trace = trace;
    this.principal = principal;
  }
}
