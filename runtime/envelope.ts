/**
 * The envelope: how a message travels at every boundary (thread, node, persistence).
 *
 *   { v, to, from?, replyTo?, corr?, kind, trace?, principal?, body }
 *
 * - `to`, `from`, `replyTo` are addresses (runtime/address.ts), never object references;
 * - `kind` is `user` (a tell or an ask), `system` (runtime/system-message.ts) or `reply`
 *   (an answer to an ask, sent to the ask's temporary reply address with its `corr`);
 * - `trace` is W3C trace context (`traceparent`, `tracestate`) when tracing is on;
 * - `principal` is who the message acts for (runtime/principal.ts), as JSON data: stamped
 *   again on the other side, which trusts the boundary (threads of one node; nodes that share
 *   the cluster secret);
 * - `body` is the message with refs encoded as `{ $ref: address }` (runtime/refcodec.ts).
 *
 * Inside one thread the mailbox stores less: the message and a MessageMeta (or just the
 * sending cell, or nothing), so a plain tell allocates nothing but the message itself.
 */
import type { Context } from '@opentelemetry/api';
import type { Address } from './address.ts';
import type { ActorRef } from './ref.ts';
import type { Principal } from './principal.ts';

export const ENVELOPE_VERSION = 1;

export type EnvelopeKind = 'user' | 'system' | 'reply';

export interface Envelope {
  readonly v: typeof ENVELOPE_VERSION;
  readonly to: Address;
  readonly from?: Address;
  readonly replyTo?: Address;
  readonly corr?: number;
  readonly kind: EnvelopeKind;
  readonly trace?: Readonly<Record<string, string>>;
  readonly principal?: Principal;
  readonly body: unknown;
}

/**
 * In-thread meta of a message that needs more than its sender: an ask (reply address and
 * correlation id), a traced message (the sender's span context) or one that acts for a
 * principal (a stamped one, runtime/principal.ts). `from` is the sender's ref when the sender
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
