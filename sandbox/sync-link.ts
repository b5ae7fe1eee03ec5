/**
 * The node's side of the sandbox host process in mode 'thread' (sandbox/config.ts): one host
 * per thread that uses such sandboxes, called synchronously. Each call writes one frame to
 * the host's request FIFO and blocks the calling thread until its result is read from the
 * response FIFO (frames: sandbox/host-protocol.ts). The isolates never run on this thread.
 *
 * - Watched from outside: before each call the deadline is set on a board shared with this
 *   thread's watchdog thread (sandbox/sync-watchdog.ts): its budget (the limit isolated-vm
 *   was given for that call) plus the watchdog's grace. Past it, the watchdog kills the host;
 *   the blocked read ends, and the call fails with SandboxLimitError (a call of the code) or
 *   SandboxHostLostError (starting the host, ending a sandbox). A host that ends otherwise
 *   fails the call with SandboxHostLostError.
 * - Every sandbox that was in a lost host fails with SandboxHostLostError at its next call
 *   (its isolate is gone); the next sandbox started gets a fresh host.
 * - Starting a host: two FIFOs are made in a private temporary directory (`mkfifo`: POSIX
 *   only), the host is spawned, both ends opened (each open waits for the other side, under
 *   the watchdog: SANDBOX_HOST_START_MS), and the FIFOs are unlinked. `configureSandboxes({
 *   mode: 'thread' })` starts one ahead, so that the first call does not wait for a process.
 * - The host dies with the node (its request FIFO ends; its guard thread kills it when it is
 *   stuck then). When a system shuts down and no sandbox is left in it, it is ended.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { SandboxLimitError, type SandboxLimitName } from './limits.ts';
import { sandboxPoolOptions, watchdogGraceMs, whenThreadMode } from './config.ts';
import { SyncWatchBoard } from './sync-board.ts';
import { SANDBOX_HOST_LINGER_MS, SANDBOX_HOST_START_MS } from './host-watch.ts';
import {
  encodeSync,
  FrameReader,
  hostEnv,
  SandboxHostLostError,
  type HostResult,
  type HostStats,
  type SyncFrame,
} from './host-protocol.ts';
import type { HostArgs } from './host.ts';

const HOST = fileURLToPath(new URL('./host.ts', import.meta.url));
const WATCHDOG = new URL('./sync-watchdog.ts', import.meta.url);

/** The budget of a call that runs none of the code (an isolate acquired, stats, an end), ms. */
export const SYNC_HOST_CALL_MS = 2_000;

/** A started host. */
interface SyncHost {
  readonly child: ChildProcess;
  readonly dir: string;
  /** Set once both FIFOs are open. */
  req: number;
  res: number;
  readonly generation: number;
}

/** What a call is, for the watchdog and for the error it fails with. */
export interface SyncCall {
  /** The path its errors name. */
  readonly path: string;
  /** The time isolated-vm was given (ms), and which limit that is; none: not the code's. */
  readonly budgetMs: number;
  readonly limit: SandboxLimitName | null;
  /** The limit's value, for SandboxLimitError. */
  readonly allowed: number;
}

export class SyncHostLink {
  #host: SyncHost | null = null;
  #generation = 0;
  #nextId = 0;
  #restarts = 0;
  #kills = 0;
  readonly #reader = new FrameReader();
  readonly #open = new Set<number>();
  #board: SyncWatchBoard | null = null;
  #linger: NodeJS.Timeout | null = null;
  #paths: MessageChannel | null = null;

  /** The host's generation now: a sandbox whose generation differs lost its host. */
  get generation(): number {
    return this.#generation;
  }

  /** Times a host was started after the first (it was lost). */
  get restarts(): number {
    return this.#restarts;
  }

  /** Hosts the watchdog killed. */
  get kills(): number {
    return this.#kills;
  }

  /** The host's pid (starting it when there is none). */
  get pid(): number {
    return this.#ensure(true).child.pid!;
  }

  /** A new sandbox id, in the current host (started when there is none). */
  open(): { id: number; generation: number } {
    if (this.#linger !== null) clearTimeout(this.#linger);
    this.#linger = null;
    const host = this.#ensure(true);
    const id = ++this.#nextId;
    this.#open.add(id);
    return { id, generation: host.generation };
  }

  close(id: number): void {
    this.#open.delete(id);
  }

  /** A new id for a call that is not a sandbox's (runUntrusted, stats). */
  nextId(): number {
    return ++this.#nextId;
  }

  /** Starts the host now (without waiting for it), so that the first call finds it up. */
  prestart(): void {
    this.#ensure(false);
  }

  /**
   * One frame, its result. Throws SandboxHostLostError when the host is gone or goes during
   * the call (SandboxLimitError when the watchdog killed it for this call of the code).
   */
  call(frame: SyncFrame, what: SyncCall, generation: number = this.#generation): HostResult {
    if (generation !== this.#generation)
      throw new SandboxHostLostError(what.path, 'it was lost since this sandbox started');
    const host = this.#ensure(true);
    const board = this.#board!;
    const seq = board.begin(what.budgetMs + watchdogGraceMs(), 'call');
    const t0 = performance.now();
    let result: HostResult | null;
    try {
      result = this.#exchange(host, encodeSync(frame));
    } finally {
      board.end();
    }
    if (result !== null) return result;
    const killed = board.judged(seq);
    this.#lost(host);
    if (killed) this.#kills++;
    if (killed && what.limit !== null)
      throw new SandboxLimitError(
        what.limit,
        Math.round(performance.now() - t0),
        what.path,
        what.allowed,
      );
    throw new SandboxHostLostError(
      what.path,
      killed ? 'the watchdog killed it: a call overran' : 'it exited',
    );
  }

  stats(): HostStats {
    const r = this.call(['s', this.nextId()], {
      path: 'stats',
      budgetMs: SYNC_HOST_CALL_MS,
      limit: null,
      allowed: 0,
    });
    if (r[1] !== 's') throw new SandboxHostLostError('stats', 'it answered what it cannot');
    return r[2];
  }

  /** Stops the host (its sandboxes fail as lost at their next call). */
  kill(): void {
    const host = this.#host;
    if (host === null) return;
    host.child.kill('SIGKILL');
    this.#lost(host);
  }

  /**
   * A system shut down: the host is ended once no sandbox is left in it and
   * SANDBOX_HOST_LINGER_MS have passed so (a sandbox opened before then keeps it).
   */
  release(): void {
    if (this.#open.size > 0 || this.#linger !== null) return;
    this.#linger = setTimeout(() => {
      this.#linger = null;
      if (this.#open.size === 0 && this.#host !== null) this.#lost(this.#host, false);
    }, SANDBOX_HOST_LINGER_MS);
    this.#linger.unref();
  }

  // ---- inside ---------------------------------------------------------------------------

  /** Writes a frame and reads its result; null when the host is gone. */
  #exchange(host: SyncHost, frame: Buffer): HostResult | null {
    try {
      for (let off = 0; off < frame.length;) off += writeSync(host.req, frame, off);
      const json = this.#reader.read(host.res);
      return json === null ? null : (JSON.parse(json) as HostResult);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') return null;
      throw e;
    }
  }

  /** The host, started (and, when `open`, its FIFOs opened: the caller waits for that). */
  #ensure(open: boolean): SyncHost {
    const host = this.#host ?? this.#spawn();
    if (open && host.req < 0) this.#connect(host);
    return host;
  }

  #watchdog(): SyncWatchBoard {
    if (this.#board !== null) return this.#board;
    const board = new SyncWatchBoard();
    const paths = new MessageChannel();
    const worker = new Worker(WATCHDOG, {
      workerData: { board: board.buffer, port: paths.port2 },
      transferList: [paths.port2],
      // none of the node's flags: `--input-type` (node -e) would keep it from starting, and this
      // thread cannot hear a worker's error while it waits for the watchdog
      execArgv: [],
    });
    worker.unref();
    paths.port1.unref();
    this.#board = board;
    this.#paths = paths;
    return board;
  }

  #spawn(): SyncHost {
    this.#watchdog();
    const dir = mkdtempSync(join(tmpdir(), 'troupe-sandbox-'));
    const req = join(dir, 'req');
    const res = join(dir, 'res');
    execFileSync('mkfifo', ['-m', '600', req, res]);
    const args: HostArgs = { transport: 'sync', pool: sandboxPoolOptions(), req, res };
    const child = spawn(process.execPath, ['--no-node-snapshot', HOST, JSON.stringify(args)], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: hostEnv(),
    });
    child.unref();
    const host: SyncHost = { child, dir, req: -1, res: -1, generation: this.#generation };
    child.on('error', () => {
      if (this.#host === host) this.#lost(host);
    });
    this.#host = host;
    this.#paths!.port1.postMessage([req, res]);
    return host;
  }

  /** Opens both FIFOs (each open waits for the host), watched; then unlinks them. */
  #connect(host: SyncHost): void {
    const board = this.#watchdog();
    if (!board.waitUp(SANDBOX_HOST_START_MS)) {
      this.#lost(host);
      throw new SandboxHostLostError('sandbox', 'its watchdog thread did not start');
    }
    board.pid = host.child.pid ?? 0;
    board.begin(SANDBOX_HOST_START_MS, 'start');
    try {
      host.req = openSync(join(host.dir, 'req'), 'w');
      host.res = openSync(join(host.dir, 'res'), 'r');
    } catch (e) {
      this.#lost(host);
      throw new SandboxHostLostError('sandbox', `its FIFOs could not be opened (${String(e)})`);
    } finally {
      board.end();
      rmSync(host.dir, { recursive: true, force: true });
    }
  }

  /** The host is gone (or is ended: not `lost`); everything of it is let go. */
  #lost(host: SyncHost, lost = true): void {
    if (this.#host !== host) return;
    this.#host = null;
    this.#generation++; // the sandboxes it held are gone with it
    if (lost) this.#restarts++;
    this.#open.clear();
    if (this.#board !== null) this.#board.pid = 0;
    for (const fd of [host.req, host.res]) if (fd >= 0) closeSync(fd);
    host.req = host.res = -1;
    rmSync(host.dir, { recursive: true, force: true });
    host.child.kill('SIGKILL');
  }
}

let link: SyncHostLink | null = null;

/** This thread's link to its synchronous sandbox host. */
export function syncHost(): SyncHostLink {
  return (link ??= new SyncHostLink());
}

// a thread that is set to mode 'thread' starts its host ahead of its first sandbox
whenThreadMode(() => syncHost().prestart());

/** This thread's synchronous link, if it has one (nothing is started). */
export function syncHostIfAny(): SyncHostLink | null {
  return link;
}
