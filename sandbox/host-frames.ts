/**
 * The sandbox host process (mode 'process', sandbox/config.ts): a child of the node that runs
 * isolates, so that a catastrophic V8 error ends it and not the node. It runs
 * sandbox/engine.ts's `Sandbox` (text in, text out) for every sandbox of the thread that
 * started it, and knows nothing of actors or refs.
 *
 * The node sends batches of frames over the IPC channel (sandbox/host-link.ts documents
 * them); this process handles a batch in order and answers with one batch of results. A
 * sandbox that fails is disposed at once and forgotten: later frames for it are ignored (the
 * node side dead-letters their messages).
 *
 * Started by sandbox/host-link.ts with `--no-node-snapshot`; never run it by hand.
 */
import { Sandbox } from './engine.ts';
import {
  configureIsolatePool,
  isolatePool,
  resolvePoolOptions,
  SandboxPoolExhaustedError,
} from './pool.ts';
import { SandboxCodeError, SandboxLimitError, SandboxSourceError } from './limits.ts';
import type { HostFrame, HostResult, FailureData } from './host-link.ts';

configureIsolatePool(resolvePoolOptions('sandbox.pool', JSON.parse(process.argv[2] ?? '{}')));

const sandboxes = new Map<number, Sandbox>();
/** Sandboxes whose code threw: what comes for them waits here until 'resume' or an end. */
const paused = new Map<number, HostFrame[]>();

function failure(e: unknown): FailureData {
  if (e instanceof SandboxPoolExhaustedError)
    return { kind: 'pool', maxIsolates: e.maxIsolates, message: e.message };
  if (e instanceof SandboxLimitError)
    return { kind: 'limit', limit: e.limit, value: e.value, message: e.message };
  if (e instanceof SandboxSourceError) return { kind: 'source', message: e.message };
  if (e instanceof SandboxCodeError) return { kind: 'code', thrown: e.thrown, message: e.message };
  return { kind: 'other', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
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
  out.push([id, 'f', failure(e)]);
  if (pausable && e instanceof SandboxCodeError && !sandbox.disposed) {
    paused.set(id, []);
    return;
  }
  sandboxes.delete(id);
  sandbox.fail(e as Error);
  sandbox.release();
}

function handle(f: HostFrame, out: HostResult[]): void {
  const held = f[0] === 'r' || f[0] === 'v' ? paused.get(f[1]) : undefined;
  if (held !== undefined) {
    held.push(f);
    return;
  }
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
        out.push([id, 'f', failure(e)]);
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
      const sandbox = sandboxes.get(f[1]);
      sandboxes.delete(f[1]);
      const frames = paused.get(f[1]);
      paused.delete(f[1]);
      // what waited is answered as gone (the node dead-letters it)
      for (const g of frames ?? []) count(out, g[1], 'g');
      if (sandbox !== undefined && f[0] === 'd')
        sandbox.fail(new Error('it failed in the node (a copy over the limit, a forged ref)'));
      sandbox?.release();
      return;
    }
    case 'u': {
      const [, id, source, input, limits, grants, domain] = f;
      const startedAt = performance.now();
      let sandbox: Sandbox | undefined;
      try {
        sandbox = new Sandbox('runUntrusted', limits, grants, domain);
        const fn = sandbox.compileFunction(source, 'runUntrusted');
        const { result, effects } = sandbox.runTask(fn, input, startedAt);
        out.push([id, 't', result, effects]);
      } catch (e) {
        sandbox?.fail(e as Error);
        out.push([id, 'f', failure(e)]);
      } finally {
        sandbox?.release();
      }
      return;
    }
    case 's':
      out.push([f[1], 's', { ...isolatePool().stats(), sandboxes: sandboxes.size }]);
      return;
  }
}

process.on('message', (batch: HostFrame[]) => {
  const out: HostResult[] = [];
  for (const f of batch) handle(f, out);
  if (out.length > 0) process.send!(out);
});
// the node went away: nothing is left to serve
process.on('disconnect', () => process.exit(0));
