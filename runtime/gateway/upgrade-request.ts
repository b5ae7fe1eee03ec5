/**
 * What an upgrade request to the gateway says, read without trusting it: its token, its
 * origin, and how a refusal is written back on its socket before any WebSocket exists
 * (runtime/gateway/gateway.ts decides; protocol/CLIENT-PROTOCOL.md §1 is the contract).
 *
 * - The token comes from the `troupe.auth.<base64url>` subprotocol (browsers can set no other
 *   header) or `Authorization: Bearer …` (server clients); both may come only if they agree.
 *   A query parameter named like a credential is refused: URLs end up in logs.
 * - An origin is compared in the URL standard's form (`https://app.example`, the default port
 *   left out, the host in lower case); `null` and malformed origins are no origin.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  AUTH_SUBPROTOCOL_PREFIX,
  CLIENT_PROTOCOL_VERSION,
  SUBPROTOCOL,
  tokenOfSubprotocol,
} from '../../protocol/client-protocol.ts';

/** Seconds a client refused with 503 (shutting down, the door full) is asked to wait. */
export const RETRY_AFTER_S = 1;
/** How long a refused client gets to close its side before it is cut off (real time). */
export const REFUSE_GRACE_MS = 1_000;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Writes `status` with a one-line body and ends the socket; with `retry`, a Retry-After of
 * RETRY_AFTER_S. A client that does not close its side is cut off after REFUSE_GRACE_MS.
 */
export function writeRefusal(socket: Duplex, status: number, why: string, retry: boolean): void {
  const body = `${why}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      (retry ? `Retry-After: ${RETRY_AFTER_S}\r\n` : '') +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  // real time on purpose, whatever the system's clock: this only cuts off a socket that is
  // answered already, nothing of the runtime's waits on its length, and under a simulated clock
  // the gateway's server would not close until the test moved the clock
  // eslint-disable-next-line no-restricted-globals -- a socket's cut-off (above)
  setTimeout(() => socket.destroy(), REFUSE_GRACE_MS).unref();
}

/** An Origin header's origin, normalised as the URL standard writes it; null for none or `null`. */
export function normalOrigin(origin: string | undefined): string | null {
  if (origin === undefined || origin === 'null') return null;
  try {
    const o = new URL(origin).origin;
    return o === 'null' ? null : o;
  } catch {
    return null;
  }
}

/** Why a query string is refused (a parameter named like a credential), or null. */
export function credentialInQuery(url: URL): string | null {
  for (const k of url.searchParams.keys())
    if (/token|auth|key|secret|password/i.test(k))
      return 'a credential in the query string is refused: use the Sec-WebSocket-Protocol or Authorization header';
  return null;
}

/**
 * The request's token (null: none given), or why the request is refused (400): no `troupe.v1`
 * offered, two token subprotocols, a malformed one, an Authorization header that is not
 * Bearer, or two different tokens.
 */
export function tokenOf(
  req: IncomingMessage,
): { readonly token: string | null } | { readonly refused: string } {
  const offered = (req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (!offered.includes(SUBPROTOCOL))
    return {
      refused: `offer the subprotocol ${SUBPROTOCOL} (client protocol version ${CLIENT_PROTOCOL_VERSION})`,
    };
  let token: string | null = null;
  const auths = offered.filter((p) => p.startsWith(AUTH_SUBPROTOCOL_PREFIX));
  if (auths.length > 1) return { refused: 'more than one token' };
  if (auths.length === 1) {
    token = tokenOfSubprotocol(auths[0]!);
    if (token === null) return { refused: 'a malformed token subprotocol' };
  }
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer ([^\s].*)$/i.exec(header);
    if (m === null) return { refused: 'an Authorization header that is not Bearer' };
    if (token !== null && token !== m[1]) return { refused: 'two different tokens' };
    token = m[1]!;
  }
  return { token };
}
