/**
 * A crash child: `node bench/agents/crash/main.ts <impl> <start|resume> <json options>`, run
 * by bench/agents/crash.ts (the options: CrashContext's fields and the two files). Exits 0
 * once its phase is over; an error is printed and exits 1.
 */
import type { AgentImplId } from '../peers.ts';
import { offline } from '../offline.ts';
import { fileContext, type CrashPeer, type CrashPhase } from './child.ts';

export const CRASH_MODULES: Readonly<Record<AgentImplId, () => Promise<{ crashPeer: CrashPeer }>>> =
  {
    'troupe:agent': () => import('./troupe.ts'),
    langgraph: () => import('./langgraph.ts'),
    'openai-agents': () => import('./openai-agents.ts'),
    mastra: () => import('./mastra.ts'),
    'ai-sdk': () => import('./ai-sdk.ts'),
  };

export interface ChildOptions {
  readonly url: string;
  readonly executions: number;
  readonly staggerMs: number;
  readonly runId: string;
  readonly resumeTimeoutMs: number;
  readonly effectsFile: string;
  readonly doneFile: string;
}

async function main(): Promise<void> {
  const [impl, phase, json] = process.argv.slice(2) as [AgentImplId, CrashPhase, string];
  offline();
  const { crashPeer } = await CRASH_MODULES[impl]();
  const o = JSON.parse(json) as ChildOptions;
  const ctx = fileContext(o, o.effectsFile, o.doneFile);
  await (phase === 'start' ? crashPeer.start(ctx) : crashPeer.resume(ctx));
}

if (import.meta.main) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(
        `crash child: ${error instanceof Error ? error.stack : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
