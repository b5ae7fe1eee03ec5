/**
 * A node's links to its peers: one link per pair even when both dial, up and down reported,
 * reconnection after the peer comes back on the same address, and the backoff between dials
 * (on a simulated clock).
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_LINK_OPTIONS } from '../../runtime/nodes/link.ts';
import {
  NodeNet,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS,
  type NetHandlers,
  type PeerSpec,
} from '../../runtime/nodes/net.ts';
import type { Envelope } from '../../runtime/core/envelope.ts';
import { until } from '../support/until.ts';
import { SimulatedClock } from '../../testing.ts';

const SECRET = 'net-secret';

interface Seen {
  envelopes: { from: string; n: number }[];
  up: string[];
  down: { peer: string; reason: string }[];
}

const nets: NodeNet[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(nets.splice(0).map((n) => n.close()));
});

function net(
  name: string,
  port: number,
  peers: PeerSpec[],
  heartbeatMs = 1_000,
  clock?: SimulatedClock,
) {
  const seen: Seen = { envelopes: [], up: [], down: [] };
  const handlers: NetHandlers = {
    entry: (link, _kind, _to, _from, _replyTo, _corr, _trace, _principal, body) =>
      seen.envelopes.push({ from: link.peer!, n: (body as { n: number }).n }),
    revive: (address) => ({ $ref: address }),
    isRef: () => false,
    peerUp: (p) => seen.up.push(p),
    peerDown: (p, reason) => seen.down.push({ peer: p, reason }),
    log: () => undefined,
    unsent: () => undefined,
  };
  const n = new NodeNet(
    {
      link: {
        ...DEFAULT_LINK_OPTIONS,
        node: name,
        secret: SECRET,
        heartbeatMs,
        ...(clock === undefined ? {} : { clock }),
      },
      listen: { host: '127.0.0.1', port },
      peers,
    },
    handlers,
  );
  nets.push(n);
  return { n, seen };
}

/** Ports free now (listened on, then closed). */
async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    ports.push((server.address() as AddressInfo).port);
    await new Promise((r) => server.close(r));
  }
  return ports;
}

const env = (n: number): Envelope => ({
  v: 1,
  to: 'troupe://x/user/y' as Envelope['to'],
  kind: 'user',
  body: { n },
});

describe('a node and its peers', () => {
  it('carries envelopes both ways over the link one node dialled', async () => {
    const b = net('b', 0, []);
    await b.n.start();
    const a = net('a', 0, [{ name: 'b', url: `ws://127.0.0.1:${b.n.port}` }]);
    await a.n.start();
    await until(() => a.seen.up.length === 1 && b.seen.up.length === 1);
    expect(a.n.send('b', env(1))).toBe('sent');
    expect(b.n.send('a', env(2))).toBe('sent');
    await until(() => b.seen.envelopes.length === 1 && a.seen.envelopes.length === 1);
    expect(b.seen.envelopes).toEqual([{ from: 'a', n: 1 }]);
    expect(a.seen.envelopes).toEqual([{ from: 'b', n: 2 }]);
    expect(a.n.send('nobody', env(3))).toBe('no-link');
  });

  it('both dialling each other: one link stays, the other is replaced, no dialling in a loop', async () => {
    const [portA, portB] = await freePorts(2);
    const a = net('a', portA!, [{ name: 'b', url: `ws://127.0.0.1:${portB}` }]);
    const b = net('b', portB!, [{ name: 'a', url: `ws://127.0.0.1:${portA}` }]);
    await Promise.all([a.n.start(), b.n.start()]);
    await until(() => a.seen.up.length === 1 && b.seen.up.length === 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(a.seen.up).toEqual(['b']);
    expect(b.seen.up).toEqual(['a']);
    expect(a.seen.down).toEqual([]);
    expect(b.seen.down).toEqual([]);
    for (let i = 0; i < 100; i++) expect(a.n.send('b', env(i))).toBe('sent');
    await until(() => b.seen.envelopes.length === 100);
    expect(b.seen.envelopes.map((e) => e.n)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('reports a peer down when it goes, and reconnects when it is back on its address', async () => {
    const b = net('b', 0, []);
    await b.n.start();
    const port = b.n.port;
    const a = net('a', 0, [{ name: 'b', url: `ws://127.0.0.1:${port}` }]);
    await a.n.start();
    await until(() => a.seen.up.length === 1);
    await b.n.close();
    await until(() => a.seen.down.length === 1);
    expect(a.seen.down[0]!.peer).toBe('b');
    expect(a.n.send('b', env(1))).toBe('no-link');
    const again = net('b', port, []);
    await again.n.start();
    await until(() => a.seen.up.length === 2, 10_000);
    expect(a.n.send('b', env(2))).toBe('sent');
    await until(() => again.seen.envelopes.length === 1);
    expect(again.seen.envelopes[0]).toEqual({ from: 'a', n: 2 });
  });
});

describe('dialling a peer that is not there (simulated clock)', () => {
  it('dials again after RECONNECT_MIN_MS doubled each time, up to RECONNECT_MAX_MS', async () => {
    // the jitter's factor is 0.5 + Math.random(): 1 here, so each wait is the backoff itself
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const clock = new SimulatedClock();
    // a "peer" that takes each TCP connection and drops it: one connection per dial
    const dials: number[] = [];
    const server = createServer((socket) => {
      dials.push(clock.now());
      socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const a = net('a', 0, [{ name: 'b', url: `ws://127.0.0.1:${port}` }], 1_000, clock);
      await a.n.start();
      await until(() => dials.length === 1);
      const waits: number[] = [];
      for (let backoff = 2 * RECONNECT_MIN_MS; waits.length < 7;) {
        waits.push(backoff);
        // the failed dial is noticed: its link closed, and the next dial is armed
        await until(() => clock.nextDue() === clock.now() + backoff);
        const n = dials.length;
        await clock.advance(backoff - 1);
        expect(dials.length).toBe(n);
        await clock.advance(1);
        await until(() => dials.length === n + 1);
        backoff = Math.min(RECONNECT_MAX_MS, backoff * 2);
      }
      expect(waits).toEqual([200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
      expect(dials.slice(1).map((t, i) => t - dials[i]!)).toEqual(waits);
      expect(a.seen.up).toEqual([]);
    } finally {
      server.close();
    }
  });
});
