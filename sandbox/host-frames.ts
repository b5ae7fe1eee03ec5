/**
 * What a sandbox host process does with the frames it is sent (sandbox/host-protocol.ts
 * lists them): it runs sandbox/engine.ts's `Sandbox` (text in, text out) for every sandbox
 * of the thread that started it, and knows nothing of actors or refs.
 *
 * Mode 'process' (`handle`): a batch is handled in order. A sandbox that fails is disposed at
 * once and forgotten: later frames for it are answered 'g' (the node side dead-letters their
 * messages); when its code threw, it is paused instead: what comes for it waits for 'resume'.
 * Mode 'thread' (`handleSync`): one frame, one result. A throw of the code leaves the
 * sandbox as it was (the node, which waits for the answer, decides what comes next); any
 * other failure disposes it.
 *
 * Every frame is marked on the call board (sandbox/board.ts) with the id it is for, so that a
 * call that overruns is reported with the sandbox it belongs to.
 */
import { Sandbox } from './engine.ts';
import { isolatePool } from './pool.ts';
import { SandboxCodeError } from './limits.ts';
import { failureOf, type HostFrame, type HostResult, type SyncFrame } from './host-protocol.ts';
import type { CallBoard } from './board.ts';

const sandboxes = new Map<number, Sandbox>();
/** Sandboxes whose code threw: what comes for them waits here until 'resume' or an end. */
const paused = new Map<number, HostFrame[]>();

let board: CallBoard | null = null;

/** The board frames are marked on (sandbox/host.ts installs it). */
export function markFramesOn(b: CallBoard): void {
  board = b;
}

/** n more calls of sandbox `id` answered with `code` ('k' no effects, 'g' gone), coalesced. */
function count(out: HostResult[], id: number, code: 'k' | 'g'): void {
  const last = out[out.length - 1];
  if (last !== undefined && last[0] === id && last[1] === code)
    out[out.length - 1] = [id, code, (last as readonly [number, 'k' | 'g', number])[2] + 1];
  else out.push([id, code, 1]);
}

/** A call failed: a throw of the code pauses the sandbox (a resume may follow); else it goes. */
function failed(
  id: number,
  sandbox: Sandbox,
  e: unknown,
  out: HostResult[],
  pausable: boolean,
): void {
  out.push([id, 'f', failureOf(e)]);
  if (pausable && e instanceof SandboxCodeError && !sandbox.disposed) {
    paused.set(id, []);
    return;
  }
  forget(id, sandbox, e);
}

function forget(id: number, sandbox: Sandbox, e: unknown): void {
  sandboxes.delete(id);
  sandbox.fail(e as Error);
  sandbox.release();
}

/** Ends sandbox `id`: given back to the pool after 'x', disposed after 'd'. */
function end(id: number, failedInNode: boolean): void {
  const sandbox = sandboxes.get(id);
  sandboxes.delete(id);
  if (sandbox !== undefined && failedInNode)
    sandbox.fail(new Error('it failed in the node (a copy over the limit, a forged ref)'));
  sandbox?.release();
}

/** runUntrusted: a fresh sandbox for one run. */
function task(f: Extract<HostFrame, readonly ['u', ...unknown[]]>): HostResult {
  const [, id, source, input, limits, grants, domain] = f;
  const startedAt = performance.now();
  let sandbox: Sandbox | undefined;
  try {
    sandbox = new Sandbox('runUntrusted', limits, grants, domain);
    const fn = sandbox.compileFunction(source, 'runUntrusted');
    const { result, effects } = sandbox.runTask(fn, input, startedAt);
    return [id, 't', result, effects];
  } catch (e) {
    sandbox?.fail(e as Error);
    return [id, 'f', failureOf(e)];
  } finally {
    sandbox?.release();
  }
}

function stats(id: number): HostResult {
  return [id, 's', { ...isolatePool().stats(), sandboxes: sandboxes.size }];
}

/** Mode 'process': one frame of a batch; its results are added to `out`. */
export function handle(f: HostFrame, out: HostResult[]): void {
  const held = f[0] === 'r' || f[0] === 'v' ? paused.get(f[1]) : undefined;
  if (held !== undefined) {
    held.push(f);
    return;
  }
  if (board !== null) board.id = f[1];
  switch (f[0]) {
    case 'n': {
      const [, id, path, domain, limits, grants, source, payload, self] = f;
      let sandbox: Sandbox | undefined;
      try {
        sandbox = new Sandbox(path, limits, grants, domain);
        sandbox.load(source, `sandbox:${path}`);
        out.push([id, 'o', sandbox.call('i', payload, self), null]);
        sandboxes.set(id, sandbox);
      } catch (e) {
        if (sandbox !== undefined) {
          sandbox.fail(e as Error);
          sandbox.release();
        }
        out.push([id, 'f', failureOf(e)]);
      }
      return;
    }
    case 'r': {
      const [, id, msg, sender, view] = f;
      const sandbox = sandboxes.get(id);
      if (sandbox === undefined) return count(out, id, 'g');
      try {
        const effects = sandbox.call('r', msg, sender);
        if (effects === '' && !view) count(out, id, 'k');
        else out.push([id, 'o', effects, view ? sandbox.call('v', '', '') : null]);
      } catch (e) {
        failed(id, sandbox, e, out, true);
      }
      return;
    }
    case 'v': {
      const sandbox = sandboxes.get(f[1]);
      if (sandbox === undefined) return count(out, f[1], 'g');
      try {
        out.push([f[1], 'o', '', sandbox.call('v', '', '')]);
      } catch (e) {
        failed(f[1], sandbox, e, out, false);
      }
      return;
    }
    case 'resume': {
      const frames = paused.get(f[1]);
      paused.delete(f[1]);
      for (const g of frames ?? []) handle(g, out);
      return;
    }
    case 'x':
    case 'd': {
      const frames = paused.get(f[1]);
      paused.delete(f[1]);
      // what waited is answered as gone (the node dead-letters it)
      for (const g of frames ?? []) count(out, g[1], 'g');
      end(f[1], f[0] === 'd');
      return;
    }
    case 'u':
      out.push(task(f));
      return;
    case 's':
      out.push(stats(f[1]));
      return;
  }
}

/** Mode 'thread': one frame, its one result. */
export function handleSync(f: SyncFrame): HostResult {
  const id = f[1];
  if (board !== null) board.id = id;
  switch (f[0]) {
    case 'N': {
      const [, , path, domain, limits, grants] = f;
      try {
        sandboxes.set(id, new Sandbox(path, limits, grants, domain));
        return [id, 'o', '', null];
      } catch (e) {
        return [id, 'f', failureOf(e)];
      }
    }
    case 'u':
      return task(f);
    case 's':
      return stats(id);
    case 'x':
    case 'd':
      end(id, f[0] === 'd');
      return [id, 'k', 1];
  }
  const sandbox = sandboxes.get(id);
  if (sandbox === undefined) return [id, 'g', 1];
  try {
    switch (f[0]) {
      case 'L':
        sandbox.load(f[2], `sandbox:${sandbox.path}`);
        return [id, 'o', '', null];
      case 'I':
        return [id, 'o', sandbox.call('i', f[2], f[3]), null];
      case 'R':
        return [id, 'o', sandbox.call('r', f[2], f[3]), null];
      case 'v':
      case 'p':
        return [id, 'o', '', sandbox.call(f[0], '', '')];
    }
  } catch (e) {
    // the code threw: kept as it is (a supervisor may resume it); anything else disposes it
    if (!(e instanceof SandboxCodeError) || sandbox.disposed) forget(id, sandbox, e);
    return [id, 'f', failureOf(e)];
  }
}
