/**
 * agent-tpm (issue 25): `agents` troupe agents loop on tasks (task.ts: a tool call, then the
 * answer; each from the instructions alone) for `windows` rate-limit windows, all on ONE
 * shared provider client (`sharedModel(openAIModel(…))`, actors/agent/provider/) through the
 * mock model server (fault-mock.ts) at `latencyMs` a reply. The mock's limit is
 * `tokensPerWindow` tokens (prompt + completion) per fixed window of `windowMs`, opened by
 * the first request after the last one closed; past it, 429 with `Retry-After`,
 * `retry-after-ms` and `x-ratelimit-*` (bench/mock-model/rate-limit.ts). The client is given
 * `tokensPerMinute: tokensPerWindow` and learns from the headers (its default): what the
 * provider says is left is all it sends until the provider's reset, so it follows the
 * provider's window whatever its length.
 *
 * The window is the provider's minute. At full scale it is 30 s, not 60 s: the harness gives
 * a run 120 s at most (RUN_TIMEOUT_MS, harness.ts), and three one-minute windows take 180 s.
 * The three minutes run outside the harness: `node bench/agents/tpm.ts --window-ms
 * 60000` prints the same figures as JSON. `--quick` keeps the limit and the agents and makes
 * the window 2 s, so that its three windows (and a warm-up run and three measured runs) fit
 * in half a minute.
 *
 * The first window is the warm-up (the client has not heard from the provider yet); windows
 * 2… are measured, between two reads of the mock's `/stats`, each WINDOW_READ_EARLY of a
 * window before a window's start on the run's clock: the client spends a window's tokens as
 * soon as it opens, and the reads fall in the quiet before the next one opens.
 *
 * - msgs/s is tokens per second over the whole run (the mock's count). The harness wants the
 *   same `messages` from every run, so `messages` is the run's allowance (`tokensPerWindow`
 *   × `windows`) and `seconds` the time the run's rate takes to spend it; the run's real
 *   tokens and seconds are `extra.tokens` and `extra.runSeconds`.
 * - `extra.tpmUtilisation`: tokens used in the measured windows over their limit (target
 *   ≥ 0.9); `extra.status429`: 429s the mock answered in them (target 0); `status429Total`
 *   the run's, the first window's included.
 * - `extra.tasks`: tasks that ended with the answer; `failedTasks`: tasks that ended
 *   otherwise before the run's end. At the end every agent is told `cancel`: the tasks it
 *   stops (`cancelledAtEnd`) are not failures. A run with a failed task is recorded as failed
 *   (msgs/s 0, `extra.error`; guarded.ts).
 */
import { parseArgs } from 'node:util';
import { createSystem, type ActorRef } from '../../index.ts';
import { createAgent, openAIModel, sharedModel } from '../../actors/agent/index.ts';
import { scaleCount, type Benchmark, type Sample } from '../harness.ts';
import { describeError, guarded } from './guarded.ts';
import { faultMock } from './fault-mock.ts';
import { MOCK_ANSWER } from './http.ts';
import { newCounter } from './pool.ts';
import { INSTRUCTIONS, taskInput } from './task.ts';
import { troupeTool } from './troupe.ts';

export interface AgentTpmParams {
  readonly agents: number;
  /** The provider's rate-limit window: its minute. */
  readonly windowMs: number;
  /** Windows the run lasts; the first is not measured (at least 2). */
  readonly windows: number;
  /** The provider's limit per window, prompt and completion tokens. */
  readonly tokensPerWindow: number;
  readonly latencyMs: number;
  /** The shared client's concurrency cap. */
  readonly maxConcurrent: number;
}

/** How long before a window's start, as a fraction of the window, the stats are read. */
export const WINDOW_READ_EARLY = 0.05;
/** Attempts of one model call by an agent (429s are retried; the client pauses on them). */
export const RETRY_ATTEMPTS = 10;
/** The longest one run may take before it is recorded as failed (the harness's is 120 s). */
export const TPM_TIMEOUT_MS = 110_000;
/** How long the agents may take to stop their tasks once told `cancel`. */
const CANCEL_TIMEOUT_MS = 10_000;

/** What one run measured. */
export interface TpmFigures {
  /** Tokens the mock counted over the run (prompt + completion of the replies it served). */
  readonly tokens: number;
  /** Those of the measured windows (all but the first). */
  readonly tokensMeasured: number;
  readonly tpmUtilisation: number;
  readonly status429: number;
  readonly status429Total: number;
  readonly tasks: number;
  readonly failedTasks: number;
  readonly failures: Readonly<Record<string, number>>;
  readonly cancelledAtEnd: number;
  /** The run's length, from the mock's reset to the last read, in seconds. */
  readonly runSeconds: number;
}

interface Done {
  readonly type?: string;
  readonly answer?: unknown;
  readonly stopReason?: string;
}

const sleepUntil = (t: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, t - performance.now())));

export async function agentTpmRun(p: AgentTpmParams): Promise<TpmFigures> {
  if (!Number.isInteger(p.windows) || p.windows < 2)
    throw new Error(`agent-tpm: windows must be an integer ≥ 2, got ${p.windows}`);
  const mock = await faultMock([
    '--latency-ms',
    String(p.latencyMs),
    '--rate-limit-tokens',
    String(p.tokensPerWindow),
    '--rate-limit-window-ms',
    String(p.windowMs),
  ]);
  const model = sharedModel(openAIModel({ baseURL: `${mock.url}/v1`, apiKey: 'dummy' }), {
    maxConcurrent: p.maxConcurrent,
    tokensPerMinute: p.tokensPerWindow,
  });
  const system = createSystem();
  try {
    const behaviour = createAgent({
      model,
      tools: [troupeTool(newCounter())],
      instructions: INSTRUCTIONS,
      conversation: 'per-task',
      retry: { attempts: RETRY_ATTEMPTS },
    });
    const agents: ActorRef<any>[] = [];
    for (let i = 0; i < p.agents; i++) agents.push(system.spawn(behaviour, { name: `agent-${i}` }));

    const failures: Record<string, number> = {};
    const fail = (why: string) => (failures[why] = (failures[why] ?? 0) + 1);
    let tasks = 0;
    let cancelled = 0;
    let over = false;
    let next = 0;
    const lane = async (agent: ActorRef<any>) => {
      while (!over) {
        let reply: Done;
        try {
          // no timeout of its own: the run's end cancels what is left
          reply = (await agent.ask(
            { type: 'task', input: taskInput(next++) },
            { timeout: p.windowMs * (p.windows + 1) + CANCEL_TIMEOUT_MS },
          )) as Done;
        } catch (e) {
          // an agent whose ask fails is given no more tasks
          if (!over) fail(`ask: ${describeError(e)}`);
          return;
        }
        const why =
          reply.type !== 'agent.done'
            ? `answered ${String(reply.type)}`
            : reply.stopReason !== 'answer'
              ? `stopReason:${String(reply.stopReason)}`
              : reply.answer === MOCK_ANSWER
                ? null
                : 'wrong answer';
        if (why === null) tasks++;
        else if (over && reply.stopReason === 'cancelled') cancelled++;
        else fail(why);
      }
    };

    await mock.reset();
    const t0 = performance.now();
    const early = WINDOW_READ_EARLY * p.windowMs;
    const lanes = agents.map((a) => lane(a));
    await sleepUntil(t0 + p.windowMs - early);
    const first = await mock.stats();
    await sleepUntil(t0 + p.windows * p.windowMs - early);
    const last = await mock.stats();
    const runSeconds = (performance.now() - t0) / 1000;
    over = true;
    for (const a of agents) a.tell({ type: 'cancel', reason: 'the run is over' });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(lanes),
      new Promise((resolve) => (timer = setTimeout(resolve, CANCEL_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    const tokensMeasured = last.totalTokens - first.totalTokens;
    const failedTasks = Object.values(failures).reduce((a, b) => a + b, 0);
    return {
      tokens: last.totalTokens,
      tokensMeasured,
      tpmUtilisation:
        Math.round((tokensMeasured / (p.tokensPerWindow * (p.windows - 1))) * 1000) / 1000,
      status429: last.faults.rateLimit - first.faults.rateLimit,
      status429Total: last.faults.rateLimit,
      tasks,
      failedTasks,
      failures,
      cancelledAtEnd: cancelled,
      runSeconds,
    };
  } finally {
    await system.shutdown();
  }
}

/** One run as the harness's sample (see the file's comment for `messages` and `seconds`). */
export async function agentTpmSample(p: AgentTpmParams): Promise<Sample> {
  const f = await agentTpmRun(p);
  if (f.failedTasks > 0) {
    const why = Object.entries(f.failures)
      .map(([reason, n]) => `${n} ${reason}`)
      .join(', ');
    throw new Error(
      `${f.failedTasks} tasks did not end with the answer (${why}); ` +
        `tpmUtilisation ${f.tpmUtilisation}, status429 ${f.status429}`,
    );
  }
  if (f.tokens === 0) throw new Error('the mock counted no tokens: no model call was served');
  const allowance = p.tokensPerWindow * p.windows;
  return {
    messages: allowance,
    seconds: (allowance * f.runSeconds) / f.tokens,
    counts: {
      tpmUtilisation: f.tpmUtilisation,
      status429: f.status429,
      status429Total: f.status429Total,
      tokens: f.tokens,
      tokensMeasured: f.tokensMeasured,
      tasks: f.tasks,
      failedTasks: f.failedTasks,
      cancelledAtEnd: f.cancelledAtEnd,
      runSeconds: Math.round(f.runSeconds * 1000) / 1000,
      windowMs: p.windowMs,
    },
  };
}

const FULL: AgentTpmParams = {
  agents: 200,
  windowMs: 30_000,
  windows: 3,
  tokensPerWindow: 100_000,
  latencyMs: 50,
  maxConcurrent: 64,
};

export const agentTpm: Benchmark<AgentTpmParams> = {
  name: 'agent-tpm',
  describe: (p) =>
    `${p.agents} agents looping on tasks for ${p.windows} windows of ${p.windowMs / 1000} s, on one shared client, against a limit of ${p.tokensPerWindow.toLocaleString('en')} tokens a window`,
  unit: 'tokens/s',
  params: { full: FULL, quick: { ...FULL, windowMs: 2_000 } },
  scale: (p, f) => ({ ...p, agents: scaleCount(p.agents, f) }),
  impls: { 'troupe:agent': (p) => guarded(TPM_TIMEOUT_MS, () => agentTpmSample(p)) },
};

/** `node bench/agents/tpm.ts [--window-ms N] [--windows N] [--agents N]`: one run, as JSON. */
async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      'window-ms': { type: 'string' },
      windows: { type: 'string' },
      agents: { type: 'string' },
    },
  });
  const p: AgentTpmParams = {
    ...FULL,
    ...(v['window-ms'] === undefined ? {} : { windowMs: Number(v['window-ms']) }),
    ...(v.windows === undefined ? {} : { windows: Number(v.windows) }),
    ...(v.agents === undefined ? {} : { agents: Number(v.agents) }),
  };
  process.stdout.write(JSON.stringify({ params: p, figures: await agentTpmRun(p) }) + '\n');
  process.exit(0);
}

if (import.meta.main) {
  main().catch((e: unknown) => {
    process.stderr.write(`agent-tpm: ${describeError(e)}\n`);
    process.exit(1);
  });
}
