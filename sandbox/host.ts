/**
 * The sandbox host process: a child of the node that runs isolates, so that a call that
 * cannot be interrupted, or a catastrophic V8 error, ends this process and not the node.
 * Started by sandbox/host-link.ts (mode 'process') or sandbox/sync-link.ts (mode 'thread')
 * with `--no-node-snapshot` and one argument, the JSON of HostArgs; never run it by hand.
 *
 * Its main thread handles frames (sandbox/host-frames.ts) and marks each call into an
 * isolate on the call board (sandbox/board.ts); its guard thread (sandbox/guard.ts) watches
 * the board and the parent: it reports calls that overrun (mode 'process') and kills this
 * process when the node is gone. The guard is started first and the isolates' modules
 * (isolated-vm, the engine) are loaded while it boots: the host is up when both are done,
 * not after one and then the other (the figures: bench/README.md, sandbox-recovery).
 *
 *   transport 'ipc'   batches over the IPC channel; it says [0, 'ready'] first; it exits when
 *                     the channel closes (and the guard kills it if it is stuck then)
 *   transport 'sync'  one frame at a time from the FIFO `req`, each answered on the FIFO
 *                     `res`; it exits when `req` ends
 */
import { openSync, writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { CallBoard, watchCalls, type GuardData } from './board.ts';
import type { HostFrame, HostResult, SyncFrame } from './host-protocol.ts';

export interface HostArgs {
  readonly transport: 'ipc' | 'sync';
  readonly pool: unknown;
  /** transport 'sync': the FIFOs frames come on and results go to. */
  readonly req?: string;
  readonly res?: string;
}

/** The fd the guard's reports go to in transport 'ipc' (stdio[4] of the host). */
export const REPORT_FD = 4;
/** How long the guard thread may take to start (ms): the host gives up (exits) beyond. */
const GUARD_START_MS = 20_000;

const args = JSON.parse(process.argv[2] ?? '{}') as HostArgs;

const board = new CallBoard();
const guard: GuardData = {
  board: board.buffer,
  reportFd: args.transport === 'ipc' ? REPORT_FD : null,
  parent: process.ppid,
};
// the guard is started before the isolates' modules load: its thread boots (a Node
// environment of its own) while this one loads them, and the host is up sooner
new Worker(new URL('./guard.ts', import.meta.url), { workerData: guard, execArgv: [] }).unref();
const [pool, frames, { encodeSync, FrameReader }] = await Promise.all([
  import('./pool.ts'),
  import('./host-frames.ts'),
  import('./host-protocol.ts'),
]);
const { handle, handleSync } = frames;
pool.configureIsolatePool(pool.resolvePoolOptions('sandbox.pool', args.pool));
watchCalls(board);
frames.markFramesOn(board);
// nothing is served before the guard watches: a call it cannot see could not be stopped
if (!board.waitUp(GUARD_START_MS)) process.exit(1);

if (args.transport === 'sync') serveSync(args.req!, args.res!);
else serveIpc();

function serveIpc(): void {
  process.on('message', (batch: HostFrame[]) => {
    const out: HostResult[] = [];
    board.busy();
    try {
      for (const f of batch) handle(f, out);
    } finally {
      board.idle();
    }
    if (out.length > 0) process.send!(out, exitOnError);
  });
  // the node went away: nothing is left to serve (also while the modules loaded)
  process.on('disconnect', () => process.exit(0));
  if (!process.connected) process.exit(0);
  process.send!([[0, 'ready']], exitOnError);
}

/** A send that fails: the node is gone (its channel closed). */
function exitOnError(e: Error | null): void {
  if (e !== null) process.exit(0);
}

function serveSync(reqPath: string, resPath: string): never {
  // the same order as the node opens them: each open waits for the other end
  const req = openSync(reqPath, 'r');
  const res = openSync(resPath, 'w');
  const reader = new FrameReader();
  for (;;) {
    const json = reader.read(req);
    if (json === null) process.exit(0);
    const frame = JSON.parse(json) as SyncFrame;
    board.busy();
    let out: Buffer;
    try {
      out = encodeSync(handleSync(frame));
    } finally {
      board.idle();
    }
    for (let off = 0; off < out.length;) off += writeSync(res, out, off);
  }
}
