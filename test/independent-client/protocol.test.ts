/**
 * An independent conformance suite of the gateway's client protocol, written from
 * protocol/CLIENT-PROTOCOL.md, SECURITY.md and README.md alone (not from the gateway's code):
 * its own client (client.ts: `ws` and @msgpack/msgpack), a real system with a gateway.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import fjp from 'fast-json-patch';
import {
  Client,
  Refused,
  authProtocol,
  opcodes,
  rawTcp,
  until,
  upgrade,
  type Frame,
} from './client.ts';
import { supervise } from '../../index.ts';
import { counter, start, type GatewayOverrides, type Started } from './system.ts';

let running: Started[] = [];
let clients: Client[] = [];

afterEach(async () => {
  for (const c of clients) c.end();
  clients = [];
  await Promise.all(running.map((s) => s.system.shutdown()));
  running = [];
});

async function sys(
  gateway: GatewayOverrides = {},
  setup?: Parameters<typeof start>[1],
): Promise<Started> {
  const s = await start(gateway, setup);
  running.push(s);
  return s;
}

async function connect(s: Started, o: Parameters<typeof Client.connect>[1] = {}) {
  const c = await Client.connect(s.port, o);
  clients.push(c);
  return c;
}

async function refusal(port: number, o: Parameters<typeof Client.open>[1]): Promise<Refused> {
  try {
    const c = await Client.open(port, o);
    clients.push(c);
  } catch (e) {
    if (e instanceof Refused) return e;
    throw e;
  }
  throw new Error('the upgrade was not refused');
}

/** A message nested `levels` deep, counting itself: levels 1 is `{}`. */
function nested(levels: number): unknown {
  let v: unknown = {};
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
}

describe('§1 connecting', () => {
  it('selects troupe.v1 and never echoes the auth subprotocol', async () => {
    const s = await sys();
    const c = await connect(s, { token: undefined, subprotocolToken: 'alice' });
    expect(c.ws.protocol).toBe('troupe.v1');
    const r = await upgrade(s.port, {
      headers: { 'Sec-WebSocket-Protocol': `troupe.v1, ${authProtocol('alice')}` },
    });
    expect(r.status).toBe(101);
    expect(r.headers['sec-websocket-protocol']).toBe('troupe.v1');
  });

  it('takes the token from Authorization: Bearer and passes it to authenticate', async () => {
    const s = await sys();
    await connect(s, { token: 'alice' });
    expect(s.authTokens).toEqual(['alice']);
  });

  it('decodes a troupe.auth.<base64url> token as UTF-8', async () => {
    const s = await sys();
    await connect(s, { token: undefined, subprotocolToken: 'élan-✓' });
    expect(s.authTokens).toEqual(['élan-✓']);
  });

  it('refuses an upgrade without troupe.v1 with 400', async () => {
    const s = await sys();
    const r = await upgrade(s.port, { headers: { Authorization: 'Bearer alice' } });
    expect(r.status).toBe(400);
    const r2 = await upgrade(s.port, {
      headers: { Authorization: 'Bearer alice', 'Sec-WebSocket-Protocol': 'troupe.v2' },
    });
    expect(r2.status).toBe(400);
  });

  it('refuses two different tokens (400) and accepts the same token twice', async () => {
    const s = await sys();
    const e = await refusal(s.port, { token: 'alice', subprotocolToken: 'bob' });
    expect(e.status).toBe(400);
    const c = await connect(s, { token: 'alice', subprotocolToken: 'alice' });
    await c.alive();
  });

  it('refuses a malformed auth subprotocol with 400', async () => {
    const s = await sys();
    const e = await refusal(s.port, {
      token: undefined,
      protocols: ['troupe.v1', 'troupe.auth.!!!'],
    });
    expect(e.status).toBe(400);
  });

  it.each(['token', 'auth', 'key', 'secret', 'password'])(
    'refuses a credential in the query string (%s) with 400',
    async (name) => {
      const s = await sys();
      const e = await refusal(s.port, { token: 'alice', query: `?${name}=alice` });
      expect(e.status).toBe(400);
    },
  );

  it('answers 401 when authenticate refuses, and calls it with no token when none is given', async () => {
    const s = await sys();
    const e = await refusal(s.port, { token: 'bad' });
    expect(e.status).toBe(401);
    const e2 = await refusal(s.port, { token: undefined });
    expect(e2.status).toBe(401);
    expect(s.authTokens).toHaveLength(2);
    expect(s.authTokens[1] ?? undefined).toBeUndefined();
  });

  it('answers 500 when authenticate throws', async () => {
    const s = await sys({
      authenticate: () => {
        throw new Error('auth is down');
      },
    });
    const e = await refusal(s.port, { token: 'alice' });
    expect(e.status).toBe(500);
  });

  it('answers 500 when authenticate rejects', async () => {
    const s = await sys({ authenticate: () => Promise.reject(new Error('auth is down')) });
    const e = await refusal(s.port, { token: 'alice' });
    expect(e.status).toBe(500);
  });

  it('refusals are plain HTTP with a one-line text body', async () => {
    const s = await sys();
    const r = await upgrade(s.port, {
      headers: { Authorization: 'Bearer bad', 'Sec-WebSocket-Protocol': 'troupe.v1' },
    });
    expect(r.status).toBe(401);
    expect(r.body.trim().length).toBeGreaterThan(0);
    expect(r.body.trim()).not.toContain('\n');
  });

  it('answers 404 for another path on its own server', async () => {
    const s = await sys();
    const r = await upgrade(s.port, {
      path: '/elsewhere',
      headers: { Authorization: 'Bearer alice', 'Sec-WebSocket-Protocol': 'troupe.v1' },
    });
    expect(r.status).toBe(404);
  });

  it('serves at the `path` option', async () => {
    const s = await sys({ path: '/ws' });
    const c = await connect(s, { path: '/ws' });
    await c.alive();
  });

  it('answers 408 when the request headers take longer than handshakeTimeoutMs', async () => {
    const s = await sys({ limits: { handshakeTimeoutMs: 100 } });
    const t = rawTcp(s.port, 'GET /troupe HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await until(() => (t.read().length > 0 ? true : undefined), 'a response');
    expect(t.read()).toMatch(/^HTTP\/1\.1 408/);
    t.socket.destroy();
  });

  it('answers 408 when authenticate takes longer than handshakeTimeoutMs', async () => {
    const s = await sys({
      limits: { handshakeTimeoutMs: 100 },
      authenticate: () => new Promise(() => {}),
    });
    const e = await refusal(s.port, { token: 'alice' });
    expect(e.status).toBe(408);
  });

  it('answers 503 with Retry-After: 1 past maxHalfOpenPerIp', async () => {
    const waiting: (() => void)[] = [];
    const s = await sys({
      limits: { maxHalfOpenPerIp: 2 },
      authenticate: (t: string) => new Promise((resolve) => waiting.push(() => resolve({ id: t }))),
    });
    const a = Client.open(s.port, { token: 'a' });
    const b = Client.open(s.port, { token: 'b' });
    await until(() => (waiting.length === 2 ? true : undefined), 'two in authenticate');
    const e = await refusal(s.port, { token: 'c' });
    expect(e.status).toBe(503);
    expect(e.headers['retry-after']).toBe('1');
    for (const w of waiting) w();
    clients.push(await a, await b);
  });

  it('answers 503 with Retry-After: 1 past maxHalfOpen', async () => {
    const waiting: (() => void)[] = [];
    const s = await sys({
      limits: { maxHalfOpen: 2 },
      authenticate: (t: string) => new Promise((resolve) => waiting.push(() => resolve({ id: t }))),
    });
    const a = Client.open(s.port, { token: 'a' });
    const b = Client.open(s.port, { token: 'b' });
    await until(() => (waiting.length === 2 ? true : undefined), 'two in authenticate');
    const e = await refusal(s.port, { token: 'c' });
    expect(e.status).toBe(503);
    expect(e.headers['retry-after']).toBe('1');
    for (const w of waiting) w();
    clients.push(await a, await b);
  });

  it('closes a connection over maxConnectionsPerPrincipal with 4004 instead of welcome', async () => {
    const s = await sys({ limits: { maxConnectionsPerPrincipal: 2 } });
    await connect(s, { token: 'p' });
    await connect(s, { token: 'p' });
    const third = await Client.open(s.port, { token: 'p' });
    clients.push(third);
    expect((await third.waitClose()).code).toBe(4004);
    expect(third.frames.filter((f) => f.op === 'welcome')).toEqual([]);
    // another principal is not affected
    const other = await connect(s, { token: 'q' });
    await other.alive();
  });

  it('a principal may connect again once one of its connections has closed', async () => {
    const s = await sys({ limits: { maxConnectionsPerPrincipal: 1 } });
    const a = await connect(s, { token: 'p' });
    a.ws.close();
    await a.closed;
    const b = await connect(s, { token: 'p' });
    await b.alive();
  });

  it('a kept-alive HTTP connection gets handshakeTimeoutMs for its next request (408)', async () => {
    const s = await sys({ limits: { handshakeTimeoutMs: 100 } });
    const t = rawTcp(
      s.port,
      'GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n',
    );
    await until(() => (t.read().includes('408') ? true : undefined), 'a 408');
    expect(t.read()).toMatch(/^HTTP\/1\.1 404/);
    expect(t.read()).toMatch(/HTTP\/1\.1 408/);
    t.socket.destroy();
  });
});

describe('§1 origins', () => {
  it('allows the default publicOrigin (the listen address) and no Origin at all', async () => {
    const s = await sys();
    const c = await connect(s, { origin: `http://127.0.0.1:${s.port}` });
    await c.alive();
    const c2 = await connect(s);
    await c2.alive();
  });

  it('refuses another origin with 403, whatever the Host header says', async () => {
    const s = await sys();
    const e = await refusal(s.port, { token: 'alice', origin: `http://localhost:${s.port}` });
    expect(e.status).toBe(403);
    const r = await upgrade(s.port, {
      headers: {
        Authorization: 'Bearer alice',
        'Sec-WebSocket-Protocol': 'troupe.v1',
        Host: 'evil.example',
        Origin: 'http://evil.example',
      },
    });
    expect(r.status).toBe(403);
  });

  it('refuses Origin: null unless allowedOrigins is *', async () => {
    const s = await sys({ allowedOrigins: ['https://app.example'] });
    expect((await refusal(s.port, { token: 'alice', origin: 'null' })).status).toBe(403);
    const s2 = await sys({ allowedOrigins: '*' });
    const c = await connect(s2, { origin: 'null' });
    await c.alive();
    const c2 = await connect(s2, { origin: 'https://anything.example' });
    await c2.alive();
  });

  it('allows an origin of allowedOrigins and refuses others', async () => {
    const s = await sys({ allowedOrigins: ['https://app.example'] });
    const c = await connect(s, { origin: 'https://app.example' });
    await c.alive();
    const e = await refusal(s.port, { token: 'alice', origin: 'https://other.example' });
    expect(e.status).toBe(403);
    const e2 = await refusal(s.port, { token: 'alice', origin: 'http://app.example' });
    expect(e2.status).toBe(403);
  });

  it('compares origins as the URL standard writes them (default port left out)', async () => {
    const s = await sys({ allowedOrigins: ['https://app.example:443'] });
    const c = await connect(s, { origin: 'https://app.example' });
    await c.alive();
  });

  it('an explicit publicOrigin is allowed', async () => {
    const s = await sys({ publicOrigin: 'https://troupe.example' });
    const c = await connect(s, { origin: 'https://troupe.example' });
    await c.alive();
  });

  it('listening on 0.0.0.0 has no publicOrigin: a browser origin is refused', async () => {
    const s = await sys({ listen: { host: '0.0.0.0' } });
    const e = await refusal(s.port, { token: 'alice', origin: `http://127.0.0.1:${s.port}` });
    expect(e.status).toBe(403);
    const c = await connect(s);
    await c.alive();
  });
});

describe('§4 welcome', () => {
  it('is the first frame, with protocol 1, a session, the node and the default limits', async () => {
    const s = await sys();
    const c = await Client.open(s.port, { token: 'alice' });
    clients.push(c);
    const w = await c.next(() => true);
    expect(w.op).toBe('welcome');
    expect(w.protocol).toBe(1);
    expect(typeof w.session).toBe('string');
    expect(w.node).toBe('local');
    expect(w.limits).toEqual({
      maxFrameBytes: 64 * 1024,
      messagesPerSecond: 100,
      burst: 200,
      maxSubscriptions: 256,
      maxPendingAsks: 64,
      maxAskTimeoutMs: 60_000,
      idleTimeoutMs: 5 * 60_000,
      coalesceMs: 16,
    });
  });

  it('carries the configured limits, and each connection has its own session', async () => {
    const s = await sys({
      limits: {
        maxFrameBytes: 1000,
        messagesPerSecond: 7,
        burst: 9,
        maxSubscriptions: 3,
        maxPendingAsks: 4,
        maxAskTimeoutMs: 5000,
        idleTimeoutMs: 60_000,
      },
      snapshots: { coalesceMs: 5 },
    });
    const a = await Client.open(s.port, { token: 'alice' });
    const b = await Client.open(s.port, { token: 'alice' });
    clients.push(a, b);
    const wa = await a.next((f) => f.op === 'welcome');
    const wb = await b.next((f) => f.op === 'welcome');
    expect(wa.limits).toEqual({
      maxFrameBytes: 1000,
      messagesPerSecond: 7,
      burst: 9,
      maxSubscriptions: 3,
      maxPendingAsks: 4,
      maxAskTimeoutMs: 5000,
      idleTimeoutMs: 60_000,
      coalesceMs: 5,
    });
    expect(wa.session).not.toBe(wb.session);
  });
});

describe('§3 requests', () => {
  it('ping is answered pong with its id', async () => {
    const s = await sys();
    const c = await connect(s);
    expect(await c.request({ op: 'ping', id: 7 })).toEqual({ op: 'pong', id: 7 });
    expect(await c.request({ op: 'ping', id: 2 ** 53 - 1 })).toMatchObject({
      op: 'pong',
      id: 2 ** 53 - 1,
    });
  });

  it('a uint is judged by its value: ids, timeoutMs and since.version may come as floats', async () => {
    const s = await sys();
    const c = await connect(s);
    const floats = (f: Frame) => Buffer.from(encode(f, { forceIntegerToFloat: true }));
    // every number of these frames is written as a float 64
    expect(floats({ op: 'ping', id: 1 })).toContain(0xcb);
    c.sendRaw(floats({ op: 'ping', id: 1 }), { binary: true });
    expect(await c.answer(1)).toEqual({ op: 'pong', id: 1 });
    c.sendRaw(
      floats({
        op: 'ask',
        id: 2,
        target: '/user/board',
        message: { type: 'never' },
        timeoutMs: 100,
      }),
      {
        binary: true,
      },
    );
    expect(await c.answer(2)).toMatchObject({ op: 'error', code: 'timeout' });
    c.sendRaw(
      floats({
        op: 'subscribe',
        id: 3,
        kind: 'snapshot',
        target: '/user/board',
        since: { epoch: 'e', version: 1 },
      }),
      { binary: true },
    );
    expect(await c.answer(3)).toEqual({ op: 'ok', id: 3 });
    c.sendRaw(floats({ op: 'ping', id: 1.5 }), { binary: true });
    expect((await c.waitClose()).code).toBe(4000);
  });

  it('send is answered ok and reaches the actor', async () => {
    const s = await sys();
    const c = await connect(s);
    expect(
      await c.request({ op: 'send', id: 1, target: '/user/board', message: { type: 'inc' } }),
    ).toEqual({ op: 'ok', id: 1 });
    const r = await c.request({
      op: 'ask',
      id: 2,
      target: '/user/board',
      message: { type: 'get' },
    });
    expect(r).toEqual({ op: 'reply', id: 2, value: { n: 1, log: [] } });
  });

  it('a full address of this node reaches the same actor', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({
      op: 'send',
      id: 1,
      target: 'troupe://local/user/board',
      message: { type: 'inc' },
    });
    const r = await c.request({
      op: 'ask',
      id: 2,
      target: '/user/board',
      message: { type: 'get' },
    });
    expect(r.value).toEqual({ n: 1, log: [] });
  });

  it('send to an actor that does not exist is ok; ask to it is error failed', async () => {
    const s = await sys();
    const c = await connect(s);
    expect(
      await c.request({ op: 'send', id: 1, target: '/user/nobody', message: { type: 'inc' } }),
    ).toEqual({ op: 'ok', id: 1 });
    const r = await c.request({ op: 'ask', id: 2, target: '/user/nobody', message: { x: 1 } });
    expect(r).toMatchObject({ op: 'error', id: 2, code: 'failed' });
    expect(typeof r.message).toBe('string');
  });

  it('send to a node that cannot be reached is ok; ask to it is error failed', async () => {
    const s = await sys();
    const c = await connect(s);
    expect(
      await c.request({ op: 'send', id: 1, target: 'troupe://nowhere/user/x', message: {} }),
    ).toEqual({ op: 'ok', id: 1 });
    const r = await c.request({ op: 'ask', id: 2, target: 'troupe://nowhere/user/x', message: {} });
    expect(r).toMatchObject({ op: 'error', id: 2, code: 'failed' });
  });

  it('ask to an actor that fails while handling it is error failed', async () => {
    const s = await sys();
    const c = await connect(s);
    const r = await c.request({
      op: 'ask',
      id: 1,
      target: '/user/board',
      message: { type: 'boom' },
    });
    expect(r).toMatchObject({ op: 'error', id: 1, code: 'failed' });
    await c.alive();
  });

  it('ask with timeoutMs and no reply is error timeout', async () => {
    const s = await sys();
    const c = await connect(s);
    const r = await c.request({
      op: 'ask',
      id: 1,
      target: '/user/board',
      message: { type: 'never' },
      timeoutMs: 50,
    });
    expect(r).toMatchObject({ op: 'error', id: 1, code: 'timeout' });
  });

  it('an ask without timeoutMs times out at askTimeoutMs', async () => {
    const s = await sys({ limits: { askTimeoutMs: 80 } });
    const c = await connect(s);
    const r = await c.request({
      op: 'ask',
      id: 1,
      target: '/user/board',
      message: { type: 'never' },
    });
    expect(r).toMatchObject({ op: 'error', id: 1, code: 'timeout' });
  });

  it('a timeoutMs over maxAskTimeoutMs is cut to it', async () => {
    const s = await sys({ limits: { maxAskTimeoutMs: 80, askTimeoutMs: 50 } });
    const c = await connect(s);
    const r = await c.request({
      op: 'ask',
      id: 1,
      target: '/user/board',
      message: { type: 'never' },
      timeoutMs: 3_600_000,
    });
    expect(r).toMatchObject({ op: 'error', id: 1, code: 'timeout' });
  });

  it('a send or ask may carry a W3C trace', async () => {
    const s = await sys();
    const c = await connect(s);
    const trace = {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'k=v',
    };
    expect(
      await c.request({
        op: 'send',
        id: 1,
        target: '/user/board',
        message: { type: 'inc' },
        trace,
      }),
    ).toEqual({ op: 'ok', id: 1 });
    const r = await c.request({
      op: 'ask',
      id: 2,
      target: '/user/board',
      message: { type: 'get' },
      trace: { traceparent: trace.traceparent },
    });
    expect(r).toMatchObject({ op: 'reply', id: 2, value: { n: 1 } });
  });

  it('requests are handled in the order they came, whatever authorize takes', async () => {
    let n = 0;
    const s = await sys({
      authorize: () => new Promise((r) => setTimeout(() => r(true), Math.max(0, 30 - 10 * n++))),
    });
    const c = await connect(s);
    for (let i = 1; i <= 4; i++)
      c.send({ op: 'send', id: i, target: '/user/board', message: { type: 'note', value: i } });
    c.send({ op: 'ask', id: 5, target: '/user/board', message: { type: 'get' } });
    const r = await c.answer(5);
    expect(r.value).toEqual({ n: 0, log: [1, 2, 3, 4] });
    expect(c.frames.filter((f) => f.op === 'ok').map((f) => f.id)).toEqual([1, 2, 3, 4]);
  });

  it('ids may be reused once their request is over', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({ op: 'ask', id: 1, target: '/user/board', message: { type: 'get' } });
    const r = await c.request({
      op: 'ask',
      id: 1,
      target: '/user/board',
      message: { type: 'get' },
    });
    expect(r.op).toBe('reply');
    await c.request({ op: 'subscribe', id: 2, kind: 'events', target: '/user/board' });
    await c.request({ op: 'unsubscribe', id: 2 });
    expect(
      await c.request({ op: 'subscribe', id: 2, kind: 'events', target: '/user/board' }),
    ).toEqual({ op: 'ok', id: 2 });
  });

  it('an id in use by a subscription or an ask in flight is error duplicate-id', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'events', target: '/user/board' });
    const d = await c.request({ op: 'subscribe', id: 1, kind: 'events', target: '/user/other' });
    expect(d).toMatchObject({ op: 'error', id: 1, code: 'duplicate-id' });
    c.send({
      op: 'ask',
      id: 2,
      target: '/user/board',
      message: { type: 'never' },
      timeoutMs: 5000,
    });
    const d2 = await c.request({
      op: 'ask',
      id: 2,
      target: '/user/other',
      message: { type: 'get' },
    });
    expect(d2).toMatchObject({ op: 'error', id: 2, code: 'duplicate-id' });
    const d3 = await c.request({ op: 'subscribe', id: 2, kind: 'events', target: '/user/other' });
    expect(d3).toMatchObject({ op: 'error', id: 2, code: 'duplicate-id' });
    await c.alive();
  });

  it('ping is exempt from duplicate-id: the id of a live subscription or ask gets its pong', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'events', target: '/user/board' });
    c.send({
      op: 'ask',
      id: 2,
      target: '/user/board',
      message: { type: 'never' },
      timeoutMs: 5000,
    });
    for (const id of [1, 2]) {
      c.send({ op: 'ping', id });
      expect(await c.next((f) => f.id === id && f.op !== 'event')).toEqual({ op: 'pong', id });
    }
    // both are still there: a send with their ids is refused
    for (const id of [1, 2])
      expect(await c.request({ op: 'send', id, target: '/user/board', message: {} })).toMatchObject(
        { op: 'error', id, code: 'duplicate-id' },
      );
  });

  it('unsubscribe is ok, also for an unknown id', async () => {
    const s = await sys();
    const c = await connect(s);
    expect(await c.request({ op: 'unsubscribe', id: 42 })).toEqual({ op: 'ok', id: 42 });
  });
});

describe('§3 authorize', () => {
  it('is asked for each request but unsubscribe and ping, with the op and the one spelling', async () => {
    const s = await sys();
    const c = await connect(s, { token: 'alice' });
    await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    await c.request({ op: 'subscribe', id: 2, kind: 'events', target: '/user/board' });
    await c.request({ op: 'subscribe', id: 3, kind: 'topic', target: 'news' });
    await c.request({ op: 'send', id: 4, target: '/user/board', message: { type: 'inc' } });
    await c.request({ op: 'ask', id: 5, target: '/user/board', message: { type: 'get' } });
    await c.request({ op: 'unsubscribe', id: 1 });
    await c.request({ op: 'ping', id: 6 });
    expect(s.calls.map((k) => [k.op, k.target])).toEqual([
      ['snapshot', 'troupe://local/user/board'],
      ['events', 'troupe://local/user/board'],
      ['topic', 'news'],
      ['send', 'troupe://local/user/board'],
      ['ask', 'troupe://local/user/board'],
    ]);
    expect(s.calls[0]!.principal).toEqual({ id: 'alice' });
    expect(s.calls[3]!.detail).toMatchObject({ message: { type: 'inc' } });
    expect(s.calls[4]!.detail).toMatchObject({ message: { type: 'get' } });
  });

  it('a refusal is error forbidden and the connection stays', async () => {
    const s = await sys();
    const c = await connect(s);
    for (const [i, f] of [
      { op: 'subscribe', kind: 'snapshot', target: '/user/forbidden' },
      { op: 'subscribe', kind: 'events', target: '/user/forbidden' },
      { op: 'subscribe', kind: 'topic', target: 'forbidden' },
      { op: 'send', target: '/user/forbidden', message: {} },
      { op: 'ask', target: '/user/forbidden', message: {} },
    ].entries()) {
      const r = await c.request({ ...f, id: i + 1 } as never);
      expect(r).toMatchObject({ op: 'error', id: i + 1, code: 'forbidden' });
      expect(typeof r.message).toBe('string');
    }
    await c.alive();
  });

  it('a refused send is not delivered', async () => {
    const s = await sys({ authorize: (_p: unknown, op: string) => op !== 'send' });
    const c = await connect(s);
    const r = await c.request({
      op: 'send',
      id: 1,
      target: '/user/board',
      message: { type: 'inc' },
    });
    expect(r.code).toBe('forbidden');
    const g = await c.request({
      op: 'ask',
      id: 2,
      target: '/user/board',
      message: { type: 'get' },
    });
    expect(g.value).toEqual({ n: 0, log: [] });
  });

  it('may answer with a promise', async () => {
    const s = await sys({ authorize: () => Promise.resolve(false) });
    const c = await connect(s);
    const r = await c.request({ op: 'send', id: 1, target: '/user/board', message: {} });
    expect(r.code).toBe('forbidden');
  });

  it('an authorize that throws is error internal', async () => {
    const s = await sys({
      authorize: () => {
        throw new Error('policy bug');
      },
    });
    const c = await connect(s);
    const r = await c.request({ op: 'send', id: 1, target: '/user/board', message: {} });
    expect(r).toMatchObject({ op: 'error', id: 1, code: 'internal' });
    await c.alive();
  });

  it('an authorize slower than authorizeTimeoutMs is error internal', async () => {
    const s = await sys({
      limits: { authorizeTimeoutMs: 50 },
      authorize: () => new Promise(() => {}),
    });
    const c = await connect(s);
    const r = await c.request({ op: 'ask', id: 1, target: '/user/board', message: {} });
    expect(r).toMatchObject({ op: 'error', id: 1, code: 'internal' });
    await c.alive();
  });
});

describe('§3 targets', () => {
  const bad = [
    ['empty', ''],
    ['over 1,024 characters', '/user/' + 'a'.repeat(1024)],
    ['not an address', 'board'],
    ['a temporary address', '/temp/x'],
    ['a temporary address of another node', 'troupe://b/temp/x'],
    ['an entity activation', '/system/e.room.x'],
    ['an entity activation on another node', 'troupe://b/system/e.room.x'],
    ['an undefined entity kind', 'troupe:entity/nokind/x'],
    ['a % without two hex digits', 'troupe:entity/room/a%2'],
    ['a bad escape', 'troupe:entity/room/%zz'],
    ['truncated UTF-8', 'troupe:entity/room/%E2%82'],
    ['overlong UTF-8', 'troupe:entity/room/%C0%AF'],
    ['an encoded surrogate', 'troupe:entity/room/%ED%A0%80'],
    ['a .. segment', '/user/../system'],
    ['a . segment', '/user/./board'],
    ['an entity id ..', 'troupe:entity/room/..'],
    ['an entity id .', 'troupe:entity/room/.'],
    ['an entity id .. spelt %2e%2e', 'troupe:entity/room/%2e%2e'],
    ['an entity id . spelt %2E', 'troupe:entity/room/%2E'],
    ['an id over 1,024 characters', 'troupe:entity/room/' + 'i'.repeat(1025)],
    ['an upper-case scheme', 'TROUPE://local/user/board'],
    ['an upper-case entity scheme', 'TROUPE:entity/room/x'],
    ['a kind that is not letters, digits, _ or -', 'troupe:entity/ro.om/x'],
  ];
  it.each(bad)('%s is bad-target and the connection stays', async (_what, target) => {
    const s = await sys({}, (system) => system.define('room', counter()));
    const c = await connect(s);
    const r = await c.request({ op: 'send', id: 1, target, message: {} });
    expect(r).toMatchObject({ op: 'error', id: 1, code: 'bad-target' });
    const r2 = await c.request({ op: 'subscribe', id: 2, kind: 'snapshot', target });
    expect(r2).toMatchObject({ op: 'error', id: 2, code: 'bad-target' });
    const r3 = await c.request({ op: 'ask', id: 3, target, message: {} });
    expect(r3).toMatchObject({ op: 'error', id: 3, code: 'bad-target' });
    await c.alive();
  });

  it('a topic name must be 1–256 characters (bad-target), and is taken as it is', async () => {
    const s = await sys();
    const c = await connect(s);
    const r = await c.request({ op: 'subscribe', id: 1, kind: 'topic', target: '' });
    expect(r).toMatchObject({ code: 'bad-target' });
    const r2 = await c.request({ op: 'subscribe', id: 2, kind: 'topic', target: 't'.repeat(257) });
    expect(r2).toMatchObject({ code: 'bad-target' });
    const name = 'a/../b %zz ' + 't'.repeat(245);
    expect(name).toHaveLength(256);
    expect(await c.request({ op: 'subscribe', id: 3, kind: 'topic', target: name })).toEqual({
      op: 'ok',
      id: 3,
    });
    expect(s.calls.at(-1)).toMatchObject({ op: 'topic', target: name });
  });

  it('a target that is not a string closes the connection with 4000', async () => {
    const s = await sys();
    const c = await connect(s);
    c.send({ op: 'send', id: 1, target: 42, message: {} });
    expect((await c.waitClose()).code).toBe(4000);
  });

  it('entities are re-escaped as encodeURIComponent writes them, before authorize', async () => {
    const s = await sys({}, (system) => system.define('room', counter()));
    const c = await connect(s);
    const cases: [string, string][] = [
      ['troupe:entity/room/a%2fb%20c', 'troupe:entity/room/a%2Fb%20c'],
      ['troupe:entity/room/a%2Fb c', 'troupe:entity/room/a%2Fb%20c'],
      ['troupe:entity/room/%73ecret', 'troupe:entity/room/secret'],
      ['troupe:entity/room/%C3%A9', 'troupe:entity/room/%C3%A9'],
      ['troupe:entity/room/é', 'troupe:entity/room/%C3%A9'],
      ['troupe:entity/room/%21%7E%2A%27%28%29-_.', "troupe:entity/room/!~*'()-_."],
    ];
    for (const [i, [given]] of cases.entries())
      await c.request({ op: 'send', id: i + 1, target: given, message: { type: 'inc' } });
    expect(s.calls.map((k) => k.target)).toEqual(cases.map(([, canon]) => canon));
  });

  it('the 1,024-character cap is on the target as sent; authorize may see a longer spelling', async () => {
    const s = await sys({}, (system) => system.define('room', counter()));
    const c = await connect(s);
    const at = 'troupe:entity/room/' + 'i'.repeat(1005);
    expect(at).toHaveLength(1024);
    expect(await c.request({ op: 'send', id: 1, target: at, message: {} })).toEqual({
      op: 'ok',
      id: 1,
    });
    expect(await c.request({ op: 'send', id: 2, target: at + 'i', message: {} })).toMatchObject({
      op: 'error',
      code: 'bad-target',
    });
    const e = 'troupe:entity/room/' + 'é'.repeat(300);
    expect(await c.request({ op: 'send', id: 3, target: e, message: {} })).toEqual({
      op: 'ok',
      id: 3,
    });
    expect(s.calls.at(-1)?.target).toHaveLength(19 + 300 * 6);
    // 1,024 characters as sent, however few of them the id keeps once decoded
    const escaped = 'troupe:entity/room/' + '%69'.repeat(335);
    expect(escaped.length).toBeLessThanOrEqual(1024);
    expect(await c.request({ op: 'send', id: 4, target: escaped, message: {} })).toEqual({
      op: 'ok',
      id: 4,
    });
    expect(
      await c.request({ op: 'send', id: 5, target: escaped + '%69', message: {} }),
    ).toMatchObject({ op: 'error', code: 'bad-target' });
  });

  it('an entity id holding dots that is not . or .. is served', async () => {
    const s = await sys({}, (system) => system.define('room', counter()));
    const c = await connect(s);
    for (const [i, id] of ['...', '.a', 'a..', '%2E%2E%2E'].entries())
      expect(
        await c.request({
          op: 'send',
          id: i + 1,
          target: `troupe:entity/room/${id}`,
          message: { type: 'inc' },
        }),
      ).toEqual({ op: 'ok', id: i + 1 });
    expect(s.calls.map((k) => k.target)).toEqual([
      'troupe:entity/room/...',
      'troupe:entity/room/.a',
      'troupe:entity/room/a..',
      'troupe:entity/room/...',
    ]);
  });

  it('other spellings of an entity reach the same entity', async () => {
    const s = await sys({}, (system) => system.define('room', counter()));
    const c = await connect(s);
    for (const [i, t] of [
      'troupe:entity/room/secret',
      'troupe:entity/room/%73ecret',
      'troupe:entity/room/%73%65cret',
    ].entries())
      await c.request({ op: 'send', id: i + 1, target: t, message: { type: 'inc' } });
    const r = await c.request({
      op: 'ask',
      id: 9,
      target: 'troupe:entity/room/secret',
      message: { type: 'get' },
    });
    expect(r.value).toEqual({ n: 3, log: [] });
  });

  it('ids are case-sensitive and characters are not normalised', async () => {
    const s = await sys({}, (system) => system.define('room', counter()));
    const c = await connect(s);
    await c.request({
      op: 'send',
      id: 1,
      target: 'troupe:entity/room/é',
      message: { type: 'inc' },
    });
    await c.request({
      op: 'send',
      id: 2,
      target: 'troupe:entity/room/e\u0301',
      message: { type: 'inc' },
    });
    await c.request({
      op: 'send',
      id: 3,
      target: 'troupe:entity/room/E',
      message: { type: 'inc' },
    });
    expect(s.calls.map((k) => k.target)).toEqual([
      'troupe:entity/room/%C3%A9',
      'troupe:entity/room/e%CC%81',
      'troupe:entity/room/E',
    ]);
    const r = await c.request({
      op: 'ask',
      id: 4,
      target: 'troupe:entity/room/e',
      message: { type: 'get' },
    });
    expect(r.value).toEqual({ n: 0, log: [] });
  });
});

describe('§2 data', () => {
  it('a message holding NaN or ±Infinity is bad-message, not delivered, the connection stays', async () => {
    const s = await sys();
    const c = await connect(s);
    const r = await c.request({
      op: 'send',
      id: 1,
      target: '/user/board',
      message: { type: 'add', by: NaN },
    });
    expect(r).toMatchObject({ op: 'error', id: 1, code: 'bad-message' });
    const r2 = await c.request({
      op: 'ask',
      id: 2,
      target: '/user/board',
      message: { type: 'add', deep: [{ x: [Infinity] }] },
    });
    expect(r2).toMatchObject({ op: 'error', id: 2, code: 'bad-message' });
    const r3 = await c.request({
      op: 'send',
      id: 3,
      target: '/user/board',
      message: { type: 'add', by: -Infinity },
    });
    expect(r3.code).toBe('bad-message');
    const g = await c.request({
      op: 'ask',
      id: 4,
      target: '/user/board',
      message: { type: 'get' },
    });
    expect(g.value).toEqual({ n: 0, log: [] });
  });

  it.each([
    ['id', { op: 'ping', id: NaN }],
    ['timeoutMs', { op: 'ask', id: 1, target: '/user/board', message: {}, timeoutMs: Infinity }],
    [
      'since.version',
      {
        op: 'subscribe',
        id: 1,
        kind: 'snapshot',
        target: '/user/board',
        since: { epoch: 'e', version: NaN },
      },
    ],
  ])('a non-finite %s makes the frame malformed (4000)', async (_what, frame) => {
    const s = await sys();
    const c = await connect(s);
    c.send(frame);
    expect((await c.waitClose()).code).toBe(4000);
  });

  it('tags in a message reach the actor as plain data: a client cannot hand it a reference', async () => {
    const s = await sys();
    const c = await connect(s);
    const r = await c.request({
      op: 'ask',
      id: 1,
      target: '/user/board',
      message: { type: 'echo', value: { $ref: 'troupe://local/user/other' } },
    });
    expect(r.op).toBe('reply');
    const v = r.value as { isRef: boolean; keys: string[] };
    expect(v.isRef).toBe(false);
    expect(v.keys).toEqual(['$ref']);
  });

  it('a map key that is not a string is read as its string form', async () => {
    const s = await sys();
    const c = await connect(s);
    // { op: 'ask', id: 1, target: '/user/board', message: { type: 'echo', value: { 1: 'one' } } }
    const frame = Buffer.concat([
      Buffer.from([0x84]),
      ...['op', 'ask', 'id', 1, 'target', '/user/board', 'message'].map((v) => encode(v)),
      Buffer.from([0x82]),
      ...['type', 'echo', 'value'].map((v) => encode(v)),
      Buffer.from([0x81, 0x01]),
      encode('one'),
    ]);
    c.sendRaw(frame, { binary: true });
    const r = await c.answer(1);
    expect((r.value as { received: unknown }).received).toEqual({
      type: 'echo',
      value: { '1': 'one' },
    });
  });

  it('a map key that is a map, an array or binary closes with 4000', async () => {
    const s = await sys();
    for (const key of [[0x80], [0x91, 0x01], [0xc4, 0x01, 0x41]]) {
      const c = await connect(s);
      // { op: 'send', id: 1, target: '/user/board', message: { <key>: 1 } }
      const frame = Buffer.concat([
        Buffer.from([0x84]),
        ...['op', 'send', 'id', 1, 'target', '/user/board', 'message'].map((v) => encode(v)),
        Buffer.from([0x81, ...key, 0x01]),
      ]);
      c.sendRaw(frame, { binary: true });
      expect((await c.waitClose()).code).toBe(4000);
    }
  });

  it('replies travel in data form: $date, $ref without $uid, $error, $esc', async () => {
    const s = await sys();
    const c = await connect(s);
    const ask = async (id: number, kind: string) =>
      (await c.request({ op: 'ask', id, target: '/user/board', message: { type: 'value', kind } }))
        .value;
    expect(await ask(1, 'date')).toEqual({ $date: '2026-12-03T08:00:00.000Z' });
    expect(await ask(2, 'ref')).toEqual({ $ref: 'troupe://local/user/board' });
    const e = (await ask(3, 'error')) as { $error: Record<string, unknown> };
    expect(Object.keys(e)).toEqual(['$error']);
    expect(e.$error).toMatchObject({ name: 'Error', message: 'bad thing' });
    expect(await ask(4, 'esc')).toEqual({ $esc: { $ref: 'not a ref' } });
  });

  it('data from the gateway may have keys named constructor or prototype', async () => {
    const s = await sys();
    const c = await connect(s);
    const r = await c.request({
      op: 'ask',
      id: 1,
      target: '/user/board',
      message: { type: 'value', kind: 'proto' },
    });
    expect(r.value).toEqual({ constructor: 1, prototype: 2 });
  });

  it('a reply that is not data is error not-serializable', async () => {
    const s = await sys();
    const c = await connect(s);
    const r = await c.request({
      op: 'ask',
      id: 1,
      target: '/user/board',
      message: { type: 'value', kind: 'fn' },
    });
    expect(r).toMatchObject({ op: 'error', id: 1, code: 'not-serializable' });
    await c.alive();
  });

  it('a reply whose frame would be over 16 MiB is error not-serializable', async () => {
    const s = await sys();
    const c = await connect(s);
    const r = await c.request(
      { op: 'ask', id: 1, target: '/user/board', message: { type: 'value', kind: 'big' } },
      15_000,
    );
    expect(r).toMatchObject({ op: 'error', id: 1, code: 'not-serializable' });
    await c.alive();
  });
});

describe('§2/§6 frames', () => {
  it('a text message closes with 4000', async () => {
    const s = await sys();
    const c = await connect(s);
    c.sendRaw('{"op":"ping","id":1}', { binary: false });
    expect((await c.waitClose()).code).toBe(4000);
  });

  it.each([
    ['not msgpack', Buffer.from([0xc1])],
    ['two msgpack values', Buffer.concat([encode({ op: 'ping', id: 1 }), encode(1)])],
    ['an array', encode([{ op: 'ping', id: 1 }])],
    ['a string', encode('ping')],
    ['a map with no op', encode({ id: 1 })],
    ['an unknown op', encode({ op: 'dance', id: 1 })],
    ['a gateway op', encode({ op: 'pong', id: 1 })],
    ['an unknown field', encode({ op: 'ping', id: 1, extra: true })],
    ['an id that is not a uint', encode({ op: 'ping', id: -1 })],
    ['a fractional id', encode({ op: 'ping', id: 1.5 })],
    ['a string id', encode({ op: 'ping', id: '1' })],
    ['an id over 2^53−1', encode({ op: 'ping', id: 2 ** 53 })],
    ['a missing id', encode({ op: 'ping' })],
    ['an unknown subscription kind', encode({ op: 'subscribe', id: 1, kind: 'x', target: 'a' })],
    ['timeoutMs 0', encode({ op: 'ask', id: 1, target: '/user/board', message: {}, timeoutMs: 0 })],
    ['a send with no message', encode({ op: 'send', id: 1, target: '/user/board' })],
    [
      'binary in a message',
      encode({ op: 'send', id: 1, target: '/user/board', message: new Uint8Array([1]) }),
    ],
    [
      'a timestamp in a message',
      encode({ op: 'send', id: 1, target: '/user/board', message: new Date() }),
    ],
  ])('%s closes with 4000', async (_what, bytes) => {
    const s = await sys();
    const c = await connect(s);
    c.sendRaw(bytes as Buffer, { binary: true });
    expect((await c.waitClose()).code).toBe(4000);
  });

  it('a bad frame closes that connection only', async () => {
    const s = await sys();
    const a = await connect(s);
    const b = await connect(s);
    a.sendRaw('x', { binary: false });
    expect((await a.waitClose()).code).toBe(4000);
    await b.alive();
  });

  it('a frame over maxFrameBytes closes with 1009; one at the cap passes', async () => {
    const s = await sys({ limits: { maxFrameBytes: 2048 } });
    const c = await connect(s);
    const frame = (n: number) => ({
      op: 'send',
      id: 1,
      target: '/user/board',
      message: { p: 'x'.repeat(n) },
    });
    let fill = 0;
    while (encode(frame(fill + 1)).length <= 2048) fill++;
    expect(encode(frame(fill)).length).toBe(2048);
    expect(await c.request(frame(fill))).toEqual({ op: 'ok', id: 1 });
    c.send({ ...frame(fill + 1), id: 2 });
    expect((await c.waitClose()).code).toBe(1009);
  });

  it('a message in more than maxFragments fragments closes with 1008', async () => {
    const s = await sys({ limits: { maxFragments: 4 } });
    const c = await connect(s);
    const bytes = Buffer.from(encode({ op: 'ping', id: 1 }));
    const parts = [
      bytes.subarray(0, 1),
      bytes.subarray(1, 2),
      bytes.subarray(2, 3),
      bytes.subarray(3),
    ];
    parts.forEach((p, i) => c.sendRaw(p, { binary: true, fin: i === parts.length - 1 }));
    expect(await c.answer(1)).toEqual({ op: 'pong', id: 1 });
    const b2 = Buffer.from(encode({ op: 'ping', id: 2 }));
    const parts2 = [0, 1, 2, 3].map((i) => b2.subarray(i, i + 1)).concat([b2.subarray(4)]);
    parts2.forEach((p, i) => c.sendRaw(p, { binary: true, fin: i === parts2.length - 1 }));
    expect((await c.waitClose()).code).toBe(1008);
  });

  it('a message may nest 31 levels deep counting itself; 32 closes with 4000', async () => {
    const s = await sys();
    const c = await connect(s);
    expect(
      await c.request({ op: 'send', id: 1, target: '/user/board', message: nested(31) }),
    ).toEqual({ op: 'ok', id: 1 });
    c.send({ op: 'send', id: 2, target: '/user/board', message: nested(32) });
    expect((await c.waitClose()).code).toBe(4000);
  });

  it('arrays count as levels, and a $date map counts as a level', async () => {
    const s = await sys();
    const c = await connect(s);
    let v: unknown = [{ $date: '2026-12-03T08:00:00.000Z' }];
    for (let i = 2; i < 30; i++) v = [v];
    // message = 29 arrays + the $date map = 30 levels, in a 31st: allowed
    expect(await c.request({ op: 'send', id: 1, target: '/user/board', message: [v] })).toEqual({
      op: 'ok',
      id: 1,
    });
    c.send({ op: 'send', id: 2, target: '/user/board', message: [[v]] });
    expect((await c.waitClose()).code).toBe(4000);
  });

  it.each(['__proto__', '__proto_', 'constructor', 'prototype'])(
    'the key %s is refused at any depth (4000)',
    async (key) => {
      const s = await sys();
      const c = await connect(s);
      const inner = JSON.parse(`{"${key}": 1}`) as unknown;
      c.send({ op: 'send', id: 1, target: '/user/board', message: { a: [{ b: inner }] } });
      expect((await c.waitClose()).code).toBe(4000);
    },
  );

  it('the key __proto_ is refused at the top of the frame too', async () => {
    const s = await sys();
    const c = await connect(s);
    c.send({ op: 'ping', id: 1, __proto_: 1 });
    expect((await c.waitClose()).code).toBe(4000);
  });

  it('arrays hold at most 4,096 items; maps 1,024 keys; strings 64 Ki characters', async () => {
    const s = await sys({ limits: { maxFrameBytes: 1024 * 1024 } });
    const ok = await connect(s);
    const keys = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 0]));
    expect(
      await ok.request({
        op: 'send',
        id: 1,
        target: '/user/board',
        message: { a: new Array(4096).fill(0), m: keys(1024), s: 'x'.repeat(65536) },
      }),
    ).toEqual({ op: 'ok', id: 1 });
    for (const message of [{ a: new Array(4097).fill(0) }, keys(1025), { s: 'x'.repeat(65537) }]) {
      const c = await connect(s);
      c.send({ op: 'send', id: 1, target: '/user/board', message });
      expect((await c.waitClose()).code).toBe(4000);
    }
  });

  it('characters are UTF-16 code units: 32,768 emoji are 64 Ki characters, one more closes with 4000', async () => {
    const s = await sys({ limits: { maxFrameBytes: 1024 * 1024 } });
    const ok = await connect(s);
    expect(
      await ok.request({ op: 'send', id: 1, target: '/user/board', message: '😀'.repeat(32768) }),
    ).toEqual({ op: 'ok', id: 1 });
    const c = await connect(s);
    c.send({ op: 'send', id: 1, target: '/user/board', message: '😀'.repeat(32769) });
    expect((await c.waitClose()).code).toBe(4000);
  });

  it('map keys are strings too: a key of 64 Ki characters passes, one more closes with 4000', async () => {
    const s = await sys({ limits: { maxFrameBytes: 1024 * 1024 } });
    const ok = await connect(s);
    expect(
      await ok.request({
        op: 'send',
        id: 1,
        target: '/user/board',
        message: { ['k'.repeat(65536)]: 1 },
      }),
    ).toEqual({ op: 'ok', id: 1 });
    const c = await connect(s);
    c.send({ op: 'send', id: 1, target: '/user/board', message: { ['k'.repeat(65537)]: 1 } });
    expect((await c.waitClose()).code).toBe(4000);
  });
});

describe('§5 snapshot subscriptions', () => {
  it('ok, then state, then a patch for each later version', async () => {
    const s = await sys();
    const c = await connect(s);
    expect(
      await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' }),
    ).toEqual({ op: 'ok', id: 1 });
    const st = await c.next((f) => f.id === 1 && f.op === 'state');
    expect(typeof st.epoch).toBe('string');
    expect(Number.isInteger(st.version)).toBe(true);
    expect(st.snapshot).toEqual({ n: 0, log: [] });
    await c.request({ op: 'send', id: 2, target: '/user/board', message: { type: 'inc' } });
    const p = await c.next((f) => f.id === 1 && (f.op === 'patch' || f.op === 'state'));
    expect(p.op).toBe('patch');
    expect(p.epoch).toBe(st.epoch);
    expect(p.base).toBe(st.version);
    expect(p.version).toBe((st.version as number) + 1);
    const doc = fjp.applyPatch(structuredClone(st.snapshot), p.patch as never).newDocument;
    expect(doc).toEqual({ n: 1, log: [] });
  });

  it('a client applying patches converges to the latest state, versions growing by 1', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    let frame = await c.next((f) => f.id === 1 && f.op === 'state');
    let doc: unknown = frame.snapshot;
    let version = frame.version as number;
    const epoch = frame.epoch;
    for (let i = 1; i <= 50; i++)
      c.send({
        op: 'send',
        id: 100 + i,
        target: '/user/board',
        message: { type: 'note', value: i },
      });
    const want = { n: 0, log: Array.from({ length: 50 }, (_, i) => i + 1) };
    while (JSON.stringify(doc) !== JSON.stringify(want)) {
      frame = await c.next((f) => f.id === 1 && (f.op === 'patch' || f.op === 'state'));
      expect(frame.epoch).toBe(epoch);
      if (frame.op === 'state') {
        expect(frame.version as number).toBeGreaterThan(version);
        doc = frame.snapshot;
      } else {
        expect(frame.base).toBe(version);
        expect(frame.version).toBe(version + 1);
        doc = fjp.applyPatch(structuredClone(doc), frame.patch as never).newDocument;
      }
      version = frame.version as number;
    }
    expect(doc).toEqual(want);
  });

  it('updates closer than coalesceMs are merged: versions are skipped', async () => {
    const s = await sys({ snapshots: { coalesceMs: 200 } });
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    const st = await c.next((f) => f.id === 1 && f.op === 'state');
    for (let i = 0; i < 20; i++)
      c.send({ op: 'send', id: 10 + i, target: '/user/board', message: { type: 'inc' } });
    let doc = st.snapshot as { n: number };
    let updates = 0;
    while (doc.n !== 20) {
      const f = await c.next((x) => x.id === 1 && (x.op === 'patch' || x.op === 'state'));
      updates++;
      doc =
        f.op === 'state'
          ? (f.snapshot as { n: number })
          : fjp.applyPatch(structuredClone(doc), f.patch as never).newDocument;
    }
    expect(updates).toBeLessThan(20);
  });

  it('subscribers of one actor share one epoch', async () => {
    const s = await sys();
    const a = await connect(s);
    const b = await connect(s);
    await a.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    await b.request({
      op: 'subscribe',
      id: 9,
      kind: 'snapshot',
      target: 'troupe://local/user/board',
    });
    const sa = await a.next((f) => f.op === 'state');
    const sb = await b.next((f) => f.op === 'state');
    expect(sa.epoch).toBe(sb.epoch);
  });

  it('resume: since a known version gets one patch from it to the latest', async () => {
    const s = await sys();
    const a = await connect(s);
    await a.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    const st = await a.next((f) => f.op === 'state');
    a.end();
    await a.closed;
    const other = await connect(s);
    for (let i = 0; i < 3; i++)
      await other.request({
        op: 'send',
        id: i + 1,
        target: '/user/board',
        message: { type: 'inc' },
      });
    // the node has the three (an ask is handled after them)
    await other.request({ op: 'ask', id: 9, target: '/user/board', message: { type: 'get' } });
    const b = await connect(s);
    // a subscriber keeps the hub at its latest version, so we know what "latest" is
    await other.request({ op: 'subscribe', id: 10, kind: 'snapshot', target: '/user/board' });
    let latest = await other.next((f) => f.id === 10 && f.op === 'state');
    let seen = latest.snapshot as { n: number };
    while (seen.n !== 3) {
      latest = await other.next((f) => f.id === 10 && (f.op === 'patch' || f.op === 'state'));
      seen =
        latest.op === 'state'
          ? (latest.snapshot as { n: number })
          : fjp.applyPatch(structuredClone(seen), latest.patch as never).newDocument;
    }
    expect(
      await b.request({
        op: 'subscribe',
        id: 1,
        kind: 'snapshot',
        target: '/user/board',
        since: { epoch: st.epoch, version: st.version },
      }),
    ).toEqual({ op: 'ok', id: 1 });
    const p = await b.next((f) => f.id === 1 && (f.op === 'patch' || f.op === 'state'));
    expect(p).toMatchObject({
      op: 'patch',
      epoch: st.epoch,
      base: st.version,
      version: latest.version,
    });
    const doc = fjp.applyPatch(structuredClone(st.snapshot), p.patch as never).newDocument;
    expect(doc).toEqual({ n: 3, log: [] });
  });

  it('resume: since the latest version gets nothing until the next update', async () => {
    const s = await sys();
    const keep = await connect(s);
    await keep.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    const st = await keep.next((f) => f.op === 'state');
    const b = await connect(s);
    await b.request({
      op: 'subscribe',
      id: 1,
      kind: 'snapshot',
      target: '/user/board',
      since: { epoch: st.epoch, version: st.version },
    });
    await b.request({ op: 'send', id: 2, target: '/user/board', message: { type: 'inc' } });
    const f = await b.next((x) => x.id === 1 && (x.op === 'patch' || x.op === 'state'));
    expect(f).toMatchObject({ op: 'patch', base: st.version, version: (st.version as number) + 1 });
  });

  it('resume: since an epoch it does not know gets a state', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({
      op: 'subscribe',
      id: 1,
      kind: 'snapshot',
      target: '/user/board',
      since: { epoch: 'no-such-epoch', version: 3 },
    });
    const f = await c.next((x) => x.id === 1 && (x.op === 'patch' || x.op === 'state'));
    expect(f.op).toBe('state');
    expect(f.snapshot).toEqual({ n: 0, log: [] });
  });

  it('after unsubscribe no frames come for that id', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    await c.next((f) => f.op === 'state');
    await c.request({ op: 'unsubscribe', id: 1 });
    const before = c.framesFor(1).length;
    await c.request({ op: 'send', id: 2, target: '/user/board', message: { type: 'inc' } });
    await c.request({ op: 'subscribe', id: 3, kind: 'snapshot', target: '/user/board' });
    const st = await c.next((f) => f.id === 3 && f.op === 'state');
    if ((st.snapshot as { n: number }).n !== 1) await c.next((f) => f.id === 3 && f.op === 'patch');
    await c.request({ op: 'send', id: 4, target: '/user/board', message: { type: 'inc' } });
    await c.next((f) => f.id === 3 && (f.op === 'patch' || f.op === 'state'));
    expect(c.framesFor(1)).toHaveLength(before);
  });

  it('an actor that stops by itself ends its subscriptions with normal', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    await c.request({ op: 'subscribe', id: 2, kind: 'events', target: '/user/board' });
    await c.request({ op: 'send', id: 3, target: '/user/board', message: { type: 'stop' } });
    expect(await c.next((f) => f.id === 1 && f.op === 'ended')).toEqual({
      op: 'ended',
      id: 1,
      reason: 'normal',
    });
    expect(await c.next((f) => f.id === 2 && f.op === 'ended')).toMatchObject({ reason: 'normal' });
  });

  it('a subscription to an actor that does not exist ends with unknown-actor', async () => {
    const s = await sys();
    const c = await connect(s);
    expect(
      await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/nobody' }),
    ).toEqual({ op: 'ok', id: 1 });
    expect(await c.next((f) => f.id === 1 && f.op === 'ended')).toMatchObject({
      reason: 'unknown-actor',
    });
  });

  it('an actor stopped because its parent stopped ends with shutdown', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({
      op: 'send',
      id: 1,
      target: '/user/board',
      message: { type: 'spawn', name: 'kid' },
    });
    await c.request({ op: 'ask', id: 2, target: '/user/board', message: { type: 'get' } });
    await c.request({ op: 'subscribe', id: 3, kind: 'snapshot', target: '/user/board/kid' });
    await c.next((f) => f.id === 3 && f.op === 'state');
    await c.request({ op: 'send', id: 4, target: '/user/board', message: { type: 'stop' } });
    expect(await c.next((f) => f.id === 3 && f.op === 'ended')).toMatchObject({
      reason: 'shutdown',
    });
  });

  it('a snapshot that is not data ends with not-serializable', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    await c.next((f) => f.id === 1 && f.op === 'state');
    await c.request({
      op: 'send',
      id: 2,
      target: '/user/board',
      message: { type: 'unserializable' },
    });
    expect(await c.next((f) => f.id === 1 && f.op === 'ended')).toMatchObject({
      reason: 'not-serializable',
    });
    await c.alive();
  });

  it('a snapshot frame over 16 MiB ends with not-serializable', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    await c.next((f) => f.id === 1 && f.op === 'state');
    await c.request({ op: 'send', id: 2, target: '/user/board', message: { type: 'bigstate' } });
    expect(await c.next((f) => f.id === 1 && f.op === 'ended', 15_000)).toMatchObject({
      reason: 'not-serializable',
    });
    await c.alive();
  });

  it('an actor that failed and was stopped ends with failed', async () => {
    const s = await sys({}, (system) =>
      system.spawn(
        supervise({ children: [{ id: 't', behaviour: counter(), restart: 'temporary' }] }),
        { name: 'sup' },
      ),
    );
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/sup/t' });
    await c.next((f) => f.id === 1 && f.op === 'state');
    await c.request({ op: 'send', id: 2, target: '/user/sup/t', message: { type: 'boom' } });
    expect(await c.next((f) => f.id === 1 && f.op === 'ended')).toMatchObject({
      reason: 'failed',
    });
  });

  it('resume: a version older than historyVersions gets a state, a recent one a patch', async () => {
    const s = await sys({ snapshots: { historyVersions: 2 } });
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    const first = await c.next((f) => f.id === 1 && f.op === 'state');
    const versions: number[] = [first.version as number];
    for (let i = 0; i < 5; i++) {
      await c.request({ op: 'send', id: 10 + i, target: '/user/board', message: { type: 'inc' } });
      const f = await c.next((x) => x.id === 1 && (x.op === 'patch' || x.op === 'state'));
      versions.push(f.version as number);
    }
    const old = await connect(s);
    await old.request({
      op: 'subscribe',
      id: 1,
      kind: 'snapshot',
      target: '/user/board',
      since: { epoch: first.epoch, version: versions[0] },
    });
    const f = await old.next((x) => x.id === 1 && (x.op === 'patch' || x.op === 'state'));
    expect(f).toMatchObject({ op: 'state', version: versions[5], snapshot: { n: 5 } });
    const recent = await connect(s);
    await recent.request({
      op: 'subscribe',
      id: 1,
      kind: 'snapshot',
      target: '/user/board',
      since: { epoch: first.epoch, version: versions[4] },
    });
    const g = await recent.next((x) => x.id === 1 && (x.op === 'patch' || x.op === 'state'));
    expect(g).toMatchObject({ op: 'patch', base: versions[4], version: versions[5] });
  });

  it('a passivated entity ends its subscriptions with normal', async () => {
    const s = await sys({}, (system) =>
      system.define('room', counter(), { passivateAfterMs: 100 }),
    );
    const c = await connect(s);
    await c.request({
      op: 'send',
      id: 1,
      target: 'troupe:entity/room/r1',
      message: { type: 'inc' },
    });
    await c.request({ op: 'subscribe', id: 2, kind: 'snapshot', target: 'troupe:entity/room/r1' });
    expect(await c.next((f) => f.id === 2 && f.op === 'ended')).toMatchObject({
      reason: 'normal',
    });
  });
});

describe('§4 events and topics', () => {
  it('an events subscription gets what the actor emits', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'events', target: '/user/board' });
    await c.request({
      op: 'send',
      id: 2,
      target: '/user/board',
      message: { type: 'emit', event: { kind: 'hello', at: 1 } },
    });
    expect(await c.next((f) => f.id === 1 && f.op === 'event')).toEqual({
      op: 'event',
      id: 1,
      event: { kind: 'hello', at: 1 },
    });
  });

  it('a topic subscription gets what is published on the topic', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'topic', target: 'news' });
    await until(
      () => (s.system.topics.subscribers('news').length > 0 ? true : undefined),
      'the subscription on the node',
    );
    s.system.topics.publish('news', { headline: 'x', when: new Date('2026-01-01T00:00:00.000Z') });
    expect(await c.next((f) => f.id === 1 && f.op === 'event')).toEqual({
      op: 'event',
      id: 1,
      event: { headline: 'x', when: { $date: '2026-01-01T00:00:00.000Z' } },
    });
  });

  it('an event whose frame would be over 16 MiB is not passed on', async () => {
    const s = await sys();
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'events', target: '/user/board' });
    await c.request({ op: 'send', id: 2, target: '/user/board', message: { type: 'emitbig' } });
    await c.request({
      op: 'send',
      id: 3,
      target: '/user/board',
      message: { type: 'emit', event: 'small' },
    });
    expect(await c.next((f) => f.id === 1 && f.op === 'event', 15_000)).toMatchObject({
      event: 'small',
    });
    expect(c.frames.filter((f) => f.op === 'event')).toHaveLength(1);
  });

  it.each(['events', 'topic'])('since on a %s subscription closes with 4000', async (kind) => {
    const s = await sys();
    const c = await connect(s);
    c.send({
      op: 'subscribe',
      id: 1,
      kind,
      target: kind === 'topic' ? 'news' : '/user/board',
      since: { epoch: 'e', version: 1 },
    });
    expect((await c.waitClose()).code).toBe(4000);
  });

  it('nil for an optional field closes with 4000; nil as a message is data', async () => {
    const s = await sys();
    const ok = await connect(s);
    expect(await ok.request({ op: 'send', id: 1, target: '/user/board', message: null })).toEqual({
      op: 'ok',
      id: 1,
    });
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const ask = { op: 'ask', id: 1, target: '/user/board', message: {} };
    for (const frame of [
      { ...ask, timeoutMs: null },
      { ...ask, trace: null },
      { ...ask, trace: { traceparent, tracestate: null } },
      { op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board', since: null },
    ]) {
      const c = await connect(s);
      c.send(frame);
      expect((await c.waitClose()).code).toBe(4000);
    }
  });

  it('a map with a key twice is read as its last entry', async () => {
    const s = await sys();
    const c = await connect(s);
    // { op: 'ping', id: 1, id: 2 }
    c.sendRaw(
      Buffer.concat([
        Buffer.from([0x83]),
        ...['op', 'ping', 'id', 1, 'id', 2].map((v) => encode(v)),
      ]),
      { binary: true },
    );
    expect(await c.answer(2)).toEqual({ op: 'pong', id: 2 });
  });

  it('a since epoch holds at most 64 characters', async () => {
    const s = await sys();
    const ok = await connect(s);
    const since = (epoch: string) => ({
      op: 'subscribe',
      id: 1,
      kind: 'snapshot',
      target: '/user/board',
      since: { epoch, version: 1 },
    });
    expect(await ok.request(since('e'.repeat(64)))).toEqual({ op: 'ok', id: 1 });
    const c = await connect(s);
    c.send(since('e'.repeat(65)));
    expect((await c.waitClose()).code).toBe(4000);
  });

  it('a field not listed inside since or trace closes with 4000', async () => {
    const s = await sys();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    for (const frame of [
      {
        op: 'subscribe',
        id: 1,
        kind: 'snapshot',
        target: '/user/board',
        since: { epoch: 'e', version: 1, x: 1 },
      },
      { op: 'send', id: 1, target: '/user/board', message: {}, trace: { traceparent, x: 1 } },
      { op: 'send', id: 1, target: '/user/board', message: {}, trace: { traceparent, op: 'x' } },
    ]) {
      const c = await connect(s);
      c.send(frame);
      expect((await c.waitClose()).code).toBe(4000);
    }
  });
});

describe('§6 limits and close codes', () => {
  it('more frames than the token bucket allows closes with 4002', async () => {
    const s = await sys({ limits: { messagesPerSecond: 1, burst: 3 } });
    const c = await connect(s);
    for (let i = 1; i <= 4; i++) c.send({ op: 'ping', id: i });
    expect((await c.waitClose()).code).toBe(4002);
    // the burst itself was served
    expect(c.frames.filter((f) => f.op === 'pong').map((f) => f.id)).toEqual([1, 2, 3]);
  });

  it('more than burst frames waiting behind an authorize that has not answered closes with 4002', async () => {
    const s = await sys({
      limits: { messagesPerSecond: 10_000, burst: 3 },
      authorize: () => new Promise(() => {}),
    });
    const c = await connect(s);
    for (let i = 1; i <= 6; i++) c.send({ op: 'send', id: i, target: '/user/board', message: {} });
    expect((await c.waitClose()).code).toBe(4002);
  });

  it('more than maxSubscriptions closes with 4003', async () => {
    const s = await sys({ limits: { maxSubscriptions: 2 } });
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'topic', target: 'a' });
    await c.request({ op: 'subscribe', id: 2, kind: 'topic', target: 'b' });
    // an unsubscribe frees its place
    await c.request({ op: 'unsubscribe', id: 2 });
    expect(await c.request({ op: 'subscribe', id: 3, kind: 'topic', target: 'c' })).toEqual({
      op: 'ok',
      id: 3,
    });
    c.send({ op: 'subscribe', id: 4, kind: 'topic', target: 'd' });
    expect((await c.waitClose()).code).toBe(4003);
  });

  it('an ended subscription frees its id and its place under maxSubscriptions', async () => {
    const s = await sys({ limits: { maxSubscriptions: 1 } });
    const c = await connect(s);
    for (let round = 0; round < 3; round++) {
      expect(
        await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/nobody' }),
      ).toEqual({ op: 'ok', id: 1 });
      expect(await c.next((f) => f.id === 1 && f.op === 'ended')).toMatchObject({
        reason: 'unknown-actor',
      });
    }
    expect(await c.request({ op: 'subscribe', id: 2, kind: 'topic', target: 'a' })).toEqual({
      op: 'ok',
      id: 2,
    });
    c.send({ op: 'subscribe', id: 3, kind: 'topic', target: 'b' });
    expect((await c.waitClose()).code).toBe(4003);
  });

  it('more than maxPendingAsks closes with 4007', async () => {
    const s = await sys({ limits: { maxPendingAsks: 2 } });
    const c = await connect(s);
    for (let i = 1; i <= 3; i++)
      c.send({
        op: 'ask',
        id: i,
        target: '/user/board',
        message: { type: 'never' },
        timeoutMs: 10_000,
      });
    expect((await c.waitClose()).code).toBe(4007);
  });

  it('an idle connection closes with 4005; one with a subscription is not idle', async () => {
    const s = await sys({ limits: { idleTimeoutMs: 200 } });
    const busy = await connect(s);
    await busy.request({ op: 'subscribe', id: 1, kind: 'topic', target: 'a' });
    const idle = await connect(s);
    expect((await idle.waitClose()).code).toBe(4005);
    expect(busy.close).toBeUndefined();
    await busy.alive();
  });

  it('a connection that does not answer pings is terminated without a close frame', async () => {
    const s = await sys({ limits: { heartbeatMs: 100 } });
    const r = await upgrade(s.port, {
      keep: true,
      headers: { Authorization: 'Bearer alice', 'Sec-WebSocket-Protocol': 'troupe.v1' },
    });
    expect(r.status).toBe(101);
    const socket = r.socket!;
    const got: Buffer[] = [r.head!];
    socket.on('data', (c: Buffer) => got.push(c));
    let ended = false;
    socket.on('close', () => (ended = true));
    await until(() => (ended ? true : undefined), 'the socket to close');
    const ops = opcodes(Buffer.concat(got));
    expect(ops[0]).toBe(0x2); // the welcome, binary
    expect(ops).toContain(0x9); // a ping
    expect(ops).not.toContain(0x8); // no close frame
  });

  it('a slow consumer is closed with 4006', async () => {
    const s = await sys({ limits: { maxBufferedBytes: 64 * 1024 } });
    const c = await connect(s);
    await c.request({ op: 'subscribe', id: 1, kind: 'topic', target: 'flood' });
    await until(
      () => (s.system.topics.subscribers('flood').length > 0 ? true : undefined),
      'the subscription on the node',
    );
    c.ws.pause();
    const chunk = 'x'.repeat(32 * 1024);
    for (let i = 0; i < 2000 && c.close === undefined; i++) {
      s.system.topics.publish('flood', { chunk, i });
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    c.ws.resume();
    expect((await c.waitClose(10_000)).code).toBe(4006);
  });

  it('at shutdown each subscription gets ended shutdown, then the connection closes with 1001', async () => {
    const s = await start();
    const c = await Client.connect(s.port, { token: 'alice' });
    clients.push(c);
    await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    await c.request({ op: 'subscribe', id: 2, kind: 'events', target: '/user/board' });
    await c.request({ op: 'subscribe', id: 3, kind: 'topic', target: 'news' });
    await s.system.shutdown();
    const close = await c.waitClose();
    expect(close.code).toBe(1001);
    for (const id of [1, 2, 3])
      expect(c.frames.filter((f) => f.id === id && f.op === 'ended')).toEqual([
        { op: 'ended', id, reason: 'shutdown' },
      ]);
  });

  it('an upgrade during shutdown is refused with 503 and Retry-After: 1', async () => {
    const s = await start();
    const c = await Client.connect(s.port, { token: 'alice' });
    clients.push(c);
    // the upgrade is made while shutdown() runs (its first steps are synchronous)
    const done = s.system.shutdown();
    const r = await upgrade(s.port, {
      headers: { Authorization: 'Bearer alice', 'Sec-WebSocket-Protocol': 'troupe.v1' },
    }).catch((e: unknown) => e);
    await done;
    expect(r).toMatchObject({ status: 503, headers: { 'retry-after': '1' } });
  });
});

describe('§7 a session, frame by frame', () => {
  it('runs as the document shows', async () => {
    const s = await sys();
    const c = await connect(s, { token: undefined, subprotocolToken: 'alice' });
    await c.request({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    const st = await c.next((f) => f.id === 1 && f.op === 'state');
    expect(
      await c.request({ op: 'send', id: 2, target: '/user/board', message: { type: 'inc' } }),
    ).toEqual({
      op: 'ok',
      id: 2,
    });
    const p = await c.next((f) => f.id === 1 && f.op === 'patch');
    expect(p.patch).toEqual([{ op: 'replace', path: '/n', value: 1 }]);
    const r = await c.request({
      op: 'ask',
      id: 3,
      target: '/user/board',
      message: { type: 'get' },
      timeoutMs: 2000,
    });
    expect(r).toEqual({ op: 'reply', id: 3, value: { n: 1, log: [] } });
    c.end();
    await c.closed;
    const again = await connect(s, { token: undefined, subprotocolToken: 'alice' });
    expect(
      await again.request({
        op: 'subscribe',
        id: 1,
        kind: 'snapshot',
        target: '/user/board',
        since: { epoch: st.epoch, version: p.version },
      }),
    ).toEqual({ op: 'ok', id: 1 });
    await again.request({ op: 'send', id: 2, target: '/user/board', message: { type: 'inc' } });
    const f: Frame = await again.next((x) => x.id === 1 && (x.op === 'patch' || x.op === 'state'));
    expect(f).toMatchObject({ op: 'patch', epoch: st.epoch, base: p.version });
  });
});
