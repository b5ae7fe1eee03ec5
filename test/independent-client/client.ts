/**
 * A minimal client of the gateway's protocol (protocol/CLIENT-PROTOCOL.md), written from the
 * document alone: `ws` for the socket and @msgpack/msgpack (not the gateway's msgpackr) for the
 * frames, so that the suite checks the wire, not a shared codec.
 */
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { decode, encode } from '@msgpack/msgpack';

export type Frame = { op: string; id?: number; [key: string]: unknown };

export const SUBPROTOCOL = 'troupe.v1';

/** base64url without padding, RFC 4648 §5, of the token's UTF-8 bytes. */
export function authProtocol(token: string): string {
  return `troupe.auth.${Buffer.from(token, 'utf8').toString('base64url')}`;
}

export interface OpenOptions {
  path?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Sent as a `troupe.auth.<b>` subprotocol. */
  subprotocolToken?: string;
  protocols?: string[];
  headers?: Record<string, string>;
  origin?: string;
  query?: string;
}

export class Refused extends Error {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  constructor(status: number, headers: http.IncomingHttpHeaders, body: string) {
    super(`upgrade refused: ${status} ${body}`);
    this.status = status;
    this.headers = headers;
    this.body = body;
  }
}

/** Resolves when `check` returns a value other than undefined, polling; rejects at `ms`. */
export async function until<T>(
  check: () => T | undefined,
  what: string,
  ms = 5_000,
  every = 5,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export class Client {
  readonly frames: Frame[] = [];
  /** Frames already returned by `next`. */
  readonly #taken = new Set<Frame>();
  close: { code: number; reason: string } | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;
  textFrames = 0;

  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        this.textFrames++;
        return;
      }
      this.frames.push(decode(data as Buffer) as Frame);
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.close = { code, reason: reason.toString() };
        resolve(this.close);
      });
    });
    ws.on('error', () => {});
  }

  static open(port: number, o: OpenOptions = {}): Promise<Client> {
    const protocols = o.protocols ?? [
      SUBPROTOCOL,
      ...(o.subprotocolToken === undefined ? [] : [authProtocol(o.subprotocolToken)]),
    ];
    const headers: Record<string, string> = { ...o.headers };
    if (o.token !== undefined) headers.Authorization = `Bearer ${o.token}`;
    const url = `ws://127.0.0.1:${port}${o.path ?? '/troupe'}${o.query ?? ''}`;
    const ws = new WebSocket(url, protocols, {
      headers,
      ...(o.origin === undefined ? {} : { origin: o.origin }),
      perMessageDeflate: false,
    });
    const client = new Client(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => reject(new Refused(res.statusCode ?? 0, res.headers, body)));
      });
      ws.once('error', (e) => reject(e));
    });
  }

  /** Opens and waits for the welcome frame. */
  static async connect(port: number, o: OpenOptions = {}): Promise<Client> {
    const c = await Client.open(port, { token: 'alice', ...o });
    await c.next((f) => f.op === 'welcome');
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(encode(frame));
  }

  sendRaw(data: Buffer | string, options: { binary?: boolean; fin?: boolean } = {}): void {
    this.ws.send(data, options);
  }

  /** The first frame not yet taken that matches `pred`, waiting for it (bounded). */
  next(pred: (f: Frame) => boolean, ms = 5_000): Promise<Frame> {
    return until(
      () => this.frames.find((f) => !this.#taken.has(f) && pred(f)),
      `a frame (have ${JSON.stringify(this.frames.slice(-5))}, close ${JSON.stringify(this.close)})`,
      ms,
    ).then((f) => {
      this.#taken.add(f);
      return f;
    });
  }

  /** The frames for `id` so far. */
  framesFor(id: number): Frame[] {
    return this.frames.filter((f) => f.id === id);
  }

  /** Sends a request and waits for its answer (ok, error, reply or pong). */
  request(frame: { id: number; op: string; [k: string]: unknown }, ms = 5_000): Promise<Frame> {
    this.send(frame);
    return this.answer(frame.id, ms);
  }

  answer(id: number, ms = 5_000): Promise<Frame> {
    return this.next((f) => f.id === id && ['ok', 'error', 'reply', 'pong'].includes(f.op), ms);
  }

  async waitClose(ms = 5_000): Promise<{ code: number; reason: string }> {
    return until(() => this.close, `close (have ${JSON.stringify(this.frames.slice(-5))})`, ms);
  }

  /** A ping that comes back: the connection is open and served. */
  async alive(id = 999_999): Promise<void> {
    const f = await this.request({ op: 'ping', id });
    if (f.op !== 'pong') throw new Error(`expected pong, got ${JSON.stringify(f)}`);
  }

  end(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.terminate();
  }
}

export interface UpgradeResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  socket?: net.Socket;
  /** Bytes read past the 101's headers. */
  head?: Buffer;
}

/** An upgrade request by hand, to see the status and headers the gateway answers. */
export function upgrade(
  port: number,
  o: { path?: string; headers?: Record<string, string>; keep?: boolean } = {},
): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: o.path ?? '/troupe',
      agent: false,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...o.headers,
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('upgrade', (res, socket, head) => {
      if (o.keep !== true) socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', socket, head });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a TCP connection and writes `data`; resolves with the socket and what it reads. */
export function rawTcp(port: number, data: string): { socket: net.Socket; read: () => string } {
  const socket = net.connect(port, '127.0.0.1');
  let got = '';
  socket.setEncoding('latin1');
  socket.on('data', (c: string) => (got += c));
  socket.on('error', () => {});
  socket.write(data);
  return { socket, read: () => got };
}

/** WebSocket frames (unmasked, server to client) in a byte stream: their opcodes. */
export function opcodes(bytes: Buffer): number[] {
  const out: number[] = [];
  let i = 0;
  while (i + 2 <= bytes.length) {
    const op = bytes[i]! & 0x0f;
    let len = bytes[i + 1]! & 0x7f;
    let at = i + 2;
    if (len === 126) {
      len = bytes.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(at));
      at += 8;
    }
    if (at + len > bytes.length) break;
    out.push(op);
    i = at + len;
  }
  return out;
}
