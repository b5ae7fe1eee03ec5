/**
 * agent-provider-down (issue 25): `agents` troupe agents, one task each (task.ts: a tool
 * call, then the answer), all on ONE shared provider client (`sharedModel(openAIModel(…))`,
 * actors/agent/provider/) capped at `maxConcurrent` calls in flight, through the mock model
 * server (fault-mock.ts) at `latencyMs` a reply. After `normalMs` of normal service the mock
 * answers 503 to every request for `outageMs` (its outage window, from the run's reset), then
 * serves again. The tasks start evenly over `arrivalMs` from the run's start (task i at
 * i·arrivalMs/agents: with 2 s, half before the outage and half into it), so that at every
 * scale the outage finds tasks in flight and tasks still arriving.
 *
 * The client's circuit breaker opens after 5 availability failures in a row and lets one
 * probe through every `breakerResetMs`; while it is open calls fail fast with
 * ProviderUnavailableError (retryable, with `retryInMs`) and nothing is sent. The agents'
 * own retries wait the outage out: each waits a random time up to the backoff (full jitter,
 * at most `retryMaxMs`) and never less than the error's `retryInMs` (actors/agent/
 * model-call.ts), so an agent comes back when the breaker lets its next probe through, and
 * spends one or two attempts per `breakerResetMs` of outage (one refused beside the probe).
 * RETRY_ATTEMPTS (30 a step) covers a 5 s outage twice over, and would on jitter alone.
 *
 * msgs/s is tasks completed per second, from the run's start to its last task. `extra`:
 * - `providerCalls`: requests that reached the mock inside its outage window — exact: the
 *   mock's own count of the 503s it answered (`/stats` `faults.outage`; every request in the
 *   window gets one, none outside it does). Target ≤ 50.
 * - `recoveredMs`: from the end of the outage until every task was done (target ≤ 5,000); the
 *   run's clock starts when the mock's reset is answered, within a millisecond of the mock's.
 * - `tasks`, `failedTasks` (tasks that did not end with stopReason 'answer' and the mock's
 *   answer, or whose ask failed), `tasksThroughOutage` (tasks still unfinished when the
 *   outage began), `repliesServed` (model replies the mock served: 2 a task when no call is
 *   repeated).
 * A run with a failed task is recorded as failed (msgs/s 0, `extra.error` with the count and
 * the reasons; guarded.ts), not hidden in a median.
 */
import { createSystem, type ActorRef } from '../../index.ts';
import { createAgent, openAIModel, sharedModel } from '../../actors/agent/index.ts';
import { scaleCount, type Benchmark, type Sample } from '../harness.ts';
import { describeError, guarded } from './guarded.ts';
import { faultMock } from './fault-mock.ts';
import { MOCK_ANSWER } from './http.ts';
import { newCounter } from './pool.ts';
import { INSTRUCTIONS, STEPS_PER_TASK, taskInput } from './task.ts';
import { troupeTool } from './troupe.ts';

export interface AgentProviderDownParams {
  readonly agents: number;
  /** The tasks start evenly over this long from the run's start. */
  readonly arrivalMs: number;
  /** Normal service before the outage. */
  readonly normalMs: number;
  /** How long the mock answers 503. */
  readonly outageMs: number;
  readonly latencyMs: number;
  /** The shared client's concurrency cap. */
  readonly maxConcurrent: number;
  /** The breaker stays open this long, then lets one probe through. */
  readonly breakerResetMs: number;
  /** The agents' full-jitter ceiling between attempts (their base is a quarter of it). */
  readonly retryMaxMs: number;
  /** How long one task may take (its ask's timeout). */
  readonly taskTimeoutMs: number;
}

/**
 * Attempts of one model call by an agent, the first included: a 5 s outage with a 1 s breaker
 * reset takes about 12 (one or two a reset), and 30 waits of up to 1 s cover it by jitter alone.
 */
export const RETRY_ATTEMPTS = 30;
/** The breaker's failures in a row before it opens (the client's default). */
export const OPEN_AFTER_FAILURES = 5;
/** The longest one run may take before it is recorded as failed (the harness's is 120 s). */
export const PROVIDER_DOWN_TIMEOUT_MS = 100_000;

/** What one run measured, each figure exact. */
export interface ProviderDownFigures {
  readonly tasks: number;
  readonly completed: number;
  readonly failedTasks: number;
  /** Why tasks failed: `stopReason:<reason>`, `wrong answer`, or the ask's error class. */
  readonly failures: Readonly<Record<string, number>>;
  readonly providerCalls: number;
  readonly recoveredMs: number;
  readonly tasksThroughOutage: number;
  readonly repliesServed: number;
  /** From the run's start to its last task, in seconds. */
  readonly seconds: number;
}

interface Done {
  readonly type?: string;
  readonly answer?: unknown;
  readonly stopReason?: string;
}

/** Why a task's outcome is not a success, or null when it is one. */
function failureOf(reply: Done): string | null {
  if (reply.type !== 'agent.done') return `answered ${String(reply.type)}`;
  if (reply.stopReason !== 'answer') return `stopReason:${String(reply.stopReason)}`;
  return reply.answer === MOCK_ANSWER ? null : 'wrong answer';
}

export async function providerDownRun(p: AgentProviderDownParams): Promise<ProviderDownFigures> {
  const outageFromMs = p.normalMs;
  const outageToMs = p.normalMs + p.outageMs;
  const mock = await faultMock([
    '--latency-ms',
    String(p.latencyMs),
    '--outage-from-ms',
    String(outageFromMs),
    '--outage-to-ms',
    String(outageToMs),
  ]);
  const model = sharedModel(openAIModel({ baseURL: `${mock.url}/v1`, apiKey: 'dummy' }), {
    maxConcurrent: p.maxConcurrent,
    breaker: { openAfterFailures: OPEN_AFTER_FAILURES, resetMs: p.breakerResetMs },
  });
  const system = createSystem();
  try {
    const behaviour = createAgent({
      model,
      tools: [troupeTool(newCounter())],
      instructions: INSTRUCTIONS,
      conversation: 'per-task',
      // the agents' retries wait the outage out (the client fails them fast meanwhile)
      retry: { attempts: RETRY_ATTEMPTS, baseMs: p.retryMaxMs / 4, maxMs: p.retryMaxMs },
    });
    const agents: ActorRef<any>[] = [];
    for (let i = 0; i < p.agents; i++) agents.push(system.spawn(behaviour, { name: `agent-${i}` }));

    const failures: Record<string, number> = {};
    const fail = (why: string) => (failures[why] = (failures[why] ?? 0) + 1);
    let completed = 0;
    let lastDone = 0;
    let throughOutage = 0;
    const timers: NodeJS.Timeout[] = [];
    await mock.reset();
    // the outage window runs from the reset (the mock's clock), within the reply's trip
    const t0 = performance.now();
    const runs = agents.map(
      (agent, i) =>
        new Promise<void>((resolve) => {
          const start = () => {
            agent
              .ask({ type: 'task', input: taskInput(i) }, { timeout: p.taskTimeoutMs })
              .then(
                (reply) => {
                  const why = failureOf(reply as Done);
                  if (why === null) completed++;
                  else fail(why);
                },
                (e: unknown) => fail(`ask: ${describeError(e)}`),
              )
              .finally(() => {
                const at = performance.now() - t0;
                lastDone = Math.max(lastDone, at);
                if (at >= outageFromMs) throughOutage++;
                resolve();
              });
          };
          timers.push(setTimeout(start, (i * p.arrivalMs) / p.agents));
        }),
    );
    await Promise.all(runs);
    for (const t of timers) clearTimeout(t);
    const stats = await mock.stats();
    const failedTasks = p.agents - completed;
    return {
      tasks: p.agents,
      completed,
      failedTasks,
      failures,
      providerCalls: stats.faults.outage,
      recoveredMs: Math.round(lastDone - outageToMs),
      tasksThroughOutage: throughOutage,
      repliesServed: stats.toolCalls + stats.textReplies,
      seconds: lastDone / 1000,
    };
  } finally {
    await system.shutdown();
  }
}

/** One run as the harness's sample: failed when a task did not end with the answer. */
export async function providerDownSample(p: AgentProviderDownParams): Promise<Sample> {
  const f = await providerDownRun(p);
  const counts = {
    tasks: f.tasks,
    failedTasks: f.failedTasks,
    providerCalls: f.providerCalls,
    recoveredMs: f.recoveredMs,
    tasksThroughOutage: f.tasksThroughOutage,
    repliesServed: f.repliesServed,
  };
  if (f.failedTasks > 0) {
    const why = Object.entries(f.failures)
      .map(([reason, n]) => `${n} ${reason}`)
      .join(', ');
    throw new Error(
      `${f.failedTasks} of ${f.tasks} tasks did not end with the answer (${why}); ` +
        `providerCalls ${f.providerCalls}, recoveredMs ${f.recoveredMs}`,
    );
  }
  if (f.repliesServed !== f.tasks * STEPS_PER_TASK)
    throw new Error(
      `${f.tasks} tasks took ${f.repliesServed} model replies, expected ${f.tasks * STEPS_PER_TASK}`,
    );
  return { messages: f.completed, seconds: f.seconds, counts };
}

const FULL: AgentProviderDownParams = {
  agents: 1_000,
  arrivalMs: 2_000,
  normalMs: 1_000,
  outageMs: 5_000,
  latencyMs: 50,
  maxConcurrent: 64,
  breakerResetMs: 1_000,
  retryMaxMs: 1_000,
  taskTimeoutMs: 60_000,
};

export const agentProviderDown: Benchmark<AgentProviderDownParams> = {
  name: 'agent-provider-down',
  describe: (p) =>
    `${p.agents} agents, a task each, on one shared client (${p.maxConcurrent} calls at once); the mock answers 503 from ${p.normalMs} ms for ${p.outageMs} ms`,
  unit: 'tasks/s',
  params: { full: FULL, quick: { ...FULL, agents: 100 } },
  scale: (p, f) => ({ ...p, agents: scaleCount(p.agents, f) }),
  impls: {
    'troupe:agent': (p) => guarded(PROVIDER_DOWN_TIMEOUT_MS, () => providerDownSample(p)),
  },
};
