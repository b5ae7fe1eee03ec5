/**
 * `agent-crash`: a real process runs `executions` executions of the task (task.ts) on the
 * mock model server (mock-process.ts) at `latencyMs` a reply, their starts `staggerMs` apart;
 * the tool is unsafe — each run appends a line to an effects file. Once `killAfterEffects`
 * lines are in, the process is SIGKILLed; a fresh process is started with the framework's
 * durable option (crash/<impl>.ts says which) and given `resumeTimeoutMs` to finish what
 * was kept. Each process appends every execution it saw finished to its own done file.
 *
 * `extra` (per run, the median over runs):
 * - `recovered`: executions unfinished at the kill that the restarted process finished;
 * - `interrupted`: executions unfinished at the kill (what could be recovered);
 * - `repeatedModelCalls`: model calls of both processes (the mock's /stats, calls in flight
 *   at the kill included) minus those of a run without crash (STEPS_PER_TASK per execution:
 *   agent-step-http checks every impl makes exactly that many); negative when work was lost;
 * - `duplicateEffects`: effect lines beyond one per execution that ran the tool;
 * - `killed`: 1 if the kill landed mid-run (0: the first process finished first).
 * msgs/s is executions per second of the whole cycle (first process, kill, restart).
 *
 * A peer whose run fails (its durable option does not install, throws, or a process
 * overruns) is recorded with `extra.error` (guarded.ts); the stored state is removed after
 * each run (crash/<impl>.ts `clean`).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Benchmark, Impl, Sample } from '../harness.ts';
import { guarded } from './guarded.ts';
import { mockServer } from './mock-process.ts';
import { AGENT_IMPLS, type AgentImplId } from './peers.ts';
import { STEPS_PER_TASK } from './task.ts';
import { CRASH_MODULES, type ChildOptions } from './crash/main.ts';

const CHILD = new URL('./crash/main.ts', import.meta.url).pathname;
/** How often the effects file is read while the first process runs. */
const POLL_MS = 5;
/** The first process's limit (it is killed and the run fails past it). */
const START_TIMEOUT_MS = 60_000;
/** Beyond `resumeTimeoutMs`, how long the restarted process may take to exit. */
const RESUME_GRACE_MS = 15_000;
const CRASH_RUN_TIMEOUT_MS = 110_000;

export interface AgentCrashParams {
  readonly executions: number;
  readonly latencyMs: number;
  readonly staggerMs: number;
  readonly killAfterEffects: number;
  readonly resumeTimeoutMs: number;
}

export interface CrashFigures {
  readonly recovered: number;
  readonly interrupted: number;
  readonly repeatedModelCalls: number;
  readonly duplicateEffects: number;
  readonly killed: number;
  readonly modelCalls: number;
  readonly effects: number;
}

function lines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
}

/** Runs the child's `phase`; resolves with whether `stopWhen` made it kill the child. */
function runChild(
  impl: AgentImplId,
  phase: 'start' | 'resume',
  options: ChildOptions,
  timeoutMs: number,
  stopWhen?: () => boolean,
): Promise<boolean> {
  const child = spawn(process.execPath, [CHILD, impl, phase, JSON.stringify(options)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2_000);
  });
  return new Promise((resolve, reject) => {
    let killed = false;
    let overran = false;
    const poll =
      stopWhen &&
      setInterval(() => {
        if (!killed && stopWhen()) {
          killed = true;
          child.kill('SIGKILL');
        }
      }, POLL_MS);
    const timer = setTimeout(() => {
      overran = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      if (overran) reject(new Error(`the ${phase} process ran past ${timeoutMs} ms`));
      else if (!killed && code !== 0)
        reject(new Error(`the ${phase} process exited ${String(code)}: ${stderr.trim()}`));
      else resolve(killed);
    });
  });
}

/** One crash cycle of `impl`: the figures, from the files and the mock's stats. */
export async function crashRun(impl: AgentImplId, p: AgentCrashParams): Promise<CrashFigures> {
  const mock = await mockServer(p.latencyMs);
  const dir = mkdtempSync(join(tmpdir(), 'troupe-crash-'));
  const runId = `crash_${impl.replace(/\W/g, '_')}_${process.pid}_${Date.now()}`;
  const { crashPeer } = await CRASH_MODULES[impl]();
  const base = {
    url: mock.url,
    executions: p.executions,
    staggerMs: p.staggerMs,
    runId,
    resumeTimeoutMs: p.resumeTimeoutMs,
    effectsFile: join(dir, 'effects'),
  };
  const before = (await mock.stats()).calls.chatCompletions;
  try {
    const startDone = join(dir, 'done-start');
    const killed = await runChild(
      impl,
      'start',
      { ...base, doneFile: startDone },
      START_TIMEOUT_MS,
      () => lines(base.effectsFile).length >= p.killAfterEffects,
    );
    const resumeDone = join(dir, 'done-resume');
    await runChild(
      impl,
      'resume',
      { ...base, doneFile: resumeDone },
      p.resumeTimeoutMs + RESUME_GRACE_MS,
    );
    const modelCalls = (await mock.stats()).calls.chatCompletions - before;
    const finishedBefore = new Set(lines(startDone));
    const recovered = new Set(lines(resumeDone).filter((i) => !finishedBefore.has(i)));
    const effects = lines(base.effectsFile);
    // an effect whose execution the framework did not say (`?`) is a duplicate only past
    // the executions no named effect accounts for
    const named = effects.filter((e) => e !== '?');
    const distinct = new Set(named).size;
    const unnamed = effects.length - named.length;
    const duplicateEffects =
      named.length - distinct + Math.max(0, unnamed - (p.executions - distinct));
    return {
      recovered: recovered.size,
      interrupted: p.executions - finishedBefore.size,
      repeatedModelCalls: modelCalls - p.executions * STEPS_PER_TASK,
      duplicateEffects,
      killed: killed ? 1 : 0,
      modelCalls,
      effects: effects.length,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await crashPeer.clean?.(runId);
  }
}

function crashImpl(id: AgentImplId): Impl<AgentCrashParams> {
  return (p) =>
    guarded(CRASH_RUN_TIMEOUT_MS, async (): Promise<Sample> => {
      const t0 = performance.now();
      const f = await crashRun(id, p);
      return {
        messages: p.executions,
        seconds: (performance.now() - t0) / 1000,
        counts: { ...f },
      };
    });
}

export const agentCrash: Benchmark<AgentCrashParams> = {
  name: 'agent-crash',
  describe: (p) =>
    `${p.executions} executions with an unsafe tool, SIGKILLed after ${p.killAfterEffects} tool effects and restarted with the framework's durable option (mock model at ${p.latencyMs} ms a reply)`,
  unit: 'executions/s',
  params: {
    full: {
      executions: 100,
      latencyMs: 1_000,
      staggerMs: 5,
      killAfterEffects: 50,
      resumeTimeoutMs: 20_000,
    },
    quick: {
      executions: 10,
      latencyMs: 300,
      staggerMs: 10,
      killAfterEffects: 5,
      resumeTimeoutMs: 5_000,
    },
  },
  impls: Object.fromEntries(AGENT_IMPLS.map((id) => [id, crashImpl(id)])),
};
