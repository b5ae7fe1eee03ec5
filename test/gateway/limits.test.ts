import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout } from 'node:timers/promises';
import WebSocket from 'ws';
import { CLIENT_CLOSE, SUBPROTOCOL, encodeFrame } from '../../protocol/client-protocol.ts';
import { connect, type TroupeClient } from '../../protocol/client/node.ts';
import type { ActorRef } from '../../index.ts';
import { board, type BoardMsg } from '../fixtures/gateway-behaviours.ts';
import {
  rawClient,
  startGateway,
  type GatewayHarness,
  type RawClient,
} from '../support/gateway.ts';
import { until } from '../support/until.ts';
import { SimulatedClock } from '../../testing.ts';

/**
 * Each limit, tripped by one connection, closes that connection with its code; a well-behaved
 * client on the same gateway (`bystander`) sees nothing and still gets answers.
 */
describe('gateway limits', () => {
  let h: GatewayHarness;
  let b: ActorRef<BoardMsg>;
  let bystander: TroupeClient;
  const bystanderStates: string[] = [];
  let bystanderUpdates = 0;

  beforeAll(async () => {
    h = await startGateway({
      limits: {
        maxFrameBytes: 4_096,
        maxFragments: 4,
        messagesPerSecond: 20,
        burst: 20,
        maxSubscriptions: 3,
        maxConnectionsPerPrincipal: 2,
        maxPendingAsks: 3,
        idleTimeoutMs: 300,
        heartbeatMs: 150,
        maxBufferedBytes: 64 * 1024,
      },
    });
    b = h.system.spawn(board, { name: 'board' });
    h.system.spawn({ kind: 'mute', init: () => null, receive: (s: null) => s }, { name: 'mute' });
    // carol: no other test connects as carol, so the per-principal cap does not touch her
    bystander = connect(h.url, { token: 'carol' });
    bystander.on('state', (s) => bystanderStates.push(s.state));
    bystander.subscribe('/user/board', () => bystanderUpdates++);
    await bystander.ready;
  });

  afterAll(async () => {
    // the bystander never left 'open', and still gets answers
    expect(bystanderStates).toEqual(['open']);
    await bystander.ping();
    await bystander.close();
    await h.close();
  });

  async function closedWith(c: RawClient): Promise<number> {
    return (await c.closed).code;
  }

  async function bystanderFine(): Promise<void> {
    const before = bystanderUpdates;
    b.tell({ type: 'inc' });
    await until(() => bystanderUpdates > before);
    expect(await bystander.ask('/user/board', { type: 'get' })).toMatchObject({});
  }

  it('a frame over maxFrameBytes: 1009', async () => {
    const c = await rawClient(h.url, { token: 'alice' });
    c.send({ op: 'send', id: 1, target: '/user/board', message: 'x'.repeat(5_000) });
    expect(await closedWith(c)).toBe(CLIENT_CLOSE.tooBig);
    await bystanderFine();
  });

  it('a message in more fragments than maxFragments: 1008', async () => {
    const c = await rawClient(h.url, { token: 'alice' });
    const bytes = encodeFrame({ op: 'ping', id: 1 });
    for (let i = 0; i < 6; i++) c.ws.send(bytes.subarray(0, 1), { fin: false, binary: true });
    expect(await closedWith(c)).toBe(CLIENT_CLOSE.tooManyFragments);
    await bystanderFine();
  });

  it('frames faster than the rate: 4002', async () => {
    const c = await rawClient(h.url, { token: 'alice' });
    for (let i = 0; i < 40; i++) c.send({ op: 'ping', id: i });
    expect(await closedWith(c)).toBe(CLIENT_CLOSE.rateLimited);
    // the frames within the burst were answered
    expect(c.frames.filter((f) => f.op === 'pong').length).toBeGreaterThanOrEqual(19);
    await bystanderFine();
  });

  it('a frame that is not of the protocol: 4000, text frames too', async () => {
    const c = await rawClient(h.url, { token: 'alice' });
    c.ws.send(Buffer.from([0xc1]));
    expect(await closedWith(c)).toBe(CLIENT_CLOSE.badFrame);
    const t = await rawClient(h.url, { token: 'alice' });
    t.ws.send('{"op":"ping","id":1}');
    expect(await closedWith(t)).toBe(CLIENT_CLOSE.badFrame);
    const u = await rawClient(h.url, { token: 'alice' });
    u.send({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board', extra: 1 });
    expect(await closedWith(u)).toBe(CLIENT_CLOSE.badFrame);
    await bystanderFine();
  });

  it('more subscriptions than maxSubscriptions: 4003', async () => {
    const c = await rawClient(h.url, { token: 'alice' });
    for (let i = 1; i <= 4; i++)
      c.send({ op: 'subscribe', id: i, kind: 'snapshot', target: '/user/board' });
    expect(await closedWith(c)).toBe(CLIENT_CLOSE.tooManySubscriptions);
    await bystanderFine();
  });

  it('more connections than maxConnectionsPerPrincipal: 4004 for the one over', async () => {
    const a1 = await rawClient(h.url, { token: 'bob' });
    const a2 = await rawClient(h.url, { token: 'bob' });
    const a3 = new WebSocket(h.url, [SUBPROTOCOL], { headers: { authorization: 'Bearer bob' } });
    const code = await new Promise<number>((r) => a3.on('close', (c) => r(c)));
    expect(code).toBe(CLIENT_CLOSE.tooManyConnections);
    // the first two still work
    a1.send({ op: 'ping', id: 7 });
    a2.send({ op: 'ping', id: 8 });
    await a1.next((f) => f.op === 'pong');
    await a2.next((f) => f.op === 'pong');
    a1.ws.close();
    a2.ws.close();
    await Promise.all([a1.closed, a2.closed]);
    await bystanderFine();
  });

  it('more asks in flight than maxPendingAsks: 4007', async () => {
    const c = await rawClient(h.url, { token: 'alice' });
    for (let i = 1; i <= 4; i++)
      c.send({ op: 'ask', id: i, target: '/user/mute', message: 'hello?', timeoutMs: 10_000 });
    expect(await closedWith(c)).toBe(CLIENT_CLOSE.tooManyAsks);
    await bystanderFine();
  });

  it('a client that does not read is closed as slow: 4006', async () => {
    // its own gateway: the short heartbeat above would cut off a client that does not read first
    const g = await startGateway({ limits: { maxBufferedBytes: 64 * 1024 } });
    try {
      const big = g.system.spawn(board, { name: 'big' });
      const c = await rawClient(g.url, { token: 'alice' });
      const other = connect(g.url, { token: 'bob' });
      let otherUpdates = 0;
      other.subscribe('/user/big', () => otherUpdates++);
      await other.ready;
      c.send({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/big' });
      await c.next((f) => f.op === 'state');
      // stop reading: the node's send buffer fills, once the kernel's buffers are full
      (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const chunk = 'x'.repeat(200_000);
      const slow = () => g.system.gateway!.stats().closed[CLIENT_CLOSE.slowConsumer] ?? 0;
      for (let i = 0; i < 500 && slow() === 0; i++) {
        big.tell({ type: 'set', value: `${i}${chunk}` });
        await setTimeout(20);
      }
      expect(slow()).toBe(1);
      (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      expect(await closedWith(c)).toBe(CLIENT_CLOSE.slowConsumer);
      // the reading client kept up and is still served
      const before = otherUpdates;
      big.tell({ type: 'set', value: 'small' });
      await until(() => otherUpdates > before);
      expect(other.state).toBe('open');
      await other.close();
    } finally {
      await g.close();
    }
  });
});

/**
 * The limits that are times — the idle timeout and the heartbeat — on a simulated clock (the
 * system's): each is tripped at its time exactly, over real sockets.
 */
describe('gateway limits in time (simulated clock)', () => {
  const harnesses: GatewayHarness[] = [];
  afterEach(async () => {
    await Promise.all(harnesses.splice(0).map((g) => g.close()));
  });

  async function gateway(limits: Record<string, number>) {
    const clock = new SimulatedClock();
    const g = await startGateway({ limits }, { clock });
    harnesses.push(g);
    g.system.spawn(board, { name: 'board' });
    return { g, clock };
  }

  it('closes a connection with nothing to do at idleTimeoutMs (4005), not before; one with a subscription stays', async () => {
    const { g, clock } = await gateway({ idleTimeoutMs: 300, heartbeatMs: 600_000 });
    const idle = await rawClient(g.url, { token: 'alice' });
    const busy = await rawClient(g.url, { token: 'bob' });
    busy.send({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/board' });
    await busy.next((f) => f.op === 'state');
    await clock.advance(299);
    expect(g.system.gateway!.stats().closed[CLIENT_CLOSE.idle]).toBeUndefined();
    await clock.advance(1);
    expect(g.system.gateway!.stats().closed[CLIENT_CLOSE.idle]).toBe(1);
    expect((await idle.closed).code).toBe(CLIENT_CLOSE.idle);
    await clock.advance(3_000);
    expect(g.system.gateway!.stats().closed[CLIENT_CLOSE.idle]).toBe(1);
    busy.send({ op: 'ping', id: 2 });
    await busy.next((f) => f.op === 'pong');
    expect(busy.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('cuts off a client that has not answered a ping by the next beat (1006 on its side); one that answers stays', async () => {
    const { g, clock } = await gateway({ heartbeatMs: 150, idleTimeoutMs: 600_000 });
    const mute = new WebSocket(g.url, [SUBPROTOCOL], {
      headers: { authorization: 'Bearer alice' },
      autoPong: false,
    });
    mute.on('message', () => undefined);
    const muteClosed = new Promise<number>((r) => mute.on('close', (c) => r(c)));
    await new Promise((r) => mute.once('open', r));
    const good = await rawClient(g.url, { token: 'bob' });
    await until(() => g.system.gateway!.stats().connections === 2);
    // the first beat pings both; the answering client's pong is in before its next frame
    const pinged = new Promise((r) => good.ws.once('ping', r));
    await clock.advance(150);
    await pinged;
    good.send({ op: 'ping', id: 1 });
    await good.next((f) => f.op === 'pong' && f.id === 1);
    expect(g.system.gateway!.stats().closed[1006]).toBeUndefined();
    // the next beat finds the mute one's ping unanswered
    await clock.advance(150);
    expect(g.system.gateway!.stats().closed[1006]).toBe(1);
    expect(await muteClosed).toBe(1006);
    good.send({ op: 'ping', id: 2 });
    await good.next((f) => f.op === 'pong' && f.id === 2);
    expect(good.ws.readyState).toBe(WebSocket.OPEN);
  });
});
