/**
 * One link between two troupe nodes: a WebSocket (`ws`) carrying protocol/node-link.ts frames.
 *
 * - Dialled by one node (`dialLink`), accepted by the other (`acceptLink`, from an HTTP(S)
 *   server's `upgrade`). The handshake proves on both sides that the peer knows the cluster
 *   secret (HMAC over fresh nonces; the secret never crosses) and, for the dialler, that the
 *   peer is the node it meant to reach. Until then frames are decoded with records off; after
 *   `ready`, with records, one Packr/Unpackr pair per connection.
 * - Envelopes are batched: `send` queues, and one `batch` frame per link goes out per turn of
 *   the event loop (a microtask after the first send of the turn).
 * - Heartbeats: a `ping` every `heartbeatMs`; a link that hears nothing for
 *   `heartbeatMs × heartbeatMisses` is closed (4006) and reported down.
 * - Batches hold at most LINK_BATCH_ENVELOPES envelopes and stay under the frame cap (a batch
 *   that packs bigger is split; one envelope bigger than the cap alone is refused).
 * - Backpressure: while the socket's `bufferedAmount` is over `maxBufferedBytes`, envelopes
 *   wait in the link's queue (the senders are slowed: their messages go out as the socket
 *   drains); past `maxQueued` waiting, `send` refuses (returns false) and the caller
 *   dead-letters. The link itself stays up.
 * - A frame that fails decoding closes this link with the error's close code (4000–4999) and
 *   a logged reason; nothing else is touched.
 *
 * Reconnection is the caller's (runtime/nodes/peers.ts): a link is one connection.
 */
import WebSocket from 'ws';
import type { Envelope } from '../envelope.ts';
import {
  CLOSE,
  DEFAULT_DECODE_LIMITS,
  LinkCodec,
  LinkProtocolError,
  NODE_PROTOCOL_VERSION,
  nonce,
  proofMatches,
  proofOf,
  type CloseCode,
  type DecodeLimits,
  type NodeFrame,
} from '../../protocol/node-link.ts';

export const LINK_HEARTBEAT_MS = 1_000;
export const LINK_HEARTBEAT_MISSES = 3;
export const LINK_HANDSHAKE_MS = 5_000;
export const LINK_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Envelopes waiting in a link's queue at most (beyond: dead letters). */
export const LINK_MAX_QUEUED = 1_000_000;
/** Envelopes in one batch frame at most. */
export const LINK_BATCH_ENVELOPES = 4_096;
/** The URL path nodes link on. */
export const LINK_PATH = '/troupe/link';

export interface LinkOptions {
  /** This node's id. */
  readonly node: string;
  readonly secret: string | Uint8Array;
  readonly heartbeatMs: number;
  readonly heartbeatMisses: number;
  readonly handshakeMs: number;
  readonly maxBufferedBytes: number;
  readonly maxQueued: number;
  readonly limits: DecodeLimits;
}

export const DEFAULT_LINK_OPTIONS: Omit<LinkOptions, 'node' | 'secret'> = Object.freeze({
  heartbeatMs: LINK_HEARTBEAT_MS,
  heartbeatMisses: LINK_HEARTBEAT_MISSES,
  handshakeMs: LINK_HANDSHAKE_MS,
  maxBufferedBytes: LINK_MAX_BUFFERED_BYTES,
  maxQueued: LINK_MAX_QUEUED,
  limits: DEFAULT_DECODE_LIMITS,
});

export interface LinkHandlers {
  /** The handshake is done: the peer is `link.peer`. */
  ready(link: NodeLink): void;
  /** Envelopes from the peer, in its send order. */
  envelopes(link: NodeLink, envelopes: readonly Envelope[]): void;
  /** The link is closed (after `ready` or not); `code` is the WebSocket close code. */
  closed(link: NodeLink, code: number, reason: string): void;
  /** A line for the node's log (a refused frame, a failed handshake). */
  log(message: string): void;
  /** Envelopes that were accepted by `send` but cannot go (one over the frame cap). */
  refused(link: NodeLink, envelopes: readonly Envelope[], why: string): void;
}

type State = 'handshake' | 'ready' | 'closed';

export class NodeLink {
  readonly role: 'dialler' | 'listener';
  readonly #options: LinkOptions;
  readonly #handlers: LinkHandlers;
  readonly #socket: WebSocket;
  readonly #codec: LinkCodec;
  readonly #ourNonce = nonce();
  #theirNonce = '';
  #peer: string | null;
  #state: State = 'handshake';
  #queue: Envelope[] = [];
  #head = 0;
  #flushing = false;
  /** A frame's write is awaited before more go (the socket is over maxBufferedBytes). */
  #draining = false;
  #lastHeard = performance.now();
  #heartbeat: NodeJS.Timeout | null = null;
  readonly #handshakeTimer: NodeJS.Timeout;

  constructor(
    role: 'dialler' | 'listener',
    socket: WebSocket,
    options: LinkOptions,
    handlers: LinkHandlers,
    expectedPeer: string | null,
  ) {
    this.role = role;
    this.#socket = socket;
    this.#options = options;
    this.#handlers = handlers;
    this.#peer = expectedPeer;
    this.#codec = new LinkCodec(options.limits);
    socket.binaryType = 'nodebuffer';
    this.#handshakeTimer = setTimeout(
      () => this.close(CLOSE.handshakeTimeout, 'the handshake took too long'),
      options.handshakeMs,
    );
    socket.on('message', (data: Buffer, isBinary: boolean) => this.#received(data, isBinary));
    socket.on('close', (code: number, reason: Buffer) => this.#closed(code, reason.toString()));
    socket.on('error', (e: Error) => {
      this.#handlers.log(`troupe: link ${this.#describe()}: ${e.message}`);
      this.close(CLOSE.badFrame, e.message);
    });
    if (role === 'dialler') {
      const hello = (): void =>
        this.#write([NODE_PROTOCOL_VERSION, 'hello', options.node, this.#ourNonce]);
      if (socket.readyState === WebSocket.OPEN) hello();
      else socket.once('open', hello);
    }
  }

  /** The peer's node id: known after `ready` (for a dialler, the node it dialled). */
  get peer(): string | null {
    return this.#peer;
  }

  get isReady(): boolean {
    return this.#state === 'ready';
  }

  /** Bytes waiting in the socket. */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  /**
   * Queues an envelope for the next batch. False (nothing queued) when the link is not ready
   * or its socket holds more than `maxBufferedBytes`: the caller dead-letters it.
   */
  send(envelope: Envelope): boolean {
    if (this.#state !== 'ready') return false;
    if (this.#queue.length - this.#head >= this.#options.maxQueued) return false;
    this.#queue.push(envelope);
    if (!this.#flushing && !this.#draining) {
      this.#flushing = true;
      queueMicrotask(this.#flush);
    }
    return true;
  }

  /** Closes the link (a `bye` first when it is ready and the close is graceful). */
  close(code: CloseCode | 1000, reason: string): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'ready' && (code === 1000 || code === CLOSE.shutdown)) {
      this.#flush();
      this.#write([NODE_PROTOCOL_VERSION, 'bye', reason.slice(0, 1024)]);
    }
    this.#stop();
    this.#socket.close(code, reason.slice(0, 120));
    // a peer that does not answer the close: the socket goes after a grace period
    setTimeout(() => this.#socket.terminate(), 1_000).unref();
  }

  // ---- inside ---------------------------------------------------------------------------

  /** Queued envelopes waiting (backpressure). */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  readonly #flush = (): void => {
    this.#flushing = false;
    if (this.#state !== 'ready') return;
    const q = this.#queue;
    const max = this.#options.maxBufferedBytes;
    while (this.#head < q.length) {
      if (this.#socket.bufferedAmount > max) {
        // wait for the socket to take what it has: the last write's callback goes on
        this.#draining = true;
        this.#awaitDrain();
        return;
      }
      const end = Math.min(q.length, this.#head + LINK_BATCH_ENVELOPES);
      this.#sendBatch(q.slice(this.#head, end));
      this.#head = end;
    }
    this.#queue = [];
    this.#head = 0;
  };

  /** Polls the socket until it is under half its cap, then flushes on. */
  #awaitDrain(): void {
    const check = (): void => {
      if (this.#state !== 'ready') return;
      if (this.#socket.bufferedAmount > this.#options.maxBufferedBytes / 2) {
        setTimeout(check, 1);
        return;
      }
      this.#draining = false;
      this.#flush();
    };
    setTimeout(check, 1);
  }

  /** One batch frame, split while it packs over the frame cap. */
  #sendBatch(batch: Envelope[]): void {
    const bytes = this.#codec.encode([NODE_PROTOCOL_VERSION, 'batch', batch]);
    if (bytes.byteLength <= this.#options.limits.maxFrameBytes) {
      this.#socket.send(bytes, { binary: true });
      return;
    }
    if (batch.length === 1) {
      this.#handlers.refused(
        this,
        batch,
        `an envelope of ${bytes.byteLength} bytes (the frame cap is ${this.#options.limits.maxFrameBytes})`,
      );
      return;
    }
    const half = batch.length >> 1;
    this.#sendBatch(batch.slice(0, half));
    this.#sendBatch(batch.slice(half));
  }

  #write(frame: NodeFrame): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    this.#socket.send(this.#codec.encode(frame), { binary: true });
  }

  #received(data: Buffer, isBinary: boolean): void {
    if (this.#state === 'closed') return;
    let frame: NodeFrame;
    try {
      if (!isBinary) throw new LinkProtocolError(CLOSE.badFrame, 'a text frame');
      frame = this.#codec.decode(data);
    } catch (e) {
      const err =
        e instanceof LinkProtocolError ? e : new LinkProtocolError(CLOSE.badFrame, String(e));
      this.#handlers.log(
        `troupe: link ${this.#describe()} closed (${err.closeCode}): ${err.message}`,
      );
      this.close(err.closeCode, err.message);
      return;
    }
    this.#lastHeard = performance.now();
    if (this.#state === 'handshake') this.#handshake(frame);
    else this.#ready(frame);
  }

  #handshake(frame: NodeFrame): void {
    const o = this.#options;
    const refuse = (code: CloseCode, why: string): void => {
      this.#handlers.log(`troupe: link ${this.#describe()} refused (${code}): ${why}`);
      this.close(code, code === CLOSE.auth ? 'handshake failed' : why);
    };
    if (this.role === 'listener') {
      if (frame[1] === 'hello' && this.#theirNonce === '') {
        if (frame[2] === o.node) return refuse(CLOSE.auth, 'a peer with this node id');
        this.#peer = frame[2];
        this.#theirNonce = frame[3];
        const proof = proofOf(o.secret, 'server', o.node, this.#theirNonce, this.#ourNonce);
        this.#write([NODE_PROTOCOL_VERSION, 'welcome', o.node, this.#ourNonce, proof]);
        return;
      }
      if (frame[1] === 'proof' && this.#theirNonce !== '') {
        const expected = proofOf(o.secret, 'client', this.#peer!, this.#ourNonce, this.#theirNonce);
        if (!proofMatches(frame[2], expected)) return refuse(CLOSE.auth, 'a wrong proof');
        this.#write([NODE_PROTOCOL_VERSION, 'ready']);
        this.#codec.trust();
        this.#becomeReady();
        return;
      }
      return refuse(CLOSE.unexpected, `a ${frame[1]} frame during the handshake`);
    }
    if (frame[1] === 'welcome' && this.#theirNonce === '') {
      if (this.#peer !== null && frame[2] !== this.#peer)
        return refuse(CLOSE.auth, `the node ${frame[2]} where ${this.#peer} was expected`);
      const expected = proofOf(o.secret, 'server', frame[2], this.#ourNonce, frame[3]);
      if (!proofMatches(frame[4], expected)) return refuse(CLOSE.auth, 'a wrong proof');
      this.#peer = frame[2];
      this.#theirNonce = frame[3];
      const proof = proofOf(o.secret, 'client', o.node, this.#theirNonce, this.#ourNonce);
      this.#write([NODE_PROTOCOL_VERSION, 'proof', proof]);
      return;
    }
    if (frame[1] === 'ready' && this.#theirNonce !== '') {
      this.#codec.trust();
      this.#becomeReady();
      return;
    }
    return refuse(CLOSE.unexpected, `a ${frame[1]} frame during the handshake`);
  }

  #becomeReady(): void {
    clearTimeout(this.#handshakeTimer);
    this.#state = 'ready';
    const o = this.#options;
    this.#heartbeat = setInterval(() => {
      if (performance.now() - this.#lastHeard > o.heartbeatMs * o.heartbeatMisses) {
        this.#handlers.log(
          `troupe: link ${this.#describe()}: no heartbeat for ${o.heartbeatMisses} × ${o.heartbeatMs} ms`,
        );
        this.close(CLOSE.heartbeat, 'heartbeats missed');
        return;
      }
      this.#write([NODE_PROTOCOL_VERSION, 'ping', Date.now()]);
    }, o.heartbeatMs);
    this.#heartbeat.unref();
    this.#handlers.ready(this);
  }

  #ready(frame: NodeFrame): void {
    switch (frame[1]) {
      case 'batch':
        this.#handlers.envelopes(this, frame[2]);
        return;
      case 'ping':
        this.#write([NODE_PROTOCOL_VERSION, 'pong', frame[2]]);
        return;
      case 'pong':
        return;
      case 'bye':
        this.close(1000, frame[2]);
        return;
      default:
        this.#handlers.log(`troupe: link ${this.#describe()}: a ${frame[1]} frame after ready`);
        this.close(CLOSE.unexpected, `a ${frame[1]} frame after the handshake`);
    }
  }

  #stop(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#handshakeTimer);
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#queue = [];
  }

  #closed(code: number, reason: string): void {
    this.#stop();
    if (this.#reported) return;
    this.#reported = true;
    this.#handlers.closed(this, code, reason);
  }

  #reported = false;

  #describe(): string {
    return `${this.role === 'dialler' ? 'to' : 'from'} ${this.#peer ?? '(unknown peer)'}`;
  }
}

/** Dials `url` (ws:// or wss://) expecting the node `peer`. */
export function dialLink(
  url: string,
  peer: string | null,
  options: LinkOptions,
  handlers: LinkHandlers,
  tls?: { readonly ca?: string | Buffer; readonly rejectUnauthorized?: boolean },
): NodeLink {
  const socket = new WebSocket(url, {
    perMessageDeflate: false,
    maxPayload: options.limits.maxFrameBytes,
    handshakeTimeout: options.handshakeMs,
    ...(tls ?? {}),
  });
  return new NodeLink('dialler', socket, options, handlers, peer);
}

/** Takes a socket a node's server accepted on LINK_PATH. */
export function acceptLink(
  socket: WebSocket,
  options: LinkOptions,
  handlers: LinkHandlers,
): NodeLink {
  return new NodeLink('listener', socket, options, handlers, null);
}
