/**
 * What every agent implementation of bench/agents/ provides, and how a pool of its agents is
 * driven: the harness code the agent benchmarks share.
 *
 * A pool is `size` agents of one framework on one model: an in-process fake (agent-step), or
 * the framework's official client of the mock model server (the HTTP benches). `runTasks` drives it: `size` lanes at once, lane i
 * giving agent i the tasks i, i + size, i + 2·size… one after another (each task on a free
 * agent, `size` at once), and checks that every run really finished: each task's answer is
 * the script's `FINAL_ANSWER`, and the model and the tool were called exactly as often as
 * the script says (`STEPS_PER_TASK` model calls and one tool run per task).
 */
import { FINAL_ANSWER, STEPS_PER_TASK, type ScriptMode } from './task.ts';

/** What an implementation's fake model and tool count (the checks read it). */
export interface Counter {
  modelCalls: number;
  toolRuns: number;
}

export interface PoolOptions {
  /** Agents in the pool. */
  readonly size: number;
  /** The most tasks one agent will be given (troupe's lifetime budget is sized by it). */
  readonly tasksPerAgent: number;
  readonly mode: ScriptMode;
  /** How long one task may take before `run` rejects (troupe's ask timeout). */
  readonly taskTimeoutMs: number;
}

export interface AgentPool {
  /** Runs `input` on agent `agent` (0 ≤ agent < size); resolves with its final answer. */
  run(agent: number, input: string): Promise<string>;
  readonly counter: Counter;
  /** Frees what the pool holds (a system, a server connection). */
  close(): Promise<void>;
}

export type MakePool = (options: PoolOptions) => Promise<AgentPool>;

/** A pool whose agents reach the mock model server (bench/mock-model/) at `url`. */
export interface HttpPoolOptions extends PoolOptions {
  /** The server's `http://127.0.0.1:<port>` (OpenAI clients take `url + '/v1'`). */
  readonly url: string;
}

export type MakeHttpPool = (options: HttpPoolOptions) => Promise<AgentPool>;

/** What a finished task looks like. */
export interface TaskCheck {
  /** The answer every task must end with. */
  readonly answer: string;
  /** Model calls made so far: the fake model's count, or the mock server's. */
  modelCalls(): number | Promise<number>;
}

export function newCounter(): Counter {
  return { modelCalls: 0, toolRuns: 0 };
}

/** A run that did not finish as the script says (a wrong answer, a wrong count). */
export class UnfinishedRunError extends Error {
  readonly code = 'ERR_BENCH_UNFINISHED';
}

export interface TasksRun {
  readonly seconds: number;
  /** Milliseconds from each task's start to its answer. */
  readonly latencyMs: Float64Array;
  readonly modelCalls: number;
}

/**
 * Runs `tasks` tasks (inputs from `input(i)`) on the pool, `size` at once; throws
 * UnfinishedRunError unless each ended with the answer (default: the fake models'
 * FINAL_ANSWER) after STEPS_PER_TASK model calls and one tool run.
 */
export async function runTasks(
  pool: AgentPool,
  size: number,
  tasks: number,
  input: (i: number) => string,
  check: TaskCheck = { answer: FINAL_ANSWER, modelCalls: () => pool.counter.modelCalls },
): Promise<TasksRun> {
  const latencyMs = new Float64Array(tasks);
  const toolRunsBefore = pool.counter.toolRuns;
  const modelCallsBefore = await check.modelCalls();
  let finished = 0;
  let wrong: string | undefined;
  const lane = async (agent: number): Promise<void> => {
    for (let i = agent; i < tasks; i += size) {
      const t0 = performance.now();
      const answer = await pool.run(agent, input(i));
      latencyMs[i] = performance.now() - t0;
      if (answer === check.answer) finished++;
      else wrong ??= answer;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(size, tasks) }, (_, a) => lane(a)));
  const seconds = (performance.now() - t0) / 1000;
  const modelCalls = (await check.modelCalls()) - modelCallsBefore;
  const toolRuns = pool.counter.toolRuns - toolRunsBefore;
  if (finished !== tasks)
    throw new UnfinishedRunError(
      `${tasks - finished} of ${tasks} tasks ended without the final answer (one said ${JSON.stringify(wrong)})`,
    );
  if (modelCalls !== tasks * STEPS_PER_TASK || toolRuns !== tasks)
    throw new UnfinishedRunError(
      `${tasks} tasks made ${modelCalls} model calls and ${toolRuns} tool runs, expected ${tasks * STEPS_PER_TASK} and ${tasks}`,
    );
  return { seconds, latencyMs, modelCalls };
}
