/**
 * Cluster nodes in processes of their own (bench/cluster/node.ts, forked with IPC), for the
 * tests and the cluster benchmarks: start them, ask their entities, and clean up (every
 * process killed, every cluster's keys swept) with `cleanup()`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dropCluster, REDIS_URL } from './redis.ts';

const NODE = new URL('./node.ts', import.meta.url).pathname;
export const CLUSTER_SECRET = 'cluster-test-secret-16+';

export interface Answer {
  readonly sum: number;
  readonly node: string;
}

export interface ClusterNode {
  readonly name: string;
  readonly child: ChildProcess;
  ask(key: string, msg: unknown, timeoutMs?: number): Promise<Answer>;
  /** First messages to these entities, `window` at a time: the seconds it took. */
  activate(keys: string[], window: number): Promise<number>;
  /** Resolves with the exit code when the process ends. */
  readonly exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
const clusters = new Set<string>();

/** Kills every node started, then sweeps the keys of every cluster used (on `redis`). */
export async function cleanup(redis = REDIS_URL): Promise<void> {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 100));
  for (const n of clusters) await dropCluster(n, redis).catch(() => undefined);
  clusters.clear();
}

export async function startNode(
  name: string,
  cluster: string,
  options: { ttlMs?: number; heartbeatMs?: number; redis?: string } = {},
): Promise<ClusterNode> {
  clusters.add(cluster);
  const config = {
    name,
    cluster,
    secret: CLUSTER_SECRET,
    redis: options.redis ?? REDIS_URL,
    heartbeatMs: options.heartbeatMs ?? 500,
    ttlMs: options.ttlMs ?? 3_000,
  };
  const child = fork(NODE, [JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let seq = 0;
  const waiting = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();
  child.on('message', (m: { id?: number; ok?: boolean; value?: never; error?: string }) => {
    if (m.id === undefined) return;
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.ok) w?.resolve(m.value!);
    else w?.reject(new Error(m.error));
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    void exited.then((code) => reject(new Error(`node ${name} exited (${code})`)));
  });
  const call = <T>(command: Record<string, unknown>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (!child.connected) {
        reject(new Error(`node ${name} is gone`));
        return;
      }
      const id = ++seq;
      waiting.set(id, { resolve: resolve as (v: never) => void, reject });
      child.send({ id, ...command });
    });
  return {
    name,
    child,
    exited,
    ask: (key, msg, timeoutMs = 15_000) =>
      call<Answer>({ op: 'ask', kind: 'tally', key, msg, timeoutMs }),
    activate: (keys, window) => call<number>({ op: 'activate', keys, window }),
  };
}

/** Asks again after each failure (`timeoutMs` each) until `withinMs` has passed. */
export async function askUntil(
  n: ClusterNode,
  key: string,
  msg: unknown,
  withinMs: number,
  timeoutMs = 2_000,
): Promise<Answer> {
  const t0 = performance.now();
  for (;;) {
    try {
      return await n.ask(key, msg, timeoutMs);
    } catch (e) {
      if (performance.now() - t0 > withinMs) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
