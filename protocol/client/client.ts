/**
 * The client SDK's core: one API in browsers and in Node; the socket comes from a transport
 * (protocol/client/browser.ts: the native WebSocket; protocol/client/node.ts: `ws`).
 *
 *   const client = connect('wss://node.example/troupe', { token });
 *   const stop = client.subscribe('/user/counter', (state) => render(state));
 *   await client.send('/user/counter', { type: 'inc' });
 *   const n = await client.ask('/user/counter', { type: 'get' });
 *
 * - Reconnects by itself, with exponential backoff and jitter; a snapshot subscription resumes
 *   from the version it had (the gateway sends a patch, or the full state when it no longer
 *   has that version), so a listener never misses the latest state nor sees one twice.
 *   Event and topic subscriptions resume too, but events sent while disconnected are lost.
 * - A request made while disconnected waits for the connection (up to its timeout). A request
 *   in flight when the connection drops fails with ConnectionLostError: it may have run.
 * - Errors are typed (protocol/client/errors.ts); `on('state', …)` tells the connection's state.
 *
 * Snapshots, events and replies come in the protocol's data form: plain data where a ref is
 * `{ $ref: address }` and a date `{ $date: iso }` (protocol/CLIENT-PROTOCOL.md).
 *
 * Over 600 lines: one class, the SDK's connection, whose requests, subscriptions, resumes and
 * reconnects share its state.
 */
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { systemClock, type Clock } from '../clock.ts';
import { closeReason } from '../close-reason.ts';
import {
  CLIENT_PROTOCOL_VERSION,
  SUBPROTOCOL,
  ClientProtocolError,
  InvalidRequestError,
  checkTarget,
  toData,
  decodeServerFrame,
  encodeFrame,
  type ClientFrame,
  type EndedError,
  type ServerFrame,
  type ServerLimits,
  type SubscriptionKind,
  type TraceCarrier,
} from '../client-protocol.ts';
import {
  ClientClosedError,
  ConnectionLostError,
  ConnectionRefusedError,
  TimeoutError,
  TroupeClientError,
  requestError,
} from './errors.ts';

/** Why a failed actor's subscription ended (`SubscribeOptions.onEnd`). */
export type { EndedError } from '../client-protocol.ts';

/** The little of a WebSocket the client uses (the browser's and `ws` both have it). */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  /** Set by a transport that can see it: the HTTP status of a refused upgrade. */
  refusedStatus?: number;
}

/** Opens a socket to `url` offering `protocols`, carrying `token` as the transport can. */
export type Transport = (url: string, protocols: string[], token: string | null) => SocketLike;

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateChange {
  readonly state: ConnectionState;
  /** Why the last connection closed (reconnecting, closed). */
  readonly code?: number;
  readonly reason?: string;
  /** The next attempt's number and delay (reconnecting). */
  readonly attempt?: number;
  readonly delayMs?: number;
  /** Why it is closed for good. */
  readonly error?: Error;
}

export interface ReconnectOptions {
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly factor?: number;
}

export interface ClientOptions {
  /** The token `authenticate` checks: a string, or a function called at each (re)connect. */
  readonly token?: string | (() => string | Promise<string>);
  /** false: no reconnect. Default: 250 ms doubling to 10 s, with jitter. */
  readonly reconnect?: false | ReconnectOptions;
  /** How long a request (subscribe, send, ping) waits for its answer, connection included. */
  readonly requestTimeoutMs?: number;
  /** An ask's default timeout (the gateway caps it). */
  readonly askTimeoutMs?: number;
  /**
   * The clock its timers (request timeouts, reconnect backoff) and its reading of the time use.
   * Default: the real clock. Tests pass a simulated one (protocol/clock.ts).
   */
  readonly clock?: Clock;
}

export interface SubscribeOptions {
  /**
   * The subscription ended on the node: the actor stopped (`normal`, `failed`, …); for a
   * failure, `error` says why (its name, message, code and own fields in `data`).
   */
  readonly onEnd?: (reason: string, error?: EndedError) => void;
  /** The subscription was refused (ForbiddenError, …) or failed. */
  readonly onError?: (error: Error) => void;
}

export interface SnapshotInfo {
  readonly version: number;
  readonly epoch: string;
  /** A full state (the first, or after a resume the gateway could not patch), not a patch. */
  readonly full: boolean;
}

/** Stops the subscription; `ready` settles when the gateway has accepted (or refused) it. */
export interface Unsubscribe {
  (): void;
  readonly ready: Promise<void>;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
  /** W3C trace context to continue into the actors. */
  readonly trace?: TraceCarrier;
}

interface Sub {
  id: number;
  readonly kind: SubscriptionKind;
  readonly target: string;
  readonly listener: (value: any, info?: SnapshotInfo) => void;
  readonly options: SubscribeOptions;
  epoch: string | null;
  version: number;
  snapshot: unknown;
  settled: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Pending {
  readonly target: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (e: Error) => void;
  readonly timer: unknown;
  /** On the wire: a lost connection fails it. */
  sent: boolean;
  readonly frame: ClientFrame;
}

/** A connection up this long counts as a success: the next reconnect starts from the first delay. */
const STABLE_MS = 5_000;

const DEFAULT_RECONNECT: Required<ReconnectOptions> = {
  initialDelayMs: 250,
  maxDelayMs: 10_000,
  factor: 2,
};

export class TroupeClient {
  readonly url: string;
  /** Resolves at the first open connection; rejects if the client closes for good first. */
  readonly ready: Promise<void>;
  /** What the gateway said in its welcome (null before the first). */
  limits: ServerLimits | null = null;
  session: string | null = null;
  #state: ConnectionState = 'connecting';
  readonly #transport: Transport;
  readonly #options: ClientOptions;
  readonly #reconnect: Required<ReconnectOptions> | null;
  readonly #stateListeners = new Set<(change: StateChange) => void>();
  #socket: SocketLike | null = null;
  #open = false;
  #nextId = 1;
  #attempt = 0;
  /** When the current connection opened: only one that stays up resets the backoff. */
  #openedAt = 0;
  #retryTimer: unknown = null;
  /** Its timers and the time: the real clock, or the one in `options.clock`. */
  readonly #clock: Clock;
  readonly #subs = new Map<number, Sub>();
  readonly #pending = new Map<number, Pending>();
  #resolveReady!: () => void;
  #rejectReady!: (e: Error) => void;

  constructor(url: string, transport: Transport, options: ClientOptions = {}) {
    this.url = url;
    this.#transport = transport;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#reconnect =
      options.reconnect === false ? null : { ...DEFAULT_RECONNECT, ...options.reconnect };
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // a client nobody awaits does not leave an unhandled rejection
    this.ready.catch(() => undefined);
    void this.#dial();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Connection-state changes; returns a function that removes the listener. */
  on(event: 'state', listener: (change: StateChange) => void): () => void {
    if (event !== 'state') throw new TypeError(`unknown event ${String(event)}`);
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** An actor's snapshots: `listener` gets the current one, then each change. */
  subscribe<S = unknown>(
    target: string,
    listener: (snapshot: S, info: SnapshotInfo) => void,
    options: SubscribeOptions = {},
  ): Unsubscribe {
    return this.#subscribe('snapshot', target, listener as Sub['listener'], options);
  }

  /** What an actor emits (`ctx.emit`, XState's `emit`). */
  subscribeEvents<E = unknown>(
    target: string,
    listener: (event: E) => void,
    options: SubscribeOptions = {},
  ): Unsubscribe {
    return this.#subscribe('events', target, listener as Sub['listener'], options);
  }

  /** What is published on a topic (`system.topics.publish`). */
  subscribeTopic<M = unknown>(
    topic: string,
    listener: (message: M) => void,
    options: SubscribeOptions = {},
  ): Unsubscribe {
    return this.#subscribe('topic', topic, listener as Sub['listener'], options);
  }

  /** Tells the actor `message`; resolves when the gateway has accepted it. */
  send(target: string, message: unknown, options: RequestOptions = {}): Promise<void> {
    let data: unknown;
    try {
      checkTarget(target);
      data = toData(message);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const id = this.#nextId++;
    return this.#request(
      {
        op: 'send',
        id,
        target,
        message: data,
        ...(options.trace === undefined ? {} : { trace: options.trace }),
      },
      target,
      options.timeoutMs ?? this.#options.requestTimeoutMs ?? 10_000,
    ) as Promise<void>;
  }

  /** Asks the actor; resolves with its reply. */
  ask<R = unknown>(target: string, message: unknown, options: RequestOptions = {}): Promise<R> {
    const timeoutMs = options.timeoutMs ?? this.#options.askTimeoutMs ?? 5_000;
    let data: unknown;
    try {
      checkTarget(target);
      if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
        throw new InvalidRequestError('timeoutMs must be an integer > 0');
      data = toData(message);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const id = this.#nextId++;
    return this.#request(
      {
        op: 'ask',
        id,
        target,
        message: data,
        timeoutMs,
        ...(options.trace === undefined ? {} : { trace: options.trace }),
      },
      target,
      // the gateway answers a timeout itself; this one covers a connection that never comes
      timeoutMs + (this.#options.requestTimeoutMs ?? 10_000),
    ) as Promise<R>;
  }

  /** A round trip to the gateway. */
  ping(): Promise<void> {
    const id = this.#nextId++;
    return this.#request({ op: 'ping', id }, '', this.#options.requestTimeoutMs ?? 10_000).then(
      () => undefined,
    );
  }

  /** Closes the connection for good: requests fail with ClientClosedError. */
  close(): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    const socket = this.#socket;
    this.#shut(new ClientClosedError());
    if (socket === null || socket.readyState >= 2) return Promise.resolve();
    return new Promise((resolve) => {
      const done = this.#clock.setTimeout(resolve, 1_000);
      socket.onclose = () => {
        this.#clock.clearTimeout(done);
        resolve();
      };
    });
  }

  // ---- requests -----------------------------------------------------------------------------

  #request(frame: ClientFrame, target: string, timeoutMs: number): Promise<unknown> {
    if (this.#state === 'closed') return Promise.reject(new ClientClosedError());
    return new Promise((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#pending.delete(frame.id);
        reject(
          new TimeoutError(
            'timeout',
            this.#open
              ? `no answer to ${frame.op} in ${timeoutMs} ms`
              : `no connection to the gateway in ${timeoutMs} ms`,
            target,
          ),
        );
      }, timeoutMs);
      const p: Pending = { target, resolve, reject, timer, sent: false, frame };
      this.#pending.set(frame.id, p);
      if (this.#open) this.#write(p);
    });
  }

  #write(p: Pending): void {
    p.sent = true;
    this.#socket!.send(encodeFrame(p.frame));
  }

  #subscribe(
    kind: SubscriptionKind,
    target: string,
    listener: Sub['listener'],
    options: SubscribeOptions,
  ): Unsubscribe {
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    ready.catch(() => undefined);
    const sub: Sub = {
      id: this.#nextId++,
      kind,
      target,
      listener,
      options,
      epoch: null,
      version: 0,
      snapshot: undefined,
      settled: false,
      resolve,
      reject,
    };
    let invalid: Error | null = null;
    try {
      checkTarget(target);
    } catch (e) {
      invalid = e as Error;
    }
    if (this.#state === 'closed' || invalid !== null) {
      sub.settled = true;
      reject(invalid ?? new ClientClosedError());
    } else {
      this.#subs.set(sub.id, sub);
      if (this.#open) this.#sendSubscribe(sub);
    }
    const stop = () => {
      if (this.#subs.get(sub.id) !== sub) return;
      this.#subs.delete(sub.id);
      if (!sub.settled) {
        sub.settled = true;
        resolve();
      }
      if (this.#open) this.#socket!.send(encodeFrame({ op: 'unsubscribe', id: sub.id }));
    };
    return Object.assign(stop, { ready });
  }

  #sendSubscribe(sub: Sub): void {
    this.#socket!.send(
      encodeFrame({
        op: 'subscribe',
        id: sub.id,
        kind: sub.kind,
        target: sub.target,
        ...(sub.epoch === null ? {} : { since: { epoch: sub.epoch, version: sub.version } }),
      }),
    );
  }

  /** Starts a subscription again from nothing (its state got out of step). */
  #resync(sub: Sub): void {
    this.#subs.delete(sub.id);
    this.#socket!.send(encodeFrame({ op: 'unsubscribe', id: sub.id }));
    sub.id = this.#nextId++;
    sub.epoch = null;
    sub.version = 0;
    this.#subs.set(sub.id, sub);
    this.#sendSubscribe(sub);
  }

  // ---- the connection -----------------------------------------------------------------------

  #setState(change: StateChange): void {
    this.#state = change.state;
    for (const l of this.#stateListeners) {
      try {
        l(change);
      } catch (e) {
        console.error('troupe client: a state listener threw', e);
      }
    }
  }

  async #dial(): Promise<void> {
    let token: string | null;
    const t = this.#options.token;
    try {
      token = typeof t === 'function' ? await t() : (t ?? null);
    } catch (e) {
      return this.#lost(4000, `the token function threw: ${String(e)}`);
    }
    if (this.#state === 'closed') return;
    let socket: SocketLike;
    try {
      socket = this.#transport(this.url, [SUBPROTOCOL], token);
    } catch (e) {
      // a malformed URL: nothing to retry
      return this.#shut(e instanceof Error ? e : new TroupeClientError('bad-url', String(e)));
    }
    this.#socket = socket;
    socket.binaryType = 'arraybuffer';
    socket.onmessage = (ev) => this.#onData(ev.data);
    socket.onclose = (ev) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      const status = socket.refusedStatus;
      // refusals that a retry would only repeat: end (a browser cannot see the status)
      if (status === 400 || status === 401 || status === 403)
        return this.#shut(new ConnectionRefusedError(status));
      this.#lost(ev.code, ev.reason);
    };
    socket.onerror = () => undefined;
  }

  #onData(data: unknown): void {
    let frame: ServerFrame;
    try {
      const bytes =
        data instanceof ArrayBuffer
          ? new Uint8Array(data)
          : ArrayBuffer.isView(data)
            ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
            : null;
      if (bytes === null) throw new ClientProtocolError(4000, 'a text frame from the gateway');
      frame = decodeServerFrame(bytes);
    } catch (e) {
      this.#socket?.close(4000, e instanceof Error ? closeReason(e.message) : 'a bad frame');
      return;
    }
    switch (frame.op) {
      case 'welcome':
        return this.#welcome(frame);
      case 'ok':
      case 'pong': {
        const p = this.#pending.get(frame.id);
        if (p !== undefined) {
          this.#pending.delete(frame.id);
          this.#clock.clearTimeout(p.timer);
          p.resolve(undefined);
          return;
        }
        const s = this.#subs.get(frame.id);
        if (s !== undefined && !s.settled) {
          s.settled = true;
          s.resolve();
        }
        return;
      }
      case 'reply': {
        const p = this.#pending.get(frame.id);
        if (p === undefined) return;
        this.#pending.delete(frame.id);
        this.#clock.clearTimeout(p.timer);
        p.resolve(frame.value);
        return;
      }
      case 'error': {
        const p = this.#pending.get(frame.id);
        if (p !== undefined) {
          this.#pending.delete(frame.id);
          this.#clock.clearTimeout(p.timer);
          p.reject(requestError(frame.code, frame.message, p.target));
          return;
        }
        const s = this.#subs.get(frame.id);
        if (s === undefined) return;
        this.#subs.delete(frame.id);
        const e = requestError(frame.code, frame.message, s.target);
        if (!s.settled) {
          s.settled = true;
          s.reject(e);
        }
        this.#call(() => s.options.onError?.(e));
        return;
      }
      case 'state': {
        const s = this.#subs.get(frame.id);
        if (s === undefined) return;
        s.epoch = frame.epoch;
        s.version = frame.version;
        s.snapshot = frame.snapshot;
        this.#call(() =>
          s.listener(s.snapshot, { version: s.version, epoch: frame.epoch, full: true }),
        );
        return;
      }
      case 'patch': {
        const s = this.#subs.get(frame.id);
        if (s === undefined) return;
        if (s.epoch !== frame.epoch || s.version !== frame.base) return this.#resync(s);
        let next: unknown;
        try {
          next = jsonpatch.applyPatch(
            s.snapshot,
            frame.patch as Operation[],
            false,
            false,
            true,
          ).newDocument;
        } catch {
          return this.#resync(s);
        }
        s.snapshot = next;
        s.version = frame.version;
        if (frame.patch.length === 0) return;
        this.#call(() => s.listener(next, { version: s.version, epoch: frame.epoch, full: false }));
        return;
      }
      case 'event': {
        const s = this.#subs.get(frame.id);
        if (s !== undefined) this.#call(() => s.listener(frame.event));
        return;
      }
      case 'ended': {
        const s = this.#subs.get(frame.id);
        if (s === undefined) return;
        this.#subs.delete(frame.id);
        this.#call(() => s.options.onEnd?.(frame.reason, frame.error));
        return;
      }
    }
  }

  #welcome(frame: Extract<ServerFrame, { op: 'welcome' }>): void {
    if (frame.protocol !== CLIENT_PROTOCOL_VERSION) {
      this.#shut(
        new TroupeClientError(
          'protocol',
          `the gateway speaks protocol ${frame.protocol}, this client ${CLIENT_PROTOCOL_VERSION}`,
        ),
      );
      return;
    }
    this.limits = frame.limits;
    this.session = frame.session;
    this.#open = true;
    this.#openedAt = this.#clock.now();
    for (const s of this.#subs.values()) this.#sendSubscribe(s);
    for (const p of this.#pending.values()) if (!p.sent) this.#write(p);
    this.#setState({ state: 'open' });
    this.#resolveReady();
  }

  /** A listener's throw is logged and harms nothing else. */
  #call(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      console.error('troupe client: a listener threw', e);
    }
  }

  /** The connection closed: requests on the wire fail; it dials again after a backoff. */
  #lost(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    this.#open = false;
    for (const [id, p] of this.#pending) {
      if (!p.sent) continue;
      this.#pending.delete(id);
      this.#clock.clearTimeout(p.timer);
      p.reject(new ConnectionLostError());
    }
    // subscriptions not yet accepted are sent again on the next connection
    const r = this.#reconnect;
    if (r === null)
      return this.#shut(new ConnectionLostError(`the connection closed (${code} ${reason})`));
    // a connection that stayed up a while resets the backoff; one closed at once does not, so a
    // gateway that closes every connection is not hammered
    if (this.#openedAt > 0 && this.#clock.now() - this.#openedAt >= STABLE_MS) this.#attempt = 0;
    this.#openedAt = 0;
    const d = Math.min(r.maxDelayMs, r.initialDelayMs * r.factor ** this.#attempt);
    // "equal jitter": half fixed, half random, so clients cut off together do not return together
    const delayMs = Math.round(d / 2 + Math.random() * (d / 2));
    this.#attempt++;
    this.#setState({ state: 'reconnecting', code, reason, attempt: this.#attempt, delayMs });
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = null;
      void this.#dial();
    }, delayMs);
  }

  #shut(error: Error): void {
    if (this.#state === 'closed') return;
    this.#open = false;
    if (this.#retryTimer !== null) this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const socket = this.#socket;
    this.#socket = null;
    if (socket !== null && socket.readyState < 2) socket.close(1000, 'closed by the client');
    for (const p of this.#pending.values()) {
      this.#clock.clearTimeout(p.timer);
      p.reject(error);
    }
    this.#pending.clear();
    for (const s of this.#subs.values())
      if (!s.settled) {
        s.settled = true;
        s.reject(error);
      }
    this.#subs.clear();
    this.#setState({ state: 'closed', error });
    this.#rejectReady(error);
  }
}
