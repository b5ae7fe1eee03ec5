/**
 * One client's connection to the gateway: its frames are decoded defensively, rate-limited
 * (token bucket), authorized one by one in the order they came (an `authorize` that returns a
 * promise holds the frames behind it), and served: subscriptions through the gateway's hubs,
 * sends and asks to the actors, with the client's trace context continued. A bad frame or a
 * limit closes this connection only, with its close code (protocol/client-protocol.ts); a
 * `send` or `ask` whose message is not data is answered `bad-message` and the connection goes on.
 *
 * When the connection closes, for whatever reason, its subscriptions leave their hubs and its
 * asks in flight are settled at once (runtime/gateway/asks.ts): nothing of it waits for a
 * deadline. No frame bigger than MAX_OUTBOUND_FRAME_BYTES (the SDK's cap) is sent: a reply over
 * it is answered `not-serializable`, a snapshot over it ends its subscription
 * (`not-serializable`), an event over it is not passed on; each is logged.
 */
import { closeReason } from '../../protocol/close-reason.ts';
import type { WebSocket } from 'ws';
import { context, trace, SpanKind, SpanStatusCode, type Context } from '@opentelemetry/api';
import {
  BadMessageError,
  CLIENT_CLOSE,
  ClientProtocolError,
  DEFAULT_SERVER_DECODE_LIMITS,
  decodeClientFrame,
  encodeFrame,
  type ClientCloseCode,
  type ClientFrame,
  type ErrorCode,
  type PatchOperation,
  type ServerFrame,
  type TraceCarrier,
} from '../../protocol/client-protocol.ts';
import { encodeValue } from '../core/index.ts';
import { backgroundTimeout } from '../core/index.ts';
import { extractTrace } from '../core/index.ts';
import type { HubSubscriber, SnapshotHub, EventHub } from './hubs.ts';
import type { EndedError } from '../../protocol/client-protocol.ts';
import type { GatewayOp, Principal } from './options.ts';
import type { GatewayCore, Target } from './gateway.ts';
import type { AskOutcome, ConnectionAsks } from './asks.ts';
import { AdmissionError, admit, type Decision } from './admission.ts';

/** `authorize` said no. */
const DENIED: Decision = { ok: false, code: 'forbidden', reason: 'not allowed' };

/** How long a closed connection's peer gets to answer the close frame before it is cut off (real time). */
export const CLOSE_GRACE_MS = 1_000;
/** Largest frame the gateway sends, in bytes: what the client SDK accepts. */
export const MAX_OUTBOUND_FRAME_BYTES = DEFAULT_SERVER_DECODE_LIMITS.maxFrameBytes;

/** A frame as the connection queues it: a request, or one answered `bad-message` in its turn. */
type Incoming =
  ClientFrame | { readonly op: 'bad-message'; readonly id: number; readonly why: string };

/** How a traced request reports its end to its span (`error` undefined: it went well). */
type Finish = (error?: unknown) => void;
const NO_SPAN: Finish = () => undefined;

class Subscription implements HubSubscriber {
  readonly id: number;
  sent = 0;
  readonly conn: Connection;
  hub: SnapshotHub | EventHub | null = null;

  constructor(conn: Connection, id: number) {
    this.conn = conn;
    this.id = id;
  }

  state(epoch: string, version: number, snapshot: unknown): void {
    this.conn.frame({ op: 'state', id: this.id, epoch, version, snapshot });
  }

  patch(epoch: string, base: number, version: number, patch: readonly PatchOperation[]): void {
    this.conn.frame({ op: 'patch', id: this.id, epoch, base, version, patch });
  }

  event(event: unknown): void {
    this.conn.frame({ op: 'event', id: this.id, event });
  }

  ended(reason: string, error?: EndedError): void {
    if (this.conn.subs.get(this.id) !== this) return;
    this.conn.subs.delete(this.id);
    this.conn.frame(
      error === undefined
        ? { op: 'ended', id: this.id, reason }
        : { op: 'ended', id: this.id, reason, error },
    );
    this.conn.activity();
  }
}

export class Connection {
  readonly principal: Principal;
  readonly session: string;
  readonly subs = new Map<number, Subscription>();
  /** Asks in flight (settled at once when the connection closes). */
  readonly asks: ConnectionAsks;
  private readonly ws: WebSocket;
  private readonly core: GatewayCore;
  private tokens: number;
  private refilledAt: number;
  /** Frames held behind an `authorize` that has not answered yet (FIFO). */
  private held: Incoming[] | null = null;
  private lastActivityAt: number;
  /** The idle check's timer (of the system's clock), while the connection is open. */
  private idleTimer: unknown = null;
  /** A ping went out and no pong came back yet. */
  awaitingPong = false;
  closed = false;
  /** Resolves when the socket is closed (both sides, or cut off). */
  readonly socketClosed: Promise<void>;

  constructor(
    core: GatewayCore,
    ws: WebSocket,
    principal: Principal,
    session: string,
    asks: ConnectionAsks,
  ) {
    this.core = core;
    this.ws = ws;
    this.asks = asks;
    this.principal = principal;
    this.session = session;
    this.tokens = core.limits.burst;
    this.refilledAt = this.lastActivityAt = core.clock.now();
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('pong', () => (this.awaitingPong = false));
    this.socketClosed = new Promise((resolve) => ws.once('close', () => resolve()));
    this.armIdle();
  }

  /** Sends a frame; false when it was not sent (closed, or closed now for a full buffer). */
  frame(f: ServerFrame): boolean {
    if (this.closed) {
      this.core.count('dropped');
      return false;
    }
    if (this.ws.bufferedAmount > this.core.limits.maxBufferedBytes) {
      this.core.count('dropped');
      this.close(
        CLIENT_CLOSE.slowConsumer,
        `more than ${this.core.limits.maxBufferedBytes} bytes waiting to be sent`,
      );
      return false;
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeFrame(f);
    } catch (error) {
      this.core.logError(`troupe: a ${f.op} frame for a client could not be encoded`, error);
      return false;
    }
    if (bytes.byteLength > MAX_OUTBOUND_FRAME_BYTES) {
      this.core.count('dropped');
      this.tooBig(f, bytes.byteLength);
      return false;
    }
    this.ws.send(bytes);
    this.core.count('framesOut');
    return true;
  }

  /** A frame over MAX_OUTBOUND_FRAME_BYTES was not sent: its request or subscription hears why. */
  private tooBig(f: ServerFrame, bytes: number): void {
    const why = `a ${f.op} frame of ${bytes} bytes, over the ${MAX_OUTBOUND_FRAME_BYTES}-byte cap of a gateway frame`;
    this.core.logError(`troupe: ${why} was not sent to a client`, null);
    if (f.op === 'reply') return this.error(f.id, 'not-serializable', why);
    if (f.op === 'state' || f.op === 'patch') {
      const s = this.subs.get(f.id);
      if (s === undefined) return;
      s.hub?.remove(s);
      s.ended('not-serializable');
    }
    // an event is not passed on
  }

  /** The gateway shuts down: each subscription ends with `shutdown`, then the socket closes (1001). */
  shutdown(): void {
    if (this.closed) return;
    for (const s of [...this.subs.values()]) {
      s.hub?.remove(s);
      s.ended('shutdown');
    }
    this.close(CLIENT_CLOSE.goingAway, 'the node is shutting down');
  }

  close(code: ClientCloseCode | 1000, reason: string): void {
    if (this.closed) return;
    const ws = this.ws;
    ws.close(code, closeReason(reason));
    // a peer that never answers the close frame is cut off (ws itself would wait 30 s)
    // real time on purpose, whatever the system's clock: this only cuts off a socket that is
    // closed already, nothing of the runtime's waits on its length, and under a simulated clock
    // a shutdown would wait on it until the test moved the clock
    // eslint-disable-next-line no-restricted-globals -- a socket's cut-off (above)
    setTimeout(() => {
      if (ws.readyState !== ws.CLOSED) ws.terminate();
    }, CLOSE_GRACE_MS).unref();
    this.closed$(code);
  }

  ping(): void {
    if (!this.closed) this.ws.ping();
  }

  terminate(): void {
    if (this.closed) return;
    this.ws.terminate();
    this.closed$(1006);
  }

  /** The socket closed (either side): subscriptions leave their hubs; replies are dropped. */
  closed$(code: number): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer !== null) this.core.clock.clearTimeout(this.idleTimer);
    this.idleTimer = null;
    for (const s of this.subs.values()) s.hub?.remove(s);
    this.subs.clear();
    this.held = null;
    this.asks.cancelAll();
    this.core.connectionClosed(this, code);
  }

  /** Something happened on the connection: it is not idle. */
  activity(): void {
    this.lastActivityAt = this.core.clock.now();
  }

  private armIdle(): void {
    const ms = this.core.limits.idleTimeoutMs;
    const clock = this.core.clock;
    this.idleTimer = backgroundTimeout(
      clock,
      () => {
        this.idleTimer = null;
        if (this.closed) return;
        const quiet = clock.now() - this.lastActivityAt;
        if (this.subs.size === 0 && this.asks.size === 0 && quiet >= ms)
          return this.close(CLIENT_CLOSE.idle, `idle for ${ms} ms`);
        if (this.subs.size > 0 || this.asks.size > 0) this.activity();
        this.armIdle();
      },
      ms - Math.min(ms, clock.now() - this.lastActivityAt),
    );
  }

  // ---- frames from the client ---------------------------------------------------------------

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    this.core.count('framesIn');
    this.activity();
    // the token bucket
    const now = this.core.clock.now();
    const l = this.core.limits;
    this.tokens = Math.min(
      l.burst,
      this.tokens + ((now - this.refilledAt) * l.messagesPerSecond) / 1000,
    );
    this.refilledAt = now;
    if (this.tokens < 1)
      return this.close(
        CLIENT_CLOSE.rateLimited,
        `more than ${l.messagesPerSecond} frames per second`,
      );
    this.tokens -= 1;
    if (!isBinary)
      return this.close(CLIENT_CLOSE.badFrame, 'a text frame (frames are binary msgpack)');
    let f: Incoming;
    try {
      f = decodeClientFrame(data, this.core.decodeLimits);
    } catch (e) {
      if (e instanceof BadMessageError) f = { op: 'bad-message', id: e.id, why: e.message };
      else if (e instanceof ClientProtocolError) return this.close(e.closeCode, e.message);
      else {
        // a decoder bug must not take the node down: this connection goes, with the reason logged
        this.core.logError('troupe: a client frame could not be decoded', e);
        return this.close(CLIENT_CLOSE.badFrame, 'a frame that could not be decoded');
      }
    }
    if (this.held === null) return this.handle(f);
    if (this.held.length >= l.burst)
      return this.close(
        CLIENT_CLOSE.rateLimited,
        `more than ${l.burst} frames waiting for authorize to answer`,
      );
    this.held.push(f);
  }

  private handle(f: Incoming): void {
    switch (f.op) {
      case 'bad-message':
        this.error(f.id, 'bad-message', f.why);
        return;
      case 'ping':
        this.frame({ op: 'pong', id: f.id });
        return;
      case 'unsubscribe': {
        const s = this.subs.get(f.id);
        if (s !== undefined) {
          this.subs.delete(f.id);
          s.hub?.remove(s);
        }
        this.frame({ op: 'ok', id: f.id });
        return;
      }
      default:
        break;
    }
    if (this.subs.has(f.id) || this.asks.has(f.id))
      return this.error(f.id, 'duplicate-id', `id ${f.id} is in use on this connection`);
    const l = this.core.limits;
    if (f.op === 'subscribe' && this.subs.size >= l.maxSubscriptions)
      return this.close(
        CLIENT_CLOSE.tooManySubscriptions,
        `more than ${l.maxSubscriptions} subscriptions`,
      );
    if (f.op === 'ask' && this.asks.size >= l.maxPendingAsks)
      return this.close(CLIENT_CLOSE.tooManyAsks, `more than ${l.maxPendingAsks} asks in flight`);
    const op: GatewayOp = f.op === 'subscribe' ? f.kind : f.op;
    const target = this.core.resolve(op, f.target);
    if (typeof target === 'string') return this.error(f.id, 'bad-target', target);
    let allowed: boolean | Promise<boolean>;
    try {
      const detail = f.op === 'send' || f.op === 'ask' ? { message: f.message } : {};
      allowed = this.core.authorize(this.principal, op, target.name, detail);
      // an approval decision needs `approve` as well as `send` / `ask`
      if (f.op !== 'subscribe' && allowed !== false && isDecision(f.message))
        allowed = both(
          allowed,
          this.core.authorize(this.principal, 'approve', target.name, detail),
        );
    } catch (error) {
      this.core.logError('troupe: the gateway’s authorize threw', error);
      return this.error(f.id, 'internal', 'authorization failed');
    }
    let decided: Decision | Promise<Decision>;
    try {
      decided =
        typeof allowed === 'boolean'
          ? this.admit(f, target, allowed)
          : allowed.then((ok) => this.admit(f, target, ok === true));
    } catch (error) {
      this.core.logError('troupe: the gateway’s admission failed', error);
      return this.error(f.id, 'internal', 'admission failed');
    }
    if (!(decided instanceof Promise)) return this.perform(f, target, decided);
    // hold what comes next until this answer: a connection's requests keep their order
    this.held = [];
    const clock = this.core.clock;
    let timer: unknown = null;
    const answer = Promise.race([
      decided,
      new Promise<never>((_, reject) => {
        timer = clock.setTimeout(
          () =>
            reject(
              new Error(`authorize and admission did not answer in ${l.authorizeTimeoutMs} ms`),
            ),
          l.authorizeTimeoutMs,
        );
      }),
    ]).finally(() => {
      if (timer !== null) clock.clearTimeout(timer);
    });
    void answer.then(
      (d) => this.resume(f, target, d),
      (error: unknown) => {
        const admission = error instanceof AdmissionError;
        this.core.logError(
          admission
            ? 'troupe: the gateway’s admission failed'
            : 'troupe: the gateway’s authorize threw',
          error,
        );
        if (!this.closed)
          this.error(f.id, 'internal', admission ? 'admission failed' : 'authorization failed');
        this.resume(null, target, DENIED);
      },
    );
  }

  /**
   * After `authorize` answered `ok`: forbidden, or (a send or ask) through the admission
   * chain (admission.ts), or allowed as it is. Throws AdmissionError for a step that fails.
   */
  private admit(f: ClientFrame, target: Target, ok: boolean): Decision | Promise<Decision> {
    if (!ok) return DENIED;
    if ((f.op !== 'send' && f.op !== 'ask') || this.core.admission.length === 0)
      return { ok: true, message: (f as { message?: unknown }).message };
    return admit(this.core.admission, {
      op: f.op,
      target: target.name,
      message: f.message,
      principal: this.principal,
    });
  }

  private resume(f: ClientFrame | null, target: Target, decision: Decision): void {
    if (this.closed) return;
    const held = this.held ?? [];
    this.held = null;
    if (f !== null) this.perform(f, target, decision);
    for (let i = 0; i < held.length; i++) {
      if (this.closed) return;
      const later = this.held as Incoming[] | null;
      if (later !== null) {
        // another authorize is pending: the rest waits behind it
        later.push(...held.slice(i));
        return;
      }
      this.handle(held[i]!);
    }
  }

  private perform(f: ClientFrame, target: Target, decision: Decision): void {
    if (this.closed) return;
    if (f.op === 'ping' || f.op === 'unsubscribe') return;
    if (!decision.ok)
      return this.error(
        f.id,
        decision.code,
        decision.code === 'forbidden'
          ? `${f.op === 'subscribe' ? `subscribe (${f.kind})` : f.op} ${target.name} is not allowed`
          : decision.reason,
      );
    switch (f.op) {
      case 'subscribe': {
        const s = new Subscription(this, f.id);
        this.subs.set(f.id, s);
        this.frame({ op: 'ok', id: f.id });
        s.hub = this.core.join(f.kind, target, s, f.since);
        return;
      }
      case 'send':
      case 'ask':
        // the message as the admission chain left it
        return this.dispatch(
          decision.message === f.message ? f : { ...f, message: decision.message },
          target,
        );
    }
  }

  /**
   * The one place where a client's message enters the actors (`send` and `ask`), in the
   * client's trace, its metadata stamped with the connection's principal (from
   * `authenticate`, never from a frame): the actor reads it as `ctx.principal`, and what it
   * sends while it handles the message carries it on.
   */
  private dispatch(f: Extract<ClientFrame, { op: 'send' | 'ask' }>, target: Target): void {
    if (f.op === 'send') {
      this.traced('send', target, f.trace, (finish) => {
        this.core.tell(target.ref!, f.message, this.principal);
        finish();
      });
      this.frame({ op: 'ok', id: f.id });
      return;
    }
    const l = this.core.limits;
    const timeout = Math.min(f.timeoutMs ?? l.askTimeoutMs, l.maxAskTimeoutMs);
    const id = f.id;
    this.traced('ask', target, f.trace, (finish) =>
      this.asks.start(id, target.ref!, f.message, timeout, this.principal, (outcome) => {
        finish(outcome.ok ? undefined : outcome.error);
        this.answer(id, outcome);
      }),
    );
  }

  /** Ask `id` ended: its reply or error frame (none once the connection is closed). */
  private answer(id: number, outcome: AskOutcome): void {
    if (this.closed) return;
    this.activity();
    if (!outcome.ok) {
      const error = outcome.error;
      const code = (error as { code?: unknown } | null)?.code;
      return this.error(
        id,
        code === 'ERR_ASK_TIMEOUT' ? 'timeout' : 'failed',
        error instanceof Error ? error.message : String(error),
      );
    }
    let data: unknown;
    try {
      // a void reply is nil on the wire
      data = encodeValue(outcome.value, 'address') ?? null;
    } catch (error) {
      return this.error(id, 'not-serializable', (error as Error).message);
    }
    this.frame({ op: 'reply', id, value: data });
  }

  /**
   * Runs `fn` (a tell or an ask) in the client's trace, under a span when tracing is on; `fn`
   * calls its `finish` when the request is over (an ask: when it ends), which ends the span.
   */
  private traced(
    op: 'send' | 'ask',
    target: Target,
    carrier: TraceCarrier | undefined,
    fn: (finish: Finish) => void,
  ): void {
    const parent: Context | null =
      carrier === undefined ? null : extractTrace(carrier as unknown as Record<string, string>);
    const tracer = this.core.tracer;
    if (tracer === null) {
      if (parent === null) return fn(NO_SPAN);
      return context.with(parent, () => fn(NO_SPAN));
    }
    const span = tracer.startSpan(
      `gateway ${op} ${target.name}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'troupe.gateway.op': op, 'troupe.gateway.principal': this.principal.id },
      },
      parent ?? context.active(),
    );
    let ended = false;
    const finish: Finish = (e) => {
      if (ended) return;
      ended = true;
      if (e !== undefined)
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: e instanceof Error ? e.message : String(e as string),
        });
      span.end();
    };
    try {
      context.with(trace.setSpan(parent ?? context.active(), span), () => fn(finish));
    } catch (e) {
      finish(e);
      throw e;
    }
  }

  private error(id: number, code: ErrorCode, message: string): void {
    this.frame({ op: 'error', id, code, message });
  }
}

/** Both answers of `authorize` (each a boolean or a promise of one) allow. */
function both(
  a: boolean | Promise<boolean>,
  b: boolean | Promise<boolean>,
): boolean | Promise<boolean> {
  if (typeof a === 'boolean' && typeof b === 'boolean') return a && b;
  return Promise.all([a, b]).then(([x, y]) => x === true && y === true);
}

/** An approval decision (actors/agent): `authorize` is asked for op `approve` too. */
function isDecision(message: unknown): boolean {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'approve' || type === 'reject';
}
