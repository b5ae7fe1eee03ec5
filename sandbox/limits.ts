/**
 * The limits of a sandbox, each a named option with a default, and the errors a sandbox
 * fails with.
 *
 *   memoryMb   the isolate's heap (isolated-vm `memoryLimit`; soft: a hostile script may
 *              reach 2–3× before it is stopped)                          SANDBOX_MEMORY_MB (32)
 *   cpuMs      one message (or one `runUntrusted`) may run this long before it is stopped
 *              (isolated-vm's `timeout`, microtasks included; it counts elapsed time while
 *              the call runs, so a machine short of CPU stops a call sooner)
 *                                                                         SANDBOX_CPU_MS (100)
 *   wallMs     a `runUntrusted` from start to result, compiling included; each call into the
 *              isolate also stops there when it is shorter than cpuMs  SANDBOX_WALL_MS (1,000)
 *   copyBytes  each value copied in (a message, an input) or out (a tell, a reply, an emit,
 *              a log line, a result, the state), as JSON in UTF-8 bytes   SANDBOX_COPY_BYTES (1 MiB)
 *
 * What the limits cannot do (isolated-vm and V8, measured in test/sandbox/escape.test.ts and
 * watchdog.test.ts): one call of a V8 builtin on a huge value (Array#concat, JSON.parse,
 * String#split; Array#indexOf, includes, lastIndexOf, join, reverse, copyWithin, fill on an
 * object with a huge `length`) is not interrupted by the CPU limit, and the memory limit is
 * found when a garbage collection fails. Such a call ends when the builtin gives up (up to
 * ~1.5 s late here), or, at its limit plus the watchdog's grace (sandbox/config.ts), with its
 * host killed: then it fails with SandboxLimitError (cpu or wall, the time it ran) and every
 * other sandbox of that host with SandboxHostLostError. A value made and dropped within one
 * call may reach several times memoryMb. A V8 fatal error (an array past V8's largest) aborts
 * the process that holds the isolate: the sandbox host process, in both modes (its sandboxes
 * fail with SandboxHostLostError), never the node.
 *
 * A violation disposes the isolate: the sandbox fails with SandboxLimitError (which limit,
 * the value reached, the actor's path), and a restart gets a fresh isolate.
 */
import { TroupeError, InvalidOptionError, describe } from '../runtime/core/error.ts';

export const SANDBOX_MEMORY_MB = 32;
export const SANDBOX_CPU_MS = 100;
export const SANDBOX_WALL_MS = 1_000;
export const SANDBOX_COPY_BYTES = 1_048_576;

export interface SandboxLimits {
  readonly memoryMb?: number;
  readonly cpuMs?: number;
  readonly wallMs?: number;
  readonly copyBytes?: number;
}

export interface ResolvedSandboxLimits {
  readonly memoryMb: number;
  readonly cpuMs: number;
  readonly wallMs: number;
  readonly copyBytes: number;
}

export const DEFAULT_LIMITS: ResolvedSandboxLimits = Object.freeze({
  memoryMb: SANDBOX_MEMORY_MB,
  cpuMs: SANDBOX_CPU_MS,
  wallMs: SANDBOX_WALL_MS,
  copyBytes: SANDBOX_COPY_BYTES,
});

const KEYS = ['memoryMb', 'cpuMs', 'wallMs', 'copyBytes'] as const;

/** A plain object (`{…}`: no Map, Set, Date or class instance), as options are. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Defaults merged first; each given limit checked, naming `field.<name>`. */
export function resolveLimits(field: string, v: unknown): ResolvedSandboxLimits {
  if (v === undefined) return DEFAULT_LIMITS;
  if (!isPlainObject(v)) throw new InvalidOptionError(field, v, 'an object of limits');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!(KEYS as readonly string[]).includes(k))
      throw new InvalidOptionError(`${field}.${k}`, o[k], `absent (known: ${KEYS.join(', ')})`);
  const num = (k: (typeof KEYS)[number], min: number): number => {
    const x = o[k];
    if (x === undefined) return DEFAULT_LIMITS[k];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < min)
      throw new InvalidOptionError(`${field}.${k}`, x, `a finite number ≥ ${min}`);
    return x;
  };
  return {
    // isolated-vm's smallest heap is 8 MB
    memoryMb: num('memoryMb', 8),
    cpuMs: num('cpuMs', 1),
    wallMs: num('wallMs', 1),
    copyBytes: num('copyBytes', 1),
  };
}

export type SandboxLimitName = 'memory' | 'cpu' | 'wall' | 'copy';

/** A sandbox went past one of its limits: its isolate is disposed. */
export class SandboxLimitError extends TroupeError {
  readonly limit: SandboxLimitName;
  /** What it reached: MB, ms or bytes (for memory, the limit: the isolate was stopped there). */
  readonly value: number;
  /** The sandboxed actor's path, or `runUntrusted`. */
  readonly path: string;
  constructor(limit: SandboxLimitName, value: number, path: string, allowed: number) {
    super(
      'ERR_SANDBOX_LIMIT',
      `${path} went past its ${limit} limit (${value} against ${allowed} ${UNITS[limit]}); its isolate is disposed (raise limits.${LIMIT_OPTIONS[limit]} if the work is legitimate)`,
    );
    this.limit = limit;
    this.value = value;
    this.path = path;
  }
}

const UNITS: Record<SandboxLimitName, string> = {
  memory: 'MB',
  cpu: 'ms',
  wall: 'ms',
  copy: 'bytes',
};
const LIMIT_OPTIONS: Record<SandboxLimitName, string> = {
  memory: 'memoryMb',
  cpu: 'cpuMs',
  wall: 'wallMs',
  copy: 'copyBytes',
};

/** The sandboxed code threw (its error, as text: nothing of the isolate crosses but copies). */
export class SandboxCodeError extends TroupeError {
  readonly path: string;
  /** The thrown value's name (`TypeError`…) or `typeof`, as the code gave it. */
  readonly thrown: string;
  constructor(path: string, thrown: string, message: string) {
    super('ERR_SANDBOX_CODE', `the sandboxed code of ${path} threw ${thrown}: ${message}`);
    this.path = path;
    this.thrown = thrown;
  }
}

/** The code asked for what it was not granted, or gave a capability what it must not. */
export class SandboxCapabilityError extends TroupeError {
  readonly path: string;
  readonly capability: string;
  constructor(path: string, capability: string, why: string) {
    super('ERR_SANDBOX_CAPABILITY', `${path}: ${capability} refused: ${why}`);
    this.path = path;
    this.capability = capability;
  }
}

/** The source is not what a sandboxed behaviour needs (checked when the sandbox starts). */
export class SandboxSourceError extends TroupeError {
  readonly path: string;
  constructor(path: string, why: string) {
    super('ERR_SANDBOX_SOURCE', `the sandboxed source of ${path}: ${why}`);
    this.path = path;
  }
}

/** A thrown value from inside, as text (never the value itself). */
export function thrownText(e: unknown): { thrown: string; message: string } {
  if (e instanceof Error) return { thrown: e.name, message: e.message };
  return { thrown: typeof e, message: describe(e) };
}
