/**
 * The watchdog of one sandbox host process in mode 'process', on the node's side: it decides,
 * from outside the host, when the host must be killed. isolated-vm's timeout cannot stop
 * every call (a V8 builtin on a huge value ignores it), so the host's guard thread reports
 * what it sees (sandbox/guard.ts) and this decides:
 *
 * - a call reported past the time it was given (`o` lines) is one that may not stop: at its
 *   first report `onSuspect` runs (the link starts the next host ahead, so that recovery does
 *   not wait for a process to start); when it has run `graceMs` past that time, the host is
 *   killed and the call is the offender (its caller gets SandboxLimitError, every other
 *   caller SandboxHostLostError);
 * - a host that says nothing (no result, no report) for SANDBOX_HOST_STALL_MS while answers
 *   are owed is killed too (no offender: the host is stuck outside any call, or frozen);
 * - a host not up (its `ready`) within SANDBOX_HOST_START_MS is killed.
 *
 * Timers are real time (they watch a real process) and never keep the node alive.
 */
import type { ChildProcess } from 'node:child_process';
import type { SandboxLimitName } from './limits.ts';

/** How long a host may take to start (fork, load, its `ready`), in ms. */
export const SANDBOX_HOST_START_MS = 30_000;
/**
 * How long a host that owes answers may say nothing, in ms: its guard reports every
 * GUARD_HEARTBEAT_MS while it works, so only a frozen host is this quiet.
 */
export const SANDBOX_HOST_STALL_MS = 5_000;

/**
 * How long a host stays up after a system shut down and nothing is left in it (ms): another
 * system of the same thread that starts a sandbox meanwhile keeps it.
 */
export const SANDBOX_HOST_LINGER_MS = 1_000;

/** The call a host was killed for. */
export interface Offender {
  /** The sandbox (or request) id it was for. */
  readonly id: number;
  readonly limit: SandboxLimitName;
  /** How long it had run (ms). */
  readonly value: number;
}

export interface HostWatchOptions {
  /** Read at each decision: `configureSandboxes({ watchdogGraceMs })` applies at once. */
  readonly graceMs: () => number;
  readonly onSuspect: () => void;
  /** The watchdog killed the host (SIGKILL sent), for `offender` or for silence. */
  readonly onKill: (why: string, offender: Offender | null) => void;
}

export class HostWatch {
  readonly #child: ChildProcess;
  readonly #options: HostWatchOptions;
  #ready = false;
  #owed = 0;
  #lastHeard = performance.now();
  #timer: NodeJS.Timeout | null = null;
  #suspected = -1;
  #killed = false;
  #partial = '';

  constructor(child: ChildProcess, options: HostWatchOptions) {
    this.#child = child;
    this.#options = options;
    this.#arm(SANDBOX_HOST_START_MS);
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** The host said `ready`. */
  up(): void {
    this.#ready = true;
    this.#heard();
  }

  /** Answers owed by the host now. */
  owe(n: number): void {
    if (this.#owed === 0 && n > 0) this.#lastHeard = performance.now();
    this.#owed = n;
    this.#rearm();
  }

  /** A batch of results came. */
  results(): void {
    this.#heard();
  }

  /** Text from the guard's report pipe (lines, maybe split anywhere). */
  reports(text: string): void {
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop()!;
    if (this.#partial.length > 256) this.#partial = ''; // not a report: the host is not ours
    for (const line of lines) this.#report(line);
    this.#heard();
  }

  stop(): void {
    this.#killed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  // ---- inside ---------------------------------------------------------------------------

  #report(line: string): void {
    if (!line.startsWith('o ')) return;
    const [, id, seq, elapsed, budget, limit] = line.split(' ');
    const value = Number(elapsed);
    const budgetMs = Number(budget);
    if (!Number.isFinite(value) || !Number.isFinite(budgetMs)) return;
    if (Number(seq) !== this.#suspected) {
      this.#suspected = Number(seq);
      this.#options.onSuspect();
    }
    if (value >= budgetMs + this.#options.graceMs())
      this.#kill(`a call ran ${value} ms, past its ${budgetMs} ms and the watchdog's grace`, {
        id: Number(id),
        limit: limit === 'wall' ? 'wall' : 'cpu',
        value,
      });
  }

  #heard(): void {
    this.#lastHeard = performance.now();
    this.#rearm();
  }

  #rearm(): void {
    if (this.#killed || !this.#ready) return;
    if (this.#owed === 0) {
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
    } else if (this.#timer === null) this.#arm(SANDBOX_HOST_STALL_MS);
  }

  #arm(ms: number): void {
    const t = setTimeout(() => this.#check(), ms);
    t.unref();
    this.#timer = t;
  }

  #check(): void {
    this.#timer = null;
    if (this.#killed) return;
    if (!this.#ready) {
      this.#kill(`it did not start within ${SANDBOX_HOST_START_MS} ms`, null);
      return;
    }
    if (this.#owed === 0) return;
    // what arrived while this thread was busy is read in this turn's poll phase: look after it
    setImmediate(() => {
      if (this.#killed || this.#owed === 0) return;
      const quiet = performance.now() - this.#lastHeard;
      if (quiet >= SANDBOX_HOST_STALL_MS)
        this.#kill(`it owed answers and said nothing for ${Math.round(quiet)} ms`, null);
      else this.#arm(SANDBOX_HOST_STALL_MS - quiet);
    });
  }

  #kill(why: string, offender: Offender | null): void {
    if (this.#killed) return;
    this.stop();
    this.#child.kill('SIGKILL');
    this.#options.onKill(why, offender);
  }
}
