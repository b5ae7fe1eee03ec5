import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout } from 'node:timers/promises';
import WebSocket from 'ws';
import { createSystem, fromReceive, type ActorSystem } from '../../index.ts';
import {
  connect,
  InvalidRequestError,
  RequestError,
  type TroupeClient,
} from '../../protocol/client/node.ts';
import { CLIENT_CLOSE, SUBPROTOCOL } from '../../protocol/client-protocol.ts';
import { board } from '../fixtures/gateway-behaviours.ts';
import { rawClient, startGateway, type GatewayHarness } from '../support/gateway.ts';
import { until } from '../support/until.ts';
import { SimulatedClock } from '../../testing.ts';

const clients: TroupeClient[] = [];
const harnesses: GatewayHarness[] = [];
const systems: ActorSystem[] = [];
function client(url: string, token = 'alice'): TroupeClient {
  const c = connect(url, { token });
  clients.push(c);
  return c;
}
async function gateway(...args: Parameters<typeof startGateway>): Promise<GatewayHarness> {
  const h = await startGateway(...args);
  harnesses.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});

const TLS = {
  cert: readFileSync(new URL('../fixtures/tls/cert.pem', import.meta.url)),
  key: readFileSync(new URL('../fixtures/tls/key.pem', import.meta.url)),
};

describe('gateway robustness', () => {
  it('keeps no hub for a subscription that ended at once (an unknown actor)', async () => {
    const h = await gateway();
    const c = await rawClient(h.url, { token: 'alice' });
    for (let i = 1; i <= 50; i++) {
      c.send({ op: 'subscribe', id: i, kind: 'snapshot', target: `/user/nope-${i}` });
      c.send({ op: 'subscribe', id: 1000 + i, kind: 'events', target: `/user/nope-${i}` });
    }
    await until(() => c.frames.filter((f) => f.op === 'ended').length === 100);
    expect(h.system.gateway!.stats().hubs).toBe(0);
    c.ws.close();
  });

  it('times an authorize out at authorizeTimeoutMs (internal), not before; the frames behind it go on', async () => {
    const clock = new SimulatedClock();
    let asked = 0;
    const h = await gateway(
      {
        authorize: (_p, _op, target) => {
          asked++;
          return target.endsWith('/never') ? new Promise<boolean>(() => undefined) : true;
        },
        limits: { authorizeTimeoutMs: 200, heartbeatMs: 600_000, idleTimeoutMs: 600_000 },
      },
      { clock },
    );
    h.system.spawn(board, { name: 'board' });
    const slow = await rawClient(h.url, { token: 'alice' });
    slow.send({ op: 'send', id: 1, target: '/user/never', message: 1 });
    slow.send({ op: 'send', id: 2, target: '/user/board', message: { type: 'inc' } });
    await until(() => asked === 1);
    await clock.advance(199);
    expect(slow.frames.filter((f) => f.op !== 'welcome')).toEqual([]);
    await clock.advance(1);
    const e = await slow.next((f) => f.op === 'error' && f.id === 1);
    expect(e).toMatchObject({ code: 'internal' });
    // the frame held behind it went on
    await slow.next((f) => f.op === 'ok' && f.id === 2);
    slow.ws.close();
  });

  it('caps the frames held behind a slow authorize (4002)', async () => {
    const h = await gateway({
      authorize: (_p, _op, target) =>
        target.endsWith('/never') ? new Promise<boolean>(() => undefined) : true,
      limits: { burst: 10, messagesPerSecond: 1_000 },
    });
    const flood = await rawClient(h.url, { token: 'alice' });
    flood.send({ op: 'send', id: 1, target: '/user/never', message: 1 });
    for (let i = 2; i < 20; i++) flood.send({ op: 'ping', id: i });
    expect((await flood.closed).code).toBe(CLIENT_CLOSE.rateLimited);
  });

  it('carries undefined as nil: a void reply, an undefined event, keys named constructor', async () => {
    const h = await gateway();
    h.system.spawn(
      fromReceive(null, (s: null, m: { type: string }, ctx) => {
        if (m.type === 'void') ctx.reply(undefined);
        if (m.type === 'emit') ctx.emit(undefined);
        if (m.type === 'dict')
          ctx.reply({ constructor: 1, prototype: 2, words: { constructor: 'x' } });
        return s;
      }),
      { name: 'odd' },
    );
    const c = client(h.url);
    const events: unknown[] = [];
    await c.subscribeEvents('/user/odd', (e) => events.push(e)).ready;
    expect(await c.ask('/user/odd', { type: 'void' })).toBeNull();
    await c.send('/user/odd', { type: 'emit' });
    await until(() => events.length === 1);
    expect(events).toEqual([null]);
    expect(await c.ask('/user/odd', { type: 'dict' })).toEqual({
      constructor: 1,
      prototype: 2,
      words: { constructor: 'x' },
    });
    expect(c.state).toBe('open');
  });

  it('refuses a request the gateway would refuse without sending it; the connection stays', async () => {
    const h = await gateway();
    const got: unknown[] = [];
    h.system.spawn(
      fromReceive(null, (s: null, m: unknown, ctx) => {
        got.push(m);
        ctx.reply('ok');
        return s;
      }),
      { name: 'sink' },
    );
    const c = client(h.url);
    await c.ready;
    const slowAsk = c.ask('/user/sink', { when: new Date(0), skip: undefined });
    await expect(c.send('', {})).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(c.send('/user/sink', { f: () => 1 })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(c.ask('/user/sink', 1, { timeoutMs: 1000 / 3 })).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
    await expect(c.subscribeTopic('', () => undefined).ready).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
    expect(await slowAsk).toBe('ok');
    // a Date goes in data form; an undefined property is left out
    expect(got[0]).toEqual({ when: { $date: '1970-01-01T00:00:00.000Z' } });
    expect(c.state).toBe('open');
  });

  it('shuts down in time with a peer that never answers the close frame', async () => {
    const h = await gateway();
    const ws = new WebSocket(h.url, [SUBPROTOCOL], { headers: { authorization: 'Bearer alice' } });
    await new Promise((r) => ws.once('open', r));
    // the peer reads nothing more and never answers
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const t0 = performance.now();
    harnesses.splice(0);
    await h.close();
    expect(performance.now() - t0).toBeLessThan(5_000);
    ws.terminate();
  });

  it('allows its public origin over TLS: its own server’s by default, a server of yours’ as configured', async () => {
    const own = await gateway({ tls: TLS });
    expect(own.url.startsWith('wss://')).toBe(true);
    const host = new URL(own.url).host;
    const open = (url: string, origin: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, [SUBPROTOCOL], {
          headers: { authorization: 'Bearer alice', origin },
          rejectUnauthorized: false,
        });
        ws.on('error', () => undefined);
        ws.on('upgrade', () => {
          resolve(101);
          ws.terminate();
        });
        ws.on('unexpected-response', (_q, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
      });
    expect(await open(own.url, `https://${host}`)).toBe(101);
    expect(await open(own.url, `http://${host}`)).toBe(403);
    const server = createHttpsServer(TLS);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const s = createSystem({
      gateway: {
        server,
        publicOrigin: `https://127.0.0.1:${port}`,
        authenticate: () => ({ id: 'x' }),
        authorize: () => true,
      },
    });
    systems.push(s);
    try {
      expect(s.gateway!.url.startsWith('wss://')).toBe(true);
      expect(await open(`wss://127.0.0.1:${port}/troupe`, `https://127.0.0.1:${port}`)).toBe(101);
      expect(await open(`wss://127.0.0.1:${port}/troupe`, `https://localhost:${port}`)).toBe(403);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('ends a subscription and fails an ask to an actor of a node that goes down (node-down)', async () => {
    const secret = 'gateway-test-secret-16+';
    const link = { heartbeatMs: 100, heartbeatMisses: 3 };
    const b = createSystem({ node: { name: 'b' }, secret, link });
    systems.push(b);
    await b.nodeReady;
    b.spawn(board, { name: 'far' });
    b.spawn(
      fromReceive(null, (s: null) => s),
      { name: 'silent' },
    );
    const a = createSystem({
      node: { name: 'a' },
      peers: [{ name: 'b', url: `ws://127.0.0.1:${b.nodes!.net.port}` }],
      secret,
      link,
      gateway: { authenticate: () => ({ id: 'x' }), authorize: () => true },
    });
    systems.push(a);
    await a.nodeReady;
    await a.gateway!.ready;
    await until(() => a.nodes!.net.isUp('b'));
    const c = client(a.gateway!.url);
    const ended: string[] = [];
    const states: unknown[] = [];
    await c.subscribe('troupe://b/user/far', (s) => states.push(s), {
      onEnd: (r) => ended.push(r),
    }).ready;
    await until(() => states.length === 1);
    // an ask the far actor never answers, with a deadline far beyond the test's
    const asked = c.ask('troupe://b/user/silent', 'hello?', { timeoutMs: 60_000 });
    await until(() => a.gateway!.stats().asks === 1);
    await b.shutdown();
    systems.splice(systems.indexOf(b), 1);
    await until(() => ended.length === 1, 10_000);
    expect(['node-down', 'shutdown']).toContain(ended[0]);
    expect(a.gateway!.stats().hubs).toBe(0);
    const e = await asked.catch((x: unknown) => x);
    expect((e as RequestError).code).toBe('failed');
    expect(a.gateway!.stats().asks).toBe(0);
  });

  it('keeps at most maxLingeringHubs hubs waiting for resumes', async () => {
    const h = await gateway({ limits: { maxLingeringHubs: 2 } });
    for (let i = 0; i < 5; i++) h.system.spawn(board, { name: `b${i}` });
    const c = client(h.url);
    for (let i = 0; i < 5; i++) {
      const stop = c.subscribe(`/user/b${i}`, () => undefined);
      await stop.ready;
      stop();
    }
    await c.ping();
    await setTimeout(20);
    expect(h.system.gateway!.stats().hubs).toBe(2);
  });

  it('an unknown entity kind is a bad target', async () => {
    const h = await gateway();
    const c = client(h.url);
    const e = await c.send('troupe:entity/nokind/1', {}).catch((x: unknown) => x);
    expect((e as RequestError).code).toBe('bad-target');
  });
});
