/**
 * Where this thread's sandboxes run, and its isolate pool's bounds: `configureSandboxes`, per
 * thread (a worker shard calls it from its `shardSetup` module; without it a shard's
 * sandboxes run in mode 'process' with the default pool). Set it before the first sandbox
 * starts: a host process already running keeps the pool bounds it was started with.
 *
 *   mode 'process' (the default)  isolates live in a sandbox host process beside the node
 *                                 (sandbox/host.ts, one per thread that uses sandboxes): a
 *                                 catastrophic V8 error there (isolated-vm's README: it needs
 *                                 `process.abort()`) ends that process, not the node. Its
 *                                 sandboxes fail with SandboxHostLostError and the next one
 *                                 starts a new host process. Calls go by IPC, batched per turn;
 *                                 each message still runs under its own limits. What the code
 *                                 asks for happens when its answer comes back (applied in the
 *                                 actor's next turn). At most SANDBOX_MAX_IN_FLIGHT messages per
 *                                 sandbox are in the host; on a restart or stop, those not yet
 *                                 answered are dead letters and their asks fail (mode 'thread'
 *                                 keeps them in the mailbox for the next incarnation). Not for
 *                                 persistent actors.
 *   mode 'thread'                 isolates live in the node's own threads: each message is one
 *                                 synchronous call (a few µs; an ask answers ~20× sooner than
 *                                 in mode 'process', see README.md), effects happen in the
 *                                 actor's turn, and persistence works. A catastrophic V8 error
 *                                 takes the node down.
 */
import { InvalidOptionError } from '../runtime/error.ts';
import {
  configureIsolatePool,
  resolvePoolOptions,
  type ResolvedSandboxPoolOptions,
  type SandboxPoolOptions,
} from './pool.ts';

export type SandboxMode = 'process' | 'thread';

export interface SandboxOptions {
  readonly mode?: SandboxMode;
  readonly pool?: SandboxPoolOptions;
}

export interface ResolvedSandboxOptions {
  readonly mode: SandboxMode;
  readonly pool: ResolvedSandboxPoolOptions;
}

export function resolveSandboxOptions(field: string, v: unknown): ResolvedSandboxOptions {
  if (v === undefined)
    return { mode: 'process', pool: resolvePoolOptions(`${field}.pool`, undefined) };
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new InvalidOptionError(field, v, 'an object ({ mode, pool })');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== 'mode' && k !== 'pool')
      throw new InvalidOptionError(`${field}.${k}`, o[k], 'absent (known: mode, pool)');
  const mode = o.mode ?? 'process';
  if (mode !== 'process' && mode !== 'thread')
    throw new InvalidOptionError(`${field}.mode`, mode, "'process' or 'thread'");
  return { mode, pool: resolvePoolOptions(`${field}.pool`, o.pool) };
}

let mode: SandboxMode = 'process';
let poolOptions: ResolvedSandboxPoolOptions = resolvePoolOptions('sandbox.pool', undefined);

/** Sets where this thread's sandboxes run and its pool's bounds (checked, naming the field). */
export function configureSandboxes(options: SandboxOptions): void {
  applySandboxOptions(resolveSandboxOptions('options', options));
}

export function applySandboxOptions(o: ResolvedSandboxOptions): void {
  mode = o.mode;
  poolOptions = o.pool;
  configureIsolatePool(o.pool);
}

export function sandboxMode(): SandboxMode {
  return mode;
}

/** The pool bounds the sandbox host process is started with. */
export function sandboxPoolOptions(): ResolvedSandboxPoolOptions {
  return poolOptions;
}
