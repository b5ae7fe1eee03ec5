/**
 * The watchdog thread of mode 'thread' (sandbox/sync-link.ts), in the node: while the actor's
 * thread waits for the sandbox host's answer (blocked in a read of a FIFO), this thread times
 * the call from outside (sandbox/sync-board.ts). When the call runs past its deadline it
 * records the verdict and kills the host (SIGKILL: the blocked read then ends). While the host
 * is starting, the caller may be blocked opening a FIFO whose other end nobody will open (the
 * host died, or never came): then it opens and closes that other end, so that the open
 * returns; a host that dies while starting is seen within START_POLL_MS.
 *
 * Synchronous, with no event loop: a host that never answers cannot stall it. The FIFOs'
 * paths come by a MessagePort.
 */
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { SyncWatchBoard } from './sync-board.ts';

/** How often a host that is starting is checked for having died (ms). */
const START_POLL_MS = 20;
/** How long the watchdog sleeps when nothing is watched (ms): a new call wakes it anyway. */
const IDLE_MS = 1_000;

export interface SyncWatchData {
  readonly board: SharedArrayBuffer;
  readonly port: MessagePort;
}

/** Whether the process `pid` has ended (a zombie not yet reaped counts as ended). */
function ended(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return false; // no /proc: the FIFOs tell when it ends
  }
}

/** Opens and closes the other end of each FIFO, so that a blocked open of ours returns. */
function poke([req, res]: readonly string[]): void {
  const ends: [string | undefined, number][] = [
    [req, constants.O_RDONLY | constants.O_NONBLOCK],
    [res, constants.O_WRONLY | constants.O_NONBLOCK],
  ];
  for (const [path, flags] of ends) {
    if (path === undefined) continue;
    try {
      closeSync(openSync(path, flags));
    } catch {
      // unlinked already (both ends were open), or nobody waits at this end: nothing blocks
    }
  }
}

function run({ board: buffer, port }: SyncWatchData): never {
  const board = new SyncWatchBoard(buffer);
  let paths: readonly string[] = [];
  let killed = -1;
  board.up();
  for (;;) {
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port))
      paths = m.message as string[];
    const seq = board.seq;
    const starting = board.starting;
    if (!board.active || (killed === seq && !starting)) {
      board.sleep(seq, IDLE_MS);
      continue;
    }
    const pid = board.watchedPid;
    if (killed !== seq) {
      const left = board.left;
      const dead = starting && pid > 0 && ended(pid);
      if (left > 0 && !dead) {
        board.sleep(seq, starting ? Math.min(left, START_POLL_MS) : left);
        continue;
      }
      if (board.seq !== seq || !board.active) continue;
      killed = seq;
      if (!dead) board.convict(seq);
      if (pid > 0)
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // it is gone already
        }
    }
    // starting: the caller may be blocked in an open of either FIFO, one after the other
    poke(paths);
    board.sleep(seq, START_POLL_MS);
  }
}

run(workerData as SyncWatchData);
