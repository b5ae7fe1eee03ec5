/**
 * The node's side of the sandbox host process (mode 'process', sandbox/config.ts): one per
 * thread that uses sandboxes, started at first use and again after it is lost.
 *
 * Frames to the host (arrays, in batches: one IPC message per turn of the event loop):
 *   ['n', id, path, domain, limits, grants, source, payload, self]   a sandbox: load and init
 *   ['r', id, message, sender, wantView]                              a message for it
 *   ['v', id]                                                         its view, please
 *   ['x', id]                                                         it ended cleanly
 *   ['d', id]                                                         it failed: dispose it
 *   ['resume', id]                                                    run what waited (paused)
 *   ['u', id, source, input, limits, grants, domain]                  runUntrusted
 *   ['s', id]                                                         the pool's stats
 * Results (a batch per batch):
 *   [id, 'o', effects, view | null]     a call ran ('' or '[…]' effects text; the view's JSON)
 *   [id, 'k', n]                        the next n calls ran with no effects and no view
 *   [id, 'g', n]                        n frames for a sandbox that is gone (failed) were ignored
 *   [id, 'f', failure]                  it failed: the sandbox is gone (later frames answered
 *                                       'g'), or, when its code threw, paused: later frames wait
 *                                       for 'resume' ('x' or 'd' answers them 'g')
 *   [id, 't', result, effects[]]        a runUntrusted ended
 *   [id, 's', stats]
 *
 * The host process is referenced (keeps the node alive) only while an answer is awaited.
 * When it exits, every sandbox in it fails with SandboxHostLostError.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { TroupeError } from '../runtime/error.ts';
import {
  SandboxCodeError,
  SandboxLimitError,
  SandboxSourceError,
  type ResolvedSandboxLimits,
  type SandboxLimitName,
} from './limits.ts';
import { sandboxPoolOptions } from './config.ts';
import { SandboxPoolExhaustedError, type PoolStats } from './pool.ts';
import { allowedOf } from './engine.ts';

export type HostFrame =
  | readonly ['n', number, string, string, ResolvedSandboxLimits, string, string, string, string]
  | readonly ['r', number, string, string, boolean]
  | readonly ['v', number]
  | readonly ['x', number]
  | readonly ['d', number]
  | readonly ['resume', number]
  | readonly ['u', number, string, string, ResolvedSandboxLimits, string, string]
  | readonly ['s', number];

export type FailureData =
  | { kind: 'limit'; limit: SandboxLimitName; value: number; message: string }
  | { kind: 'code'; thrown: string; message: string }
  | { kind: 'source'; message: string }
  | { kind: 'pool'; maxIsolates: number; message: string }
  | { kind: 'other'; message: string };

export type HostResult =
  | readonly [number, 'o', string, string | null]
  | readonly [number, 'k' | 'g', number]
  | readonly [number, 'f', FailureData]
  | readonly [number, 't', string, string[]]
  | readonly [number, 's', PoolStats & { sandboxes: number }];

/** The sandbox host process ended (crashed, killed) with this sandbox in it. */
export class SandboxHostLostError extends TroupeError {
  readonly path: string;
  constructor(path: string, why: string) {
    super(
      'ERR_SANDBOX_HOST_LOST',
      `the sandbox host process of ${path} ended (${why}); its isolate is gone`,
    );
    this.path = path;
  }
}

/** Receives the results of one sandbox. */
export interface HostClient {
  readonly path: string;
  result(r: HostResult): void;
  lost(error: SandboxHostLostError): void;
}

/** The typed error a failure stands for, with this side's path and limits. */
export function failureError(f: FailureData, path: string, limits: ResolvedSandboxLimits): Error {
  switch (f.kind) {
    case 'limit': {
      return new SandboxLimitError(f.limit, f.value, path, allowedOf(limits, f.limit));
    }
    case 'code': {
      const e = new SandboxCodeError(path, f.thrown, '');
      e.message = f.message;
      return e;
    }
    case 'source': {
      const e = new SandboxSourceError(path, '');
      e.message = f.message;
      return e;
    }
    case 'pool':
      return new SandboxPoolExhaustedError(f.maxIsolates);
    default:
      return new SandboxCodeError(path, 'Error', f.message);
  }
}

const HOST = new URL('./host.ts', import.meta.url);

export class SandboxHostLink {
  #child: ChildProcess | null = null;
  #queue: HostFrame[] = [];
  #flushing = false;
  #nextId = 0;
  readonly #clients = new Map<number, HostClient>();
  readonly #waiting = new Map<number, (r: HostResult | SandboxHostLostError) => void>();
  /** Calls sent whose answers have not come: the child is referenced while there are any. */
  #owed = 0;
  #restarts = 0;

  /** Times a host process was started after the first (it was lost). */
  get restarts(): number {
    return this.#restarts;
  }

  /** The host process's pid (starting it when there is none). */
  get pid(): number {
    return this.#ensure().pid!;
  }

  /** A new sandbox id for `client`. */
  open(client: HostClient): number {
    const id = ++this.#nextId;
    this.#clients.set(id, client);
    return id;
  }

  /** The client is done: no more results for it. */
  close(id: number): void {
    this.#clients.delete(id);
  }

  /** Queues a frame; `owed` when it will be answered. */
  send(frame: HostFrame, owed: boolean): void {
    // an end or a resume for a host that is gone: nothing there to tell
    if (!owed && this.#child === null) return;
    this.#ensure();
    if (owed) this.#owe(1);
    this.#queue.push(frame);
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(this.#flush);
    }
  }

  /** Sends a frame that is answered once, and waits for the answer. */
  request(make: (id: number) => HostFrame): Promise<HostResult> {
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, (r) => (r instanceof Error ? reject(r) : resolve(r)));
      this.send(make(id), true);
    });
  }

  async stats(): Promise<PoolStats & { sandboxes: number }> {
    const r = await this.request((id) => ['s', id]);
    return r[1] === 's'
      ? (r as readonly [number, 's', PoolStats & { sandboxes: number }])[2]
      : Promise.reject(new Error('unexpected answer'));
  }

  /** Stops the host process (its sandboxes fail as lost). */
  kill(): void {
    this.#child?.kill('SIGKILL');
  }

  // ---- inside ---------------------------------------------------------------------------

  readonly #flush = (): void => {
    this.#flushing = false;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    const child = this.#child;
    if (child === null || !child.connected) return; // its exit handler fails what was sent
    child.send(batch, (e) => {
      if (e !== null && e !== undefined) child.kill('SIGKILL');
    });
  };

  #owe(n: number): void {
    const before = this.#owed;
    this.#owed += n;
    const child = this.#child;
    if (child === null) return;
    if (before === 0 && this.#owed > 0) {
      child.ref();
      child.channel?.ref();
    } else if (before > 0 && this.#owed === 0) {
      child.unref();
      child.channel?.unref();
    }
  }

  #ensure(): ChildProcess {
    if (this.#child !== null) return this.#child;
    const child = fork(HOST, [JSON.stringify(sandboxPoolOptions())], {
      execArgv: ['--no-node-snapshot'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child = child;
    child.unref();
    child.channel?.unref();
    if (this.#owed > 0) {
      child.ref();
      child.channel?.ref();
    }
    child.on('message', (batch: HostResult[]) => {
      if (this.#child === child) this.#results(batch);
    });
    child.on('exit', (code, signal) => this.#lost(child, signal ?? `exit code ${code}`));
    child.on('error', (e) => {
      // it could not start (or be signalled): its sandboxes are lost; kill what may be left
      this.#lost(child, e.message);
      child.kill('SIGKILL');
    });
    return child;
  }

  #results(batch: HostResult[]): void {
    let answered = 0;
    for (const r of batch) {
      answered += r[1] === 'k' || r[1] === 'g' ? r[2] : 1;
      const id = r[0];
      const waiter = this.#waiting.get(id);
      if (waiter !== undefined) {
        this.#waiting.delete(id);
        waiter(r);
        continue;
      }
      if (r[1] !== 'g') this.#clients.get(id)?.result(r);
    }
    this.#owe(-answered);
  }

  #lost(child: ChildProcess, why: string): void {
    if (this.#child !== child) return;
    this.#child = null;
    this.#restarts++;
    this.#queue = [];
    this.#owed = 0;
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) w(new SandboxHostLostError('runUntrusted', why));
    for (const c of clients) c.lost(new SandboxHostLostError(c.path, why));
  }
}

let link: SandboxHostLink | null = null;

/** This thread's link to its sandbox host process. */
export function sandboxHost(): SandboxHostLink {
  return (link ??= new SandboxHostLink());
}
