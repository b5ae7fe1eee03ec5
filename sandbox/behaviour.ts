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
 * resumes keeps the isolate and its state; a restart gets a fresh isolate). The behaviour is
 * portable: it runs on any shard (its definition crosses as data).
 */
import type { Behaviour } from '../runtime/behaviour.ts';
import type { ActorContext } from '../runtime/context.ts';
import { InvalidOptionError, TroupeError } from '../runtime/error.ts';
import { isActorRef, type ActorRef } from '../runtime/ref.ts';
import { portableFactory } from '../runtime/shards/portable.ts';
import { grantLetters, RefBook, Sandbox, type Effect, type Grants } from './engine.ts';
import { sandboxMode } from './config.ts';
import {
  failureError,
  sandboxHost,
  SandboxHostLostError,
  type HostClient,
  type HostResult,
} from './host-link.ts';
import { SandboxCodeError } from './limits.ts';
import { resolveLimits, type ResolvedSandboxLimits, type SandboxLimits } from './limits.ts';

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

/** What a sandbox's `ctx.emit(event)` sends to the ref granted as `capabilities.emit`. */
export interface SandboxEmitted {
  readonly type: 'troupe.sandbox.emitted';
  readonly from: ActorRef<unknown>;
  readonly event: unknown;
}

interface Spec {
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
  if (typeof options !== 'object' || options === null || Array.isArray(options))
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
  const domain = o.domain ?? DEFAULT_DOMAIN;
  if (typeof domain !== 'string' || domain.length === 0 || domain.length > 256)
    throw new InvalidOptionError(
      'options.domain',
      domain,
      'a non-empty string of at most 256 characters',
    );
  const c = (o.capabilities ?? {}) as Record<string, unknown>;
  if (typeof c !== 'object' || c === null || Array.isArray(c))
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
    if (typeof c.refs !== 'object' || c.refs === null || Array.isArray(c.refs))
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

/** Mode 'thread': the isolate is called in the actor's turn. */
interface ThreadState {
  readonly mode: 'thread';
  readonly sandbox: Sandbox;
  readonly refs: RefBook;
  version: number;
  viewed: number;
  view: unknown;
}

function make(options: SandboxedOptions): Behaviour<unknown, unknown, State> {
  const spec = resolve(options);
  const grants = grantLetters(spec.grants);
  const payload = (restoring: boolean, snapshot: unknown) =>
    restoring
      ? { restore: true, snapshot, refs: spec.refs }
      : { input: spec.input, refs: spec.refs };

  const startThread = (
    ctx: ActorContext<unknown, unknown>,
    restoring: boolean,
    snapshot: unknown,
  ): ThreadState => {
    const refs = new RefBook(ctx.path, spec.limits.copyBytes);
    const sandbox = new Sandbox(ctx.path, spec.limits, grants, spec.domain);
    try {
      sandbox.load(spec.source, `sandbox:${ctx.path}`);
      const out = sandbox.call('i', refs.copyIn(payload(restoring, snapshot)), refs.give(ctx.self));
      apply(refs.effects(out), ctx, spec, ctx.replyTo);
    } catch (e) {
      sandbox.fail(e as Error);
      sandbox.release();
      throw e;
    }
    return { mode: 'thread', sandbox, refs, version: 0, viewed: -1, view: undefined };
  };

  const start = (
    ctx: ActorContext<unknown, unknown>,
    restoring: boolean,
    snapshot: unknown,
  ): State =>
    sandboxMode() === 'thread'
      ? startThread(ctx, restoring, snapshot)
      : new ProcessState(ctx, spec, grants, payload(restoring, snapshot));

  return {
    kind: 'sandboxed',
    init: (ctx) => start(ctx, false, undefined),
    receive(state, msg, ctx) {
      if (state.mode === 'process') {
        state.receive(msg, ctx);
        return state;
      }
      const { sandbox, refs } = state;
      const sender = ctx.sender;
      let effects: readonly Effect[];
      try {
        effects = refs.effects(
          sandbox.call('r', refs.copyIn(msg), sender === undefined ? '' : refs.give(sender)),
        );
      } catch (e) {
        // a copy over the limit, a forged ref: the isolate goes now (a throw of the code keeps
        // it, for a supervisor that resumes)
        if (!(e instanceof SandboxCodeError)) sandbox.abandon(e as Error);
        throw e;
      }
      state.version++;
      if (effects.length > 0) apply(effects, ctx, spec, ctx.replyTo);
      return state;
    },
    stop(state) {
      if (state.mode === 'process') state.end();
      else state.sandbox.release();
    },
    view(state) {
      if (state.mode === 'process') return state.currentView();
      if (state.viewed !== state.version) {
        state.view = state.refs.read(state.sandbox.call('v', '', ''));
        state.viewed = state.version;
      }
      return state.view;
    },
    persist(state) {
      if (state.mode === 'process')
        throw new SandboxModeError(
          state.path,
          "a persistent sandboxed actor needs sandbox mode 'thread' (in mode 'process' its state is a message away)",
        );
      return state.refs.read(state.sandbox.call('p', '', ''));
    },
    restore: (snapshot, ctx) => start(ctx, true, snapshot),
  };
}

/** A sandbox's answer in mode 'process', back through its actor's mailbox. */
class SandboxOutcome {
  readonly type = 'troupe.sandbox.outcome';
  /** The message it answers (what a dead letter shows if handling the answer fails). */
  readonly message: unknown;
  readonly #state: ProcessState;
  readonly #sent: Sent | undefined;
  readonly #result: HostResult | SandboxHostLostError;
  constructor(
    state: ProcessState,
    sent: Sent | undefined,
    result: HostResult | SandboxHostLostError,
  ) {
    this.#state = state;
    this.#sent = sent;
    this.message = sent?.message;
    this.#result = result;
  }
  get sent(): Sent | undefined {
    return this.#sent;
  }
  get state(): ProcessState {
    return this.#state;
  }
  get result(): HostResult | SandboxHostLostError {
    return this.#result;
  }
}

interface Sent {
  readonly message: unknown;
  readonly replyTo: ActorRef<unknown> | undefined;
  readonly sender: ActorRef<unknown> | undefined;
}

/**
 * Mode 'process': the isolate lives in the sandbox host process. A message is copied in and
 * sent (batched per turn); the answer comes back to this actor as a SandboxOutcome, and its
 * effects are applied then, replies going to the reply address of the message they answer.
 * A failure fails the actor when its answer comes; what was sent after it is dead-lettered
 * ('sandbox-failed').
 */
class ProcessState implements HostClient {
  readonly mode = 'process';
  readonly path: string;
  readonly #self: ActorRef<unknown>;
  readonly #spec: Spec;
  readonly #refs: RefBook;
  readonly #link = sandboxHost();
  readonly #id: number;
  /**
   * What was sent, in order (the first is init): entries before #head are done; those from
   * #head to #assigned have their answers in the mailbox (or were answered with no effects:
   * DONE); those after await their answers.
   */
  #sent: (Sent | typeof DONE)[] = [];
  #head = 0;
  #assigned = 0;
  #ended = false;
  #wantView = false;
  #view: unknown = null;

  constructor(ctx: ActorContext<unknown, unknown>, spec: Spec, grants: string, payload: unknown) {
    this.path = ctx.path;
    this.#self = ctx.self;
    this.#spec = spec;
    this.#refs = new RefBook(ctx.path, spec.limits.copyBytes);
    const input = this.#refs.copyIn(payload);
    this.#id = this.#link.open(this);
    this.#sent.push({ message: undefined, replyTo: ctx.replyTo, sender: undefined });
    this.#link.send(
      [
        'n',
        this.#id,
        ctx.path,
        spec.domain,
        spec.limits,
        grants,
        spec.source,
        input,
        this.#refs.give(ctx.self),
      ],
      true,
    );
  }

  receive(msg: unknown, ctx: ActorContext<unknown, unknown>): void {
    if (msg instanceof SandboxOutcome) {
      if (msg.state === this) this.#outcome(msg, ctx);
      return;
    }
    if (this.#ended) throw new SandboxCodeError(this.path, 'Error', 'the sandbox has ended');
    const sender = ctx.sender;
    let json: string;
    try {
      json = this.#refs.copyIn(msg);
    } catch (e) {
      this.#fail(ctx, this.#assigned);
      throw e;
    }
    this.#sent.push({ message: msg, replyTo: ctx.replyTo, sender });
    this.#link.send(
      ['r', this.#id, json, sender === undefined ? '' : this.#refs.give(sender), this.#wantView],
      true,
    );
  }

  currentView(): unknown {
    if (!this.#wantView && !this.#ended) {
      this.#wantView = true;
      this.#sent.push({ message: undefined, replyTo: undefined, sender: undefined });
      this.#link.send(['v', this.#id], true);
    }
    return this.#view;
  }

  /** The actor stops or restarts: the sandbox ends, its isolate back to the host's pool. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#link.close(this.#id);
    this.#link.send(['x', this.#id], false);
  }

  // HostClient: answers arrive from the IPC channel, in the order of what was sent
  result(r: HostResult): void {
    if (r[1] === 'k') {
      // answered with no effects: done, without a trip through the mailbox
      const n = r[2];
      if (this.#head === this.#assigned) this.#head += n;
      else this.#sent.fill(DONE, this.#assigned, this.#assigned + n);
      this.#assigned += n;
      this.#compact();
      return;
    }
    const sent = this.#sent[this.#assigned++];
    this.#self.tell(new SandboxOutcome(this, sent === DONE ? undefined : sent, r));
  }

  lost(error: SandboxHostLostError): void {
    this.#self.tell(new SandboxOutcome(this, undefined, error));
  }

  #outcome(o: SandboxOutcome, ctx: ActorContext<unknown, unknown>): void {
    if (this.#ended) return;
    const r = o.result;
    if (r instanceof SandboxHostLostError) {
      this.#fail(ctx, this.#head);
      throw r;
    }
    // its entry, and before it any whose answer could not reach the mailbox (a full mailbox
    // dead-letters it: their effects are lost, visibly) or had no effects
    let at = this.#head;
    while (at < this.#assigned && this.#sent[at] !== o.sent) at++;
    if (at === this.#assigned) return;
    const sent = o.sent!;
    this.#head = at + 1;
    if (r[1] === 'f') {
      this.#fail(ctx, this.#head);
      throw failureError(r[2], this.path, this.#spec.limits);
    }
    while (this.#head < this.#assigned && this.#sent[this.#head] === DONE) this.#head++;
    this.#compact();
    if (r[1] !== 'o') return;
    try {
      const effects = this.#refs.effects(r[2]);
      if (r[3] !== null) this.#view = this.#refs.read(r[3]);
      if (effects.length > 0) apply(effects, ctx, this.#spec, sent.replyTo);
    } catch (e) {
      this.#fail(ctx, this.#head);
      throw e;
    }
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#sent.length) {
      this.#sent = this.#sent.slice(this.#head);
      this.#assigned -= this.#head;
      this.#head = 0;
    }
  }

  /**
   * Fails: the host disposes the sandbox and ignores what comes after; what was sent from
   * `from` on is dead-lettered: its effects did not happen.
   */
  #fail(ctx: ActorContext<unknown, unknown>, from: number): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#link.close(this.#id);
    this.#link.send(['d', this.#id], false);
    const rest = this.#sent.slice(from);
    this.#sent = [];
    this.#head = this.#assigned = 0;
    for (const s of rest)
      if (s !== DONE && s.message !== undefined)
        ctx.system.deadLetters.publish({
          message: s.message,
          recipient: this.#self.address,
          ...(s.sender === undefined ? {} : { sender: s.sender.address }),
          reason: 'sandbox-failed',
        });
  }
}

const DONE = Symbol('done');

/** What a sandboxed actor cannot do in the sandbox mode it runs in. */
export class SandboxModeError extends TroupeError {
  readonly path: string;
  constructor(path: string, why: string) {
    super('ERR_SANDBOX_MODE', `${path}: ${why}`);
    this.path = path;
  }
}

function apply(
  effects: readonly Effect[],
  ctx: ActorContext<unknown, unknown>,
  spec: Spec,
  replyTo: ActorRef<unknown> | undefined,
): void {
  for (const e of effects) {
    switch (e.kind) {
      case 'tell':
        e.to.tell(e.msg);
        break;
      case 'reply':
        if (replyTo !== undefined) replyTo.tell(e.value);
        else
          ctx.system.deadLetters.publish({
            message: e.value,
            recipient: ctx.self.address,
            reason: 'no-reply-address',
          });
        break;
      case 'emit':
        spec.emit!.tell({ type: 'troupe.sandbox.emitted', from: ctx.self, event: e.event });
        break;
      case 'log':
        ctx.system.logger.info(`${ctx.path}: ${e.text}`);
        break;
    }
  }
}

/** The factory behind `sandboxed`: an export, so that another shard can make the same behaviour. */
export const sandboxedBehaviour = portableFactory(import.meta.url, 'sandboxedBehaviour', make);

/** A behaviour running untrusted code in an isolate (see the top of this file). */
export function sandboxed(options: SandboxedOptions): Behaviour<unknown, unknown> {
  resolve(options); // bad options fail here, naming the field, not on the shard it lands on
  return sandboxedBehaviour(options);
}
