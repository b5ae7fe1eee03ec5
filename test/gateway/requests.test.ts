/**
 * What the gateway answers, request by request, where protocol/CLIENT-PROTOCOL.md says so:
 * messages that are not data, targets and topic names, sends to nobody, refused keys, nesting
 * depth and the cap on the frames it sends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { fromReceive } from '../../index.ts';
import {
  CLIENT_CLOSE,
  DEFAULT_CLIENT_DECODE_LIMITS,
  InvalidRequestError,
  MAX_TARGET_LENGTH,
  toData,
} from '../../protocol/client-protocol.ts';
import { MAX_OUTBOUND_FRAME_BYTES } from '../../runtime/gateway/connection.ts';
import { MAX_TOPIC_LENGTH } from '../../runtime/topics/topics.ts';
import {
  rawClient,
  startGateway,
  type GatewayHarness,
  type RawClient,
} from '../support/gateway.ts';

/** msgpack as any client library writes it (NaN and ±Infinity as float64, as msgpack allows). */
const packr = new Packr({ useRecords: false });

/** A map nested `levels` deep, itself included: `{ a: { a: … { a: 1 } } }`. */
function nested(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

describe('gateway requests', () => {
  let h: GatewayHarness;
  const got: unknown[] = [];
  /** Set by a test: what the `big` actor's state and replies are. */
  let big: unknown = 'small';

  beforeAll(async () => {
    h = await startGateway({ limits: { messagesPerSecond: 10_000, burst: 10_000 } });
    h.system.spawn(
      fromReceive(null, (s: null, m: unknown, ctx) => {
        got.push(m);
        if (ctx.replyTo !== undefined) ctx.reply(m);
        return s;
      }),
      { name: 'echo' },
    );
    h.system.spawn(
      fromReceive<unknown, unknown, unknown>('small', (_s, m, ctx) => {
        if (ctx.replyTo !== undefined) ctx.reply(big);
        return m === 'grow' ? big : 'small';
      }),
      { name: 'big' },
    );
  });
  afterAll(() => h.close());

  async function open(): Promise<RawClient> {
    return rawClient(h.url, { token: 'alice' });
  }

  /** Sends raw msgpack, then a ping: the connection is open when its pong comes. */
  async function stillOpen(c: RawClient, id: number): Promise<void> {
    c.send({ op: 'ping', id });
    await c.next((f) => f.op === 'pong' && f.id === id);
  }

  const errorOf = (c: RawClient, id: number) =>
    c.next((f) => f.op === 'error' && f.id === id) as Promise<{ code: string; message: string }>;

  it('answers a message holding NaN or ±Infinity with bad-message; the connection stays', async () => {
    const c = await open();
    const before = got.length;
    const bad: [number, unknown][] = [
      [1, { op: 'send', id: 1, target: '/user/echo', message: NaN }],
      [2, { op: 'send', id: 2, target: '/user/echo', message: { deep: [1, { x: Infinity }] } }],
      [3, { op: 'ask', id: 3, target: '/user/echo', message: [-Infinity] }],
      [4, { op: 'ask', id: 4, target: '/user/echo', message: { n: 1e308 * 10 } }],
    ];
    for (const [, frame] of bad) c.ws.send(packr.pack(frame));
    for (const [id] of bad) expect((await errorOf(c, id)).code).toBe('bad-message');
    await stillOpen(c, 99);
    // nothing reached the actor; a finite message does
    expect(got.length).toBe(before);
    c.ws.send(packr.pack({ op: 'ask', id: 5, target: '/user/echo', message: { n: 1e308 } }));
    expect(await c.next((f) => f.op === 'reply' && f.id === 5)).toMatchObject({
      value: { n: 1e308 },
    });
    c.ws.close();
  });

  it('closes with 4000 for a non-finite number outside a message (an id, a timeout)', async () => {
    for (const frame of [
      { op: 'ping', id: NaN },
      { op: 'ask', id: 1, target: '/user/echo', message: 1, timeoutMs: Infinity },
      {
        op: 'subscribe',
        id: 1,
        kind: 'snapshot',
        target: '/user/echo',
        since: { epoch: 'e', version: NaN },
      },
    ]) {
      const c = await open();
      c.ws.send(packr.pack(frame));
      expect((await c.closed).code).toBe(CLIENT_CLOSE.badFrame);
    }
  });

  it('answers ok to a send to a missing actor, failed to an ask of it', async () => {
    const c = await open();
    const dead = h.system.deadLetters.count;
    c.send({ op: 'send', id: 1, target: '/user/nobody', message: 'hi' });
    expect(await c.next((f) => 'id' in f && f.id === 1)).toEqual({ op: 'ok', id: 1 });
    expect(h.system.deadLetters.count).toBe(dead + 1);
    c.send({ op: 'ask', id: 2, target: '/user/nobody', message: 'hi' });
    expect((await errorOf(c, 2)).code).toBe('failed');
    c.ws.close();
  });

  it('refuses every bad topic name and target with one code, bad-target', async () => {
    const c = await open();
    const topics = ['', 'x'.repeat(MAX_TOPIC_LENGTH + 1), 'x'.repeat(MAX_TARGET_LENGTH + 1)];
    let id = 0;
    for (const t of topics) {
      c.send({ op: 'subscribe', id: ++id, kind: 'topic', target: t });
      expect((await errorOf(c, id)).code, `topic of ${t.length}`).toBe('bad-target');
    }
    c.send({ op: 'subscribe', id: ++id, kind: 'topic', target: 'x'.repeat(MAX_TOPIC_LENGTH) });
    expect(await c.next((f) => 'id' in f && f.id === id)).toEqual({ op: 'ok', id });
    for (const t of ['', `/user/${'x'.repeat(MAX_TARGET_LENGTH)}`]) {
      c.send({ op: 'send', id: ++id, target: t, message: 1 });
      expect((await errorOf(c, id)).code, `target of ${t.length}`).toBe('bad-target');
    }
    await stillOpen(c, 999);
    c.ws.close();
  });

  it('refuses a __proto_ key (msgpackr’s renaming of __proto__) and __proto__ itself: 4000', async () => {
    for (const key of ['__proto_', '__proto__', 'constructor', 'prototype']) {
      const c = await open();
      c.ws.send(
        packr.pack({ op: 'send', id: 1, target: '/user/echo', message: { [key]: { x: 1 } } }),
      );
      expect((await c.closed).code, key).toBe(CLIENT_CLOSE.badFrame);
    }
  });

  it('counts nesting from the frame’s own map: a message may be maxDepth − 1 levels deep', async () => {
    const max = DEFAULT_CLIENT_DECODE_LIMITS.maxDepth - 1;
    const c = await open();
    c.send({ op: 'ask', id: 1, target: '/user/echo', message: nested(max) });
    expect(await c.next((f) => 'id' in f && f.id === 1)).toMatchObject({ op: 'reply' });
    c.send({ op: 'send', id: 2, target: '/user/echo', message: nested(max + 1) });
    expect((await c.closed).code).toBe(CLIENT_CLOSE.badFrame);
    // the SDK's toData draws the same line (a date's { $date } counts as a level)
    expect(() => toData(nested(max))).not.toThrow();
    expect(() => toData(nested(max + 1))).toThrow(InvalidRequestError);
    let deepDate: unknown = new Date(0);
    for (let i = 0; i < max - 1; i++) deepDate = { a: deepDate };
    expect(() => toData(deepDate)).not.toThrow();
    expect(() => toData({ a: deepDate })).toThrow(InvalidRequestError);
  });

  it('sends no frame over the SDK’s cap: a big reply is not-serializable, a big snapshot ends', async () => {
    const c = await open();
    c.send({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/big' });
    await c.next((f) => f.op === 'state' && f.id === 1);
    big = 'x'.repeat(MAX_OUTBOUND_FRAME_BYTES);
    c.send({ op: 'ask', id: 2, target: '/user/big', message: 'grow' });
    expect((await errorOf(c, 2)).code).toBe('not-serializable');
    expect(await c.next((f) => f.op === 'ended' && f.id === 1)).toMatchObject({
      reason: 'not-serializable',
    });
    big = 'small';
    await stillOpen(c, 3);
    c.ws.close();
  });
});
