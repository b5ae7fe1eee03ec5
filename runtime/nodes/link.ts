/**
 * One link between two troupe nodes: a WebSocket (`ws`) carrying protocol/node-link.ts frames.
 *
 * - Dialled by one node (`dialLink`), accepted by the other (`acceptLink`, from an HTTP(S)
 *   server's `upgrade`). The handshake proves on both sides that the peer knows the cluster
 *   secret (HMAC over fresh nonces; the secret never crosses) and, for the dialler, that the
 *   peer is the node it meant to reach. Until then frames are decoded with records off; after
 *   `ready`, batches go with records, and a BatchWriter and a BatchReader (the numbering of
 *   addresses) are made for this connection.
 * - Messages are batched: `push`/`tell` add an entry to the batch being filled; it goes out as
 *   one `batch` frame at the end of the turn (a microtask after the first entry), or as soon as
 *   it holds `batchEntries` (LINK_BATCH_ENVELOPES at most), so a long burst is on its way
 *   while the burst goes on. A batch that packs over the frame cap is split; one entry bigger
 *   than the cap alone, or that no longer packs (changed after it was sent), is given back to
 *   `unsent`.
 * - Heartbeats: a `ping` every `heartbeatMs`; a link that hears nothing for
 *   `heartbeatMs × heartbeatMisses` is closed (4006) and reported down.
 * - Backpressure: while the socket holds more than `maxBufferedBytes`, packed frames wait in
 *   the link (the senders are slowed: their messages go out as the socket drains, which each
 *   frame's write callback tells); past `maxQueued` entries waiting, `push` refuses (returns
 *   false) and the caller dead-letters. The link itself stays up.
 * - When the link closes, what it still held (entries not packed, frames waiting for the
 *   socket) goes to `unsent`: nothing leaves silently. What the socket had taken is gone with
 *   the connection.
 * - A frame that fails decoding, or an entry whose body the node refuses (`entry` throws
 *   LinkProtocolError: runtime/nodes/inbound.ts), closes this link with the error's close code
 *   (4000–4999) and a logged reason; nothing else is touched. Any other throw while a frame is
 *   handled closes the link too (4010, `internal`, the error logged): nothing a peer sends
 *   can throw out of the socket's event handler and end the process.
 * - The dialler's frames are not masked (a zero mask: `ws` then skips the XOR on both ends).
 *   Masking keeps a browser's script from steering what a proxy between it and a server reads
 *   (RFC 6455 §10.3); between two nodes no script chooses the bytes' layout, and it cost a
 *   tenth of each side's time in cross-node counting.
 *
 * Reconnection is the caller's (runtime/nodes/net.ts): a link is one connection.
 */
import { closeReason } from '../../protocol/close-reason.ts';
import WebSocket from 'ws';
import type { Address } from '../../protocol/address.ts';
import { isTempAddress } from '../core/index.ts';
import type { Envelope, EnvelopeKind } from '../core/index.ts';
import { systemClock, type Clock } from '../core/index.ts';
import { every, type Repeating } from '../core/index.ts';
import {
  BatchReader,
  BatchWriter,
  CLOSE,
  DEFAULT_DECODE_LIMITS,
  ENTRY_ITEMS_MAX,
  kindCode,
  LinkCodec,
  LinkProtocolError,
  NODE_PROTOCOL_VERSION,
  nonce,
  proofMatches,
  proofOf,
  type BatchEntry,
  type BatchFrame,
  type EachEntry,
  type WirePrincipal,
  type CloseCode,
  type DecodeLimits,
  type NodeFrame,
} from '../../protocol/node-link.ts';

export const LINK_HEARTBEAT_MS = 1_000;
export const LINK_HEARTBEAT_MISSES = 3;
export const LINK_HANDSHAKE_MS = 5_000;
export const LINK_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Entries waiting in a link at most (beyond: dead letters). */
export const LINK_MAX_QUEUED = 1_000_000;
/** Entries in one batch frame at most. */
export const LINK_BATCH_ENVELOPES = 4_096;
/** The reason `unsent` gives for what a link still held when it closed. */
export const LINK_CLOSED = 'the link closed before it went';
/** How long a closed link's peer gets to answer the close frame before the socket goes (real time). */
export const LINK_CLOSE_GRACE_MS = 1_000;
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
  /**
   * What the heartbeats and the handshake deadline run on: the system's clock
   * (runtime/nodes/node.ts gives it; default the real clock). The close grace is real time.
   */
  readonly clock?: Clock;
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
  /**
   * A message from the peer, in its send order, checked (protocol/node-link.ts). `body` is as
   * it came: in the ref codec's form when `encoded`. A LinkProtocolError it throws closes the
   * link with its code (the body broke a schema the handler knows); the entries after it in
   * the frame are not given.
   */
  entry(link: NodeLink, ...entry: Parameters<EachEntry>): void;
  /** The ref for an address found in a body (already parsed). */
  revive(address: Address): unknown;
  /** Whether a value in a body is a ref `revive` made. */
  isRef(value: object): boolean;
  /** The link is closed (after `ready` or not); `code` is the WebSocket close code. */
  closed(link: NodeLink, code: number, reason: string): void;
  /** A line for the node's log (a refused frame, a failed handshake). */
  log(message: string): void;
  /**
   * Entries the link took but that did not go: one over the frame cap or that no longer
   * packs, or what it still held when it closed.
   */
  unsent(link: NodeLink, entries: readonly BatchEntry[], why: string): void;
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
  /** This connection's batches (after the handshake). */
  #writer: BatchWriter | null = null;
  #reader: BatchReader | null = null;
  /** Entries per batch frame at most: LINK_BATCH_ENVELOPES, fewer when arrays are capped lower. */
  readonly #batchEntries: number;
  #flushing = false;
  /** The socket holds more than maxBufferedBytes: packed frames wait here. */
  #draining = false;
  readonly #waiting: Uint8Array[] = [];
  readonly #waitingCounts: number[] = [];
  #waitingEntries = 0;
  readonly #clock: Clock;
  #lastHeard: number;
  #heartbeat: Repeating | null = null;
  readonly #handshakeTimer: unknown;

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
    this.#clock = options.clock ?? systemClock;
    this.#lastHeard = this.#clock.now();
    this.#codec = new LinkCodec(options.limits);
    this.#batchEntries = Math.max(
      1,
      Math.min(
        LINK_BATCH_ENVELOPES,
        Math.floor((options.limits.maxArrayLength - 2) / ENTRY_ITEMS_MAX),
      ),
    );
    socket.binaryType = 'nodebuffer';
    this.#handshakeTimer = this.#clock.setTimeout(
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

  /** Entries waiting in the link (the batch being filled, frames waiting for the socket). */
  get queued(): number {
    return (this.#writer?.count ?? 0) + this.#waitingEntries;
  }

  /**
   * Adds a message to the next batch. False (nothing taken) when the link is not ready or
   * holds `maxQueued` entries: the caller dead-letters it. `body` goes as it is (it must pack:
   * runtime/shards/link.ts `crossing`), or in the ref codec's form when `encoded`.
   */
  push(
    kind: EnvelopeKind,
    to: Address,
    from: Address | undefined,
    replyTo: Address | undefined,
    corr: number,
    trace: Readonly<Record<string, string>> | undefined,
    principal: WirePrincipal | undefined,
    body: unknown,
    encoded: boolean,
  ): boolean {
    const w = this.#writer;
    if (w === null || this.#state !== 'ready') return false;
    if (w.count + this.#waitingEntries >= this.#options.maxQueued) return false;
    this.#added(w.push(kindCode(kind), to, from, replyTo, corr, trace, principal, body, encoded));
    return true;
  }

  /** A user message as it is (it must pack), from an actor (or nobody): the common case. */
  tell(to: Address, from: Address | undefined, body: unknown): boolean {
    const w = this.#writer;
    if (w === null || this.#state !== 'ready') return false;
    if (w.count + this.#waitingEntries >= this.#options.maxQueued) return false;
    this.#added(w.pushTell(to, from, body));
    return true;
  }

  /** An envelope (its body in the ref codec's form), as `push`. */
  send(e: Envelope): boolean {
    return this.push(
      e.kind,
      e.to,
      e.from,
      e.replyTo,
      e.corr ?? 0,
      e.trace,
      e.principal,
      e.body,
      true,
    );
  }

  /** Closes the link (a `bye` first when it is ready and the close is graceful). */
  close(code: CloseCode | 1000, reason: string): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'ready' && (code === 1000 || code === CLOSE.shutdown)) {
      // what waits goes before the bye, whatever the socket holds
      this.#take();
      this.#draining = false;
      this.#sendWaiting(Infinity);
      this.#write([NODE_PROTOCOL_VERSION, 'bye', reason.slice(0, 1024)]);
    }
    this.#stop();
    this.#socket.close(code, closeReason(reason));
    // a peer that does not answer the close: the socket goes after a grace period
    // real time on purpose, whatever the system's clock: this only cuts off a socket that is
    // closed already, nothing of the runtime's waits on its length, and under a simulated clock
    // a shutdown would wait on it until the test moved the clock
    // eslint-disable-next-line no-restricted-globals -- a socket's cut-off (above)
    setTimeout(() => this.#socket.terminate(), LINK_CLOSE_GRACE_MS).unref();
  }

  // ---- inside ---------------------------------------------------------------------------

  #added(waiting: number): void {
    if (waiting >= this.#batchEntries) this.#take();
    else if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushing = false;
    if (this.#state === 'ready') this.#take();
  };

  /** Packs the batch being filled into frames and sends them (or keeps them while draining). */
  #take(): void {
    const w = this.#writer;
    if (w === null || w.count === 0) return;
    const frames: Uint8Array[] = [];
    const counts: number[] = [];
    const unsent: { entries: readonly BatchEntry[]; why: string }[] = [];
    w.take(frames, counts, unsent);
    for (let i = 0; i < frames.length; i++) {
      if (this.#draining) {
        this.#waiting.push(frames[i]!);
        this.#waitingCounts.push(counts[i]!);
        this.#waitingEntries += counts[i]!;
      } else this.#sendBatch(frames[i]!);
    }
    for (const u of unsent) this.#handlers.unsent(this, u.entries, u.why);
  }

  #sendBatch(bytes: Uint8Array): void {
    this.#socket.send(bytes, { binary: true }, this.#written);
    if (this.#socket.bufferedAmount > this.#options.maxBufferedBytes) this.#draining = true;
  }

  /** A batch frame's write is done: while draining, the waiting frames go once under half the cap. */
  readonly #written = (): void => {
    if (!this.#draining || this.#state !== 'ready') return;
    if (this.#socket.bufferedAmount > this.#options.maxBufferedBytes / 2) return;
    this.#draining = false;
    this.#sendWaiting(this.#options.maxBufferedBytes);
  };

  /** Sends waiting frames until the socket holds more than `cap`. */
  #sendWaiting(cap: number): void {
    const q = this.#waiting;
    let n = 0;
    while (n < q.length && !this.#draining) {
      this.#socket.send(q[n]!, { binary: true }, this.#written);
      this.#waitingEntries -= this.#waitingCounts[n]!;
      n++;
      if (this.#socket.bufferedAmount > cap) this.#draining = true;
    }
    q.splice(0, n);
    this.#waitingCounts.splice(0, n);
  }

  #write(frame: Exclude<NodeFrame, BatchFrame>): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    this.#socket.send(this.#codec.encode(frame), { binary: true });
  }

  #received(data: Buffer, isBinary: boolean): void {
    if (this.#state === 'closed') return;
    try {
      if (!isBinary) throw new LinkProtocolError(CLOSE.badFrame, 'a text frame');
      const frame = this.#codec.decode(data);
      this.#lastHeard = this.#clock.now();
      if (this.#state === 'handshake') this.#handshake(frame);
      else this.#ready(frame);
    } catch (e) {
      if (e instanceof LinkProtocolError) {
        this.#handlers.log(
          `troupe: link ${this.#describe()} closed (${e.closeCode}): ${e.message}`,
        );
        this.close(e.closeCode, e.message);
        return;
      }
      // a throw of this node's while it handled the frame: it must not escape into the
      // socket's event handler (where it would end the process); the link goes instead
      this.#handlers.log(
        `troupe: link ${this.#describe()} closed (${CLOSE.internal}): a frame could not be handled: ${
          e instanceof Error ? (e.stack ?? e.message) : String(e)
        }`,
      );
      this.close(CLOSE.internal, 'a frame could not be handled');
    }
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
      this.#becomeReady();
      return;
    }
    return refuse(CLOSE.unexpected, `a ${frame[1]} frame during the handshake`);
  }

  #becomeReady(): void {
    this.#clock.clearTimeout(this.#handshakeTimer);
    const o = this.#options;
    this.#codec.trust(this.#handlers.revive);
    this.#writer = new BatchWriter(o.limits.maxFrameBytes, (a) => !isTempAddress(a));
    this.#reader = new BatchReader(o.limits, this.#handlers.isRef);
    this.#state = 'ready';
    this.#heartbeat = every(this.#clock, o.heartbeatMs, () => {
      if (this.#clock.now() - this.#lastHeard > o.heartbeatMs * o.heartbeatMisses) {
        this.#handlers.log(
          `troupe: link ${this.#describe()}: no heartbeat for ${o.heartbeatMisses} × ${o.heartbeatMs} ms`,
        );
        this.close(CLOSE.heartbeat, 'heartbeats missed');
        return;
      }
      // an integer, as it always was on the wire (the clock's now() may have a fraction)
      this.#write([NODE_PROTOCOL_VERSION, 'ping', Math.round(this.#clock.now())]);
    });
    this.#handlers.ready(this);
  }

  readonly #entry: EachEntry = (kind, to, from, replyTo, corr, trace, principal, body, encoded) => {
    if (this.#state === 'ready')
      this.#handlers.entry(this, kind, to, from, replyTo, corr, trace, principal, body, encoded);
  };

  #ready(frame: NodeFrame): void {
    switch (frame[1]) {
      case 'batch':
        this.#reader!.read(frame, this.#entry);
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
    this.#clock.clearTimeout(this.#handshakeTimer);
    this.#heartbeat?.stop();
    const w = this.#writer;
    if (w === null) return;
    // what the link still held: given back, nothing leaves silently
    const left = [...w.unpackUnsent(this.#waiting, this.#handlers.revive), ...w.drain()];
    this.#waiting.length = 0;
    this.#waitingCounts.length = 0;
    this.#waitingEntries = 0;
    if (left.length > 0) this.#handlers.unsent(this, left, LINK_CLOSED);
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

/** Close reasons cut to what a close frame takes (protocol/close-reason.ts). */
export { closeReason, MAX_CLOSE_REASON_BYTES } from '../../protocol/close-reason.ts';

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
    generateMask: zeroMask,
    ...(tls ?? {}),
  });
  return new NodeLink('dialler', socket, options, handlers, peer);
}

/** No masking of the dialler's frames (see above): `ws` skips the XOR for a zero mask. */
const zeroMask = (mask: Buffer): void => {
  mask.fill(0);
};

/** Takes a socket a node's server accepted on LINK_PATH. */
export function acceptLink(
  socket: WebSocket,
  options: LinkOptions,
  handlers: LinkHandlers,
): NodeLink {
  return new NodeLink('listener', socket, options, handlers, null);
}
