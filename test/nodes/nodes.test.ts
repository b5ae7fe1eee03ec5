/**
 * Nodes linked over WebSocket on loopback: refs to another node's actors work like any other
 * (tell, ask, watch, stop, snapshot subscriptions), FIFO per pair, and a node that goes away
 * is seen: its watchers get `node-down`, asks waiting on it fail at once, messages to it are
 * dead letters (`node-unreachable`). Two systems in this process for most; a node in a child
 * process for the one killed with SIGKILL.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  createSystem,
  fromReceive,
  InvalidOptionError,
  type ActorRef,
  type ActorSystem,
  type DeadLetter,
  type Terminated,
} from '../../index.ts';
import { NodeDownError } from '../../runtime/nodes/node.ts';
import {
  counter as shardCounter,
  makeRecorder,
  sender,
  type CounterMsg as ShardCounterMsg,
  type RecorderMsg,
  type SenderMsg,
} from '../fixtures/shard-behaviours.ts';
import { until } from '../support/until.ts';

const SECRET = 'a-secret-of-16-chars-or-more';
const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});

/** Node `a` listening, node `b` dialling it; resolves when they are linked. */
async function pair(
  link: Record<string, number> = {},
  shardsOfA = 1,
): Promise<[ActorSystem, ActorSystem]> {
  const a = createSystem({ node: { name: 'a' }, secret: SECRET, link, shards: shardsOfA });
  systems.push(a);
  await a.nodeReady;
  const b = createSystem({
    node: { name: 'b' },
    peers: [{ name: 'a', url: `ws://127.0.0.1:${a.nodes!.net.port}` }],
    secret: SECRET,
    link,
  });
  systems.push(b);
  await b.nodeReady;
  await until(() => a.nodes!.net.isUp('b') && b.nodes!.net.isUp('a'));
  return [a, b];
}

type CounterMsg = { type: 'inc'; by?: number } | { type: 'get' } | { type: 'stop' };

const counter = fromReceive<number, CounterMsg, number>(0, (n, m, ctx) => {
  if (m.type === 'inc') return n + (m.by ?? 1);
  if (m.type === 'stop') ctx.stop();
  else ctx.reply(n);
  return n;
});

describe('nodes', () => {
  it('tells and asks an actor of another node through its address, and replies come back', async () => {
    const [a, b] = await pair();
    a.spawn(counter, { name: 'counter' });
    const remote = b.refOf('troupe://a/user/counter' as never) as ActorRef<CounterMsg, number>;
    remote.tell({ type: 'inc' });
    remote.tell({ type: 'inc', by: 41 });
    await expect(remote.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(42);
  });

  it('carries refs inside messages: an actor of a answers an actor of b that it got in a message', async () => {
    const [a, b] = await pair();
    const got: unknown[] = [];
    const inbox = b.spawn(
      fromReceive<null, unknown>(null, (s, m) => {
        got.push(m);
        return s;
      }),
      { name: 'inbox' },
    );
    a.spawn(
      fromReceive<null, { replyTo: ActorRef<string> }>(null, (s, m) => {
        m.replyTo.tell('hello from a');
        return s;
      }),
      { name: 'greeter' },
    );
    b.refOf('troupe://a/user/greeter' as never).tell({ replyTo: inbox });
    await until(() => got.length === 1);
    expect(got).toEqual(['hello from a']);
  });

  it('keeps FIFO per pair of actors across the link, whatever the interleaving', async () => {
    const [a, b] = await pair();
    const seen = new Map<string, number[]>();
    a.spawn(
      fromReceive<null, { from: string; n: number }>(null, (s, m) => {
        const l = seen.get(m.from) ?? [];
        l.push(m.n);
        seen.set(m.from, l);
        return s;
      }),
      { name: 'sink' },
    );
    const sink = b.refOf('troupe://a/user/sink' as never);
    const senders = ['s0', 's1', 's2'].map((name) =>
      b.spawn(
        fromReceive<number, number>(0, (next, count) => {
          for (let i = 0; i < count; i++) sink.tell({ from: name, n: next + i });
          return next + count;
        }),
        { name },
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 20 })), {
          minLength: 1,
          maxLength: 30,
        }),
        async (steps) => {
          seen.clear();
          const sent = [0, 0, 0];
          const base = [...sent];
          void base;
          for (const [who, count] of steps) {
            senders[who]!.tell(count);
            sent[who]! += count;
          }
          const total = sent.reduce((x, y) => x + y, 0);
          await until(() => [...seen.values()].reduce((x, l) => x + l.length, 0) === total);
          for (const [, l] of seen)
            for (let i = 1; i < l.length; i++) expect(l[i]).toBe(l[i - 1]! + 1);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('watches, stops and subscribes across nodes', async () => {
    const [a, b] = await pair();
    a.spawn(counter, { name: 'c' });
    const remote = b.refOf('troupe://a/user/c' as never) as ActorRef<CounterMsg, number>;
    const snapshots: unknown[] = [];
    b.subscribe(remote, (u) => u.type === 'troupe.snapshot' && snapshots.push(u.snapshot));
    const notices: Terminated[] = [];
    b.spawn(
      fromReceive<null, Terminated | 'go'>(
        (ctx) => {
          ctx.watch(remote);
          return null;
        },
        (s, m) => {
          if (m !== 'go') notices.push(m);
          return s;
        },
      ),
      { name: 'watcher' },
    );
    remote.tell({ type: 'inc' });
    await until(() => snapshots.includes(1));
    remote.tell({ type: 'stop' });
    await until(() => notices.length === 1);
    expect(notices[0]).toMatchObject({ type: 'troupe.terminated', reason: 'normal' });
    expect(notices[0]!.ref.address).toBe('troupe://a/user/c');
  });

  it('a node that goes: its watchers get node-down, asks waiting on it fail at once, later messages are dead letters', async () => {
    const [a, b] = await pair({ heartbeatMs: 50, heartbeatMisses: 3 });
    a.spawn(
      fromReceive<null, string>(null, (s) => s), // never answers
      { name: 'mute' },
    );
    const mute = b.refOf('troupe://a/user/mute' as never) as ActorRef<string, string>;
    const notices: Terminated[] = [];
    b.spawn(
      fromReceive<null, Terminated>(
        (ctx) => {
          ctx.watch(mute);
          return null;
        },
        (s, m) => {
          notices.push(m);
          return s;
        },
      ),
    );
    const dead: DeadLetter[] = [];
    b.deadLetters.subscribe((d) => dead.push(d));
    await new Promise((r) => setTimeout(r, 50)); // the watch has crossed
    const waiting = mute.ask('anything', { timeout: 30_000 });
    const t0 = Date.now();
    // the node's links go, its actors do not stop (a stopping node would tell its watchers
    // `shutdown` first): as a node cut off or killed is seen
    await a.nodes!.net.close();
    await expect(waiting).rejects.toBeInstanceOf(NodeDownError);
    expect(Date.now() - t0).toBeLessThan(5_000);
    await until(() => notices.length === 1);
    expect(notices[0]).toMatchObject({ reason: 'node-down' });
    mute.tell('after');
    await until(() => dead.some((d) => d.reason === 'node-unreachable'));
    await new Promise((r) => setTimeout(r, 50));
    expect(notices).toHaveLength(1);
  });

  it('a watched actor that stops tells its watchers once, even when its node goes after', async () => {
    const [a, b] = await pair();
    a.spawn(counter, { name: 'c' });
    const remote = b.refOf('troupe://a/user/c' as never) as ActorRef<CounterMsg, number>;
    const notices: Terminated[] = [];
    b.spawn(
      fromReceive<null, Terminated>(
        (ctx) => {
          ctx.watch(remote);
          return null;
        },
        (s, m) => {
          notices.push(m);
          return s;
        },
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    await a.shutdown();
    await until(() => !b.nodes!.net.isUp('a'));
    await new Promise((r) => setTimeout(r, 50));
    expect(notices.map((n) => n.reason)).toEqual(['shutdown']);
  });

  it('reaches other nodes from actors on worker shards, and is reached there (through the main thread)', async () => {
    const [a, b] = await pair({}, 2);
    // an actor on a's worker shard tells b's recorder, in order
    const rec = b.spawn(makeRecorder(), { name: 'rec' });
    const s = a.spawn(sender, { shard: 1 }) as ActorRef<SenderMsg, number>;
    const recOfA = a.refOf('troupe://b/user/rec' as never) as ActorRef<RecorderMsg>;
    expect(await s.ask({ type: 'send', to: recOfA, name: 'w', count: 200 })).toBe(200);
    let items: { from: string; seq: number }[] = [];
    for (let t0 = Date.now(); items.length < 200 && Date.now() - t0 < 5_000;) {
      await new Promise((r) => setTimeout(r, 10)); // a turn for the sockets
      items = (await rec.ask({ type: 'dump' })) as { from: string; seq: number }[];
    }
    expect(items.map((x) => x.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    // it asks b's counter from the worker: the reply finds its way back to the worker
    b.spawn(counter, { name: 'counter' }).tell({ type: 'inc', by: 41 });
    const counterOfA = a.refOf('troupe://b/user/counter' as never) as ActorRef<
      ShardCounterMsg,
      number
    >;
    expect(await s.ask({ type: 'ask', to: counterOfA }, { timeout: 5_000 })).toBe(41);
    // b reaches an actor of a's worker shard by its address
    a.spawn(shardCounter, { shard: 1, name: 'wc' });
    const wc = b.refOf('troupe://a/user/wc' as never) as ActorRef<ShardCounterMsg, number>;
    wc.tell({ type: 'inc' });
    wc.tell({ type: 'inc' });
    expect(await wc.ask({ type: 'get' }, { timeout: 5_000 })).toBe(2);
    const where = await wc.ask({ type: 'where' }, { timeout: 5_000 });
    expect(where).not.toBe(0); // a worker thread's id, not the main thread's
  });

  it('advertises its listen address, or the URL it is given', async () => {
    const [a] = await pair();
    expect(a.nodes!.net.advertise).toBe(`ws://127.0.0.1:${a.nodes!.net.port}`);
    const c = createSystem({
      node: { name: 'c', advertise: 'wss://c.example:7400' },
      secret: SECRET,
    });
    systems.push(c);
    await c.nodeReady;
    expect(c.nodes!.net.advertise).toBe('wss://c.example:7400');
  });

  it('refuses bad node options at start, naming the field', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ node: { name: 'a' } }, 'options.secret'],
      [{ node: { name: 'a' }, secret: 'short' }, 'options.secret'],
      [{ node: { name: 'a b' }, secret: SECRET }, 'options.node.name'],
      [
        { node: { name: 'a', listen: { port: 70_000 } }, secret: SECRET },
        'options.node.listen.port',
      ],
      [
        { node: { name: 'a' }, secret: SECRET, peers: [{ name: 'b', url: 'http://x' }] },
        'options.peers[0].url',
      ],
      [
        { node: { name: 'a' }, secret: SECRET, peers: [{ name: 'a', url: 'ws://x:1' }] },
        'options.peers[0].name',
      ],
      [{ peers: [] }, 'options.peers'],
      [
        { node: { name: 'a' }, secret: SECRET, link: { heartbeatMs: 0 } },
        'options.link.heartbeatMs',
      ],
      [{ node: { name: 'a' }, secret: SECRET, nodeId: 'b' }, 'options.nodeId'],
      [{ node: { name: 'a', advertise: 'http://x:1' }, secret: SECRET }, 'options.node.advertise'],
      [{ cluster: { redis: 'redis://x', name: 'c' } }, 'options.cluster'],
      [
        { node: { name: 'a' }, secret: SECRET, cluster: { redis: 'nope', name: 'c' } },
        'options.cluster.redis',
      ],
      [
        { node: { name: 'a' }, secret: SECRET, cluster: { redis: 'redis://x', name: '{c}' } },
        'options.cluster.name',
      ],
      [
        {
          node: { name: 'a' },
          secret: SECRET,
          cluster: { redis: 'redis://x', name: 'c', heartbeatMs: 1_000, ttlMs: 1_500 },
        },
        'options.cluster.ttlMs',
      ],
      [
        { node: { name: 'a' }, secret: SECRET, cluster: { redis: 'redis://x', name: 'c', x: 1 } },
        'options.cluster.x',
      ],
    ];
    for (const [o, field] of bad) {
      let e: unknown;
      try {
        createSystem(o as never);
      } catch (error) {
        e = error;
      }
      expect(e, field).toBeInstanceOf(InvalidOptionError);
      expect((e as Error).message, field).toContain(field);
    }
  });

  it('sees a node killed with SIGKILL within the heartbeat bound', async () => {
    const a = createSystem({
      node: { name: 'a' },
      secret: SECRET,
      link: { heartbeatMs: 100, heartbeatMisses: 3 },
    });
    systems.push(a);
    await a.nodeReady;
    const script = `
      import { createSystem, fromReceive } from ${JSON.stringify(new URL('../../index.ts', import.meta.url).href)};
      const s = createSystem({ node: { name: 'z' }, peers: [{ name: 'a', url: 'ws://127.0.0.1:${a.nodes!.net.port}' }],
        secret: ${JSON.stringify(SECRET)}, link: { heartbeatMs: 100, heartbeatMisses: 3 } });
      s.spawn(fromReceive(null, (st) => st), { name: 'idle' });
      await s.nodeReady;
      console.log('READY');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await until(() => a.nodes!.net.isUp('z'), 10_000);
      const idle = a.refOf('troupe://z/user/idle' as never) as ActorRef<string, string>;
      const waiting = idle.ask('never answered', { timeout: 30_000 });
      child.kill('SIGKILL');
      const t0 = Date.now();
      await expect(waiting).rejects.toBeInstanceOf(NodeDownError);
      // a killed process's socket closes at once on loopback; the heartbeat bound (300 ms) is
      // the most it may take
      expect(Date.now() - t0).toBeLessThan(300 + 500);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

/** A TCP proxy on loopback whose connections can be cut, and refused until restored. */
async function cuttableProxy(targetPort: number) {
  const { createServer, connect } = await import('node:net');
  const open = new Set<import('node:net').Socket>();
  let cut = false;
  const server = createServer((client) => {
    if (cut) return client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    open.add(client);
    open.add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as import('node:net').AddressInfo).port,
    cut() {
      cut = true;
      for (const s of open) s.destroy();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise((r) => {
        cut = true;
        for (const s of open) s.destroy();
        server.close(r);
      }),
  };
}

describe('nodes: a link cut and restored', () => {
  it('reconnects and delivers again; what was sent during the cut is in dead letters with its reason', async () => {
    const a = createSystem({ node: { name: 'a' }, secret: SECRET });
    systems.push(a);
    await a.nodeReady;
    const proxy = await cuttableProxy(a.nodes!.net.port);
    const b = createSystem({
      node: { name: 'b' },
      peers: [{ name: 'a', url: `ws://127.0.0.1:${proxy.port}` }],
      secret: SECRET,
    });
    systems.push(b);
    await b.nodeReady;
    try {
      a.spawn(counter, { name: 'c' });
      await until(() => b.nodes!.net.isUp('a'));
      const remote = b.refOf('troupe://a/user/c' as never) as ActorRef<CounterMsg, number>;
      remote.tell({ type: 'inc' });
      await expect(remote.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(1);
      const dead: DeadLetter[] = [];
      b.deadLetters.subscribe((d) => dead.push(d));
      proxy.cut();
      await until(() => !b.nodes!.net.isUp('a'));
      remote.tell({ type: 'inc', by: 100 });
      expect(dead.map((d) => [d.reason, d.message])).toEqual([
        ['node-unreachable', { type: 'inc', by: 100 }],
      ]);
      proxy.restore();
      await until(() => b.nodes!.net.isUp('a'), 10_000);
      remote.tell({ type: 'inc' });
      await expect(remote.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(2);
    } finally {
      await proxy.close();
    }
  });
});

describe('nodes: hostile sockets', () => {
  it('closes a socket declaring a 100 MB frame and one flooding tiny fragments; the node keeps serving its peers', async () => {
    const [a, b] = await pair();
    a.spawn(counter, { name: 'c' });
    const { connect } = await import('node:net');
    const port = a.nodes!.net.port;
    const handshake = (s: import('node:net').Socket) =>
      s.write(
        'GET /troupe/link HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    const closed = (s: import('node:net').Socket) =>
      new Promise<string>((resolve) => {
        let data = '';
        s.on('data', (d: Buffer) => (data += d.toString('latin1')));
        s.on('close', () => resolve(data));
      });
    // a binary frame (masked, as from a client) declaring 100 MB: 127 → 64-bit length
    const big = connect(port, '127.0.0.1');
    const bigDone = closed(big);
    await new Promise((r) => big.on('connect', r));
    handshake(big);
    const header = Buffer.alloc(14);
    header[0] = 0x82;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(100n * 1024n * 1024n, 2);
    big.write(header);
    const bigReply = await bigDone;
    expect(bigReply).toContain('101 Switching Protocols');
    // ws answers with a close frame of code 1009 (message too big) before it ends the socket
    expect(bigReply).toContain('\u0003\u00f1');
    // a flood of empty continuation fragments, never finished
    const flood = connect(port, '127.0.0.1');
    const floodDone = closed(flood);
    await new Promise((r) => flood.on('connect', r));
    handshake(flood);
    const first = Buffer.from([0x02, 0x80, 0, 0, 0, 0]); // binary, not final, masked, empty
    const more = Buffer.from([0x00, 0x80, 0, 0, 0, 0]); // continuation, not final
    flood.write(first);
    const chunk = Buffer.concat(Array.from({ length: 4_096 }, () => more));
    for (let i = 0; i < 8 && !flood.destroyed; i++) flood.write(chunk);
    flood.end();
    await floodDone;
    // the peer link still carries
    const remote = b.refOf('troupe://a/user/c' as never) as ActorRef<CounterMsg, number>;
    remote.tell({ type: 'inc' });
    await expect(remote.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(1);
  });
});

describe('nodes over TLS', () => {
  it('links over wss when a certificate and key are given, and refuses a dialler that does not trust it', async () => {
    const { readFileSync } = await import('node:fs');
    const cert = readFileSync(new URL('../fixtures/tls/cert.pem', import.meta.url));
    const key = readFileSync(new URL('../fixtures/tls/key.pem', import.meta.url));
    const a = createSystem({ node: { name: 'a' }, secret: SECRET, tls: { cert, key } });
    systems.push(a);
    await a.nodeReady;
    a.spawn(counter, { name: 'c' });
    const url = `wss://127.0.0.1:${a.nodes!.net.port}`;
    const b = createSystem({
      node: { name: 'b' },
      peers: [{ name: 'a', url }],
      secret: SECRET,
      tls: { cert, key, ca: cert },
    });
    systems.push(b);
    await b.nodeReady;
    await until(() => b.nodes!.net.isUp('a'));
    const remote = b.refOf('troupe://a/user/c' as never) as ActorRef<CounterMsg, number>;
    remote.tell({ type: 'inc' });
    await expect(remote.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(1);
    // a dialler without the CA: the TLS handshake fails, no link
    const c = createSystem({ node: { name: 'c' }, peers: [{ name: 'a', url }], secret: SECRET });
    systems.push(c);
    await c.nodeReady;
    await new Promise((r) => setTimeout(r, 300));
    expect(c.nodes!.net.isUp('a')).toBe(false);
    expect(a.nodes!.net.isUp('c')).toBe(false);
  });
});
