/**
 * The client SDK in Node (`troupe/client`): the same API as in browsers, on `ws`. The token
 * goes in an `Authorization: Bearer` header; a refused upgrade's HTTP status is seen (401 ends
 * the client with ConnectionRefusedError instead of retrying).
 */
import WebSocket from 'ws';
import { DEFAULT_SERVER_DECODE_LIMITS } from '../client-protocol.ts';
import { TroupeClient, type ClientOptions, type SocketLike, type Transport } from './client.ts';

export * from './client.ts';
export * from './errors.ts';

/** Opens sockets with `ws`. */
export const nodeTransport: Transport = (url, protocols, token) => {
  const ws = new WebSocket(url, protocols, {
    perMessageDeflate: false,
    maxPayload: DEFAULT_SERVER_DECODE_LIMITS.maxFrameBytes,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  const socket = ws as unknown as SocketLike;
  ws.on('unexpected-response', (_req, res) => {
    socket.refusedStatus = res.statusCode;
    ws.terminate();
  });
  return socket;
};

/** Connects to a gateway (`ws://host:port/troupe`); see TroupeClient. */
export function connect(url: string, options?: ClientOptions): TroupeClient {
  return new TroupeClient(url, nodeTransport, options);
}
