/**
 * A sandboxed actor in mode 'process' (sandbox/config.ts): its isolate lives in the sandbox
 * host process, and its messages go there by IPC (sandbox/host-link.ts).
 */
import type { ActorContext } from '../runtime/core/context.ts';
import type { ActorRef } from '../runtime/core/ref.ts';
import { ReplyFailure } from '../runtime/core/ask.ts';
import { ActorFailedError } from '../runtime/core/failure.ts';
import { RefBook } from './engine.ts';
import { applyEffects } from './effects.ts';
import { sandboxHost, type HostClient } from './host-link.ts';
import { failureError, type HostResult, type SandboxHostLostError } from './host-protocol.ts';
import { SandboxCodeError, SandboxLimitError } from './limits.ts';
import type { Spec } from './behaviour.ts';

/**
 * In mode 'process': "answers have come", told to the actor when its sandbox's answers arrive
 * from the host process (at most one in its mailbox at a time). Whatever the actor handles
 * next, this or a message, applies the answers first, in order. When an answer is a failure,
 * `message` is set to the message that failed, so the dead letter of this notice shows it.
 */
export class SandboxAnswers {
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
  /** A message (any value, `undefined` too), or init or a view (answered, not a message). */
  readonly isMessage: boolean;
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
  | { readonly lost: SandboxHostLostError | SandboxLimitError };

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
export class ProcessState implements HostClient {
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
    this.#sent.push({
      isMessage: false,
      message: undefined,
      replyTo: ctx.replyTo,
      sender: undefined,
    });
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
      isMessage: true,
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
      this.#sent.push({
        isMessage: false,
        message: undefined,
        replyTo: undefined,
        sender: undefined,
      });
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

  get limits(): Spec['limits'] {
    return this.#spec.limits;
  }

  lost(error: SandboxHostLostError | SandboxLimitError): void {
    this.#arrived.push({ lost: error });
    this.#notify();
  }

  // ---- inside ---------------------------------------------------------------------------

  #inFlight(): number {
    return this.#sent.length - this.#head;
  }

  #forward(h: Held): void {
    // without its copy: what is in flight keeps only what a failure needs
    this.#sent.push({ isMessage: true, message: h.message, replyTo: h.replyTo, sender: h.sender });
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
        if (effects.length > 0) applyEffects(effects, ctx, this.#spec.emit, sent.replyTo);
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
      else if (sent.isMessage)
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
      sent.isMessage &&
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
      if (!s.isMessage) continue;
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
    // the system shuts down: the host goes once nothing is left in it
    if (ctx.system.state === 'terminating') this.#link.release();
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#sent.length) {
      this.#sent = this.#sent.slice(this.#head);
      this.#assigned -= this.#head;
      this.#head = 0;
    }
  }
}
