/**
 * The built-in parts as extensions (extension.ts in each part): `createSystem({ extensions:
 * [shards(…), nodes(…), cluster(…), gateway(…)] })` does what the flat options did, each part
 * checks its own options naming `<part>.<field>`, and the system's members read them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { threadId } from 'node:worker_threads';
import WebSocket from 'ws';
import {
  cluster,
  createSystem,
  fromReceive,
  gateway,
  gatewayExtension,
  InvalidOptionError,
  nodes,
  nodesExtension,
  shards,
  type ActorRef,
  type ActorSystem,
  type Address,
} from '../../index.ts';
import { counter, type CounterMsg } from '../fixtures/shard-behaviours.ts';
import { clusterName, dropCluster, REDIS_URL } from '../../bench/cluster/redis.ts';
import { until } from '../support/until.ts';
import { SUBPROTOCOL } from '../../protocol/client-protocol.ts';

const SECRET = 'parts-as-extensions-secret';
const systems: ActorSystem[] = [];
const clusters: string[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
  for (const c of clusters.splice(0)) await dropCluster(c);
});

function system(options: Parameters<typeof createSystem>[0]): ActorSystem {
  const s = createSystem(options);
  systems.push(s);
  return s;
}

function refusedAt(make: () => unknown, field: string): void {
  let error: unknown;
  try {
    make();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidOptionError);
  expect((error as InvalidOptionError).field).toBe(field);
}

const adder = fromReceive<number, { n: number }, number>(0, (sum, m, ctx) => {
  ctx.reply(sum + m.n);
  return sum + m.n;
});

describe('parts as extensions', () => {
  it('shards(…) runs actors on worker threads', async () => {
    const s = system({ extensions: [shards({ count: 2 })] });
    expect(s.shards!.count).toBe(2);
    const c = s.spawn(counter, { shard: 1 }) as ActorRef<CounterMsg, unknown>;
    c.tell({ type: 'inc' });
    await expect(c.ask({ type: 'get' }, { timeout: 5_000 })).resolves.toBe(1);
    await expect(c.ask({ type: 'where' }, { timeout: 5_000 })).resolves.not.toBe(threadId);
    // one shard: no threads, no routes
    expect(system({ extensions: [shards({ count: 1 })] }).shards).toBeNull();
  });

  it('nodes(…) links two nodes: an ask crosses, and fails at once when its node goes down', async () => {
    const a = system({ nodeId: 'a', extensions: [nodes({ node: { listen: 0 }, secret: SECRET })] });
    await a.nodeReady;
    const port = a.findExtension(nodesExtension)!.runtime.net.port;
    const b = system({
      nodeId: 'b',
      extensions: [
        nodes({
          node: { name: 'b' },
          peers: [{ name: 'a', url: `ws://127.0.0.1:${port}` }],
          secret: SECRET,
        }),
      ],
    });
    await b.nodeReady;
    await until(() => a.nodes!.net.isUp('b') && b.nodes!.net.isUp('a'));
    a.spawn(adder, { name: 'adder' });
    const remote = b.refOf('troupe://a/user/adder' as Address) as ActorRef<{ n: number }, number>;
    await expect(remote.ask({ n: 2 })).resolves.toBe(2);
    a.spawn(
      fromReceive<null, unknown>(null, (s) => s),
      { name: 'mute' },
    );
    const mute = b.refOf('troupe://a/user/mute' as Address);
    const pending = mute.ask('anyone?', { timeout: 60_000 });
    await a.shutdown();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_NODE_DOWN' });
  });

  it('cluster(…) with nodes(…) places entities across its members', async () => {
    const name = clusterName();
    clusters.push(name);
    const member = async (id: string): Promise<ActorSystem> => {
      const s = system({
        nodeId: id,
        extensions: [
          cluster({ redis: REDIS_URL, name, heartbeatMs: 500, leaveOnSigterm: false }),
          nodes({ node: { listen: 0 }, secret: SECRET }),
        ],
      });
      s.define('adder', adder);
      await s.nodeReady;
      return s;
    };
    const a = await member('a');
    const b = await member('b');
    await until(() => a.nodes!.net.isUp('b') && b.nodes!.net.isUp('a'), 5_000);
    expect(a.cluster).not.toBeNull();
    // the same entity answers from either node, its state in one activation
    const fromA = a.entity<{ n: number }, number>('adder', 'k');
    const fromB = b.entity<{ n: number }, number>('adder', 'k');
    await expect(fromA.ask({ n: 1 })).resolves.toBe(1);
    await expect(fromB.ask({ n: 2 })).resolves.toBe(3);
  });

  it('gateway(…) listens, serves clients, and is told at shutdown', async () => {
    const s = system({
      extensions: [
        gateway({ listen: 0, authenticate: () => ({ id: 'u' }), authorize: () => true }),
      ],
    });
    const g = s.findExtension(gatewayExtension)!;
    expect(s.gateway).toBe(g);
    await g.ready;
    const ws = new WebSocket(g.url, SUBPROTOCOL);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    await s.shutdown();
    expect(await closed).toBe(1001);
  });

  it('checks each part’s options when it is configured, naming <part>.<field>', () => {
    refusedAt(() => shards({ count: 0 }), 'shards.count');
    refusedAt(
      () => shards({ limits: { maxOldGenerationSizeMb: -1 } }),
      'shards.limits.maxOldGenerationSizeMb',
    );
    refusedAt(() => nodes({ node: { listen: 70_000 }, secret: SECRET }), 'nodes.node.listen.port');
    refusedAt(() => nodes({ node: {}, secret: 'short' }), 'nodes.secret');
    refusedAt(() => cluster({ redis: 'http://x', name: 'c' }), 'cluster.redis');
    refusedAt(() => gateway({ authorize: () => true } as never), 'gateway.authenticate');
    // the flat options still name theirs
    refusedAt(() => createSystem({ shards: 0 }), 'options.shards');
    refusedAt(
      () => createSystem({ gateway: { authorize: () => true } as never }),
      'options.gateway.authenticate',
    );
  });

  it('refuses at start what does not fit the system: a node name that is not its id, a cluster without nodes', () => {
    refusedAt(
      () =>
        createSystem({ nodeId: 'a', extensions: [nodes({ node: { name: 'b' }, secret: SECRET })] }),
      'nodes.node.name',
    );
    refusedAt(
      () => createSystem({ extensions: [cluster({ redis: REDIS_URL, name: clusterName() })] }),
      'cluster',
    );
  });
});
