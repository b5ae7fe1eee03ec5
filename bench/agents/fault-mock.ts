/**
 * The mock model server (bench/mock-model/) in a child process with flags of its own: an
 * outage window (`--outage-from-ms`), a rate limit (`--rate-limit-tokens`), as
 * bench/mock-model/main.ts takes them, for the resilience benches (provider-down.ts, tpm.ts).
 * mock-process.ts starts servers that differ by their latency alone; this is its twin for
 * the faults. One server per set of flags is started on first use and kept for the
 * process's life (a start costs about half a second): it does not hold the process open, and
 * it is killed when the process exits. Each run calls `reset()` first: its outage window and
 * its rate-limit window start there, and its counts from zero.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { MockModelStats } from '../mock-model/stats.ts';
import type { MockProcess } from './mock-process.ts';

const MAIN = new URL('../mock-model/main.ts', import.meta.url).pathname;
/** How long the server may take to say it listens. */
const START_TIMEOUT_MS = 10_000;

export interface FaultMock extends MockProcess {
  /** `POST /stats/reset`: the server as just started (windows, counts); the emptied stats. */
  reset(): Promise<MockModelStats>;
}

const servers = new Map<string, Promise<FaultMock>>();

/** The mock server started with `flags` (once per set of flags); resolves once it listens. */
export function faultMock(flags: readonly string[]): Promise<FaultMock> {
  const key = flags.join(' ');
  let server = servers.get(key);
  if (server === undefined) {
    server = startFaultMock(flags);
    servers.set(key, server);
    server.catch(() => servers.delete(key));
  }
  return server;
}

/** Closes every server `faultMock` started (tests, at their end). */
export async function closeFaultMocks(): Promise<void> {
  const started = [...servers.values()];
  servers.clear();
  await Promise.all(started.map(async (s) => (await s).close()));
}

async function startFaultMock(flags: readonly string[]): Promise<FaultMock> {
  const child = spawn(process.execPath, [MAIN, '--port', '0', ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the mock model did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m === null) return;
      clearTimeout(timer);
      lines.close();
      child.stdout.destroy();
      resolve(m[1]!);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the mock model exited (${String(code)}) with ${flags.join(' ')}`));
    });
  });
  // it must not keep the bench alive, nor outlive it
  child.unref();
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const json = async (res: Promise<Response>) => (await (await res).json()) as MockModelStats;
  return {
    url,
    stats: () => json(fetch(`${url}/stats`)),
    reset: () => json(fetch(`${url}/stats/reset`, { method: 'POST' })),
    async close() {
      process.off('exit', kill);
      child.kill('SIGTERM');
      await exited;
    },
  };
}
