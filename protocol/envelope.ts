/**
 * The envelope: how a message travels at every boundary (thread, node, persistence).
 *
 *   { v, to, from?, replyTo?, corr?, kind, trace?, principal?, body }
 *
 * - `to`, `from`, `replyTo` are addresses (protocol/address.ts), never object references;
 * - `kind` is `user` (a tell or an ask), `system` (runtime/core/system-message.ts) or `reply`
 *   (an answer to an ask, sent to the ask's temporary reply address with its `corr`);
 * - `trace` is W3C trace context (`traceparent`, `tracestate`) when tracing is on;
 * - `principal` is who the message acts for (runtime/core/principal.ts), as JSON data: stamped
 *   again on the other side, which trusts the boundary (threads of one node; nodes that share
 *   the cluster secret);
 * - `body` is the message with refs encoded as `{ $ref: address }` (runtime/core/refcodec.ts).
 *
 * Inside one thread the mailbox stores less: the message and a MessageMeta (runtime/core/envelope.ts;
 * or just the sending cell, or nothing), so a plain tell allocates nothing but the message itself.
 */
import type { Address } from './address.ts';

export const ENVELOPE_VERSION = 1;

export type EnvelopeKind = 'user' | 'system' | 'reply';

/** A principal as it crosses a boundary: JSON data with a string `id` (runtime/core/principal.ts). */
export type WirePrincipal = Readonly<Record<string, unknown>> & { readonly id: string };

export interface Envelope {
  readonly v: typeof ENVELOPE_VERSION;
  readonly to: Address;
  readonly from?: Address;
  readonly replyTo?: Address;
  readonly corr?: number;
  readonly kind: EnvelopeKind;
  readonly trace?: Readonly<Record<string, string>>;
  readonly principal?: WirePrincipal;
  readonly body: unknown;
}
