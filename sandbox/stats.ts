/** What this thread's sandboxes hold, wherever they run (sandbox/config.ts's mode). */
import { sandboxMode } from './config.ts';
import { sandboxHost } from './host-link.ts';
import { syncHost } from './sync-link.ts';
import type { PoolStats } from './pool.ts';

export interface SandboxStats extends PoolStats {
  readonly mode: 'thread' | 'process';
  /** The sandbox host process's pid (the host of this thread and mode, started if need be). */
  readonly hostPid: number;
  /** Host processes started again after one was lost. */
  readonly hostRestarts: number;
  /** Host processes the watchdog killed (a call ran past its limit and the grace). */
  readonly hostKills: number;
}

/** The isolate pool's counts in this thread's host for the current mode (it is started). */
export async function sandboxStats(): Promise<SandboxStats> {
  if (sandboxMode() === 'thread') {
    const link = syncHost();
    const { sandboxes: _, ...stats } = link.stats();
    return {
      mode: 'thread',
      ...stats,
      hostPid: link.pid,
      hostRestarts: link.restarts,
      hostKills: link.kills,
    };
  }
  const host = sandboxHost();
  const { sandboxes: _, ...stats } = await host.stats();
  return {
    mode: 'process',
    ...stats,
    hostPid: host.pid,
    hostRestarts: host.restarts,
    hostKills: host.kills,
  };
}
