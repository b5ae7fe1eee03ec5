/**
 * The gateway's door (runtime/gateway/door.ts) and its shutdown: what a connection that is not
 * yet a WebSocket may hold, and what a client sees while the gateway closes. Real sockets; the
 * handshake deadline runs on a simulated clock (the system's), set far above what the test
 * takes in real time, so what answers 408 is the door's timer and not one of Node's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect as tcp, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { fromReceive, type ActorRef } from '../../index.ts';
import { CLIENT_CLOSE, SUBPROTOCOL } from '../../protocol/client-protocol.ts';
import { connect } from '../../protocol/client/node.ts';
import { SimulatedClock } from '../../testing.ts';
import { board } from '../fixtures/gateway-behaviours.ts';
import { rawClient, startGateway, type GatewayHarness } from '../support/gateway.ts';
import { until } from '../support/until.ts';

const TLS = {
  cert: readFileSync(new URL('../fixtures/tls/cert.pem', import.meta.url)),
  key: readFileSync(new URL('../fixtures/tls/key.pem', import.meta.url)),
};

const harnesses: GatewayHarness[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

async function gateway(o: Parameters<typeof startGateway>[0] = {}): Promise<GatewayHarness> {
  const h = await startGateway(o);
  harnesses.push(h);
  return h;
}

/** The handshake deadline of the door tests (simulated ms): Node's own checks never get there. */
const DEADLINE_MS = 20_000;

/** A gateway on a simulated clock with the door's deadline at DEADLINE_MS. */
async function simulated(
  o: Parameters<typeof startGateway>[0] = {},
): Promise<GatewayHarness & { readonly clock: SimulatedClock }> {
  const clock = new SimulatedClock();
  const h = await startGateway(
    {
      ...o,
      // no heartbeat or idle timeout comes due while the clock moves past the deadline
      limits: { handshakeTimeoutMs: DEADLINE_MS, heartbeatMs: 600_000, idleTimeoutMs: 600_000 },
    },
    { clock },
  );
  harnesses.push(h);
  return { ...h, clock };
}

interface Tcp {
  readonly socket: Socket;
  /** Everything received so far. */
  text(): string;
  /** Settles when the socket closes, with everything received. */
  readonly closed: Promise<string>;
  /** Settles once connected. */
  readonly connected: Promise<void>;
}

/** A raw TCP connection to the gateway, from `localAddress` (any 127.x address works on Linux). */
function rawTcp(url: string, localAddress = '127.0.0.1'): Tcp {
  const { port } = new URL(url.replace(/^ws/, 'http'));
  const socket = tcp({ host: '127.0.0.1', port: Number(port), localAddress });
  sockets.push(socket);
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
  socket.on('error', () => undefined);
  return {
    socket,
    text: () => got,
    closed: new Promise((resolve) => socket.once('close', () => resolve(got))),
    connected: new Promise((resolve) => socket.once('connect', () => resolve())),
  };
}

const statusOf = (response: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);

describe('gateway door: the handshake deadline is our own timer', () => {
  it('answers a silent TCP connection 408 and closes it, at the deadline and not before', async () => {
    const h = await simulated();
    const c = rawTcp(h.url);
    await until(() => h.system.gateway!.stats().halfOpen === 1);
    await h.clock.advance(DEADLINE_MS - 1);
    expect(h.system.gateway!.stats().refused[408]).toBeUndefined();
    expect(c.socket.destroyed).toBe(false);
    await h.clock.advance(1);
    expect(statusOf(await c.closed)).toBe(408);
    expect(h.system.gateway!.stats().refused[408]).toBe(1);
    await until(() => h.system.gateway!.stats().halfOpen === 0);
  });

  it('answers a half-sent upgrade request 408 and closes it', async () => {
    const h = await simulated();
    const c = rawTcp(h.url);
    await c.connected;
    await until(() => h.system.gateway!.stats().halfOpen === 1);
    // the headers never end
    c.socket.write(
      'GET /troupe HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n',
    );
    await h.clock.advance(DEADLINE_MS);
    expect(statusOf(await c.closed)).toBe(408);
  });

  it('gives a kept-alive connection’s next request the same deadline', async () => {
    const h = await simulated();
    const c = rawTcp(h.url);
    await c.connected;
    c.socket.write('GET /nothing-here HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await until(() => c.text().includes('not found'));
    expect(statusOf(c.text())).toBe(404);
    // the next request starts and stalls
    c.socket.write('GET /troupe HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await h.clock.advance(DEADLINE_MS);
    const all = await c.closed;
    expect(all.slice(all.indexOf('not found')).match(/HTTP\/1\.1 408/)).not.toBeNull();
  });

  it('closes a TCP connection that never starts its TLS handshake', async () => {
    const h = await simulated({ tls: TLS });
    const c = rawTcp(h.url);
    await until(() => h.system.gateway!.stats().halfOpen === 1);
    await h.clock.advance(DEADLINE_MS);
    // no HTTP can be written before TLS: it is closed, with nothing sent
    expect(await c.closed).toBe('');
  });

  it('lets a client upgrade within the deadline, and counts it out of the door once upgraded', async () => {
    const h = await simulated();
    const c = await rawClient(h.url, { token: 'alice' });
    expect(h.system.gateway!.stats().halfOpen).toBe(0);
    // a WebSocket outlives the handshake deadline
    await h.clock.advance(2 * DEADLINE_MS);
    c.send({ op: 'ping', id: 1 });
    await c.next((f) => f.op === 'pong');
    c.ws.close();
  });
});

describe('gateway door: caps on connections not yet upgraded', () => {
  it('refuses one over maxHalfOpenPerIp from one address with 503 and Retry-After', async () => {
    const h = await gateway({
      limits: { handshakeTimeoutMs: 20_000, maxHalfOpenPerIp: 2, maxHalfOpen: 100 },
    });
    const g = h.system.gateway!;
    const held = [rawTcp(h.url), rawTcp(h.url)];
    await until(() => g.stats().halfOpen === 2);
    const third = await rawTcp(h.url).closed;
    expect(statusOf(third)).toBe(503);
    expect(third).toMatch(/\r\nRetry-After: 1\r\n/);
    // another address is not counted with them
    const other = rawTcp(h.url, '127.0.0.2');
    await until(() => g.stats().halfOpen === 3);
    expect(other.text()).toBe('');
    // a client from the full address is refused too (and retries), until the door has room
    for (const c of held) c.socket.destroy();
    await until(() => g.stats().halfOpen === 1);
    const client = connect(h.url, { token: 'alice', reconnect: false });
    await client.ready;
    await client.close();
    expect(g.stats().refused[503]).toBe(1);
  });

  it('survives a refused client that sends its upgrade and then resets the connection', async () => {
    const h = await gateway({
      limits: { handshakeTimeoutMs: 20_000, maxHalfOpenPerIp: 1, maxHalfOpen: 100 },
    });
    const g = h.system.gateway!;
    const held = rawTcp(h.url);
    await until(() => g.stats().halfOpen === 1);
    // as a WebSocket client does: the upgrade request goes out at connect, before the 503
    // comes; once the 503 is in, the client resets the connection (RST, not FIN)
    for (let i = 0; i < 40; i++) {
      const c = rawTcp(h.url);
      await c.connected;
      c.socket.write(
        'GET /troupe HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
          'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      if (i % 2 === 0) {
        await until(() => c.text().includes('\r\n\r\n'));
        expect(statusOf(c.text())).toBe(503);
      }
      // or at once: the request and the reset come in one read on the gateway's side
      c.socket.resetAndDestroy();
      await c.closed;
    }
    // the gateway's process took none of it as an uncaught error, and goes on serving
    held.socket.destroy();
    await until(() => g.stats().halfOpen === 0);
    const client = connect(h.url, { token: 'alice', reconnect: false });
    await client.ready;
    await client.close();
    expect(g.stats().refused[503]).toBe(40);
  });

  it('refuses one over maxHalfOpen in all with 503, whatever its address', async () => {
    const h = await gateway({
      limits: { handshakeTimeoutMs: 20_000, maxHalfOpenPerIp: 10, maxHalfOpen: 3 },
    });
    const g = h.system.gateway!;
    rawTcp(h.url, '127.0.0.1');
    rawTcp(h.url, '127.0.0.2');
    rawTcp(h.url, '127.0.0.3');
    await until(() => g.stats().halfOpen === 3);
    expect(statusOf(await rawTcp(h.url, '127.0.0.4').closed)).toBe(503);
    expect(g.stats().halfOpen).toBe(3);
  });

  it('refuses bad limits at start, naming the field', async () => {
    await expect(gateway({ limits: { maxHalfOpen: 0 } })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
      field: 'gateway.limits.maxHalfOpen',
    });
    await expect(gateway({ limits: { maxHalfOpenPerIp: 1.5 } })).rejects.toMatchObject({
      field: 'gateway.limits.maxHalfOpenPerIp',
    });
  });
});

describe('gateway: a closed connection’s asks are settled at once', () => {
  it('frees every ask in flight when its connection closes; late replies go to dead letters', async () => {
    const h = await gateway({ limits: { maxAskTimeoutMs: 60_000, maxPendingAsks: 64 } });
    const sys = h.system;
    // holds every ask it gets, and answers them all when told to
    const waiting: ((v: unknown) => void)[] = [];
    const holder = sys.spawn(
      fromReceive(null, (s: null, m: { type: string }, ctx) => {
        if (m.type === 'release') for (const reply of waiting.splice(0)) reply('late');
        else if (ctx.replyTo !== undefined) {
          const to = ctx.replyTo;
          waiting.push((v) => to.tell(v));
        }
        return s;
      }),
      { name: 'holder' },
    ) as ActorRef<{ type: string }>;
    const timersBefore = sys.timers.size;
    const deadBefore = sys.deadLetters.count;
    for (let round = 0; round < 3; round++) {
      const c = await rawClient(h.url, { token: 'alice' });
      for (let id = 1; id <= 64; id++)
        c.send({
          op: 'ask',
          id,
          target: '/user/holder',
          message: { type: 'hold' },
          timeoutMs: 60_000,
        });
      await until(() => waiting.length === 64 * (round + 1));
      expect(sys.gateway!.stats().asks).toBe(64);
      // each ask's deadline is armed
      expect(sys.timers.size).toBe(timersBefore + 64);
      c.ws.terminate();
      await c.closed;
      // nothing of them waits for the 60 s deadline
      await until(() => sys.gateway!.stats().connections === 0);
      expect(sys.timers.size).toBe(timersBefore);
    }
    // their reply addresses are closed: the late replies are dead letters, and nobody breaks
    holder.tell({ type: 'release' });
    await until(() => sys.deadLetters.count >= deadBefore + 3 * 64);
    const c = connect(h.url, { token: 'alice', reconnect: false });
    waiting.length = 0;
    const answer = c.ask('/user/holder', { type: 'hold' });
    await until(() => waiting.length === 1);
    holder.tell({ type: 'release' });
    expect(await answer).toBe('late');
    await c.close();
  });
});

describe('gateway shutdown', () => {
  it('ends every subscription with `shutdown` before closing the connection with 1001', async () => {
    const h = await gateway();
    h.system.spawn(board, { name: 'board' });
    const c = await rawClient(h.url, { token: 'alice' });
    c.send({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    c.send({ op: 'subscribe', id: 2, kind: 'events', target: '/user/board' });
    c.send({ op: 'subscribe', id: 3, kind: 'topic', target: 'news' });
    await c.next((f) => f.op === 'state' && f.id === 1);
    await c.next((f) => f.op === 'ok' && f.id === 3);
    harnesses.splice(0);
    const closing = h.close();
    const { code } = await c.closed;
    expect(code).toBe(CLIENT_CLOSE.goingAway);
    const ended = c.frames.filter((f) => f.op === 'ended');
    expect(ended.map((f) => [f.id, (f as { reason: string }).reason]).sort()).toEqual([
      [1, 'shutdown'],
      [2, 'shutdown'],
      [3, 'shutdown'],
    ]);
    await closing;
  });

  it('answers an upgrade during shutdown with 503 and Retry-After, not 404', async () => {
    const h = await gateway();
    // a peer that never answers the close frame keeps the gateway closing for a while
    const slow = new WebSocket(h.url, [SUBPROTOCOL], {
      headers: { authorization: 'Bearer alice' },
    });
    await new Promise((r) => slow.once('open', r));
    (slow as unknown as { _socket: Socket })._socket.pause();
    const probe = rawTcp(h.url);
    await probe.connected;
    await until(() => h.system.gateway!.stats().halfOpen === 1);
    harnesses.splice(0);
    const closing = h.close();
    probe.socket.write(
      'GET /troupe HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        `Sec-WebSocket-Protocol: ${SUBPROTOCOL}\r\nAuthorization: Bearer alice\r\n\r\n`,
    );
    const answer = await probe.closed;
    expect(statusOf(answer)).toBe(503);
    expect(answer).toMatch(/\r\nRetry-After: 1\r\n/);
    await closing;
    slow.terminate();
  });
});
