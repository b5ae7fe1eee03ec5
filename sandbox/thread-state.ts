/**
 * A sandboxed actor in mode 'thread' (sandbox/config.ts): each of its messages is one
 * synchronous call to this thread's sandbox host (sandbox/sync-link.ts), made in the actor's
 * turn, so that what the code asks for is done in that turn and `persist` can read the
 * state. A throw of the code leaves the isolate and its state as they were (a supervisor that
 * resumes keeps them); a violation, a refused effect or a lost host ends the sandbox (a later
 * call fails at once; a restart gets a fresh isolate).
 */
import type { ActorContext } from '../runtime/core/context.ts';
import type { ActorRef } from '../runtime/core/ref.ts';
import { RefBook, type Effect } from './engine.ts';
import { applyEffects } from './effects.ts';
import { SandboxCapabilityError, SandboxCodeError, SandboxLimitError } from './limits.ts';
import { failureError, type HostResult, type SyncFrame } from './host-protocol.ts';
import { syncHost, SYNC_HOST_CALL_MS, type SyncCall, type SyncHostLink } from './sync-link.ts';
import { SandboxAnswers } from './process-state.ts';
import type { Spec } from './behaviour.ts';

export interface ThreadState {
  readonly mode: 'thread';
  readonly link: SyncHostLink;
  readonly id: number;
  /** The host's generation it started in. */
  readonly generation: number;
  readonly path: string;
  readonly spec: Spec;
  readonly refs: RefBook;
  readonly self: ActorRef<unknown>;
  /** Why the sandbox is gone in its host (a violation, a refused effect, a lost host). */
  gone: Error | null;
  /** A failure of `view` (called outside the actor's turn), thrown at its next turn. */
  broken: Error | null;
  version: number;
  viewed: number;
  view: unknown;
}

/** A call of the code: the time isolated-vm is given for it, and which limit that is. */
function codeCall(s: ThreadState): SyncCall {
  const { cpuMs, wallMs } = s.spec.limits;
  const wall = wallMs < cpuMs;
  return {
    path: s.path,
    budgetMs: wall ? wallMs : cpuMs,
    limit: wall ? 'wall' : 'cpu',
    allowed: wall ? wallMs : cpuMs,
  };
}

/** A call that runs none of the code. */
function hostCall(s: ThreadState): SyncCall {
  return {
    path: s.path,
    budgetMs: SYNC_HOST_CALL_MS + s.spec.limits.cpuMs,
    limit: null,
    allowed: 0,
  };
}

type Done = Extract<HostResult, readonly [number, 'o', ...unknown[]]>;

/** One call of the sandbox; its 'o' result, or the typed failure thrown. */
function call(s: ThreadState, frame: SyncFrame, what: SyncCall = codeCall(s)): Done {
  if (s.gone !== null)
    throw new SandboxCodeError(
      s.path,
      'Error',
      `its isolate was disposed (${s.gone.message}): it must be restarted`,
    );
  let r: HostResult;
  try {
    r = s.link.call(frame, what, s.generation);
  } catch (e) {
    s.gone = e as Error;
    throw e;
  }
  if (r[1] === 'o') return r as Done;
  let error: Error;
  if (r[1] === 'f') {
    error = failureError(r[2], s.path, s.spec.limits);
    if (r[2].kind === 'code') throw error; // kept as it is, for a supervisor that resumes
  } else error = new SandboxCodeError(s.path, 'Error', 'its isolate is gone in the host');
  s.gone = error;
  throw error;
}

/** A failure found on this side (a copy over the limit, a forged ref): the host disposes it. */
function abandon(s: ThreadState, error: Error): void {
  if (s.gone !== null) return;
  s.gone = error;
  try {
    s.link.call(['d', s.id], hostCall(s), s.generation);
  } catch {
    // the host is gone with it
  }
}

export function startThread(
  ctx: ActorContext<unknown, unknown>,
  spec: Spec,
  grants: string,
  payload: unknown,
): ThreadState {
  const link = syncHost();
  const { id, generation } = link.open();
  const s: ThreadState = {
    mode: 'thread',
    link,
    id,
    generation,
    path: ctx.path,
    spec,
    refs: new RefBook(ctx.path, spec.limits.copyBytes, spec.grants),
    self: ctx.self,
    gone: null,
    broken: null,
    version: 0,
    viewed: -1,
    view: undefined,
  };
  try {
    call(s, ['N', id, ctx.path, spec.domain, spec.limits, grants], hostCall(s));
    call(s, ['L', id, spec.source]);
    const input = s.refs.copyIn(payload);
    const out = call(s, ['I', id, input, s.refs.give(ctx.self)]);
    applyEffects(s.refs.effects(out[2]), ctx, spec.emit, ctx.replyTo);
  } catch (e) {
    stopThread(s, ctx, e as Error);
    throw e;
  }
  return s;
}

export function receiveThread(
  s: ThreadState,
  msg: unknown,
  ctx: ActorContext<unknown, unknown>,
): void {
  if (s.broken !== null) {
    const e = s.broken;
    s.broken = null;
    throw e;
  }
  if (msg instanceof SandboxAnswers) return;
  const sender = ctx.sender;
  let effects: readonly Effect[];
  try {
    const json = s.refs.copyIn(msg);
    const out = call(s, ['R', s.id, json, sender === undefined ? '' : s.refs.give(sender)]);
    effects = s.refs.effects(out[2]);
  } catch (e) {
    // a copy over the limit, a forged ref: the isolate goes now (a throw of the code, or a
    // message that is not data, keeps it, for a supervisor that resumes)
    if (e instanceof SandboxLimitError || e instanceof SandboxCapabilityError) abandon(s, e);
    throw e;
  }
  s.version++;
  if (effects.length > 0) applyEffects(effects, ctx, s.spec.emit, ctx.replyTo);
}

export function viewThread(s: ThreadState): unknown {
  if (s.viewed !== s.version && s.broken === null) {
    try {
      s.view = s.refs.read(call(s, ['v', s.id])[3]!);
    } catch (e) {
      // the runtime calls view outside the actor's turn: the failure is the actor's at its
      // next turn, which a notice in its mailbox brings
      s.broken = e as Error;
      if (!(e instanceof SandboxCodeError)) abandon(s, e as Error);
      s.self.tell(new SandboxAnswers(null));
    }
    s.viewed = s.version;
  }
  return s.view;
}

export function persistThread(s: ThreadState): unknown {
  return s.refs.read(call(s, ['p', s.id])[3]!);
}

/** The actor stops or restarts (or its start failed): the host ends the sandbox. */
export function stopThread(
  s: ThreadState,
  ctx: ActorContext<unknown, unknown>,
  failed: Error | null = null,
): void {
  if (s.gone === null && s.generation === s.link.generation) {
    try {
      s.link.call([failed === null ? 'x' : 'd', s.id], hostCall(s), s.generation);
    } catch {
      // the host went meanwhile: the sandbox with it
    }
  }
  s.gone ??= failed ?? new SandboxCodeError(s.path, 'Error', 'the sandbox has ended');
  s.link.close(s.id);
  // the system shuts down: the host goes once nothing is left in it
  if (ctx.system.state === 'terminating') s.link.release();
}
