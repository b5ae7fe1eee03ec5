/**
 * `npm start`: the swarm (examples/swarm/swarm.ts) on this machine, with the inspector.
 *
 *   npm start                      scripted models: no API key, no Redis, no network
 *   OPENAI_BASE_URL=… OPENAI_API_KEY=… TROUPE_MODEL=… npm start     on that model
 *   PORT=7300 (default), TROUPE_TOKEN (default: a random one, printed)
 *
 * It runs until stopped; Ctrl-C stops it cleanly (actors stopped, sockets closed).
 */
import { randomBytes } from 'node:crypto';
import { createSystem } from '../../index.ts';
import { openAIModel } from '../../actors/agent/index.ts';
import { DEFAULT_TASK, startSwarm, SWARM } from './swarm.ts';

const token = process.env.TROUPE_TOKEN ?? randomBytes(9).toString('base64url');
const port = Number(process.env.PORT ?? 7300);
const real = process.env.OPENAI_BASE_URL !== undefined || process.env.OPENAI_API_KEY !== undefined;

const system = createSystem({
  gateway: {
    listen: { host: '127.0.0.1', port },
    authenticate: (t) => (t === token ? { id: 'you' } : null),
    authorize: () => true,
    inspector: { sampleMs: 500 },
  },
});
try {
  await system.gateway!.ready;
} catch (e) {
  console.error(`troupe: cannot listen on port ${port} (${(e as Error).message}); set PORT`);
  process.exit(1);
}
const swarm = startSwarm(
  system,
  real
    ? {
        model: openAIModel({
          ...(process.env.OPENAI_BASE_URL === undefined
            ? {}
            : { baseURL: process.env.OPENAI_BASE_URL }),
        }),
        modelName: process.env.TROUPE_MODEL ?? 'gpt-4o-mini',
      }
    : {},
);
const url = `http://127.0.0.1:${system.gateway!.port}/inspect`;
console.log(`
troupe swarm — ${real ? `model ${process.env.TROUPE_MODEL ?? 'gpt-4o-mini'}` : 'scripted models (offline)'}

  inspector  ${url}
  token      ${token}

What to look at:
  • ${SWARM}: a supervisor; open it. The planner hands four subtasks to worker-1…4.
  • worker-2 crashes once on purpose: its row shows a restart, the feed says why, and it
    resumes its work from its snapshot.
  • The critic reads the workers' findings on the blackboard and sends one back.
  • The planner then wants to publish: select it and approve (or reject) the call.
  • ${SWARM}/board shows what was published. Send the planner {"type":"task","input":"…"}
    from the page to run again. Ctrl-C stops the swarm.
`);
// a line for tools and tests
console.log(`troupe-swarm ${JSON.stringify({ url, token })}`);
await swarm.started;
swarm.planner.tell({ type: 'task', input: DEFAULT_TASK });

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  console.log('troupe: stopping the swarm…');
  void system.shutdown().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
