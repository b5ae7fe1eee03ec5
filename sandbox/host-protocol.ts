/**
 * What the node and a sandbox host process say to each other (sandbox/host-frames.ts handles
 * it in the host), and the errors a lost host becomes.
 *
 * Mode 'process' (sandbox/host-link.ts): batches of frames over the IPC channel, one IPC
 * message per turn of the event loop; answered with a batch of results per batch.
 *   ['n', id, path, domain, limits, grants, source, payload, self]   a sandbox: load and init
 *   ['r', id, message, sender, wantView]                              a message for it
 *   ['v', id]                                                         its view, please
 *   ['x', id]                                                         it ended cleanly
 *   ['d', id]                                                         it failed: dispose it
 *   ['resume', id]                                                    run what waited (paused)
 *   ['u', id, source, input, limits, grants, domain]                  runUntrusted
 *   ['s', id]                                                         the pool's stats
 * Results:
 *   [0, 'ready']                        the host is up (its first message)
 *   [id, 'o', effects, view | null]     a call ran ('' or '[…]' effects text; the view's JSON)
 *   [id, 'k', n]                        the next n calls ran with no effects and no view
 *   [id, 'g', n]                        n frames for a sandbox that is gone (failed) were ignored
 *   [id, 'f', failure]                  it failed: the sandbox is gone (later frames answered
 *                                       'g'), or, when its code threw, paused: later frames wait
 *                                       for 'resume' ('x' or 'd' answers them 'g')
 *   [id, 't', result, effects[]]        a runUntrusted ended
 *   [id, 's', stats]
 * Beside the IPC channel, the host's guard thread writes text lines to the node on the
 * host's fd 4 (sandbox/guard.ts): `h` (alive, working) and `o <id> <seq> <elapsedMs>
 * <budgetMs> <limit>` (a call runs past the time it was given).
 *
 * Mode 'thread' (sandbox/sync-link.ts): one frame at a time over a pair of FIFOs, each
 * answered by exactly one result; frames and results are JSON, each preceded by its length
 * in bytes (a 32-bit unsigned integer, little-endian). A sandbox starts in three calls, so
 * that each has one budget: 'N' (an isolate from the pool, the capabilities configured), 'L'
 * (its source run), 'I' (init). Its code throwing does not pause it (the node is waiting).
 *   ['N', id, path, domain, limits, grants] → [id, 'o', '', null]
 *   ['L', id, source]                       → [id, 'o', '', null]
 *   ['I', id, payload, self]                → [id, 'o', effects, null]
 *   ['R', id, message, sender]              → [id, 'o', effects, null]
 *   ['v', id] / ['p', id]                   → [id, 'o', '', view or state JSON]
 *   ['x', id] / ['d', id]                   → [id, 'k', 1]
 *   ['u', …] / ['s', id]                    → as in mode 'process'
 *   any of them                             → [id, 'f', failure] or [id, 'g', 1]
 */
import { readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TroupeError } from '../runtime/core/error.ts';
import {
  SandboxCodeError,
  SandboxLimitError,
  SandboxSourceError,
  type ResolvedSandboxLimits,
  type SandboxLimitName,
} from './limits.ts';
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

export type SyncFrame =
  | readonly ['N', number, string, string, ResolvedSandboxLimits, string]
  | readonly ['L', number, string]
  | readonly ['I', number, string, string]
  | readonly ['R', number, string, string]
  | readonly ['v' | 'p' | 'x' | 'd' | 's', number]
  | readonly ['u', number, string, string, ResolvedSandboxLimits, string, string];

export type FailureData =
  | { kind: 'limit'; limit: SandboxLimitName; value: number; message: string }
  | { kind: 'code'; thrown: string; message: string }
  | { kind: 'source'; message: string }
  | { kind: 'pool'; maxIsolates: number; message: string }
  | { kind: 'other'; message: string };

export type HostStats = PoolStats & { sandboxes: number };

export type HostResult =
  | readonly [0, 'ready']
  | readonly [number, 'o', string, string | null]
  | readonly [number, 'k' | 'g', number]
  | readonly [number, 'f', FailureData]
  | readonly [number, 't', string, string[]]
  | readonly [number, 's', HostStats];

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

/** The failure data of an error thrown in the host. */
export function failureOf(e: unknown): FailureData {
  if (e instanceof SandboxPoolExhaustedError)
    return { kind: 'pool', maxIsolates: e.maxIsolates, message: e.message };
  if (e instanceof SandboxLimitError)
    return { kind: 'limit', limit: e.limit, value: e.value, message: e.message };
  if (e instanceof SandboxSourceError) return { kind: 'source', message: e.message };
  if (e instanceof SandboxCodeError) return { kind: 'code', thrown: e.thrown, message: e.message };
  return { kind: 'other', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
}

/** A frame or result of mode 'thread' as bytes: its length, then its JSON. */
export function encodeSync(value: unknown): Buffer {
  const json = JSON.stringify(value);
  const bytes = Buffer.byteLength(json);
  const out = Buffer.allocUnsafe(4 + bytes);
  out.writeUInt32LE(bytes, 0);
  out.write(json, 4);
  return out;
}

/**
 * Reads mode 'thread's frames from a blocking fd, one read each when it fits its buffer. The
 * two sides take turns (a frame, then its one result), so nothing follows a frame.
 */
export class FrameReader {
  #buf = Buffer.alloc(64 * 1024);

  /** The next frame's JSON, or null at the end of the stream. */
  read(fd: number): string | null {
    let got = 0;
    let need = 4;
    while (got < need) {
      if (need > this.#buf.length) {
        const bigger = Buffer.alloc(need);
        this.#buf.copy(bigger, 0, 0, got);
        this.#buf = bigger;
      }
      const n = readSync(fd, this.#buf, got, this.#buf.length - got, null);
      if (n === 0) return null;
      got += n;
      if (got >= 4) need = 4 + this.#buf.readUInt32LE(0);
    }
    return this.#buf.toString('utf8', 4, need);
  }
}

/**
 * The environment a host process is started with: the node's, with Node's compile cache on
 * (NODE_COMPILE_CACHE, unless the node set its own): a host loads a dozen TypeScript modules,
 * and stripping their types again at every start took 150–300 ms of it (10 ms from the cache),
 * time the sandboxes of a killed host wait.
 */
export function hostEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'node-compile-cache'),
  };
}
