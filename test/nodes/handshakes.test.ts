/**
 * The node link server's door (runtime/nodes/handshakes.ts): a connection that is not a ready
 * link within `handshakeMs` of its accept is closed on our own timer (408 before the upgrade,
 * 4005 after), and connections on their way are capped per remote address and in all (503).
 * Real sockets on loopback; the deadline runs on a simulated clock (the system's), so the test
 * moves past it at once and checks it is not a millisecond early.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSystem, type ActorSystem } from '../../index.ts';
import { CLOSE } from '../../protocol/node-link.ts';
import { LINK_PATH } from '../../runtime/nodes/link.ts';
import { until } from '../support/until.ts';
import { SimulatedClock } from '../../testing.ts';

const SECRET = 'a-secret-of-16-chars-or-more';
const systems: ActorSystem[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});

async function node(
  link: Record<string, number>,
  clock?: SimulatedClock,
): Promise<{ a: ActorSystem; log: string[] }> {
  const log: string[] = [];
  const a = createSystem({
    node: { name: 'a' },
    secret: SECRET,
    link,
    ...(clock === undefined ? {} : { clock }),
    logger: {
      info: () => undefined,
      warn: (m: unknown) => log.push(String(m)),
      error: () => undefined,
    },
  });
  systems.push(a);
  await a.nodeReady;
  return { a, log };
}

/** A raw TCP connection from `localAddress`; `ended` resolves with all it received. */
async function raw(port: number, localAddress = '127.0.0.1') {
  const s = connect({ port, host: '127.0.0.1', localAddress });
  sockets.push(s);
  let data = '';
  let closed = false;
  s.on('data', (d: Buffer) => (data += d.toString('latin1')));
  s.on('error', () => undefined);
  const ended = new Promise<string>((r) =>
    s.on('close', () => {
      closed = true;
      r(data);
    }),
  );
  await new Promise((r) => s.once('connect', r));
  return { s, ended, isClosed: () => closed, text: () => data };
}

describe('the node link server before a link is ready', () => {
  it('closes a silent connection and a half-sent upgrade at handshakeMs (408), and an upgraded socket that sends no hello (4005)', async () => {
    // the system's clock, simulated: 20 s is far past what the test takes, and Node's own checks
    // (60–70 s) never come, so what closes them is our timer, at its time
    const clock = new SimulatedClock();
    const { a } = await node({ handshakeMs: 20_000 }, clock);
    const port = a.nodes!.net.port;
    const silent = await raw(port);
    const half = await raw(port);
    half.s.write(`GET ${LINK_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websock`);
    const ws = new WebSocket(`ws://127.0.0.1:${port}${LINK_PATH}`, { perMessageDeflate: false });
    const wsClosed = new Promise<number>((r) => ws.on('close', (c) => r(c)));
    await new Promise((r) => ws.once('open', r));
    await until(() => a.nodes!.net.handshakes.pending === 3);
    await clock.advance(19_999);
    expect([silent.isClosed(), half.isClosed(), ws.readyState]).toEqual([
      false,
      false,
      WebSocket.OPEN,
    ]);
    await clock.advance(1);
    expect(await silent.ended).toMatch(/^HTTP\/1\.1 408/);
    expect(await half.ended).toMatch(/^HTTP\/1\.1 408/);
    expect(await wsClosed).toBe(CLOSE.handshakeTimeout);
    expect(a.nodes!.net.handshakes.pending).toBe(0);
  });

  it('refuses connections past maxHandshakesPerIp and past maxHandshakes (503), and takes peers again once they close', async () => {
    const { a, log } = await node({ maxHandshakes: 4, maxHandshakesPerIp: 2 });
    const port = a.nodes!.net.port;
    const held = [await raw(port, '127.0.0.1'), await raw(port, '127.0.0.1')];
    await until(() => a.nodes!.net.handshakes.pending === 2);
    // a third from the same address: refused at once
    const third = await raw(port, '127.0.0.1');
    expect(await Promise.race([third.ended, timeout(5_000)])).toMatch(/^HTTP\/1\.1 503/);
    // from other addresses: taken up to the total cap, then refused
    held.push(await raw(port, '127.0.0.2'), await raw(port, '127.0.0.2'));
    await until(() => a.nodes!.net.handshakes.pending === 4);
    const fifth = await raw(port, '127.0.0.3');
    expect(await Promise.race([fifth.ended, timeout(5_000)])).toMatch(/^HTTP\/1\.1 503/);
    expect(a.nodes!.net.handshakes.refused).toBe(2);
    expect(held.every((c) => !c.isClosed())).toBe(true);
    expect(log.join('\n')).toMatch(/refused 1 connection\(s\) \(the last from 127\.0\.0\.1\)/);
    // they go: a peer links, and its ready link no longer counts
    for (const c of held) c.s.destroy();
    await until(() => a.nodes!.net.handshakes.pending === 0);
    const b = createSystem({
      node: { name: 'b' },
      peers: [{ name: 'a', url: `ws://127.0.0.1:${port}` }],
      secret: SECRET,
    });
    systems.push(b);
    await b.nodeReady;
    await until(() => a.nodes!.net.isUp('b'));
    expect(a.nodes!.net.handshakes.pending).toBe(0);
  });

  it('survives refused peers that send an upgrade and reset the connection', async () => {
    const { a } = await node({ maxHandshakes: 100, maxHandshakesPerIp: 1 });
    const port = a.nodes!.net.port;
    const held = await raw(port, '127.0.0.1');
    await until(() => a.nodes!.net.handshakes.pending === 1);
    for (let i = 0; i < 40; i++) {
      const c = await raw(port, '127.0.0.1');
      c.s.write(
        `GET ${LINK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
          'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      // half of them once the 503 is in, half at once (request and reset in one read)
      if (i % 2 === 0) await until(() => c.text().startsWith('HTTP/1.1 503'));
      c.s.resetAndDestroy();
      await c.ended;
    }
    expect(a.nodes!.net.handshakes.refused).toBe(40);
    held.s.destroy();
    await until(() => a.nodes!.net.handshakes.pending === 0);
    // the node goes on: a peer links
    const b = createSystem({
      node: { name: 'b' },
      peers: [{ name: 'a', url: `ws://127.0.0.1:${port}` }],
      secret: SECRET,
    });
    systems.push(b);
    await b.nodeReady;
    await until(() => a.nodes!.net.isUp('b'));
  });

  it('refuses bad handshake caps at start, naming the field', () => {
    for (const [link, field] of [
      [{ maxHandshakes: 0 }, 'options.link.maxHandshakes'],
      [{ maxHandshakesPerIp: 1.5 }, 'options.link.maxHandshakesPerIp'],
    ] as const)
      expect(() => createSystem({ node: { name: 'a' }, secret: SECRET, link })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', field }),
      );
  });
});

function timeout(ms: number): Promise<string> {
  return new Promise((r) => setTimeout(() => r(`still open after ${ms} ms`), ms).unref());
}
