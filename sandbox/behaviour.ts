/**
 * sandboxed: a behaviour whose code is untrusted JavaScript, run in an isolate of its own.
 *
 *   const counter = sandboxed({
 *     source: `
 *       function init(input) { return { n: input.start } }
 *       function receive(state, msg, ctx) {
 *         if (msg.type === 'inc') return { n: state.n + 1 };
 *         if (msg.type === 'get') ctx.reply(state.n);
 *         return state;
 *       }`,
 *     input: { start: 0 },
 *     limits: { cpuMs: 50 },
 *     capabilities: { tell: true },
 *   });
 *   system.spawn(counter, { name: 'counter' });
 *
 * The code is a script that declares `receive(state, msg, ctx)` and may declare
 * `init(input, ctx)` (default: the state is the input), `view(state)` (what snapshot
 * subscribers see; default the state) and `restore(snapshot, ctx)` (default: the state is the
 * snapshot). The state lives inside the isolate; each message is copied in as JSON; refs are
 * `{ $ref }` objects. `ctx` holds `self`, `sender`, `refs` (the refs granted at start),
 * `reply(value)` (answers the message being handled, as `ctx.reply` does) and what was
 * granted:
 *   capabilities.tell   ctx.tell(ref, msg): to a ref this sandbox holds (given in `refs`, in a
 *                       message, as a sender, itself); a forged `{ $ref }` is refused
 *   capabilities.emit   ctx.emit(event): goes to that ref as `{ type: 'troupe.sandbox.emitted', from, event }`
 *   capabilities.log    ctx.log(...values): the system's logger, at info, with the actor's path
 *   capabilities.clock  Date reads the real clock (otherwise it stands at the call's start)
 * What the code asks for happens when its `receive` returns (in order); a message that fails
 * has no effects.
 *
 * Limits (sandbox/limits.ts): a violation disposes the isolate and fails the actor with
 * SandboxLimitError; a throw of the code fails it with SandboxCodeError (a supervisor that
 * resumes keeps the isolate and its state; a restart gets a fresh isolate). A call that runs
 * its limit plus the watchdog's grace past gets its host killed (sandbox/config.ts): it fails
 * with SandboxLimitError, the other sandboxes of that host with SandboxHostLostError. The
 * isolate lives in a sandbox host process in both modes (process-state.ts, thread-state.ts).
 * Options are checked here, naming the field (InvalidOptionError): plain objects, `input` as
 * data. The behaviour is portable: it runs on any shard (its definition crosses as data).
 */
import type { Behaviour } from '../runtime/core/behaviour.ts';
import type { ActorContext } from '../runtime/core/context.ts';
import { InvalidOptionError, TroupeError } from '../runtime/core/error.ts';
import { isActorRef, type ActorRef } from '../runtime/core/ref.ts';
import { portableFactory } from '../runtime/shards/portable.ts';
import { encodeValue, SerializationError } from '../runtime/core/refcodec.ts';
import { grantLetters, type Grants } from './engine.ts';
import { sandboxMode } from './config.ts';
import {
  isPlainObject,
  resolveLimits,
  type ResolvedSandboxLimits,
  type SandboxLimits,
} from './limits.ts';
import type { SandboxEmitted } from './effects.ts';
import { ProcessState } from './process-state.ts';
import {
  persistThread,
  receiveThread,
  startThread,
  stopThread,
  viewThread,
  type ThreadState,
} from './thread-state.ts';

export type { SandboxEmitted } from './effects.ts';
export { SANDBOX_MAX_IN_FLIGHT } from './process-state.ts';

/** The most source a sandbox takes (characters). */
export const MAX_SOURCE_CHARS = 1_048_576;
export const DEFAULT_DOMAIN = 'default';

export interface SandboxCapabilities {
  readonly tell?: boolean;
  /** Refs given at start, as `ctx.refs.<name>`. */
  readonly refs?: Readonly<Record<string, ActorRef<any, any>>>;
  /** Where emitted events go. */
  readonly emit?: ActorRef<SandboxEmitted>;
  readonly log?: boolean;
  readonly clock?: boolean;
}

export interface SandboxedOptions {
  /** The untrusted code (a script declaring `receive`, and maybe `init`, `view`, `restore`). */
  readonly source: string;
  /** Passed to `init` (copied in as JSON). */
  readonly input?: unknown;
  readonly limits?: SandboxLimits;
  readonly capabilities?: SandboxCapabilities;
  /**
   * Its trust domain: isolates are reused only by code of the same domain (default
   * 'default': give each tenant, user or agent whose code must not share isolates its own).
   */
  readonly domain?: string;
}

export interface Spec {
  readonly source: string;
  readonly input: unknown;
  readonly limits: ResolvedSandboxLimits;
  readonly grants: Grants;
  readonly refs: Readonly<Record<string, ActorRef<unknown>>> | undefined;
  readonly emit: ActorRef<SandboxEmitted> | undefined;
  readonly domain: string;
}

const CAPABILITY_KEYS = ['tell', 'refs', 'emit', 'log', 'clock'];
const OPTION_KEYS = ['source', 'input', 'limits', 'capabilities', 'domain'];

function resolve(options: unknown): Spec {
  if (!isPlainObject(options))
    throw new InvalidOptionError(
      'options',
      options,
      'an object ({ source, input, limits, capabilities })',
    );
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!OPTION_KEYS.includes(k))
      throw new InvalidOptionError(
        `options.${k}`,
        o[k],
        k === 'snapshot' || k === 'cachedData'
          ? 'absent: a sandbox never takes a snapshot or cachedData (they carry machine code)'
          : `absent (known: ${OPTION_KEYS.join(', ')})`,
      );
  if (typeof o.source !== 'string' || o.source.length === 0)
    throw new InvalidOptionError('options.source', o.source, 'the code, as a non-empty string');
  if (o.source.length > MAX_SOURCE_CHARS)
    throw new InvalidOptionError(
      'options.source',
      `${o.source.length} characters`,
      `at most ${MAX_SOURCE_CHARS}`,
    );
  const limits = resolveLimits('options.limits', o.limits);
  if (o.input !== undefined)
    try {
      // it crosses as data: to the sandbox (JSON), and to another shard with the behaviour
      encodeValue(o.input, 'address');
    } catch (e) {
      if (!(e instanceof SerializationError)) throw e;
      throw new InvalidOptionError('options.input', o.input, `data (${e.message})`);
    }
  const domain = o.domain ?? DEFAULT_DOMAIN;
  if (typeof domain !== 'string' || domain.length === 0 || domain.length > 256)
    throw new InvalidOptionError(
      'options.domain',
      domain,
      'a non-empty string of at most 256 characters',
    );
  const c = (o.capabilities ?? {}) as Record<string, unknown>;
  if (!isPlainObject(c))
    throw new InvalidOptionError('options.capabilities', o.capabilities, 'an object');
  for (const k of Object.keys(c))
    if (!CAPABILITY_KEYS.includes(k))
      throw new InvalidOptionError(
        `options.capabilities.${k}`,
        c[k],
        `absent (known: ${CAPABILITY_KEYS.join(', ')})`,
      );
  const flag = (k: string): boolean => {
    const v = c[k];
    if (v === undefined) return false;
    if (typeof v !== 'boolean')
      throw new InvalidOptionError(`options.capabilities.${k}`, v, 'a boolean');
    return v;
  };
  let refs: Record<string, ActorRef<unknown>> | undefined;
  if (c.refs !== undefined) {
    if (!isPlainObject(c.refs))
      throw new InvalidOptionError(
        'options.capabilities.refs',
        c.refs,
        'an object of refs by name',
      );
    refs = {};
    for (const [k, r] of Object.entries(c.refs as Record<string, unknown>)) {
      if (!isActorRef(r))
        throw new InvalidOptionError(`options.capabilities.refs.${k}`, r, 'an actor ref');
      refs[k] = r;
    }
  }
  if (c.emit !== undefined && !isActorRef(c.emit))
    throw new InvalidOptionError(
      'options.capabilities.emit',
      c.emit,
      'the actor ref that gets the events',
    );
  return {
    source: o.source,
    input: o.input,
    limits,
    grants: {
      tell: flag('tell'),
      emit: c.emit !== undefined,
      log: flag('log'),
      clock: flag('clock'),
    },
    refs,
    emit: c.emit as ActorRef<SandboxEmitted> | undefined,
    domain,
  };
}

type State = ThreadState | ProcessState;

function make(options: SandboxedOptions): Behaviour<unknown, unknown, State> {
  const spec = resolve(options);
  const grants = grantLetters(spec.grants);
  const payload = (restoring: boolean, snapshot: unknown) =>
    restoring
      ? { restore: true, snapshot, refs: spec.refs }
      : { input: spec.input, refs: spec.refs };
  const start = (
    ctx: ActorContext<unknown, unknown>,
    restoring: boolean,
    snapshot: unknown,
  ): State =>
    sandboxMode() === 'thread'
      ? startThread(ctx, spec, grants, payload(restoring, snapshot))
      : new ProcessState(ctx, spec, grants, payload(restoring, snapshot));

  return {
    kind: 'sandboxed',
    init: (ctx) => start(ctx, false, undefined),
    receive(state, msg, ctx) {
      if (state.mode === 'process') state.receive(msg, ctx);
      else receiveThread(state, msg, ctx);
      return state;
    },
    stop(state, ctx) {
      if (state.mode === 'process') state.end(ctx);
      else stopThread(state, ctx);
    },
    view: (state) => (state.mode === 'process' ? state.currentView() : viewThread(state)),
    persist(state) {
      if (state.mode === 'process')
        throw new SandboxModeError(
          state.path,
          "a persistent sandboxed actor needs sandbox mode 'thread' (in mode 'process' its state is a message away)",
        );
      return persistThread(state);
    },
    restore: (snapshot, ctx) => start(ctx, true, snapshot),
  };
}

/** What a sandboxed actor cannot do in the sandbox mode it runs in. */
export class SandboxModeError extends TroupeError {
  readonly path: string;
  constructor(path: string, why: string) {
    super('ERR_SANDBOX_MODE', `${path}: ${why}`);
    this.path = path;
  }
}

/** The factory behind `sandboxed`: an export, so that another shard can make the same behaviour. */
export const sandboxedBehaviour = portableFactory(import.meta.url, 'sandboxedBehaviour', make);

/** A behaviour running untrusted code in an isolate (see the top of this file). */
export function sandboxed(options: SandboxedOptions): Behaviour<unknown, unknown> {
  resolve(options); // bad options fail here, naming the field, not on the shard it lands on
  return sandboxedBehaviour(options);
}
