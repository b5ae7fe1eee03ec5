/**
 * One node link over a real WebSocket on loopback: the handshake (and each way it fails),
 * batches in order, heartbeats, and a hostile peer closed with its code while another link of
 * the same server goes on.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { Packr } from 'msgpackr';
import {
  acceptLink,
  DEFAULT_LINK_OPTIONS,
  dialLink,
  LINK_PATH,
  type LinkHandlers,
  type LinkOptions,
  type NodeLink,
} from '../../runtime/nodes/link.ts';
import {
  CLOSE,
  LinkCodec,
  NODE_PROTOCOL_VERSION as V,
  nonce,
  proofOf,
  type BatchEntry,
} from '../../protocol/node-link.ts';
import type { Envelope } from '../../runtime/core/envelope.ts';
import { until } from '../support/until.ts';

import { SimulatedClock } from '../../testing.ts';

const SECRET = 'cluster-secret';

interface Seen {
  ready: NodeLink[];
  envelopes: Envelope[];
  closed: { code: number; reason: string }[];
  log: string[];
}

function recorder(): { handlers: LinkHandlers; seen: Seen } {
  const seen: Seen = { ready: [], envelopes: [], closed: [], log: [] };
  return {
    seen,
    handlers: {
      ready: (l) => seen.ready.push(l),
      entry: (_l, kind, to, from, replyTo, corr, trace, _principal, body) =>
        seen.envelopes.push({ v: 1, kind, to, body }),
      revive: (address) => ({ $ref: address }),
      isRef: () => false,
      closed: (_l, code, reason) => seen.closed.push({ code, reason }),
      log: (m) => seen.log.push(m),
      unsent: () => undefined,
    },
  };
}

const options = (node: string, over: Partial<LinkOptions> = {}): LinkOptions => ({
  ...DEFAULT_LINK_OPTIONS,
  node,
  secret: SECRET,
  ...over,
});

const servers: Server[] = [];
const sockets: Duplex[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A node's server: every upgrade on LINK_PATH becomes a link with `opts`. */
async function listen(opts: LinkOptions): Promise<{ url: string; seen: Seen; links: NodeLink[] }> {
  const { handlers, seen } = recorder();
  const links: NodeLink[] = [];
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: opts.limits.maxFrameBytes,
  });
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket, head) => {
    sockets.push(socket);
    if (req.url !== LINK_PATH) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => links.push(acceptLink(ws, opts, handlers)));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `ws://127.0.0.1:${port}${LINK_PATH}`, seen, links };
}

const env = (n: number): Envelope => ({
  v: 1,
  to: 'troupe://b/user/counter' as Envelope['to'],
  kind: 'user',
  body: { n },
});

describe('a node link', () => {
  it('proves the secret both ways, then carries batches in order both ways', async () => {
    const b = await listen(options('b'));
    const a = recorder();
    const link = dialLink(b.url, 'b', options('a'), a.handlers);
    await until(() => a.seen.ready.length === 1 && b.seen.ready.length === 1);
    expect(link.peer).toBe('b');
    expect(b.links[0]!.peer).toBe('a');
    for (let i = 0; i < 1_000; i++) expect(link.send(env(i))).toBe(true);
    await until(() => b.seen.envelopes.length === 1_000);
    expect(b.seen.envelopes.map((e) => (e.body as { n: number }).n)).toEqual(
      Array.from({ length: 1_000 }, (_, i) => i),
    );
    b.links[0]!.send(env(-1));
    await until(() => a.seen.envelopes.length === 1);
    link.close(1000, 'done');
    await until(() => b.seen.closed.length === 1 && a.seen.closed.length === 1);
  });

  it('refuses a wrong secret (4004) without sending the secret, either way', async () => {
    const b = await listen(options('b'));
    const a = recorder();
    dialLink(b.url, 'b', options('a', { secret: 'wrong' }), a.handlers);
    await until(() => a.seen.closed.length === 1);
    expect(a.seen.closed[0]!.code).toBe(CLOSE.auth);
    expect(a.seen.ready).toEqual([]);
    expect(b.seen.ready).toEqual([]);
  });

  it('refuses a peer that is not the node dialled (4004)', async () => {
    const b = await listen(options('b'));
    const a = recorder();
    dialLink(b.url, 'c', options('a'), a.handlers);
    await until(() => a.seen.closed.length === 1);
    expect(a.seen.closed[0]!.code).toBe(CLOSE.auth);
  });

  it('closes a raw socket sending garbage, an old version or a __proto__ payload, each with its code, and serves the others', async () => {
    const b = await listen(options('b'));
    const good = recorder();
    const link = dialLink(b.url, 'b', options('a'), good.handlers);
    await until(() => good.seen.ready.length === 1);
    const raw = new Packr({ structuredClone: false, useRecords: false, mapsAsObjects: true });
    const cases: [Buffer | string, number][] = [
      [Buffer.from([0xc1, 0xff, 0x00]), CLOSE.badFrame],
      ['not binary', CLOSE.badFrame],
      [raw.pack([0, 'hello', 'x', nonce()]), CLOSE.version],
      [raw.pack(JSON.parse(`[${V},"hello",{"__proto__":{"x":1}},"${nonce()}"]`)), CLOSE.badFrame],
      [raw.pack([V, 'batch', 0, 'troupe://b/user/x', 1]), CLOSE.unexpected],
    ];
    for (const [bytes, code] of cases) {
      const ws = new WebSocket(b.url, { perMessageDeflate: false });
      const closed = new Promise<number>((r) => ws.on('close', (c) => r(c)));
      await new Promise((r) => ws.on('open', r));
      ws.send(bytes);
      expect(await closed).toBe(code);
    }
    // the good link still carries
    link.send(env(7));
    await until(() => b.seen.envelopes.length === 1);
    expect(b.seen.envelopes[0]!.body).toEqual({ n: 7 });
  });

  it('closes the link (4010) when its entry handler throws, and the process goes on', async () => {
    const b = await listen(options('b'));
    const a = recorder();
    const link = dialLink(b.url, 'b', options('a'), a.handlers);
    await until(() => a.seen.ready.length === 1);
    // the listener's handler throws what is not a LinkProtocolError (a bug of the node's own)
    const thrower = b.links[0]!;
    const original = b.seen.envelopes.push.bind(b.seen.envelopes);
    b.seen.envelopes.push = () => {
      throw new TypeError('a bug');
    };
    link.send(env(1));
    await until(() => a.seen.closed.length === 1);
    b.seen.envelopes.push = original;
    expect(a.seen.closed[0]!.code).toBe(CLOSE.internal);
    expect(thrower.isReady).toBe(false);
    expect(b.seen.log.join('\n')).toMatch(
      /closed \(4010\): a frame could not be handled: TypeError: a bug/,
    );
  });

  it('refuses a frame over maxPayload at the socket (1009)', async () => {
    const b = await listen(options('b'));
    const big = new WebSocket(b.url, { perMessageDeflate: false });
    await new Promise((r) => big.on('open', r));
    const closedBig = new Promise<number>((r) => big.on('close', (c) => r(c)));
    big.send(Buffer.alloc(DEFAULT_LINK_OPTIONS.limits.maxFrameBytes + 1));
    expect(await closedBig).toBe(1009);
  });

  it('closes a handshake that has not ended at handshakeMs (4005), and not before', async () => {
    const clock = new SimulatedClock();
    const b = await listen(options('b', { handshakeMs: 200, clock }));
    const silent = new WebSocket(b.url, { perMessageDeflate: false });
    const closedSilent = new Promise<number>((r) => silent.on('close', (c) => r(c)));
    await until(() => b.links.length === 1);
    await clock.advance(199);
    expect(silent.readyState).toBe(WebSocket.OPEN);
    await clock.advance(1);
    expect(await closedSilent).toBe(CLOSE.handshakeTimeout);
  });

  it('closes a link whose peer stops answering (4006), at the first beat past heartbeatMs × misses', async () => {
    const clock = new SimulatedClock();
    const b = await listen(options('b', { heartbeatMs: 50, heartbeatMisses: 3, clock }));
    // a peer that does the handshake by hand, then says nothing more
    const ws = new WebSocket(b.url, { perMessageDeflate: false });
    const pings: number[] = [];
    const codec = new LinkCodec();
    const ours = nonce();
    await new Promise((r) => ws.on('open', r));
    ws.send(codec.encode([V, 'hello', 'mute', ours]));
    const welcome = await new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d)));
    const w = codec.decode(welcome);
    if (w[1] !== 'welcome') throw new Error('no welcome');
    ws.on('message', (d: Buffer) => {
      const f = codec.decode(d);
      if (f[1] === 'ping') pings.push(f[2]);
    });
    ws.send(codec.encode([V, 'proof', proofOf(SECRET, 'client', 'mute', w[3], ours)]));
    await until(() => b.seen.ready.length === 1);
    const t0 = clock.now();
    // three beats ping it (nothing heard for 50, 100, 150 ms: not over 3 × 50)
    await clock.advance(150);
    await until(() => pings.length === 3);
    expect(pings).toEqual([t0 + 50, t0 + 100, t0 + 150]);
    expect(b.seen.log.filter((m) => m.includes('no heartbeat'))).toEqual([]);
    // the fourth finds 200 ms of silence
    await clock.advance(50);
    expect(b.seen.log.filter((m) => m.includes('no heartbeat'))).toHaveLength(1);
    await until(() => b.seen.closed.length === 1);
    expect(b.seen.closed[0]!.code).toBe(CLOSE.heartbeat);
    ws.terminate();
  });

  it('slows senders under backpressure: waits while the socket is full, refuses past maxQueued, loses nothing it took', async () => {
    const b = await listen(options('b'));
    const a = recorder();
    const link = dialLink(
      b.url,
      'b',
      options('a', { maxBufferedBytes: 64 * 1024, maxQueued: 50 }),
      a.handlers,
    );
    await until(() => a.seen.ready.length === 1);
    const big = (n: number): Envelope => ({ ...env(n), body: { n, pad: 'x'.repeat(64 * 1024) } });
    let taken = 0;
    for (let i = 0; i < 200; i++) if (link.send(big(i))) taken++;
    // past maxQueued entries waiting, the link takes no more
    expect(taken).toBeLessThan(200);
    expect(taken).toBeGreaterThanOrEqual(50);
    await until(() => b.seen.envelopes.length === taken, 10_000);
    expect(b.seen.envelopes.map((e) => (e.body as { n: number }).n)).toEqual(
      Array.from({ length: taken }, (_, i) => i),
    );
    expect(link.isReady).toBe(true);
  });

  it('gives back what it still held when it closes: nothing leaves silently', async () => {
    const b = await listen(options('b'));
    const a = recorder();
    const unsent: { entries: BatchEntry[]; why: string }[] = [];
    const link = dialLink(b.url, 'b', options('a', { maxBufferedBytes: 64 * 1024 }), {
      ...a.handlers,
      unsent: (_l, entries, why) => unsent.push({ entries: [...entries], why }),
    });
    await until(() => a.seen.ready.length === 1);
    const big = (n: number): Envelope => ({ ...env(n), body: { n, pad: 'x'.repeat(64 * 1024) } });
    // 200 × 64 KiB: split under the 8 MiB frame cap; the first frame fills the socket, the
    // others wait for it to drain
    for (let i = 0; i < 200; i++) expect(link.send(big(i))).toBe(true);
    await Promise.resolve();
    expect(link.queued).toBeGreaterThan(0);
    const waiting = link.queued;
    link.send(big(200)); // not packed yet
    link.close(CLOSE.badFrame, 'cut');
    expect(unsent).toHaveLength(1);
    expect(unsent[0]!.why).toMatch(/closed/);
    const back = unsent[0]!.entries.map((e) => (e.body as { n: number }).n);
    expect(back).toHaveLength(waiting + 1);
    // the last ones, in order: those the socket had not been given
    expect(back).toEqual(Array.from({ length: waiting + 1 }, (_, i) => 200 - waiting + i));
  });

  it('splits a batch that packs over the frame cap, and refuses one envelope over it alone', async () => {
    const limits = { ...DEFAULT_LINK_OPTIONS.limits, maxFrameBytes: 100_000 };
    const b = await listen(options('b', { limits }));
    const a = recorder();
    const refused: BatchEntry[] = [];
    const link = dialLink(b.url, 'b', options('a', { limits }), {
      ...a.handlers,
      unsent: (_l, es) => refused.push(...es),
    });
    await until(() => a.seen.ready.length === 1);
    const sized = (n: number, bytes: number): Envelope => ({
      ...env(n),
      body: { n, pad: 'y'.repeat(bytes) },
    });
    link.send(sized(0, 30_000));
    link.send(sized(1, 30_000));
    link.send(sized(2, 200_000)); // alone over the cap
    link.send(sized(3, 30_000));
    link.send(sized(4, 30_000));
    await until(() => b.seen.envelopes.length === 4);
    expect(b.seen.envelopes.map((e) => (e.body as { n: number }).n)).toEqual([0, 1, 3, 4]);
    expect(refused.map((e) => (e.body as { n: number }).n)).toEqual([2]);
    expect(link.isReady).toBe(true);
  });
});
