/**
 * The guard thread of a sandbox host process (started by sandbox/host.ts): it runs no
 * untrusted code, so it keeps running when the host's main thread is stuck in a call that
 * cannot be interrupted, and it does two things.
 *
 * - Parent-death detection: it checks its parent's pid every GUARD_PARENT_POLL_MS; when the
 *   node that started the host is gone (the host was re-parented), or a report cannot be
 *   written (the node closed its end), it kills its own process (SIGKILL): a host never
 *   outlives its node, stuck or not.
 * - Reports (mode 'process', `reportFd` set): while the host works on a batch it writes one
 *   line to the node every GUARD_HEARTBEAT_MS (`h`, it is alive), and, while a call runs
 *   past the time isolated-vm was given, at that time and every GUARD_TICK_MS of the call's
 *   after it (`o <id> <seq> <elapsedMs> <budgetMs> <limit>`; `guardNapMs`). The node decides what to do with them
 *   (sandbox/host-watch.ts): the guard kills nothing but its own process, and only for the
 *   parent's death.
 *
 * Synchronous by design: it sleeps in Atomics.wait and writes with fs.writeSync, so it needs
 * no event loop (and is ended with its process; Atomics.wait does not hold up an exit).
 */
import { writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import {
  CallBoard,
  GUARD_HEARTBEAT_MS,
  GUARD_PARENT_POLL_MS,
  guardNapMs,
  type GuardData,
} from './board.ts';

function die(): never {
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL is not delivered at once on every system: never return to a loop that reports
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_000);
}

function run({ board: buffer, reportFd, parent }: GuardData): never {
  const board = new CallBoard(buffer);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  let lastReport = 0;
  let lastParentCheck = 0;
  board.up();
  const report = (line: string): void => {
    if (reportFd === null) return;
    try {
      writeSync(reportFd, line);
    } catch {
      die(); // the node closed its end: it is gone
    }
    lastReport = performance.now();
  };
  for (;;) {
    const now = performance.now();
    if (now - lastParentCheck >= GUARD_PARENT_POLL_MS) {
      lastParentCheck = now;
      if (process.ppid !== parent) die();
    }
    if (reportFd === null) {
      // nothing to report (mode 'thread'): sleep on a slot of its own, so that the host's
      // calls never wake it
      Atomics.wait(nap, 0, 0, GUARD_PARENT_POLL_MS);
      continue;
    }
    if (!board.isBusy) {
      board.sleep(GUARD_PARENT_POLL_MS);
      continue;
    }
    const call = board.running();
    if (call !== undefined && call.elapsedMs >= call.budgetMs)
      report(
        `o ${call.id} ${call.seq} ${Math.round(call.elapsedMs)} ${call.budgetMs} ${call.limit}\n`,
      );
    else if (now - lastReport >= GUARD_HEARTBEAT_MS) report('h\n');
    Atomics.wait(nap, 0, 0, guardNapMs(call));
  }
}

run(workerData as GuardData);
