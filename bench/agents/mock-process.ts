/**
 * The mock model server (bench/mock-model/) in a child process, for the agent benches that
 * go through HTTP: the server's work (parsing, JSON, waiting out its latency) stays off the
 * thread being measured. Its `/stats` says how many model calls it served (the benches take
 * differences). One server per latency is started on first use and kept for the process's
 * life (a start costs about half a second, a run of a quick bench less): it does not hold the
 * process open, and it is killed when the process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { MockModelStats } from '../mock-model/stats.ts';

const MAIN = new URL('../mock-model/main.ts', import.meta.url).pathname;
/** How long the server may take to say it listens. */
const START_TIMEOUT_MS = 10_000;

export interface MockProcess {
  /** `http://127.0.0.1:<port>`: OpenAI clients take `url + '/v1'`. */
  readonly url: string;
  stats(): Promise<MockModelStats>;
  close(): Promise<void>;
}

const servers = new Map<number, Promise<MockProcess>>();

/** The mock server with latency `latencyMs` per reply (started once); resolves once it listens. */
export function mockServer(latencyMs: number): Promise<MockProcess> {
  let server = servers.get(latencyMs);
  if (server === undefined) {
    server = startMockProcess(latencyMs);
    servers.set(latencyMs, server);
    server.catch(() => servers.delete(latencyMs));
  }
  return server;
}

/** Starts a mock server with latency `latencyMs` per reply; resolves once it listens. */
export async function startMockProcess(latencyMs: number): Promise<MockProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [MAIN, '--port', '0', '--latency-ms', String(latencyMs)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the mock model did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m === null) return;
      clearTimeout(timer);
      lines.close();
      child.stdout!.destroy();
      resolve(m[1]!);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the mock model exited (${String(code)}) before it listened`));
    });
  });
  // it must not keep the bench alive, nor outlive it
  child.unref();
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  return {
    url,
    stats: async () => (await (await fetch(`${url}/stats`)).json()) as MockModelStats,
    async close() {
      process.off('exit', kill);
      child.kill('SIGTERM');
      await exited;
    },
  };
}
