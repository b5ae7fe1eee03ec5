/**
 * `npm start`: the swarm (examples/swarm/swarm.ts) on this machine, with the inspector.
 *
 *   npm start                      scripted models: no API key, no Redis, no network
 *   OPENAI_BASE_URL=… OPENAI_API_KEY=… TROUPE_MODEL=… npm start     on that model
 *   TROUPE_REDIS=redis://127.0.0.1:6379 npm start    as a node of a cluster (every member an entity)
 *   npm start -- --nodes 2         two local node processes in a cluster (TROUPE_REDIS, default
 *                                  the local Redis); the second's inspector is on PORT + 1
 *   PORT=7300 (default), TROUPE_TOKEN (default: a random one, printed), TROUPE_NODE (a),
 *   TROUPE_CLUSTER (swarm), TROUPE_SECRET, TROUPE_AUTO_APPROVE=1 (publish without a human)
 *   TROUPE_PUBLIC_ORIGIN: the origin the inspector is browsed at, when it is not the one it
 *                  listens on (http://127.0.0.1:PORT): a proxy's, or http://localhost:PORT
 *
 * It runs until stopped; Ctrl-C stops it cleanly (actors stopped, sockets closed).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cluster, createSystem, gateway, nodes as nodeLinks } from '../../index.ts';
import { openAIModel } from '../../actors/agent/index.ts';
import { DEFAULT_TASK, defineSwarm, startSwarm, SWARM } from './swarm.ts';

const env = process.env;
const nodesArg = process.argv.indexOf('--nodes');
const nodes = nodesArg < 0 ? 1 : Number(process.argv[nodesArg + 1]);
if (!Number.isInteger(nodes) || nodes < 1 || nodes > 8) {
  console.error('troupe: --nodes takes a number from 1 to 8');
  process.exit(2);
}
const redis = env.TROUPE_REDIS ?? (nodes > 1 ? 'redis://127.0.0.1:6379' : undefined);
const token = env.TROUPE_TOKEN ?? randomBytes(9).toString('base64url');
const port = Number(env.PORT ?? 7300);
const nodeName = env.TROUPE_NODE ?? 'a';
const real = env.OPENAI_BASE_URL !== undefined || env.OPENAI_API_KEY !== undefined;
const model = real
  ? {
      model: openAIModel(env.OPENAI_BASE_URL === undefined ? {} : { baseURL: env.OPENAI_BASE_URL }),
      modelName: env.TROUPE_MODEL ?? 'gpt-4o-mini',
    }
  : {};

const system = createSystem({
  ...(redis === undefined ? {} : { nodeId: nodeName }),
  extensions: [
    gateway({
      listen: { host: '127.0.0.1', port },
      // the inspector page's own origin: by default what it listens on, never the Host header
      ...(env.TROUPE_PUBLIC_ORIGIN === undefined ? {} : { publicOrigin: env.TROUPE_PUBLIC_ORIGIN }),
      authenticate: (t) => (t === token ? { id: 'you' } : null),
      authorize: () => true,
      inspector: { sampleMs: 500 },
    }),
    ...(redis === undefined
      ? []
      : [
          nodeLinks({
            node: { listen: 0 },
            secret: env.TROUPE_SECRET ?? 'troupe-swarm-local-secret',
          }),
          cluster({ redis, name: env.TROUPE_CLUSTER ?? 'swarm' }),
        ]),
  ],
});
try {
  await system.gateway!.ready;
  await system.nodeReady;
} catch (e) {
  console.error(`troupe: cannot start (${(e as Error).message}); set PORT, or check TROUPE_REDIS`);
  process.exit(1);
}
const clustered = redis !== undefined;
const defined = clustered
  ? defineSwarm(system, { ...model, autoApprove: env.TROUPE_AUTO_APPROVE === '1' })
  : null;
const swarm = defined ?? startSwarm(system, model);
// in a cluster, members whose node died come back when they next get a message
const stopKeepAlive = defined === null ? () => undefined : defined.keepAlive();

// more local nodes, each its own process in the same cluster
const children: ChildProcess[] = [];
for (let i = 1; i < nodes; i++)
  children.push(
    fork(new URL(import.meta.url).pathname, [], {
      env: {
        ...env,
        TROUPE_NODE: String.fromCharCode(97 + i),
        TROUPE_REDIS: redis,
        TROUPE_TOKEN: token,
        TROUPE_NO_TASK: '1',
        PORT: port === 0 ? '0' : String(port + i),
      },
    }),
  );

const url = `http://127.0.0.1:${system.gateway!.port}/inspect`;
if (env.TROUPE_NO_TASK !== '1')
  console.log(`
troupe swarm — ${real ? `model ${model.modelName}` : 'scripted models (offline)'}${clustered ? `, node ${nodeName} of cluster ${env.TROUPE_CLUSTER ?? 'swarm'} on ${redis}` : ''}

  inspector  ${url}
  token      ${token}

What to look at:
  • ${clustered ? '/system: the members are entities (e.swarm-…), on whichever node holds them' : `${SWARM}: a supervisor; open it`}. The planner hands four subtasks to worker-1…4.
  • worker-2 crashes once on purpose: ${clustered ? 'it comes back from its snapshot' : 'its row shows a restart, the feed says why, and it\n    resumes its work from its snapshot'}.
  • The critic reads the workers' findings on the blackboard and sends one back.
  • The planner then wants to publish: select it and approve (or reject) the call.
  • The board shows what was published. Send the planner {"type":"task","input":"…"}
    from the page to run again. Ctrl-C stops the swarm.
`);
else console.log(`troupe swarm: node ${nodeName}, inspector ${url}`);
// a line for tools and tests
console.log(`troupe-swarm ${JSON.stringify({ url, token, node: nodeName })}`);
if (env.TROUPE_NO_TASK !== '1') {
  await swarm.started;
  // the planner's own task: its answer comes once a human has decided on the publish call
  swarm.planner.ask({ type: 'task', input: DEFAULT_TASK }, { timeout: 24 * 3_600_000 }).then(
    (d) => {
      const done = d as { stopReason?: string };
      console.log(`  planner: task ended (stopReason ${done.stopReason ?? '?'})`);
    },
    () => undefined,
  );
}

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  console.log('troupe: stopping the swarm…');
  stopKeepAlive();
  for (const c of children) c.kill('SIGTERM');
  void system.shutdown().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
