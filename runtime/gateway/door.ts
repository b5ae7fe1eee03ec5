/**
 * The door: connections to the gateway that are not (yet) WebSockets, each held to a deadline
 * and counted, so that silent or slow peers cannot hold sockets open.
 *
 * - On the gateway's own server every accepted TCP connection enters at once (`enter`), before
 *   its TLS handshake when it has TLS (`secured` tells the door when that is done); on a server
 *   of yours, an upgrade request to the gateway's path enters when it comes (the rest of that
 *   server is yours). A connection leaves when its upgrade completes (`upgraded`: the 101 went
 *   out) or when it closes. A connection is known by its remote address and port, the same on
 *   a TLS socket and on the TCP socket under it.
 * - Deadline (`handshakeTimeoutMs`, our own timer, not Node's 30-second check): from entering,
 *   the TLS handshake, the request's headers and the whole upgrade (`authenticate` included)
 *   must be done in that time. A plain HTTP request on the connection (the inspector's page,
 *   the client bundle) stops the clock while it is served (`serving`) and starts it again when
 *   its response ends (`served`), so a kept-alive connection must send its next request's
 *   headers in that time too. Over it, `expired(socket, tls)` is called: the gateway answers
 *   408 and closes, or, with the TLS handshake not done (`tls` false on a TLS server: no HTTP
 *   can be written yet), closes.
 * - Caps: at most `maxHalfOpen` connections inside, and `maxHalfOpenPerIp` from one IP (an
 *   IPv4 address; an IPv6 /64, which one host usually holds whole). One over a cap is refused
 *   as it enters: the gateway answers 503 with Retry-After (or, before TLS, closes).
 */
import type { Duplex } from 'node:stream';
import type { Clock } from '../core/index.ts';
import { backgroundTimeout } from '../core/index.ts';

/** A socket as the door reads it (net.Socket and tls.TLSSocket both are). */
export type DoorSocket = Duplex & { readonly remoteAddress?: string; readonly remotePort?: number };

export interface DoorLimits {
  readonly handshakeTimeoutMs: number;
  readonly maxHalfOpen: number;
  readonly maxHalfOpenPerIp: number;
}

/** Why `enter` refused a connection. */
export type DoorRefusal = 'total' | 'per-ip';

interface Inside {
  readonly ip: string;
  /** Where an answer is written: the TCP socket, then (with TLS) the TLS socket on it. */
  socket: DoorSocket;
  /** The TLS handshake is still to come: no HTTP can be written. */
  beforeTls: boolean;
  /** The deadline's timer (of the door's clock), while it runs. */
  timer: unknown;
}

/** The key a connection's IP is counted under: an IPv4 address, or an IPv6 address's /64. */
export function ipKey(address: string | undefined): string {
  if (address === undefined || address === '') return '?';
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (v4 !== null) return v4[1]!;
  const bare = address.split('%')[0]!.toLowerCase();
  const [head = '', tail] = bare.split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? front
      : [
          ...front,
          ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0'),
          ...back,
        ];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** A live connection's key: its remote address and port (null once it is closed). */
function keyOf(socket: DoorSocket): string | null {
  const a = socket.remoteAddress;
  const p = socket.remotePort;
  return a === undefined || p === undefined ? null : `${a}|${p}`;
}

export class Door {
  readonly #limits: DoorLimits;
  readonly #clock: Clock;
  readonly #expired: (socket: DoorSocket, beforeTls: boolean) => void;
  readonly #inside = new Map<string, Inside>();
  readonly #perIp = new Map<string, number>();

  /**
   * `clock`: the system's. It is real unless a test gave the system a simulated one, so the
   * deadline guards the sockets of a real node.
   */
  constructor(
    limits: DoorLimits,
    clock: Clock,
    expired: (socket: DoorSocket, beforeTls: boolean) => void,
  ) {
    this.#limits = limits;
    this.#clock = clock;
    this.#expired = expired;
  }

  /** Connections inside now. */
  get size(): number {
    return this.#inside.size;
  }

  /**
   * A connection comes in (`tls`: its TLS handshake is still to come): null when it is let in
   * (or is in already) and its deadline runs, else which cap refused it (it is not counted; the
   * caller answers and closes it).
   */
  enter(socket: DoorSocket, tls = false): DoorRefusal | null {
    const key = keyOf(socket);
    if (key === null || this.#inside.has(key)) return null;
    const ip = ipKey(socket.remoteAddress);
    if (this.#inside.size >= this.#limits.maxHalfOpen) return 'total';
    const n = this.#perIp.get(ip) ?? 0;
    if (n >= this.#limits.maxHalfOpenPerIp) return 'per-ip';
    this.#perIp.set(ip, n + 1);
    const inside: Inside = { ip, socket, beforeTls: tls, timer: null };
    this.#inside.set(key, inside);
    this.#arm(inside);
    socket.once('close', () => this.#leave(key, inside));
    return null;
  }

  /** The TLS handshake of `socket`'s connection is done: answers are written on `socket`. */
  secured(socket: DoorSocket): void {
    const inside = this.#find(socket);
    if (inside === undefined) return;
    inside.socket = socket;
    inside.beforeTls = false;
  }

  /** A plain HTTP request's headers came on `socket`: no deadline while it is served. */
  serving(socket: DoorSocket): void {
    const inside = this.#find(socket);
    if (inside === undefined || inside.timer === null) return;
    this.#clock.clearTimeout(inside.timer);
    inside.timer = null;
  }

  /** Its response ended: the next request's headers must come within the deadline. */
  served(socket: DoorSocket): void {
    const inside = this.#find(socket);
    if (inside !== undefined && inside.timer === null && !socket.destroyed) this.#arm(inside);
  }

  /** The upgrade completed (101): the connection is a WebSocket now, and leaves. */
  upgraded(socket: DoorSocket): void {
    const key = keyOf(socket);
    const inside = key === null ? undefined : this.#inside.get(key);
    if (inside !== undefined) this.#leave(key!, inside);
  }

  /** Stops every deadline (the gateway has closed); the connections are the server's to end. */
  close(): void {
    for (const [key, inside] of [...this.#inside]) this.#leave(key, inside);
  }

  #find(socket: DoorSocket): Inside | undefined {
    const key = keyOf(socket);
    return key === null ? undefined : this.#inside.get(key);
  }

  #leave(key: string, inside: Inside): void {
    if (this.#inside.get(key) !== inside) return;
    this.#inside.delete(key);
    if (inside.timer !== null) this.#clock.clearTimeout(inside.timer);
    inside.timer = null;
    const n = (this.#perIp.get(inside.ip) ?? 1) - 1;
    if (n <= 0) this.#perIp.delete(inside.ip);
    else this.#perIp.set(inside.ip, n);
  }

  #arm(inside: Inside): void {
    inside.timer = backgroundTimeout(
      this.#clock,
      () => {
        inside.timer = null;
        // a connection that left had its timer cleared: this one is inside
        this.#expired(inside.socket, inside.beforeTls);
      },
      this.#limits.handshakeTimeoutMs,
    );
  }
}
