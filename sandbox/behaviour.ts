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
import { SandboxCapabilityError, SandboxCodeError, SandboxLimitError } from './limits.ts';
import { ReplyFailure } from '../runtime/ask.ts';
import { ActorFailedError } from '../runtime/failure.ts';
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
  readonly self: ActorRef<unknown>;
  /** A failure of `view` (called outside the actor's turn), thrown at its next turn. */
  broken: Error | null;
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
    const refs = new RefBook(ctx.path, spec.limits.copyBytes, spec.grants);
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
    return {
      mode: 'thread',
      sandbox,
      refs,
      self: ctx.self,
      broken: null,
      version: 0,
      viewed: -1,
      view: undefined,
    };
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
      if (state.broken !== null) {
        const e = state.broken;
        state.broken = null;
        throw e;
      }
      if (msg instanceof SandboxAnswers) return state;
      const sender = ctx.sender;
      let effects: readonly Effect[];
      try {
        effects = refs.effects(
          sandbox.call('r', refs.copyIn(msg), sender === undefined ? '' : refs.give(sender)),
        );
      } catch (e) {
        // a copy over the limit, a forged ref: the isolate goes now (a throw of the code, or a
        // message that is not data, keeps it, for a supervisor that resumes)
        if (e instanceof SandboxLimitError || e instanceof SandboxCapabilityError)
          sandbox.abandon(e);
        throw e;
      }
      state.version++;
      if (effects.length > 0) apply(effects, ctx, spec, ctx.replyTo);
      return state;
    },
    stop(state, ctx) {
      if (state.mode === 'process') state.end(ctx);
      else state.sandbox.release();
    },
    view(state) {
      if (state.mode === 'process') return state.currentView();
      if (state.viewed !== state.version && state.broken === null) {
        try {
          state.view = state.refs.read(state.sandbox.call('v', '', ''));
        } catch (e) {
          // the runtime calls view outside the actor's turn: the failure is the actor's at
          // its next turn, which a notice in its mailbox brings
          state.broken = e as Error;
          if (!(e instanceof SandboxCodeError)) state.sandbox.abandon(e as Error);
          state.self.tell(new SandboxAnswers(null));
        }
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

/**
 * In mode 'process': "answers have come", told to the actor when its sandbox's answers arrive
 * from the host process (at most one in its mailbox at a time). Whatever the actor handles
 * next, this or a message, applies the answers first, in order. When an answer is a failure,
 * `message` is set to the message that failed, so the dead letter of this notice shows it.
 */
class SandboxAnswers {
  readonly type = 'troupe.sandbox.answers';
  message: unknown = undefined;
  readonly #state: ProcessState | null;
  constructor(state: ProcessState | null) {
    this.#state = state;
  }
  get state(): ProcessState | null {
    return this.#state;
  }
}

interface Sent {
  readonly message: unknown;
  readonly replyTo: ActorRef<unknown> | undefined;
  readonly sender: ActorRef<unknown> | undefined;
}

/** A message not forwarded yet (over the in-flight bound), with its copy. */
interface Held extends Sent {
  readonly json: string;
  readonly senderJson: string;
}

type Arrived =
  | { readonly sent: Sent; readonly result: HostResult }
  | { readonly done: number }
  | { readonly lost: SandboxHostLostError };

/** Messages a sandbox in mode 'process' has in the host at once; more wait here. */
export const SANDBOX_MAX_IN_FLIGHT = 1_024;

/**
 * Mode 'process': the isolate lives in the sandbox host process. A message is copied in and
 * forwarded (batched per turn; at most SANDBOX_MAX_IN_FLIGHT at once, the rest wait here, at
 * most the mailbox's capacity of them: more are dead letters, `mailbox-full`). Answers come
 * back in order; the actor applies them in its next turn (effects, replies to the asker of
 * the message they answer). A failure fails the actor there: the asker of the failed message
 * gets ActorFailedError. A throw of the code pauses the sandbox in the host: a supervisor that
 * resumes gets what was forwarded after it run; a restart or stop dead-letters it
 * (`sandbox-failed`), failing its asks. A violation or a lost host ends the sandbox the same
 * way.
 */
class ProcessState implements HostClient {
  readonly mode = 'process';
  readonly path: string;
  readonly #self: ActorRef<unknown>;
  readonly #spec: Spec;
  readonly #refs: RefBook;
  readonly #link = sandboxHost();
  readonly #id: number;
  /** Forwarded, in order (the first is init); those before #head are done. */
  #sent: Sent[] = [];
  #head = 0;
  /** Entries whose answers have arrived (in #arrived, not yet applied) end here. */
  #assigned = 0;
  #held: Held[] = [];
  #heldHead = 0;
  #arrived: Arrived[] = [];
  #notice: SandboxAnswers | null = null;
  /** A throw of the code: the host holds what came after until 'resume' or an end. */
  #paused = false;
  #ended = false;
  #wantView = false;
  #view: unknown = null;

  constructor(ctx: ActorContext<unknown, unknown>, spec: Spec, grants: string, payload: unknown) {
    this.path = ctx.path;
    this.#self = ctx.self;
    this.#spec = spec;
    this.#refs = new RefBook(ctx.path, spec.limits.copyBytes, spec.grants);
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
    const notice = msg instanceof SandboxAnswers ? msg : undefined;
    if (notice !== undefined) {
      if (notice.state !== this) return; // an earlier incarnation's
      if (notice === this.#notice) this.#notice = null;
    }
    if (this.#paused) {
      // handled again after a throw: the supervisor resumed it
      this.#paused = false;
      this.#link.send(['resume', this.#id], false);
    }
    this.#apply(ctx, notice);
    if (notice !== undefined) return;
    if (this.#ended) throw new SandboxCodeError(this.path, 'Error', 'the sandbox has ended');
    const sender = ctx.sender;
    let json: string;
    try {
      json = this.#refs.copyIn(msg);
    } catch (e) {
      // a message that cannot be copied in fails alone; over the copy limit ends the sandbox
      if (e instanceof SandboxLimitError) this.#end(ctx, 'sandbox-failed', e);
      throw e;
    }
    const held: Held = {
      message: msg,
      replyTo: ctx.replyTo,
      sender,
      json,
      senderJson: sender === undefined ? '' : this.#refs.give(sender),
    };
    const waiting = this.#held.length - this.#heldHead;
    if (waiting > 0 || this.#inFlight() >= SANDBOX_MAX_IN_FLIGHT) {
      if (waiting >= ctx.mailboxCapacity)
        ctx.system.deadLetters.publish({
          message: msg,
          recipient: this.#self.address,
          ...(sender === undefined ? {} : { sender: sender.address }),
          reason: 'mailbox-full',
        });
      else this.#held.push(held);
      return;
    }
    this.#forward(held);
  }

  currentView(): unknown {
    if (!this.#wantView && !this.#ended) {
      this.#wantView = true;
      this.#sent.push({ message: undefined, replyTo: undefined, sender: undefined });
      this.#link.send(['v', this.#id], true);
    }
    return this.#view;
  }

  /**
   * The actor stops or restarts. What was forwarded and not yet applied, and what waits here,
   * is dead-lettered (`stopped`), its asks failed; the host ends the sandbox (its isolate back
   * to the pool, or disposed after a failure).
   */
  end(ctx: ActorContext<unknown, unknown>): void {
    this.#end(ctx, 'stopped', undefined);
  }

  // HostClient: answers arrive from the IPC channel, in the order of what was forwarded
  result(r: HostResult): void {
    if (r[1] === 'k' && this.#arrived.length === 0) {
      // answered with no effects, nothing before them waits: done at once
      this.#head += r[2];
      this.#assigned += r[2];
      this.#compact();
      this.#release();
      return;
    }
    if (r[1] === 'k') {
      this.#arrived.push({ done: r[2] });
      this.#assigned += r[2];
    } else this.#arrived.push({ sent: this.#sent[this.#assigned++]!, result: r });
    this.#notify();
  }

  lost(error: SandboxHostLostError): void {
    this.#arrived.push({ lost: error });
    this.#notify();
  }

  // ---- inside ---------------------------------------------------------------------------

  #inFlight(): number {
    return this.#sent.length - this.#head;
  }

  #forward(h: Held): void {
    this.#sent.push({ message: h.message, replyTo: h.replyTo, sender: h.sender });
    this.#link.send(['r', this.#id, h.json, h.senderJson, this.#wantView], true);
  }

  /** Forwards what waits here, as far as the in-flight bound allows. */
  #release(): void {
    const held = this.#held;
    while (this.#heldHead < held.length && this.#inFlight() < SANDBOX_MAX_IN_FLIGHT && !this.#ended)
      this.#forward(held[this.#heldHead++]!);
    if (this.#heldHead === held.length) {
      this.#held = [];
      this.#heldHead = 0;
    } else if (this.#heldHead > 1024 && this.#heldHead * 2 > held.length) {
      this.#held = held.slice(this.#heldHead);
      this.#heldHead = 0;
    }
  }

  #notify(): void {
    if (this.#notice !== null || this.#ended) return;
    this.#notice = new SandboxAnswers(this);
    this.#self.tell(this.#notice);
  }

  /** Applies the answers that have arrived, in order; throws the first failure. */
  #apply(ctx: ActorContext<unknown, unknown>, notice: SandboxAnswers | undefined): void {
    while (this.#arrived.length > 0 && !this.#ended) {
      const a = this.#arrived.shift()!;
      if ('done' in a) {
        this.#head += a.done;
        continue;
      }
      if ('lost' in a) this.#fail(ctx, notice, undefined, a.lost);
      const { sent, result: r } = a;
      this.#head++;
      if (r[1] === 'f') {
        const error = failureError(r[2], this.path, this.#spec.limits);
        this.#fail(ctx, notice, sent, error);
      }
      if (r[1] !== 'o') continue;
      try {
        const effects = this.#refs.effects(r[2]);
        if (r[3] !== null) this.#view = this.#refs.read(r[3]);
        if (effects.length > 0) apply(effects, ctx, this.#spec, sent.replyTo);
      } catch (e) {
        // what the code asked for is refused: the sandbox is ended in the host too
        this.#link.send(['d', this.#id], false);
        this.#fail(ctx, notice, sent, e as Error);
      }
    }
    this.#compact();
    this.#release();
  }

  /**
   * The sandbox failed on `sent`'s message: its asker is told, the dead letter the runtime
   * makes of the message being handled shows it; a throw of the code pauses the sandbox (a
   * resume continues), anything else ends it. Throws `error`.
   */
  #fail(
    ctx: ActorContext<unknown, unknown>,
    notice: SandboxAnswers | undefined,
    sent: Sent | undefined,
    error: Error,
  ): never {
    if (sent !== undefined) {
      sent.replyTo?.tell(new ReplyFailure(new ActorFailedError(ctx.path, error)));
      if (notice !== undefined) notice.message = sent.message;
      else if (sent.message !== undefined)
        ctx.system.deadLetters.publish({
          message: sent.message,
          recipient: this.#self.address,
          ...(sent.sender === undefined ? {} : { sender: sent.sender.address }),
          reason: 'failed',
          error,
        });
    }
    // the host pauses a sandbox whose code threw on a message (not on init or a view)
    const resumable =
      error instanceof SandboxCodeError &&
      sent !== undefined &&
      sent.message !== undefined &&
      !this.#ended &&
      this.#arrived.length === 0;
    if (resumable) {
      // the host holds what came after; a notice gives a resumed actor the turn that lets it
      // run (a restarted one ignores it)
      this.#paused = true;
      this.#notice = new SandboxAnswers(this);
      this.#self.tell(this.#notice);
    } else this.#end(ctx, 'sandbox-failed', error);
    throw error;
  }

  #end(
    ctx: ActorContext<unknown, unknown>,
    reason: 'stopped' | 'sandbox-failed',
    error: Error | undefined,
  ): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#link.close(this.#id);
    this.#link.send([error === undefined && !this.#paused ? 'x' : 'd', this.#id], false);
    const rest: Sent[] = [...this.#sent.slice(this.#head), ...this.#held.slice(this.#heldHead)];
    this.#sent = [];
    this.#held = [];
    this.#heldHead = 0;
    this.#arrived = [];
    this.#head = this.#assigned = 0;
    for (const s of rest) {
      if (s.message === undefined) continue;
      const why = error ?? new SandboxCodeError(this.path, 'Error', 'the sandbox has ended');
      s.replyTo?.tell(new ReplyFailure(new ActorFailedError(ctx.path, why)));
      ctx.system.deadLetters.publish({
        message: s.message,
        recipient: this.#self.address,
        ...(s.sender === undefined ? {} : { sender: s.sender.address }),
        reason,
        ...(error === undefined ? {} : { error }),
      });
    }
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#sent.length) {
      this.#sent = this.#sent.slice(this.#head);
      this.#assigned -= this.#head;
      this.#head = 0;
    }
  }
}

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
