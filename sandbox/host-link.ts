/**
 * The node's side of the sandbox host process in mode 'process' (sandbox/config.ts): one per
 * thread that uses sandboxes, started at first use and again after it is lost. The frames
 * and results are listed in sandbox/host-protocol.ts.
 *
 * - Frames are batched: one IPC message per turn of the event loop, sent once the host has
 *   said it is ready.
 * - The host is watched from outside (sandbox/host-watch.ts): a call that runs its CPU or
 *   wall limit plus the watchdog's grace (`configureSandboxes({ watchdogGraceMs })`, default
 *   SANDBOX_WATCHDOG_GRACE_MS) past, or a host that falls silent, gets the host killed
 *   (SIGKILL). The next host is started ahead, at most one spare: at all times with
 *   `spareHost` (the default: started once the host is up, again each time it takes over),
 *   else when a call first runs past its limit, so that the sandboxes that follow do not wait
 *   for a process to start.
 * - When the host ends (killed, crashed), every sandbox in it fails with
 *   SandboxHostLostError, and every runUntrusted waiting on it rejects with it; the call the
 *   host was killed for fails with SandboxLimitError instead. A host the watchdog kills is
 *   lost as soon as its SIGKILL is sent (once what it had sent before is read), not when its
 *   exit is seen. The next frame goes to a fresh host.
 * - The host process is referenced (keeps the node alive) only while an answer is awaited.
 *   It dies with the node: its IPC channel closes, and its guard thread kills it when it is
 *   stuck then. When a system shuts down and no sandbox is left in the host, the host is
 *   ended (`release`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { SandboxLimitError } from './limits.ts';
import { sandboxPoolOptions, spareHost, watchdogGraceMs } from './config.ts';
import type { PoolStats } from './pool.ts';
import { HostWatch, SANDBOX_HOST_LINGER_MS, type Offender } from './host-watch.ts';
import {
  hostEnv,
  SandboxHostLostError,
  type HostFrame,
  type HostResult,
  type HostStats,
} from './host-protocol.ts';
import type { HostArgs } from './host.ts';

export { SandboxHostLostError };
export type { HostFrame, HostResult };

/** Receives the results of one sandbox. */
export interface HostClient {
  readonly path: string;
  /** The limit the offender's call was given (ms), for its SandboxLimitError. */
  readonly limits: { readonly cpuMs: number; readonly wallMs: number };
  result(r: HostResult): void;
  /** The host ended: SandboxHostLostError, or SandboxLimitError for the call it was killed for. */
  lost(error: SandboxHostLostError | SandboxLimitError): void;
}

const HOST = new URL('./host.ts', import.meta.url);

/** A host process and what the node knows of it. */
interface Host {
  readonly child: ChildProcess;
  readonly watch: HostWatch;
  /** Why the watchdog killed it (set before the kill). */
  verdict: { why: string; offender: Offender | null } | null;
  /** Ended on purpose (`release`): not a loss. */
  released: boolean;
}

export class SandboxHostLink {
  #host: Host | null = null;
  #spare: Host | null = null;
  #queue: HostFrame[] = [];
  #flushing = false;
  #nextId = 0;
  readonly #clients = new Map<number, HostClient>();
  readonly #waiting = new Map<
    number,
    { readonly limits: HostClient['limits']; settle(r: HostResult | Error): void }
  >();
  /** Calls sent whose answers have not come: the child is referenced while there are any. */
  #owed = 0;
  #restarts = 0;
  #kills = 0;
  /** A system shut down: the host is ended once nothing is left in it for a while. */
  #releasing = false;
  #linger: NodeJS.Timeout | null = null;

  /** Times a host process was started after the first (it was lost). */
  get restarts(): number {
    return this.#restarts;
  }

  /** Hosts the watchdog killed. */
  get kills(): number {
    return this.#kills;
  }

  /** The spare host's pid, when one is started (`spareHost`, or a call past its limit). */
  get sparePid(): number | undefined {
    return this.#spare?.child.pid;
  }

  /** The host process's pid (starting it when there is none). */
  get pid(): number {
    return this.#ensure().child.pid!;
  }

  /** A new sandbox id for `client`. */
  open(client: HostClient): number {
    this.#keep();
    this.#spareSoon();
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
    if (!owed && this.#host === null) return;
    this.#ensure();
    if (owed) this.#owe(1);
    this.#queue.push(frame);
    this.#flushSoon();
  }

  /**
   * Sends a frame that is answered once, and waits for the answer; `keep`: it is a use of the
   * host (a host ending after a shutdown stays).
   */
  request(
    limits: HostClient['limits'],
    make: (id: number) => HostFrame,
    keep = true,
  ): Promise<HostResult> {
    if (keep) {
      this.#keep();
      this.#spareSoon();
    }
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, {
        limits,
        settle: (r) => (r instanceof Error ? reject(r) : resolve(r)),
      });
      this.send(make(id), true);
    });
  }

  async stats(): Promise<PoolStats & { sandboxes: number }> {
    const r = await this.request({ cpuMs: 1, wallMs: 1 }, (id) => ['s', id], false);
    return r[1] === 's'
      ? (r as readonly [number, 's', HostStats])[2]
      : Promise.reject(new Error('unexpected answer'));
  }

  /** Stops the host process (its sandboxes fail as lost). */
  kill(): void {
    this.#host?.child.kill('SIGKILL');
  }

  /**
   * A system shut down: the host (and the spare) are ended once no sandbox is left in the
   * host and no answer is owed (now, or when the last answer comes) and SANDBOX_HOST_LINGER_MS
   * have passed so; a sandbox opened or a runUntrusted started before then keeps it.
   */
  release(): void {
    this.#releasing = true;
    this.#endIfReleased();
  }

  // ---- inside ---------------------------------------------------------------------------

  get #unused(): boolean {
    return this.#clients.size === 0 && this.#waiting.size === 0 && this.#owed === 0;
  }

  #keep(): void {
    this.#releasing = false;
    if (this.#linger !== null) clearTimeout(this.#linger);
    this.#linger = null;
  }

  #endIfReleased(): void {
    if (!this.#releasing || !this.#unused || this.#linger !== null) return;
    this.#linger = setTimeout(() => {
      this.#linger = null;
      if (this.#releasing && this.#unused) this.#end();
    }, SANDBOX_HOST_LINGER_MS);
    this.#linger.unref();
  }

  #end(): void {
    this.#releasing = false;
    const ending = [this.#host, this.#spare];
    // the next frame goes to a fresh host, never to one that is on its way out
    this.#host = this.#spare = null;
    for (const h of ending) {
      if (h === null) continue;
      h.released = true;
      h.watch.stop();
      h.child.kill('SIGKILL');
    }
  }

  #flushSoon(): void {
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushing = false;
    const host = this.#host;
    if (this.#queue.length === 0 || host === null || !host.watch.ready) return;
    const batch = this.#queue;
    this.#queue = [];
    const child = host.child;
    if (!child.connected) return; // its exit handler fails what was sent
    child.send(batch, (e) => {
      if (e !== null && e !== undefined) child.kill('SIGKILL');
    });
  };

  #owe(n: number): void {
    const before = this.#owed;
    this.#owed += n;
    const host = this.#host;
    if (host === null) return;
    host.watch.owe(this.#owed);
    if (before === 0 && this.#owed > 0) reference(host.child, true);
    else if (before > 0 && this.#owed === 0) {
      reference(host.child, false);
      this.#endIfReleased();
    }
  }

  #ensure(): Host {
    if (this.#host !== null) return this.#host;
    const host = this.#spare ?? this.#start();
    this.#spare = null;
    this.#host = host;
    host.watch.owe(this.#owed);
    reference(host.child, this.#owed > 0);
    this.#spareSoon();
    return host;
  }

  /** With `spareHost`: once the host is up, the next one is started beside it. */
  #spareSoon(): void {
    const host = this.#host;
    if (spareHost() && this.#spare === null && host !== null && host.watch.ready)
      this.#spare = this.#start();
  }

  /** Starts a host process (unreferenced, watched). */
  #start(): Host {
    const args: HostArgs = { transport: 'ipc', pool: sandboxPoolOptions() };
    const child = fork(HOST, [JSON.stringify(args)], {
      execArgv: ['--no-node-snapshot'],
      env: hostEnv(),
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'],
    });
    const host: Host = {
      child,
      verdict: null,
      released: false,
      watch: new HostWatch(child, {
        graceMs: watchdogGraceMs,
        onSuspect: () => {
          if (this.#host === host && this.#spare === null) this.#spare = this.#start();
        },
        onKill: (why, offender) => {
          host.verdict = { why, offender };
          this.#kills++;
          // SIGKILL is sent and cannot be caught: its callers need not wait for the process to
          // be reaped (tens of ms) to learn it. What it sent before is read first: what is
          // readable now is handled in this poll phase, before the immediate
          setImmediate(() => this.#lost(host, why));
        },
      }),
    };
    reference(child, false);
    const reports = child.stdio[4] as Readable | null;
    reports?.setEncoding('latin1');
    reports?.on('data', (text: string) => host.watch.reports(text));
    reports?.on('error', () => undefined); // it ends with the host: the exit handler says so
    child.on('message', (batch: HostResult[]) => {
      if (batch[0]?.[1] === 'ready') {
        host.watch.up();
        if (this.#host === host) {
          this.#flushSoon();
          this.#spareSoon();
        }
        return;
      }
      if (this.#host === host) this.#results(host, batch);
    });
    child.on('exit', (code, signal) => {
      host.watch.stop();
      if (this.#spare === host) this.#spare = null;
      this.#lost(host, host.verdict?.why ?? signal ?? `exit code ${code}`);
    });
    child.on('error', (e) => {
      // it could not start (or be signalled): its sandboxes are lost; kill what may be left
      host.watch.stop();
      if (this.#spare === host) this.#spare = null;
      this.#lost(host, e.message);
      child.kill('SIGKILL');
    });
    return host;
  }

  #results(host: Host, batch: HostResult[]): void {
    host.watch.results();
    let answered = 0;
    for (const r of batch) {
      answered += r[1] === 'k' || r[1] === 'g' ? r[2] : 1;
      const id = r[0];
      const waiter = this.#waiting.get(id);
      if (waiter !== undefined) {
        this.#waiting.delete(id);
        waiter.settle(r);
        continue;
      }
      if (r[1] !== 'g') this.#clients.get(id)?.result(r);
    }
    this.#owe(-answered);
  }

  #lost(host: Host, why: string): void {
    if (this.#host !== host) return;
    this.#host = null;
    if (!host.released) this.#restarts++;
    this.#queue = [];
    this.#owed = 0;
    const offender = host.verdict?.offender ?? null;
    const error = (path: string, id: number, limits: HostClient['limits']) =>
      offender !== null && offender.id === id
        ? new SandboxLimitError(
            offender.limit,
            offender.value,
            path,
            offender.limit === 'wall' ? limits.wallMs : limits.cpuMs,
          )
        : new SandboxHostLostError(path, why);
    const clients = [...this.#clients];
    this.#clients.clear();
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const [id, w] of waiting) w.settle(error('runUntrusted', id, w.limits));
    for (const [id, c] of clients) c.lost(error(c.path, id, c.limits));
  }
}

/** A child process keeps the node alive, or does not. */
function reference(child: ChildProcess, on: boolean): void {
  type Handle = { ref(): void; unref(): void } | null | undefined;
  const handles = [child, child.channel, child.stdio[4]] as Handle[];
  for (const h of handles) {
    if (h === null || h === undefined) continue;
    if (on) h.ref();
    else h.unref();
  }
}

let link: SandboxHostLink | null = null;

/** This thread's link to its sandbox host process. */
export function sandboxHost(): SandboxHostLink {
  return (link ??= new SandboxHostLink());
}

/** This thread's link, if it has one (nothing is started). */
export function sandboxHostIfAny(): SandboxHostLink | null {
  return link;
}
