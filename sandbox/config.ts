/**
 * How this thread's sandboxes are run: `configureSandboxes`, per thread (a worker shard calls
 * it from its `shardSetup` module; without it a shard's sandboxes run in mode 'process' with
 * the defaults). Set it before the first sandbox starts: a host process already running keeps
 * the pool bounds it was started with.
 *
 * Untrusted code never runs on a thread that hosts actors: in both modes the isolates live in
 * a sandbox host process beside the node (sandbox/host.ts), started at first use, killed by
 * a watchdog outside it when a call overruns, and replaced. A catastrophic V8 error (one
 * isolated-vm's README says needs `process.abort()`) ends that process, not the node.
 *
 *   mode 'process' (the default)  messages go to the host by IPC, batched per turn; each still
 *                                 runs under its own limits. What the code asks for happens
 *                                 when its answer comes back (applied in the actor's next
 *                                 turn). At most SANDBOX_MAX_IN_FLIGHT messages per sandbox
 *                                 are in the host; on a restart or stop, those not yet
 *                                 answered are dead letters and their asks fail (mode
 *                                 'thread' keeps them in the mailbox for the next
 *                                 incarnation). Not for persistent actors. One host per
 *                                 thread (sandbox/host-link.ts), and a spare host started
 *                                 beside it (`spareHost`, default SANDBOX_SPARE_HOST) that
 *                                 takes over when the host is lost.
 *   mode 'thread'                 each message is one synchronous call: the actor's thread
 *                                 waits for the host's answer (a round trip between
 *                                 processes, tens of µs; see README.md), so effects happen in
 *                                 the actor's turn and persistence works. One host per thread
 *                                 (sandbox/sync-link.ts), over a pair of FIFOs (POSIX).
 *
 * The watchdog: a call that runs its limit (its `cpuMs`, or the wall time left when that is
 * shorter) plus `watchdogGraceMs` (default SANDBOX_WATCHDOG_GRACE_MS) gets its host killed.
 * The grace is what a call that stops on time may need beyond its limit (isolated-vm stops it
 * at a check of its own; a loaded machine delays that): raise it rather than have a busy
 * machine's honest calls taken for hostile ones.
 */
import { InvalidOptionError, onlyKnownOptions, optionObject } from '../runtime/core/error.ts';
import {
  resolvePoolOptions,
  type ResolvedSandboxPoolOptions,
  type SandboxPoolOptions,
} from './pool.ts';

export type SandboxMode = 'process' | 'thread';

/** What a call may run past its limit before the watchdog kills its host (ms). */
export const SANDBOX_WATCHDOG_GRACE_MS = 250;
/** Whether mode 'process' keeps a spare host started, by default. */
export const SANDBOX_SPARE_HOST = true;

export interface SandboxOptions {
  readonly mode?: SandboxMode;
  readonly pool?: SandboxPoolOptions;
  /** Time a call may run past its limit before its host is killed (default 250 ms). */
  readonly watchdogGraceMs?: number;
  /**
   * Mode 'process': keep a second host started at all times (default true), started once the
   * first host is up and again each time it takes the place of a lost one. It costs an idle
   * process (bench/README.md, sandbox-recovery, has its memory); it saves the sandboxes of a
   * killed host the wait for a process to start, which on a loaded machine is longer than the
   * watchdog's grace. With false the next host is started when a call first runs past its
   * limit, and recovery waits for whatever of its start is left when the kill comes.
   */
  readonly spareHost?: boolean;
}

export interface ResolvedSandboxOptions {
  readonly mode: SandboxMode;
  readonly pool: ResolvedSandboxPoolOptions;
  readonly watchdogGraceMs: number;
  readonly spareHost: boolean;
}

const KEYS = ['mode', 'pool', 'watchdogGraceMs', 'spareHost'];

export function resolveSandboxOptions(field: string, v: unknown): ResolvedSandboxOptions {
  const o = v === undefined ? {} : optionObject(field, v);
  onlyKnownOptions(field, o, KEYS);
  const mode = o.mode ?? 'process';
  if (mode !== 'process' && mode !== 'thread')
    throw new InvalidOptionError(`${field}.mode`, mode, "'process' or 'thread'");
  const grace = o.watchdogGraceMs ?? SANDBOX_WATCHDOG_GRACE_MS;
  if (typeof grace !== 'number' || !Number.isFinite(grace) || grace < 0)
    throw new InvalidOptionError(`${field}.watchdogGraceMs`, grace, 'a finite number ≥ 0 (ms)');
  const spareHost = o.spareHost ?? SANDBOX_SPARE_HOST;
  if (typeof spareHost !== 'boolean')
    throw new InvalidOptionError(`${field}.spareHost`, spareHost, 'a boolean');
  return {
    mode,
    pool: resolvePoolOptions(`${field}.pool`, o.pool),
    watchdogGraceMs: grace,
    spareHost,
  };
}

let options: ResolvedSandboxOptions = resolveSandboxOptions('sandbox', undefined);

/** Sets how this thread's sandboxes run (checked, naming the field). */
export function configureSandboxes(o: SandboxOptions): void {
  applySandboxOptions(resolveSandboxOptions('options', o));
}

export function applySandboxOptions(o: ResolvedSandboxOptions): void {
  options = o;
  if (o.mode === 'thread') for (const f of onThreadMode) f();
}

const onThreadMode: (() => void)[] = [];

/** Runs `f` whenever this thread's mode is set to 'thread' (sync-link.ts starts its host). */
export function whenThreadMode(f: () => void): void {
  onThreadMode.push(f);
}

export function sandboxMode(): SandboxMode {
  return options.mode;
}

/** The pool bounds a sandbox host process is started with. */
export function sandboxPoolOptions(): ResolvedSandboxPoolOptions {
  return options.pool;
}

/** Whether mode 'process' keeps a spare host started. */
export function spareHost(): boolean {
  return options.spareHost;
}

/** The watchdog's grace now (ms). */
export function watchdogGraceMs(): number {
  return options.watchdogGraceMs;
}
