/**
 * WebSocket close reasons, for every link troupe speaks (node links, the gateway, the client
 * SDK in Node and in browsers).
 */

/** Bytes of UTF-8 a WebSocket close reason may take (RFC 6455 §5.5: 125, less the code). */
export const MAX_CLOSE_REASON_BYTES = 123;

const utf8 = new TextEncoder();

/**
 * A close frame's reason: at most MAX_CLOSE_REASON_BYTES of UTF-8, cut between characters.
 * `ws` throws a RangeError for a longer one (and a browser's WebSocket a SyntaxError), and a
 * reason may quote a peer's bytes (a frame kind, a bye's reason, an error message), where
 * 120 characters can be 360 bytes.
 */
export function closeReason(reason: string): string {
  if (reason.length <= MAX_CLOSE_REASON_BYTES / 3) return reason;
  if (utf8.encode(reason).length <= MAX_CLOSE_REASON_BYTES) return reason;
  let out = '';
  let bytes = 0;
  for (const ch of reason) {
    const n = utf8.encode(ch).length;
    if (bytes + n > MAX_CLOSE_REASON_BYTES) break;
    out += ch;
    bytes += n;
  }
  return out;
}
