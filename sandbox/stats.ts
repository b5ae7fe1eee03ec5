/** What this thread's sandboxes hold, wherever they run (sandbox/config.ts's mode). */
import { sandboxMode } from './config.ts';
import { sandboxHost } from './host-link.ts';
import { isolatePool, type PoolStats } from './pool.ts';

export interface SandboxStats extends PoolStats {
  readonly mode: 'thread' | 'process';
  /** The sandbox host process's pid (mode 'process'). */
  readonly hostPid?: number;
  /** Host processes started again after one was lost (mode 'process'). */
  readonly hostRestarts?: number;
}

export async function sandboxStats(): Promise<SandboxStats> {
  if (sandboxMode() === 'thread') return { mode: 'thread', ...isolatePool().stats() };
  const host = sandboxHost();
  const { sandboxes: _, ...stats } = await host.stats();
  return { mode: 'process', ...stats, hostPid: host.pid, hostRestarts: host.restarts };
}
