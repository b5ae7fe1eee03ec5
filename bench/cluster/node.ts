/**
 * A cluster node in a process of its own, forked with IPC by the cluster benchmarks
 * (bench/cluster.ts) and the tests, through bench/cluster/nodes.ts: it joins the cluster, defines
 * the `tally` entity kind, sends `{ ready: true }`, and answers commands:
 *
 *   { id, op: 'ask', kind, key, msg, timeoutMs }   → { id, ok, value } or { id, ok: false, error }
 *   { id, op: 'activate', keys, window }            first messages to these entities, `window`
 *                                                   at a time → { id, ok, value: seconds }
 */
import { createSystem, fromReceive } from '../../index.ts';

interface Config {
  readonly name: string;
  readonly cluster: string;
  readonly secret: string;
  readonly redis: string;
  readonly heartbeatMs: number;
  readonly ttlMs: number;
}

const config = JSON.parse(process.argv[2]!) as Config;
const system = createSystem({
  node: { name: config.name, listen: 0 },
  secret: config.secret,
  cluster: {
    redis: config.redis,
    name: config.cluster,
    heartbeatMs: config.heartbeatMs,
    ttlMs: config.ttlMs,
  },
});

type Msg =
  { type: 'add'; n: number } | { type: 'get' } | { type: 'remind'; inMs: number; n: number };
system.define(
  'tally',
  fromReceive<number, Msg, { sum: number; node: string }>(
    0,
    (sum, m, ctx) => {
      if (m.type === 'add') sum += m.n;
      if (m.type === 'remind') ctx.remindAt(Date.now() + m.inMs, { type: 'add', n: m.n });
      ctx.reply({ sum, node: config.name });
      return sum;
    },
    { persist: (s) => s, restore: (s) => s as number },
  ),
);

type Command =
  | {
      readonly id: number;
      readonly op: 'ask';
      readonly kind: string;
      readonly key: string;
      readonly msg: unknown;
      readonly timeoutMs: number;
    }
  | {
      readonly id: number;
      readonly op: 'activate';
      readonly keys: string[];
      readonly window: number;
    };

/** Asks `add 1` of each entity, `window` at a time; resolves with the seconds it took. */
async function activate(keys: string[], window: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const k = keys[next++]!;
      await system.entity('tally', k).ask({ type: 'add', n: 1 }, { timeout: 30_000 });
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, keys.length) }, worker));
  return (performance.now() - t0) / 1000;
}

process.on('message', (c: Command) => {
  const done =
    c.op === 'ask'
      ? system.entity(c.kind, c.key).ask(c.msg, { timeout: c.timeoutMs })
      : activate(c.keys, c.window);
  done.then(
    (value) => process.send!({ id: c.id, ok: true, value }),
    (e: unknown) => process.send!({ id: c.id, ok: false, error: String(e) }),
  );
});

await system.nodeReady;
process.send!({ ready: true, port: system.nodes!.net.port });
