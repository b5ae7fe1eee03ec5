/**
 * A peer that holds the cluster secret and speaks the node link by hand: it does the handshake
 * as node `name`, then sends whatever it is told (raw msgpack values, packed by a packer that
 * knows nothing of the protocol). For the hostile-peer tests and the node-link fuzzer.
 */
import WebSocket from 'ws';
import { Packr } from 'msgpackr';
import { LinkCodec, NODE_PROTOCOL_VERSION as V, nonce, proofOf } from '../../protocol/node-link.ts';
import { LINK_PATH } from '../../runtime/nodes/link.ts';

/** A packer that knows nothing of the protocol: what a hostile peer can send. */
export const raw = new Packr({ structuredClone: false, useRecords: false, mapsAsObjects: true });

export interface HostilePeer {
  readonly ws: WebSocket;
  /** Resolves with the close code the node closed this link with. */
  readonly closed: Promise<number>;
  /** Sends one frame: a value packed raw, or bytes as they are. */
  send(frame: unknown[] | Uint8Array): void;
}

/** Connects to the node listening on `port` and proves `secret` as node `name`. */
export async function hostilePeer(
  port: number,
  secret: string,
  name: string,
): Promise<HostilePeer> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${LINK_PATH}`, { perMessageDeflate: false });
  const closed = new Promise<number>((r) => ws.on('close', (c) => r(c)));
  ws.on('error', () => undefined);
  const codec = new LinkCodec();
  const ours = nonce();
  await new Promise((r) => ws.once('open', r));
  ws.send(codec.encode([V, 'hello', name, ours]));
  const welcome = await new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d)));
  const w = codec.decode(welcome);
  if (w[1] !== 'welcome') throw new Error('no welcome');
  ws.send(codec.encode([V, 'proof', proofOf(secret, 'client', name, w[3], ours)]));
  const ready = await new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d)));
  if (codec.decode(ready)[1] !== 'ready') throw new Error('no ready');
  return {
    ws,
    closed,
    send(frame) {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(frame instanceof Uint8Array ? frame : raw.pack(frame), { binary: true });
    },
  };
}
