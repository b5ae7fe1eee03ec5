/**
 * The client SDK in browsers: the same API as in Node, on the native WebSocket. Browsers let a
 * page set no header on a WebSocket, so the token travels as a subprotocol
 * (`troupe.auth.<base64url>`); the gateway never echoes it. Bundled by esbuild
 * (protocol/client/build.ts) into dist/troupe-client.js, which the gateway serves at
 * `<path>/client.js`.
 */
import { authSubprotocol } from '../client-protocol.ts';
import { TroupeClient, type ClientOptions, type SocketLike, type Transport } from './client.ts';

export * from './client.ts';
export * from './errors.ts';

/** Opens sockets with the global WebSocket. */
export const browserTransport: Transport = (url, protocols, token) => {
  const WS = (globalThis as unknown as { WebSocket: new (u: string, p: string[]) => SocketLike })
    .WebSocket;
  return new WS(url, token === null ? protocols : [...protocols, authSubprotocol(token)]);
};

/** Connects to a gateway; a relative URL (`/troupe`) is on the page's own host. */
export function connect(url: string, options?: ClientOptions): TroupeClient {
  const loc = (globalThis as { location?: { href: string } }).location;
  const abs = loc === undefined ? url : new URL(url, loc.href.replace(/^http/, 'ws')).href;
  return new TroupeClient(abs, browserTransport, options);
}
