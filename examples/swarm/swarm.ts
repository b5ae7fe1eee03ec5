/**
 * The swarm `npm start` runs: a planner splits a task into subtasks for four workers, which
 * research them with tools (one computes in the sandbox) and post their findings on a shared
 * blackboard (the topic `findings`); a critic reads the blackboard, sends a flawed finding
 * back to its worker, and reports; the planner then publishes the brief, which needs a
 * human's approval (in the inspector). All of them live under one supervisor, share one
 * budget, and keep snapshots (a restarted agent resumes from its own). worker-2's model fails
 * once, on purpose: worker-2 crashes, is restarted by the supervisor, and carries on.
 *
 * Offline it runs on scripted models (deterministic, no network); `openAIModel` makes every
 * agent use a real one (examples/swarm/main.ts).
 */
import {
  fromReceive,
  InMemoryStore,
  supervise,
  type ActorRef,
  type ActorSystem,
  type PersistenceStore,
} from '../../index.ts';
import {
  blackboardTool,
  budgetKeeper,
  codeTool,
  createAgent,
  defineTool,
  scriptedModel,
  type ChatMessage,
  type ModelProvider,
  type ModelRequest,
  type ScriptStep,
} from '../../actors/agent/index.ts';
import type { Behaviour } from '../../runtime/core/behaviour.ts';

export const SWARM = '/user/swarm';
export const WORKERS = ['worker-1', 'worker-2', 'worker-3', 'worker-4'] as const;
export const DEFAULT_TASK = 'Write a short brief: why run LLM agents as supervised actors?';

const NOTES: Record<string, string> = {
  supervision:
    'Erlang/OTP supervisors restart failed processes: "let it crash" keeps the error handling in one place.',
  mailboxes: 'An actor handles one message at a time from its mailbox: no locks, no shared state.',
  statecharts:
    'XState statecharts make an agent’s states explicit: thinking, acting, waiting for a human.',
  budgets:
    'Token and cost budgets cap what a swarm may spend; a call that cannot be covered does not start.',
};

export interface SwarmOptions {
  /** One model for every agent (a real one); default: each role's script. */
  readonly model?: ModelProvider;
  readonly modelName?: string;
  readonly store?: PersistenceStore;
}

export interface Swarm {
  readonly planner: ActorRef<any>;
  readonly board: ActorRef<any>;
  /** Resolves once every member has started (the supervisor starts them in order). */
  readonly started: Promise<void>;
}

const last = (r: ModelRequest): ChatMessage => r.messages.at(-1)!;
const toolResults = (r: ModelRequest): ChatMessage[] => {
  // the results of the model's last step
  const out: ChatMessage[] = [];
  for (let i = r.messages.length - 1; i >= 0 && r.messages[i]!.role === 'tool'; i--)
    out.unshift(r.messages[i]!);
  return out;
};
const taskOf = (r: ModelRequest): string =>
  [...r.messages].reverse().find((m) => m.role === 'user' && m.source.kind === 'user')?.content ??
  '';

/** A worker: search the notes, (worker-4: compute in the sandbox), post, answer. */
function workerScript(name: string): ScriptStep[] {
  let crashed = false;
  return [
    (r) => {
      // worker-2's model connection breaks once, and worker-2 gives up at its first failed
      // call (retry attempts 1): the agent fails, its supervisor restarts it. (A model that
      // refuses a request, a 400, would end the task instead: no restart can mend that.)
      if (name === 'worker-2' && !crashed) {
        crashed = true;
        return {
          error: `${name}: the model connection broke (a planned crash, once)`,
          retryable: true,
        };
      }
      const m = last(r);
      if (m.role === 'user') {
        const topic =
          Object.keys(NOTES).find((k) => m.content.toLowerCase().includes(k)) ?? 'supervision';
        const calls: { name: string; arguments: unknown }[] = [
          { name: 'search_notes', arguments: { topic } },
        ];
        if (name === 'worker-4')
          calls.push({
            name: 'run_code',
            arguments: {
              code: 'const perAgent = [1200, 800, 1500, 900]; return perAgent.reduce((a, b) => a + b, 0);',
            },
          });
        return { toolCalls: calls };
      }
      const results = toolResults(r);
      if (results.some((t) => t.source.kind === 'tool' && t.source.tool === 'post')) {
        // the answer is what it posted
        const asked = [...r.messages]
          .reverse()
          .find((x) => x.role === 'assistant' && x.toolCalls !== undefined);
        const posted = JSON.parse(asked?.toolCalls?.[0]?.arguments ?? '{}') as { content?: string };
        return { content: posted.content ?? '' };
      }
      const found = results.map((t) => t.content).join(' ');
      const revised = taskOf(r).startsWith('Revise')
        ? ' (revised: source cited, OTP design principles)'
        : '';
      const finding = `${name}: ${found}${revised}`;
      return { toolCalls: [{ name: 'post', arguments: { content: finding } }] };
    },
  ];
}

/** The critic: reads the blackboard, sends the one unsourced finding back, reports. */
function criticScript(): ScriptStep[] {
  return [
    (r) => {
      const m = last(r);
      if (m.role === 'user' && m.source.kind === 'user') {
        const posts = r.messages.filter((x) => x.source.kind === 'agent');
        const flawed = posts.find(
          (p) => p.content.includes('worker-3') && !p.content.includes('revised'),
        );
        if (flawed !== undefined)
          return {
            toolCalls: [
              {
                name: 'send_back',
                arguments: {
                  worker: 'worker-3',
                  note: 'Revise: cite a source for the statecharts claim',
                },
              },
            ],
          };
        return { content: `${posts.length} findings read; all sound.` };
      }
      const back = toolResults(r)[0]?.content ?? '';
      return { content: `Sent worker-3 back once; its revision: ${back}. The rest is sound.` };
    },
  ];
}

/** The planner: assign the four subtasks, have the critic review, publish. */
function plannerScript(): ScriptStep[] {
  return [
    (r) => {
      const results = toolResults(r);
      const m = last(r);
      if (m.role === 'user')
        return {
          toolCalls: ['supervision', 'mailboxes', 'statecharts', 'budgets'].map((topic, i) => ({
            name: 'assign',
            arguments: { worker: WORKERS[i], task: `Research ${topic} for: ${m.content}` },
          })),
        };
      const tools = new Set(results.map((t) => (t.source.kind === 'tool' ? t.source.tool : '')));
      if (tools.has('assign'))
        return {
          toolCalls: [
            { name: 'review', arguments: { findings: results.map((t) => t.content).join('\n') } },
          ],
        };
      if (tools.has('review')) {
        const findings = r.messages
          .filter((x) => x.source.kind === 'tool' && x.source.tool === 'assign')
          .map((x) => `- ${x.content}`)
          .join('\n');
        return {
          toolCalls: [
            {
              name: 'publish',
              arguments: {
                title: 'Agents as supervised actors',
                text: `${findings}\nReview: ${results[0]!.content}`,
              },
            },
          ],
        };
      }
      return { content: `Done: ${results[0]?.content ?? 'nothing published'}` };
    },
  ];
}

const board = () =>
  fromReceive(
    { published: [] as { title: string; text: string; at: string }[] },
    (s, m: { type: 'publish'; title: string; text: string } | { type: 'get' }, ctx) => {
      if (m.type === 'get') {
        ctx.reply(s);
        return s;
      }
      return {
        published: [...s.published, { title: m.title, text: m.text, at: new Date().toISOString() }],
      };
    },
    {
      persist: (s) => s,
      restore: (s) => s as { published: { title: string; text: string; at: string }[] },
    },
  );

/** Every member's behaviour; `ref(name)` reaches a member (a path, or an entity in a cluster). */
export function swarmMembers(
  ref: (name: string) => ActorRef<any>,
  options: SwarmOptions & { readonly sharedBudget?: boolean; readonly autoApprove?: boolean } = {},
): Record<string, Behaviour<any, any, any>> {
  const modelFor = (script: ScriptStep[]) => options.model ?? scriptedModel(script);
  const modelName = options.modelName ?? 'scripted';
  const common = (name: string) => ({
    name,
    modelName,
    budget:
      options.sharedBudget === false
        ? { tokens: 200_000, modelCalls: 60, wallMs: 30 * 60_000 }
        : { subtree: ref('budget') as never, wallMs: 30 * 60_000 },
    prices: { 'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 } },
  });
  const searchNotes = defineTool({
    name: 'search_notes',
    description: 'Finds the note on a topic (supervision, mailboxes, statecharts, budgets)',
    parameters: {
      type: 'object',
      properties: { topic: { type: 'string', enum: Object.keys(NOTES) } },
      required: ['topic'],
    },
    run: ({ topic }: { topic: string }) => NOTES[topic] ?? 'no note',
  });
  const post = blackboardTool('findings');
  const worker = (name: string) =>
    createAgent({
      ...common(name),
      model: modelFor(workerScript(name)),
      ...(name === 'worker-2' ? { retry: { attempts: 1 } } : {}),
      instructions: 'Research your subtask with the tools, post your finding, then answer with it.',
      tools: [searchNotes, post, codeTool()],
    });
  /**
   * A task for another member, asked again every 15 s until it answers (up to 20 times): an
   * ask lost with a node that died is sent again, and a member busy with the same task answers
   * the latest asker (actors/agent/agent.ts).
   */
  const askAgent = async (name: string, input: string, from: string) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const done = (await ref(name).ask({ type: 'task', input, from }, { timeout: 15_000 })) as {
          answer: string | null;
          stopReason?: string;
        };
        // why each task ended (answer, max_steps, loop, budget, error, cancelled)
        console.log(`  ${name} → ${from}: task ended (stopReason ${done.stopReason ?? '?'})`);
        return done;
      } catch (e) {
        if (attempt >= 20) throw e;
      }
    }
  };
  const sendBack = defineTool({
    name: 'send_back',
    description:
      'Sends a finding back to the worker that made it, with a note; returns its revision',
    parameters: {
      type: 'object',
      properties: { worker: { type: 'string', enum: [...WORKERS] }, note: { type: 'string' } },
      required: ['worker', 'note'],
    },
    timeoutMs: 5 * 60_000,
    run: async ({ worker: w, note }: { worker: string; note: string }) =>
      (await askAgent(w, note, 'critic')).answer,
  });
  const critic = createAgent({
    ...common('critic'),
    model: modelFor(criticScript()),
    instructions: 'Review the findings on the blackboard; send back what is flawed.',
    tools: [sendBack],
  });
  const assign = defineTool({
    name: 'assign',
    description: 'Gives a worker a subtask and returns its finding',
    parameters: {
      type: 'object',
      properties: { worker: { type: 'string', enum: [...WORKERS] }, task: { type: 'string' } },
      required: ['worker', 'task'],
    },
    timeoutMs: 5 * 60_000,
    run: async ({ worker: w, task }: { worker: string; task: string }) =>
      (await askAgent(w, task, 'planner')).answer,
  });
  const review = defineTool({
    name: 'review',
    description: 'Asks the critic to review the findings',
    parameters: {
      type: 'object',
      properties: { findings: { type: 'string' } },
      required: ['findings'],
    },
    timeoutMs: 5 * 60_000,
    run: async ({ findings }: { findings: string }) =>
      (await askAgent('critic', `Review these findings:\n${findings}`, 'planner')).answer,
  });
  const publish = defineTool({
    name: 'publish',
    description: 'Publishes the brief (a human approves it first)',
    parameters: {
      type: 'object',
      properties: { title: { type: 'string' }, text: { type: 'string' } },
      required: ['title', 'text'],
    },
    approval: options.autoApprove === true ? 'never' : 'always',
    run: ({ title, text }: { title: string; text: string }) => {
      ref('board').tell({ type: 'publish', title, text });
      return `published "${title}"`;
    },
  });
  const planner = createAgent({
    ...common('planner'),
    model: modelFor(plannerScript()),
    instructions:
      'Split the task into four subtasks for worker-1..4, have the critic review, publish.',
    tools: [assign, review, publish],
  });
  // the critic reads the blackboard: subscribed to its topic from each start
  const reading: Behaviour<any, any, any> = {
    ...critic,
    init: (ctx: Parameters<typeof critic.init>[0]) => {
      ctx.system.topics.subscribe('findings', ctx.self);
      return critic.init(ctx);
    },
    restore: (snapshot: unknown, ctx: Parameters<typeof critic.init>[0]) => {
      ctx.system.topics.subscribe('findings', ctx.self);
      return critic.restore!(snapshot, ctx);
    },
  };
  return {
    budget: budgetKeeper({ tokens: 500_000, modelCalls: 200 }),
    board: board(),
    ...Object.fromEntries(WORKERS.map((w) => [w, worker(w)])),
    critic: reading,
    planner,
  };
}

/** The members in start order (the supervisor's, and the order they are defined in a cluster). */
export const MEMBERS = ['budget', 'board', ...WORKERS, 'critic', 'planner'] as const;

/** Starts the swarm under `/user/swarm` in `system`. */
export function startSwarm(system: ActorSystem, options: SwarmOptions = {}): Swarm {
  const store = options.store ?? new InMemoryStore();
  const ref = (name: string) => system.refOf(`troupe://${system.nodeId}${SWARM}/${name}` as never);
  const members = swarmMembers(ref, options);
  const persistence = (key: string) => ({ store, key: `swarm/${key}` });
  const agents = new Set<string>(['budget', ...WORKERS, 'critic', 'planner']);
  system.spawn(
    supervise({
      strategy: 'one-for-one',
      intensity: 5,
      period: 10_000,
      children: MEMBERS.map((id) => ({
        id,
        behaviour: members[id]!,
        ...(agents.has(id) ? { persistence: persistence(id) } : {}),
      })),
    }),
    { name: 'swarm' },
  );
  const started = (async () => {
    const last = `${SWARM}/planner`;
    while (system.lookupHere(last as never) === null) await new Promise((r) => setTimeout(r, 5));
  })();
  return { planner: ref('planner'), board: ref('board'), started };
}

/** The entity kind of a member in a cluster: one kind per member, its id `main`. */
export const memberKind = (name: string): string => `swarm-${name}`;

/**
 * The swarm in a cluster (TROUPE_REDIS): every member is an entity, defined alike on every
 * node; its snapshot is in Redis, so a member whose node dies comes back on another node from
 * it (when it next gets a message: `keepAlive` sends each a status request every second). The
 * budget is per agent here (a shared keeper would be one more entity to lose).
 */
export function defineSwarm(
  system: ActorSystem,
  options: SwarmOptions & { readonly autoApprove?: boolean } = {},
): Swarm & { keepAlive(): () => void } {
  const ref = (name: string) => system.entity(memberKind(name), 'main');
  const members = swarmMembers(ref, { ...options, sharedBudget: false });
  for (const name of MEMBERS) {
    const b = members[name]!;
    system.define(memberKind(name), {
      ...b,
      // which node holds it, for people and tests
      init: (ctx: Parameters<typeof b.init>[0]) => {
        console.log(
          `troupe-swarm-holds ${JSON.stringify({ node: ctx.system.nodeId, member: name })}`,
        );
        return b.init(ctx);
      },
      ...(b.restore === undefined
        ? {}
        : {
            restore: (snapshot: unknown, ctx: Parameters<typeof b.init>[0]) => {
              console.log(
                `troupe-swarm-holds ${JSON.stringify({ node: ctx.system.nodeId, member: name })}`,
              );
              return b.restore!(snapshot, ctx);
            },
          }),
    } as Behaviour<any, any, any>);
  }
  return {
    planner: ref('planner'),
    board: ref('board'),
    started: Promise.resolve(),
    keepAlive: () => {
      const timer = setInterval(() => {
        for (const name of MEMBERS) {
          if (name === 'budget') continue;
          const msg = name === 'board' ? { type: 'get' } : { type: 'status' };
          ref(name)
            .ask(msg, { timeout: 2_000 })
            .catch(() => undefined);
        }
      }, 1_000);
      return () => clearInterval(timer);
    },
  };
}
