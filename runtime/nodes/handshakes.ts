/**
 * The connections a node's link server accepted that are not links yet (runtime/nodes/net.ts):
 * each has `handshakeMs` from its TCP accept to its link's `ready`, on a timer of ours, and
 * there are at most `maxHandshakes` of them, `maxHandshakesPerIp` from one remote address.
 *
 * - Deadline: one timer per connection, armed when the server accepts it. A connection that
 *   has not sent a whole upgrade request by then (silent, or its headers half-sent) is answered
 *   `408 Request Timeout` (over TLS, where no HTTP can be written before the TLS handshake, it
 *   is only closed) and destroyed; one that was upgraded but whose link is not ready is closed
 *   with 4005 (`handshakeTimeout`). Node's own `headersTimeout` is checked only every 30 s (it
 *   held such connections past 70 s), so it is not relied on.
 * - Caps: a connection past either cap is refused at once, before anything is read from it:
 *   `503 Service Unavailable` with `Retry-After: 1` (only closed over TLS). A refusal is logged
 *   at most once a second, with the count since the last line. A dialling peer that is refused
 *   dials again after its backoff (net.ts).
 * - A connection stops counting when its link is ready, or when it closes.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CLOSE } from '../../protocol/node-link.ts';
import type { NodeLink } from './link.ts';
import { systemClock, type Clock } from '../core/index.ts';
import { backgroundTimeout } from '../core/index.ts';

/** Connections accepted and not yet ready links, at most (all remote addresses together). */
export const LINK_MAX_HANDSHAKES = 128;
/** Connections accepted and not yet ready links, at most, from one remote address. */
export const LINK_MAX_HANDSHAKES_PER_IP = 16;
/** Refusals are logged at most this often (ms). */
const REFUSAL_LOG_MS = 1_000;

export interface HandshakeOptions {
  readonly handshakeMs: number;
  readonly maxHandshakes: number;
  readonly maxHandshakesPerIp: number;
  /** The server speaks TLS: no plain HTTP answer can be written on the raw socket. */
  readonly tls: boolean;
  readonly log: (message: string) => void;
  /** The deadlines' and the refusal log's clock: the system's (default: the real clock). */
  readonly clock?: Clock;
}

interface Pending {
  readonly socket: Socket;
  readonly ip: string;
  readonly timer: unknown;
  link: NodeLink | null;
}

export class Handshakes {
  readonly #options: HandshakeOptions;
  readonly #clock: Clock;
  /** By `address|port` of the remote end: how an upgrade's socket finds its connection. */
  readonly #pending = new Map<string, Pending>();
  readonly #byLink = new Map<NodeLink, string>();
  readonly #perIp = new Map<string, number>();
  #refused = 0;
  #refusedSinceLog = 0;
  #loggedAt = -Infinity;

  constructor(options: HandshakeOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Connections counted now. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Connections refused so far (over a cap). */
  get refused(): number {
    return this.#refused;
  }

  /** A connection the server accepted: counted and given its deadline, or refused. */
  accepted(socket: Socket): void {
    const o = this.#options;
    const ip = socket.remoteAddress;
    if (ip === undefined) {
      socket.destroy();
      return;
    }
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (this.#pending.size >= o.maxHandshakes || fromIp >= o.maxHandshakesPerIp) {
      this.#refuse(socket, ip, fromIp >= o.maxHandshakesPerIp);
      return;
    }
    const key = `${ip}|${socket.remotePort}`;
    const p: Pending = {
      socket,
      ip,
      link: null,
      timer: backgroundTimeout(this.#clock, () => this.#expired(key, p), o.handshakeMs),
    };
    this.#pending.set(key, p);
    this.#perIp.set(ip, fromIp + 1);
    socket.once('close', () => this.#release(key, p));
  }

  /** The connection of `socket` (an upgrade's) became `link`. */
  upgraded(socket: Duplex, link: NodeLink): void {
    const s = socket as Partial<Socket>;
    const key = `${s.remoteAddress}|${s.remotePort}`;
    const p = this.#pending.get(key);
    if (p === undefined) return;
    p.link = link;
    this.#byLink.set(link, key);
  }

  /** `link` is ready: its connection no longer counts. */
  ready(link: NodeLink): void {
    const key = this.#byLink.get(link);
    if (key === undefined) return;
    const p = this.#pending.get(key);
    if (p !== undefined) this.#release(key, p);
  }

  /** Every connection still counted is destroyed (the server closes). */
  close(): void {
    for (const [key, p] of [...this.#pending]) {
      this.#release(key, p);
      p.socket.destroy();
    }
  }

  #release(key: string, p: Pending): void {
    if (this.#pending.get(key) !== p) return;
    this.#clock.clearTimeout(p.timer);
    this.#pending.delete(key);
    if (p.link !== null) this.#byLink.delete(p.link);
    const n = (this.#perIp.get(p.ip) ?? 1) - 1;
    if (n <= 0) this.#perIp.delete(p.ip);
    else this.#perIp.set(p.ip, n);
  }

  #expired(key: string, p: Pending): void {
    this.#release(key, p);
    if (p.link !== null) {
      p.link.close(CLOSE.handshakeTimeout, 'the handshake took too long');
      return;
    }
    answer(
      p.socket,
      this.#options.tls,
      'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
    );
  }

  #refuse(socket: Socket, ip: string, perIp: boolean): void {
    this.#refused++;
    this.#refusedSinceLog++;
    const now = this.#clock.now();
    if (now - this.#loggedAt >= REFUSAL_LOG_MS) {
      const o = this.#options;
      this.#options.log(
        `troupe: the node link server refused ${this.#refusedSinceLog} connection(s) (the last from ${ip}): ${
          perIp
            ? `${o.maxHandshakesPerIp} handshakes under way from it (link.maxHandshakesPerIp)`
            : `${o.maxHandshakes} handshakes under way (link.maxHandshakes)`
        }`,
      );
      this.#loggedAt = now;
      this.#refusedSinceLog = 0;
    }
    answer(
      socket,
      this.#options.tls,
      'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n\r\n',
    );
  }
}

/** Writes `response` (not over TLS) and destroys the socket once it is written. */
function answer(socket: Socket, tls: boolean, response: string): void {
  if (tls || socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.once('error', () => socket.destroy());
  socket.end(response);
}
