import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type TroupeClient } from '../../protocol/client/node.ts';
import { clusterName, dropCluster, redisReachable, REDIS_URL } from '../../bench/cluster/redis.ts';
import { until } from '../support/until.ts';

/**
 * The swarm of `npm start` on two node processes in a cluster on Redis (every member an
 * entity, its snapshot in Redis): the node that runs the planner is killed (SIGKILL) in the
 * middle of the task, and the planner resumes on the other node from its snapshot; the brief
 * is still published. TROUPE_AUTO_APPROVE stands in for the human (the approval in the page
 * is test/e2e/swarm.test.ts's).
 */
const MAIN = new URL('../../examples/swarm/main.ts', import.meta.url).pathname;
const up = await redisReachable();
if (!up) console.warn(`test/e2e/swarm-cluster.test.ts skipped: no Redis at ${REDIS_URL}`);

interface Status {
  readonly calls: readonly { name: string; status: string }[];
}
interface Board {
  readonly published: readonly { title: string; text: string }[];
}

interface Node {
  readonly proc: ChildProcess;
  url: string | null;
}

describe.skipIf(!up)('the swarm on two nodes with Redis', () => {
  const cluster = clusterName();
  const procs: ChildProcess[] = [];
  const clients: TroupeClient[] = [];
  /** Which node holds each member, from the nodes' own lines. */
  const holds: Record<string, string> = {};

  function start(name: string, task: boolean): Node {
    const proc = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        PORT: '0',
        NODE_OPTIONS: '--no-node-snapshot',
        TROUPE_REDIS: REDIS_URL,
        TROUPE_CLUSTER: cluster,
        TROUPE_AUTO_APPROVE: '1',
        TROUPE_TOKEN: 'cluster-test',
        TROUPE_NODE: name,
        ...(task ? {} : { TROUPE_NO_TASK: '1' }),
      },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    procs.push(proc);
    const node: Node = { proc, url: null };
    proc.stdout!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        const u = /^troupe-swarm (\{.*\})/.exec(line);
        if (u !== null) node.url = (JSON.parse(u[1]!) as { url: string }).url;
        const h = /^troupe-swarm-holds (\{.*\})/.exec(line);
        if (h !== null) {
          const { node: at, member } = JSON.parse(h[1]!) as { node: string; member: string };
          holds[member] = at;
        }
      }
    });
    return node;
  }

  const client = (url: string) => {
    const c = connect(url.replace(/^http/, 'ws').replace('/inspect', '/troupe'), {
      token: 'cluster-test',
    });
    clients.push(c);
    return c;
  };

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    for (const p of procs) p.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    await dropCluster(cluster);
  });

  it(
    'finishes, though the node running the planner is killed mid-task',
    { timeout: 90_000 },
    async () => {
      const nodes: Record<string, Node> = { b: start('b', false) };
      await until(() => nodes.b!.url !== null, 15_000);
      nodes.a = start('a', true);
      await until(() => nodes.a!.url !== null && holds.planner !== undefined, 15_000);
      // the planner is in the middle of its task: some subtasks answered, some not
      const a = client(nodes.a.url!);
      let status: Status | null = null;
      const t0 = Date.now();
      while (Date.now() - t0 < 30_000) {
        status = await a
          .ask<Status>('troupe:entity/swarm-planner/main', { type: 'status' }, { timeoutMs: 3_000 })
          .catch(() => null);
        if ((status?.calls.length ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(status?.calls.length).toBeGreaterThan(0);
      const victim = holds.planner!;
      const survivor = victim === 'a' ? 'b' : 'a';
      nodes[victim]!.proc.kill('SIGKILL');
      const c = victim === 'a' ? client(nodes.b!.url!) : a;
      let board: Board | null = null;
      const t1 = Date.now();
      while (Date.now() - t1 < 45_000) {
        board = await c
          .ask<Board>('troupe:entity/swarm-board/main', { type: 'get' }, { timeoutMs: 3_000 })
          .catch(() => null);
        if ((board?.published.length ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(board?.published).toHaveLength(1);
      const brief = board!.published[0]!;
      expect(brief.title).toBe('Agents as supervised actors');
      for (const w of ['worker-1', 'worker-2', 'worker-3', 'worker-4'])
        expect(brief.text).toContain(w);
      // the planner came back on the node that was left, from its snapshot
      expect(holds.planner).toBe(survivor);
    },
  );
});
