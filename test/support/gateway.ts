/** Helpers for the gateway's tests: a system with a gateway, raw sockets, tokens. */
import WebSocket from 'ws';
import {
  createSystem,
  gateway as gatewayPart,
  type ActorSystem,
  type GatewayOptions,
  type Principal,
} from '../../index.ts';
import type { SystemOptions } from '../../runtime/options.ts';
import {
  SUBPROTOCOL,
  decodeServerFrame,
  encodeFrame,
  type ClientFrame,
  type ServerFrame,
} from '../../protocol/client-protocol.ts';

/** Tokens the test gateways accept: the token is the principal's id. */
export const PRINCIPALS: Readonly<Record<string, Principal>> = {
  alice: { id: 'alice', role: 'admin' },
  bob: { id: 'bob', role: 'viewer' },
  carol: { id: 'carol', role: 'admin' },
};

export const authenticateByToken = (token: string | null): Principal | null =>
  token === null ? null : (PRINCIPALS[token] ?? null);

export interface GatewayHarness {
  readonly system: ActorSystem;
  readonly url: string;
  close(): Promise<void>;
}

/** A system with a gateway on a free port: tokens from PRINCIPALS, everything authorized by default. */
export async function startGateway(
  gateway: Partial<GatewayOptions> = {},
  system: Omit<SystemOptions, 'gateway'> = {},
): Promise<GatewayHarness> {
  const s = createSystem({
    ...system,
    extensions: [
      gatewayPart({ authenticate: authenticateByToken, authorize: () => true, ...gateway }),
      ...(system.extensions ?? []),
    ],
  });
  await s.gateway!.ready;
  return {
    system: s,
    url: s.gateway!.url,
    close: async () => {
      await s.shutdown();
    },
  };
}

export interface RawClient {
  readonly ws: WebSocket;
  /** Every frame received, decoded. */
  readonly frames: ServerFrame[];
  /** Settles when the socket closes, with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  send(frame: ClientFrame | Record<string, unknown>): void;
  /** The next frame matching `pred` (already received or to come). */
  next(pred: (f: ServerFrame) => boolean, ms?: number): Promise<ServerFrame>;
}

/** A socket speaking the protocol by hand: resolves after the welcome, or rejects with the HTTP status. */
export function rawClient(
  url: string,
  opts: { token?: string; protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<RawClient> {
  const ws = new WebSocket(url, opts.protocols ?? [SUBPROTOCOL], {
    perMessageDeflate: false,
    headers: {
      ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }),
      ...opts.headers,
    },
  });
  const frames: ServerFrame[] = [];
  const waiters: { pred: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('message', (data: Buffer) => {
    const f = decodeServerFrame(data);
    frames.push(f);
    for (let i = waiters.length - 1; i >= 0; i--)
      if (waiters[i]!.pred(f)) waiters.splice(i, 1)[0]!.resolve(f);
  });
  const client: RawClient = {
    ws,
    frames,
    closed,
    send: (frame) => ws.send(encodeFrame(frame as ClientFrame)),
    next: (pred, ms = 5_000) => {
      const seen = frames.find(pred);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no such frame in time')), ms);
        waiters.push({
          pred,
          resolve: (f) => {
            clearTimeout(t);
            resolve(f);
          },
        });
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
      ws.terminate();
    });
    ws.on('error', (e) => reject(e));
    void client.next((f) => f.op === 'welcome').then(() => resolve(client), reject);
  });
}
