/**
 * Hostile peers: a peer that holds the cluster secret, does the handshake and then sends
 * batches by hand (test/nodes/hostile-peer.ts). Each body the node refuses closes that link
 * with 4000 and a log line; nothing reaches an actor, nothing throws out of the node, and the
 * node keeps serving its other peer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSystem, fromReceive, type ActorRef, type ActorSystem } from '../../index.ts';
import {
  CLOSE,
  ENCODED,
  KIND_REPLY,
  KIND_SYSTEM,
  KIND_USER,
  NODE_PROTOCOL_VERSION as V,
} from '../../protocol/node-link.ts';
import { TOPICS_PATH } from '../../runtime/topics/topics.ts';
import { hostilePeer } from './hostile-peer.ts';
import { until } from '../support/until.ts';

const SECRET = 'a-secret-of-16-chars-or-more';
const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});

type CounterMsg = { type: 'inc' } | { type: 'get' };
const counter = fromReceive<number, CounterMsg, number>(0, (n, m, ctx) => {
  if (m.type === 'inc') return n + 1;
  ctx.reply(n);
  return n;
});

/** Node `a` (logging into `log`) with a counter `c` and an entity kind, and node `b` linked to it. */
async function victim(): Promise<{ a: ActorSystem; b: ActorSystem; log: string[] }> {
  const log: string[] = [];
  const logger = {
    info: () => undefined,
    warn: (m: unknown) => log.push(String(m)),
    error: (m: unknown) => log.push(String(m)),
  };
  const a = createSystem({ node: { name: 'a' }, secret: SECRET, logger });
  systems.push(a);
  await a.nodeReady;
  a.spawn(counter, { name: 'c' });
  a.define('tally', counter);
  const b = createSystem({
    node: { name: 'b' },
    peers: [{ name: 'a', url: `ws://127.0.0.1:${a.nodes!.net.port}` }],
    secret: SECRET,
  });
  systems.push(b);
  await b.nodeReady;
  await until(() => a.nodes!.net.isUp('b') && b.nodes!.net.isUp('a'));
  return { a, b, log };
}

const C = 'troupe://a/user/c';
const TALLY = 'troupe:entity/tally/x';
const sys = KIND_SYSTEM | ENCODED;

/** Entries a peer with the secret may send, each of which the node must refuse. */
const REFUSED: [string, unknown[]][] = [
  ['a watch whose watcher is a string', [sys, C, { type: 'watch', watcher: 'troupe://evil/x' }]],
  ['a watch whose watcher is a number', [sys, C, { type: 'watch', watcher: 42 }]],
  ['a watch whose watcher is nil', [sys, C, { type: 'watch', watcher: null }]],
  ['a watch with no watcher', [sys, C, { type: 'watch' }]],
  ['an unwatch whose watcher is an object', [sys, C, { type: 'unwatch', watcher: { a: 1 } }]],
  ['a subscribe whose subscriber is a string', [sys, C, { type: 'subscribe', subscriber: 'x' }]],
  ['a subscribe whose subscriber is a number', [sys, C, { type: 'subscribe', subscriber: 7 }]],
  ['a subscribe whose subscriber is nil', [sys, C, { type: 'subscribe', subscriber: null }]],
  [
    'a subscribe whose events is not true',
    [sys, C, { type: 'subscribe', subscriber: { $ref: 'troupe://evil/s' }, events: 'yes' }],
  ],
  ['an unsubscribe with no subscriber', [sys, C, { type: 'unsubscribe' }]],
  ['a stop with no reason', [sys, C, { type: 'stop' }]],
  ['a stop with a made-up reason', [sys, C, { type: 'stop', reason: 'because' }]],
  [
    'a watch with an extra field',
    [sys, C, { type: 'watch', watcher: { $ref: 'troupe://evil/w' }, x: 1 }],
  ],
  ['a system message that does not cross', [sys, C, { type: 'kill' }]],
  ['a system message with no type', [sys, C, { watcher: { $ref: 'troupe://evil/w' } }]],
  ['a system message that is nil', [sys, C, null]],
  ['a system message that is a string', [sys, C, 'watch']],
  ['a system message not in the ref form', [KIND_SYSTEM, C, { type: 'watch', watcher: 'x' }]],
  ['a watch of an entity whose watcher is nil', [sys, TALLY, { type: 'watch', watcher: null }]],
  ['a ref that is not an address', [sys, C, { type: 'watch', watcher: { $ref: 'nowhere' } }]],
  ['a body with an invalid date', [KIND_USER | ENCODED, C, { $date: 'never' }]],
  ['topics interest that is not names', [KIND_USER, `troupe://a${TOPICS_PATH}`, { interest: [1] }]],
  ['a topics message with no topic', [KIND_USER, `troupe://a${TOPICS_PATH}`, { msg: 1 }]],
  ['a topics message of kind system', [sys, `troupe://a${TOPICS_PATH}`, { type: 'stop' }]],
  ['a reply to the topics', [KIND_REPLY, `troupe://a${TOPICS_PATH}`, { $error: {} }]],
];

describe('a hostile peer with the secret', () => {
  it('gets each malformed system or topics message refused: its link closes (4000) with a log line, the node goes on', async () => {
    const { a, b, log } = await victim();
    for (const [what, entry] of REFUSED) {
      const evil = await hostilePeer(a.nodes!.net.port, SECRET, 'evil');
      const logged = log.length;
      evil.send([V, 'batch', ...entry]);
      expect(await evil.closed, what).toBe(CLOSE.badFrame);
      await until(() => log.length > logged);
      expect(log.slice(logged).join('\n'), what).toMatch(/link from evil closed \(4000\)/);
    }
    // the victim's actors and its other peer are untouched
    const remote = b.refOf(`${C}` as never) as ActorRef<CounterMsg, number>;
    remote.tell({ type: 'inc' });
    await expect(remote.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(1);
    expect(a.actorAt('/user/c')).toBeDefined();
  });

  it('delivers a troupe.terminated notice whose ref is not a ref as an ordinary message, keeping the link', async () => {
    const { a } = await victim();
    const got: unknown[] = [];
    a.spawn(
      fromReceive<null, unknown>(null, (s, m) => {
        got.push(m);
        return s;
      }),
      { name: 'inbox' },
    );
    const evil = await hostilePeer(a.nodes!.net.port, SECRET, 'evil');
    for (const ref of [null, 'troupe://x/y', 5])
      evil.send([
        V,
        'batch',
        KIND_USER,
        'troupe://a/user/inbox',
        { type: 'troupe.terminated', ref },
      ]);
    await until(() => got.length === 3);
    expect(got.map((m) => (m as { ref: unknown }).ref)).toEqual([null, 'troupe://x/y', 5]);
    expect(a.nodes!.net.isUp('evil')).toBe(true);
  });

  it('closes with its code when the reason it quotes is long in UTF-8 (ws throws past 123 bytes)', async () => {
    const { a, b } = await victim();
    const kind = await hostilePeer(a.nodes!.net.port, SECRET, 'evil');
    kind.send([V, '€'.repeat(100)]);
    expect(await kind.closed).toBe(CLOSE.unexpected);
    const bye = await hostilePeer(a.nodes!.net.port, SECRET, 'evil2');
    bye.send([V, 'bye', '€'.repeat(300)]);
    expect(await bye.closed).toBe(1000);
    const remote = b.refOf(C as never) as ActorRef<CounterMsg, number>;
    await expect(remote.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(0);
  });

  it('drops a stop for a guardian or a system actor (it ended the whole node), and keeps the link', async () => {
    const { a, b, log } = await victim();
    const evil = await hostilePeer(a.nodes!.net.port, SECRET, 'evil');
    for (const path of ['/user', '/system', '/system/inspector', '/temp/x'])
      evil.send([V, 'batch', sys, `troupe://a${path}`, { type: 'stop', reason: 'normal' }]);
    await until(
      () => log.filter((l) => /a stop from node evil .* was dropped/.test(l)).length === 4,
    );
    expect(a.state).toBe('running');
    expect(a.nodes!.net.isUp('evil')).toBe(true);
    const remote = b.refOf(C as never) as ActorRef<CounterMsg, number>;
    await expect(remote.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(0);
  });

  it('carries well-formed system messages from the same peer: watch, subscribe, stop', async () => {
    const { a } = await victim();
    const evil = await hostilePeer(a.nodes!.net.port, SECRET, 'evil');
    const watcher = { $ref: 'troupe://evil/user/w' };
    evil.send([V, 'batch', sys, C, { type: 'watch', watcher }]);
    evil.send([V, 'batch', sys, C, { type: 'subscribe', subscriber: watcher, events: true }]);
    evil.send([V, 'batch', sys, C, { type: 'stop', reason: 'normal' }]);
    await until(() => a.actorAt('/user/c') === undefined);
    expect(a.nodes!.net.isUp('evil')).toBe(true);
  });
});
