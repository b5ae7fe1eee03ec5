/**
 * The entry layout both links batch messages in (the shard link between threads,
 * runtime/shards/link.ts; the node link between nodes, protocol/node-link.ts): the fields of
 * the envelope (protocol/envelope.ts) flat in the frame's array, one entry after the other:
 *
 *   flags, to, [from], [replyTo, corr], [trace], [principal], body
 *
 * - flags: bits 0–1 the kind (0 user, 1 system, 2 reply), then which optional fields follow:
 *   4 from, 8 replyTo and corr, 16 trace, 64 principal; 32 says the body is in the form of
 *   runtime/core/refcodec.ts;
 * - to, from, replyTo: as the link's address numbering writes them (each link numbers its
 *   own: `address` below);
 * - corr: an integer; trace: W3C trace context headers; principal: JSON data with a string
 *   `id`.
 *
 * Writing and reading back what this side wrote are here; checking what came from a peer is
 * the node link's (protocol/node-link.ts, BatchReader), reviving refs and bodies the shard
 * link's.
 */
import type { Address } from './address.ts';
import type { EnvelopeKind, WirePrincipal } from './envelope.ts';

export const KIND_USER = 0;
export const KIND_SYSTEM = 1;
export const KIND_REPLY = 2;
export const KIND_MASK = 3;
export const HAS_FROM = 4;
export const HAS_REPLY_TO = 8;
export const HAS_TRACE = 16;
/** The body is in the form of runtime/core/refcodec.ts. */
export const ENCODED = 32;
export const HAS_PRINCIPAL = 64;
export const FLAGS_KNOWN =
  KIND_MASK | HAS_FROM | HAS_REPLY_TO | HAS_TRACE | ENCODED | HAS_PRINCIPAL;

export const ENTRY_KINDS: readonly EnvelopeKind[] = ['user', 'system', 'reply'];
export const kindCode = (k: EnvelopeKind): number =>
  k === 'user' ? KIND_USER : k === 'system' ? KIND_SYSTEM : KIND_REPLY;

/** One entry, handed over as arguments (no object per message). */
export type EachEntry = (
  kind: EnvelopeKind,
  to: Address,
  from: Address | undefined,
  replyTo: Address | undefined,
  corr: number,
  trace: Readonly<Record<string, string>> | undefined,
  principal: WirePrincipal | undefined,
  body: unknown,
  encoded: boolean,
) => void;

/** Appends one entry to `v`, its addresses as `address` writes them. */
export function pushEntry(
  v: unknown[],
  address: (a: Address) => unknown,
  kind: number,
  to: Address,
  from: Address | undefined,
  replyTo: Address | undefined,
  corr: number,
  trace: Readonly<Record<string, string>> | undefined,
  principal: WirePrincipal | undefined,
  body: unknown,
  encoded: boolean,
): void {
  let flags = kind | (encoded ? ENCODED : 0);
  const at = v.length;
  v.push(0, address(to));
  if (from !== undefined) {
    flags |= HAS_FROM;
    v.push(address(from));
  }
  if (replyTo !== undefined) {
    flags |= HAS_REPLY_TO;
    v.push(address(replyTo), corr);
  }
  if (trace !== undefined) {
    flags |= HAS_TRACE;
    v.push(trace);
  }
  if (principal !== undefined) {
    flags |= HAS_PRINCIPAL;
    v.push(principal);
  }
  v.push(body);
  v[at] = flags;
}

/** Appends a user message that goes as it is, from an actor (or nobody): the common case. */
export function pushTell(
  v: unknown[],
  address: (a: Address) => unknown,
  to: Address,
  from: Address | undefined,
  body: unknown,
): void {
  if (from === undefined) v.push(KIND_USER, address(to), body);
  else v.push(KIND_USER | HAS_FROM, address(to), address(from), body);
}

/**
 * The entries of `v` from index `start`, which this side wrote (trusted: no checks), each
 * address given back by `address`.
 */
export function readEntries(
  v: readonly unknown[],
  start: number,
  address: (x: unknown) => Address,
  each: EachEntry,
): void {
  let i = start;
  while (i < v.length) {
    const flags = v[i++] as number;
    const to = address(v[i++]);
    const from = (flags & HAS_FROM) !== 0 ? address(v[i++]) : undefined;
    let replyTo: Address | undefined;
    let corr = 0;
    if ((flags & HAS_REPLY_TO) !== 0) {
      replyTo = address(v[i++]);
      corr = v[i++] as number;
    }
    const trace =
      (flags & HAS_TRACE) !== 0 ? (v[i++] as Readonly<Record<string, string>>) : undefined;
    const principal = (flags & HAS_PRINCIPAL) !== 0 ? (v[i++] as WirePrincipal) : undefined;
    each(
      ENTRY_KINDS[flags & KIND_MASK]!,
      to,
      from,
      replyTo,
      corr,
      trace,
      principal,
      v[i++],
      (flags & ENCODED) !== 0,
    );
  }
}
