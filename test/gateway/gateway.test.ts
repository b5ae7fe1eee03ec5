import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout } from 'node:timers/promises';
import WebSocket from 'ws';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  createSystem,
  fromReceive,
  InvalidOptionError,
  supervise,
  type ActorRef,
  type GatewayOp,
} from '../../index.ts';
import {
  connect,
  ConnectionRefusedError,
  ForbiddenError,
  RequestError,
  TimeoutError,
  type TroupeClient,
} from '../../protocol/client/node.ts';
import { SUBPROTOCOL, authSubprotocol } from '../../protocol/client-protocol.ts';
import { board, type BoardMsg } from '../fixtures/gateway-behaviours.ts';
import { rawClient, startGateway, type GatewayHarness } from '../support/gateway.ts';
import { until } from '../support/until.ts';

/** The HTTP status of a refused upgrade (or 101). */
function upgradeStatus(
  url: string,
  protocols: string[],
  headers: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers, perMessageDeflate: false });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('upgrade', () => {
      resolve(101);
      ws.terminate();
    });
    ws.on('error', (e) => reject(e));
  });
}

const clients: TroupeClient[] = [];
function client(url: string, token: string | undefined = 'alice'): TroupeClient {
  const c = connect(url, token === undefined ? {} : { token });
  clients.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe('gateway: authentication during the upgrade', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGateway({
      authenticate: async (token) => {
        if (token === 'slow') await setTimeout(500);
        if (token === 'throws') throw new Error('auth backend down');
        return token === 'alice' || token === 'slow' || token === 'café ✓' ? { id: token } : null;
      },
      limits: { handshakeTimeoutMs: 200 },
      allowedOrigins: ['https://app.example'],
    });
  });
  afterAll(() => h.close());

  it('refuses a missing or unknown token with 401 and no socket', async () => {
    expect(await upgradeStatus(h.url, [SUBPROTOCOL])).toBe(401);
    expect(await upgradeStatus(h.url, [SUBPROTOCOL], { authorization: 'Bearer mallory' })).toBe(
      401,
    );
    expect(h.system.gateway!.stats().connections).toBe(0);
    const c = client(h.url, 'mallory');
    await expect(c.ready).rejects.toBeInstanceOf(ConnectionRefusedError);
    expect(c.state).toBe('closed');
  });

  it('accepts a token in the Authorization header or in the auth subprotocol, and never echoes it', async () => {
    const byHeader = await rawClient(h.url, { token: 'alice' });
    expect(byHeader.ws.protocol).toBe(SUBPROTOCOL);
    // any token survives the subprotocol's base64url form
    const bySub = await rawClient(h.url, {
      protocols: [SUBPROTOCOL, authSubprotocol('café ✓')],
    });
    expect(bySub.ws.protocol).toBe(SUBPROTOCOL);
    byHeader.ws.close();
    bySub.ws.close();
  });

  it('refuses a token in the query string, a request without the subprotocol, and two tokens', async () => {
    expect(await upgradeStatus(`${h.url}?token=alice`, [SUBPROTOCOL])).toBe(400);
    expect(await upgradeStatus(`${h.url}?access_token=alice`, [SUBPROTOCOL])).toBe(400);
    expect(await upgradeStatus(h.url, ['other'], { authorization: 'Bearer alice' })).toBe(400);
    expect(
      await upgradeStatus(h.url, [SUBPROTOCOL, authSubprotocol('slow')], {
        authorization: 'Bearer alice',
      }),
    ).toBe(400);
  });

  it('refuses an origin not on the list with 403; allows a listed one and none (server clients)', async () => {
    const headers = { authorization: 'Bearer alice' };
    expect(
      await upgradeStatus(h.url, [SUBPROTOCOL], { ...headers, origin: 'https://evil.example' }),
    ).toBe(403);
    expect(
      await upgradeStatus(h.url, [SUBPROTOCOL], { ...headers, origin: 'https://app.example' }),
    ).toBe(101);
    expect(await upgradeStatus(h.url, [SUBPROTOCOL], headers)).toBe(101);
  });

  it('answers 408 when authenticate outlasts the handshake time, 500 when it throws', async () => {
    expect(await upgradeStatus(h.url, [SUBPROTOCOL], { authorization: 'Bearer slow' })).toBe(408);
    expect(await upgradeStatus(h.url, [SUBPROTOCOL], { authorization: 'Bearer throws' })).toBe(500);
    const refused = h.system.gateway!.stats().refused;
    expect(refused[408]).toBeGreaterThanOrEqual(1);
    expect(refused[500]).toBeGreaterThanOrEqual(1);
  });

  it('never takes its own origin from the Host header: a rebound name is refused', async () => {
    const g = await startGateway();
    try {
      const port = new URL(g.url).port;
      expect(g.system.gateway!.publicOrigin).toBe(`http://127.0.0.1:${port}`);
      const headers = { authorization: 'Bearer alice' };
      // a page of evil.example, whose name resolves to this machine: Origin and Host agree
      const rebound = { host: `evil.example:${port}`, origin: `http://evil.example:${port}` };
      expect(await upgradeStatus(g.url, [SUBPROTOCOL], { ...headers, ...rebound })).toBe(403);
      // its sign-in form is refused too: no token is planted through it
      const login = await fetch(`http://127.0.0.1:${port}/inspect/login`, {
        method: 'POST',
        headers: rebound,
        body: new URLSearchParams({ token: 'alice' }),
      });
      expect(login.status).toBe(403);
      expect(login.headers.get('set-cookie')).toBeNull();
      // and the session cookie is not taken from such a page
      expect(
        await upgradeStatus(g.url, [SUBPROTOCOL], { ...rebound, cookie: 'troupe_session=alice' }),
      ).toBe(403);
    } finally {
      await g.close();
    }
  });

  it('allows its configured public origin and allowed origins, and no other browser', async () => {
    const g = await startGateway({
      publicOrigin: 'https://ops.example',
      allowedOrigins: ['https://app.example:8443'],
    });
    try {
      const headers = { authorization: 'Bearer alice' };
      const status = (origin: string) =>
        upgradeStatus(g.url, [SUBPROTOCOL], { ...headers, origin });
      expect(g.system.gateway!.publicOrigin).toBe('https://ops.example');
      expect(await status('https://ops.example')).toBe(101);
      expect(await status('https://OPS.example:443')).toBe(101);
      expect(await status('https://app.example:8443')).toBe(101);
      expect(await status('https://app.example')).toBe(403);
      // the origin it listens on is no longer its own
      expect(await status(`http://${new URL(g.url).host}`)).toBe(403);
      expect(await status('null')).toBe(403);
      // the session cookie counts from the public origin only
      expect(
        await upgradeStatus(g.url, [SUBPROTOCOL], {
          origin: 'https://ops.example',
          cookie: 'troupe_session=alice',
        }),
      ).toBe(101);
      expect(
        await upgradeStatus(g.url, [SUBPROTOCOL], {
          origin: 'https://app.example:8443',
          cookie: 'troupe_session=alice',
        }),
      ).toBe(401);
    } finally {
      await g.close();
    }
  });

  it('has no public origin on a wildcard address until one is configured', async () => {
    const g = await startGateway({ listen: { host: '0.0.0.0', port: 0 } });
    try {
      expect(g.system.gateway!.publicOrigin).toBeNull();
      const port = new URL(g.url).port;
      expect(
        await upgradeStatus(g.url, [SUBPROTOCOL], {
          authorization: 'Bearer alice',
          origin: `http://127.0.0.1:${port}`,
        }),
      ).toBe(403);
    } finally {
      await g.close();
    }
  });

  it('allows only its own origin by default', async () => {
    const g = await startGateway();
    try {
      const host = new URL(g.url).host;
      const headers = { authorization: 'Bearer alice' };
      expect(
        await upgradeStatus(g.url, [SUBPROTOCOL], { ...headers, origin: `http://${host}` }),
      ).toBe(101);
      expect(
        await upgradeStatus(g.url, [SUBPROTOCOL], { ...headers, origin: 'http://localhost:1' }),
      ).toBe(403);
    } finally {
      await g.close();
    }
  });
});

describe('gateway: options', () => {
  it('refuses bad options at start, naming the field', () => {
    const ok = { authenticate: () => null, authorize: () => true };
    const bad: [unknown, string][] = [
      [{ authorize: () => true }, 'options.gateway.authenticate'],
      [{ authenticate: () => null }, 'options.gateway.authorize'],
      [{ ...ok, limits: { maxFrameBytes: -1 } }, 'options.gateway.limits.maxFrameBytes'],
      [{ ...ok, limits: { rate: 1 } }, 'options.gateway.limits.rate'],
      [{ ...ok, allowedOrigins: ['not an origin'] }, 'options.gateway.allowedOrigins[0]'],
      [{ ...ok, publicOrigin: 'https://app.example/path' }, 'options.gateway.publicOrigin'],
      [{ ...ok, origins: ['https://app.example'] }, 'options.gateway.origins'],
      [{ ...ok, path: 'no-slash' }, 'options.gateway.path'],
      [{ ...ok, snapshots: { coalesceMs: 1.5 } }, 'options.gateway.snapshots.coalesceMs'],
      [{ ...ok, listen: { port: 70_000 } }, 'options.gateway.listen.port'],
    ];
    for (const [gateway, field] of bad) {
      let error: unknown;
      try {
        createSystem({ gateway: gateway as never });
      } catch (e) {
        error = e;
      }
      expect(error, field).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).field).toBe(field);
    }
  });

  it('attaches to a server of yours, leaving its other upgrade paths alone', async () => {
    const server = createServer((_req, res) => res.end('mine'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const system = createSystem({
      gateway: { server, path: '/ws', authenticate: () => ({ id: 'x' }), authorize: () => true },
    });
    let other = 0;
    server.on('upgrade', (req, socket) => {
      if (req.url === '/other') {
        other++;
        socket.destroy();
      }
    });
    try {
      const c = client(`ws://127.0.0.1:${port}/ws`, 'any');
      await c.ready;
      await c.ping();
      await upgradeStatus(`ws://127.0.0.1:${port}/other`, [SUBPROTOCOL]).catch(() => 0);
      expect(other).toBe(1);
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await system.shutdown();
      server.close();
    }
  });
});

describe('gateway: operations, each checked by authorize', () => {
  let h: GatewayHarness;
  let b: ActorRef<BoardMsg>;
  const denied = new Set<string>();
  const seen: [string, GatewayOp, string][] = [];
  beforeAll(async () => {
    h = await startGateway({
      authorize: (p, op, target, detail) => {
        seen.push([p.id, op, target]);
        const type = (detail.message as { type?: string } | undefined)?.type;
        if (denied.has(`${p.id} ${op}`) || denied.has(`${p.id} ${op} ${String(type)}`))
          return p.id === 'carol' ? Promise.resolve(false) : false;
        return p.id === 'carol' ? setTimeout(20).then(() => true) : true;
      },
    });
    b = h.system.spawn(board, { name: 'board' });
    denied.add('bob send').add('bob ask').add('bob events').add('bob topic');
    denied.add('alice send fail');
  });
  afterAll(() => h.close());

  it('subscribe to snapshots: the current state, then each change', async () => {
    const c = client(h.url);
    const states: { n: number }[] = [];
    const stop = c.subscribe<{ n: number }>('/user/board', (s) => states.push(s));
    await stop.ready;
    await until(() => states.length === 1);
    const n0 = states[0]!.n;
    b.tell({ type: 'inc' });
    await until(() => states.at(-1)!.n === n0 + 1);
    stop();
    await c.ping();
    b.tell({ type: 'inc' });
    await setTimeout(50);
    expect(states.at(-1)!.n).toBe(n0 + 1);
    expect(seen).toContainEqual(['alice', 'snapshot', `troupe://local/user/board`]);
  });

  it('subscribe to events and to a topic', async () => {
    const c = client(h.url);
    const events: unknown[] = [];
    const topic: unknown[] = [];
    await c.subscribeEvents('/user/board', (e) => events.push(e)).ready;
    await c.subscribeTopic('news', (m) => topic.push(m)).ready;
    b.tell({ type: 'say', event: { type: 'hello', at: new Date(0) } });
    h.system.topics.publish('news', { headline: 'troupe ships a gateway' });
    await until(() => events.length === 1 && topic.length === 1);
    // values come in data form: a Date is { $date }
    expect(events[0]).toEqual({ type: 'hello', at: { $date: '1970-01-01T00:00:00.000Z' } });
    expect(topic[0]).toEqual({ headline: 'troupe ships a gateway' });
  });

  it('send and ask, by path and by address', async () => {
    const c = client(h.url);
    const before = ((await b.ask({ type: 'get' })) as { n: number }).n;
    await c.send('/user/board', { type: 'inc' });
    await c.send('troupe://local/user/board', { type: 'inc' });
    const view = await c.ask<{ n: number }>('/user/board', { type: 'get' });
    expect(view.n).toBe(before + 2);
  });

  it('denies each op authorize refuses, with ForbiddenError, and keeps the connection', async () => {
    const c = client(h.url, 'bob');
    await expect(c.send('/user/board', { type: 'inc' })).rejects.toBeInstanceOf(ForbiddenError);
    await expect(c.ask('/user/board', { type: 'get' })).rejects.toBeInstanceOf(ForbiddenError);
    const ev = c.subscribeEvents('/user/board', () => undefined);
    await expect(ev.ready).rejects.toBeInstanceOf(ForbiddenError);
    const errors: Error[] = [];
    const tp = c.subscribeTopic('news', () => undefined, { onError: (e) => errors.push(e) });
    await expect(tp.ready).rejects.toBeInstanceOf(ForbiddenError);
    expect(errors[0]).toBeInstanceOf(ForbiddenError);
    // snapshots are allowed for bob
    await c.subscribe('/user/board', () => undefined).ready;
    expect(c.state).toBe('open');
    // a rule on the message's type
    const a = client(h.url, 'alice');
    await expect(a.send('/user/board', { type: 'fail' })).rejects.toBeInstanceOf(ForbiddenError);
    await a.send('/user/board', { type: 'inc' });
  });

  it('keeps a connection’s requests in order when authorize answers later', async () => {
    const c = client(h.url, 'carol');
    const before = ((await b.ask({ type: 'get' })) as { n: number }).n;
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => c.send('/user/board', { type: 'set', value: i })),
    );
    const view = await c.ask<{ n: number; value: number }>('/user/board', { type: 'get' });
    expect(view.value).toBe(4);
    expect(view.n).toBe(before);
    denied.add('carol send');
    await expect(c.send('/user/board', { type: 'inc' })).rejects.toBeInstanceOf(ForbiddenError);
    denied.delete('carol send');
  });

  it('refuses temp addresses and malformed targets as bad-target; the ask timeout is typed', async () => {
    const c = client(h.url);
    const e1 = await c.send('troupe://local/temp/x', {}).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(RequestError);
    expect((e1 as RequestError).code).toBe('bad-target');
    const e2 = await c.send('not a path', {}).catch((e: unknown) => e);
    expect((e2 as RequestError).code).toBe('bad-target');
    h.system.spawn({ kind: 'mute', init: () => null, receive: (s: null) => s }, { name: 'mute' });
    await expect(c.ask('/user/mute', 'hello?', { timeoutMs: 50 })).rejects.toBeInstanceOf(
      TimeoutError,
    );
  });

  it('ends a subscription when its actor stops, with the reason', async () => {
    const c = client(h.url);
    const other = h.system.spawn(board, { name: 'short-lived' });
    const ended: string[] = [];
    await c.subscribe('/user/short-lived', () => undefined, { onEnd: (r) => ended.push(r) }).ready;
    other.tell({ type: 'stop' });
    await until(() => ended.length === 1);
    expect(ended).toEqual(['normal']);
    // a subscription to an actor that does not exist ends at once
    await c.subscribe('/user/nobody', () => undefined, { onEnd: (r) => ended.push(r) }).ready;
    await until(() => ended.length === 2);
    expect(ended[1]).toBe('unknown-actor');
  });

  it("ends a failed actor's subscriptions with its error, every field kept", async () => {
    class OverdrawnError extends Error {
      readonly code = 'ERR_OVERDRAWN';
      readonly cap = 'tokens';
      readonly limit = 4_000;
      readonly spent = 3_950;
      override readonly name = 'OverdrawnError';
    }
    const boom = fromReceive<null, { type: 'boom' }>(null, () => {
      throw new OverdrawnError('the tokens budget is spent');
    });
    h.system.spawn(supervise({ children: [{ id: 't', behaviour: boom, restart: 'temporary' }] }), {
      name: 'overdrawn',
    });
    const c = client(h.url);
    const ends: [string, unknown][] = [];
    const onEnd = (r: string, e?: unknown) => ends.push([r, e]);
    await c.subscribe('/user/overdrawn/t', () => undefined, { onEnd }).ready;
    await c.subscribeEvents('/user/overdrawn/t', () => undefined, { onEnd }).ready;
    await c.send('/user/overdrawn/t', { type: 'boom' });
    await until(() => ends.length === 2);
    const error = {
      name: 'OverdrawnError',
      message: 'the tokens budget is spent',
      code: 'ERR_OVERDRAWN',
      data: { cap: 'tokens', limit: 4_000, spent: 3_950 },
    };
    expect(ends).toEqual([
      ['failed', error],
      ['failed', error],
    ]);
    // an actor that stops by itself ends without one
    const quiet: [string, unknown][] = [];
    const other = h.system.spawn(board, { name: 'quiet' });
    await c.subscribe('/user/quiet', () => undefined, { onEnd: (r, e) => quiet.push([r, e]) })
      .ready;
    other.tell({ type: 'stop' });
    await until(() => quiet.length === 1);
    expect(quiet).toEqual([['normal', undefined]]);
  });

  it('an ask to an actor that fails rejects with failed', async () => {
    h.system.spawn(board, { name: 'fragile' });
    const c = client(h.url);
    const e = await c
      .ask('/user/fragile', { type: 'fail' }, { timeoutMs: 2_000 })
      .catch((x: unknown) => x);
    // alice's rule refuses to send `fail`, not to ask it
    expect(e).toBeInstanceOf(RequestError);
    expect((e as RequestError).code).toBe('failed');
  });
});

describe('gateway: trace context', () => {
  beforeAll(() => context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()));
  afterAll(() => context.disable());

  it('continues a client’s W3C trace into the actor', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const h = await startGateway({}, { tracerProvider: provider });
    try {
      h.system.spawn(board, { name: 'board' });
      const c = client(h.url);
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      await c.send(
        '/user/board',
        { type: 'inc' },
        { trace: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } },
      );
      await until(() => exporter.getFinishedSpans().some((s) => s.name === 'receive /user/board'));
      const spans = exporter.getFinishedSpans();
      const gw = spans.find((s) => s.name.startsWith('gateway send'))!;
      const rx = spans.find((s) => s.name === 'receive /user/board')!;
      expect(gw.spanContext().traceId).toBe(traceId);
      expect(gw.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
      expect(rx.spanContext().traceId).toBe(traceId);
      expect(rx.parentSpanContext?.spanId).toBe(gw.spanContext().spanId);
      expect(trace.getActiveSpan()).toBeUndefined();
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await h.close();
    }
  });
});

describe('gateway: shards', () => {
  it('serves subscriptions, sends and asks for an actor on another shard', async () => {
    const h = await startGateway({}, { shards: 2 });
    try {
      const remote = h.system.spawn(board, { name: 'far', shard: 1 });
      await remote.ask({ type: 'get' });
      const c = client(h.url);
      const states: { n: number }[] = [];
      const events: unknown[] = [];
      await c.subscribe<{ n: number }>('/user/far', (s) => states.push(s)).ready;
      await c.subscribeEvents('/user/far', (e) => events.push(e)).ready;
      await until(() => states.length === 1);
      // the event subscription is in place on the shard once a round trip has passed
      await c.ask('/user/far', { type: 'get' });
      await c.send('/user/far', { type: 'inc' });
      await until(() => states.at(-1)!.n === 1 && events.length === 1);
      expect(events).toEqual([{ type: 'bumped', n: 1 }]);
      expect(await c.ask<{ n: number }>('/user/far', { type: 'get' })).toMatchObject({ n: 1 });
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await h.close();
    }
  });
});
