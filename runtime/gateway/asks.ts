/**
 * The asks of one client connection, which the connection can end.
 *
 * Each is an ask as runtime/core/ask.ts describes it (a temporary reply address under `/temp`, a
 * deadline on the system's timer heap; AskDeliveryError at once when the message cannot be
 * delivered, the callee's failure or the loss of the message as the reply address hears of it,
 * NodeDownError when the callee's node goes down, AskTimeoutError at the deadline). It is made
 * here rather than with `ref.ask` for one reason: a closed connection's asks must not wait for
 * their deadlines. `cancelAll` settles every ask still in flight at once (its reply address
 * closed, its deadline and node watch dropped, its `done` called with AskCancelledError), so a
 * client that opens a connection, asks an actor that never answers `maxPendingAsks` times and
 * leaves, again and again, leaves nothing behind. A reply that comes later goes to dead letters.
 */
import { TroupeError } from '../core/index.ts';
import { AskDeliveryError, AskTimeoutError, ReplyFailure } from '../core/index.ts';
import { MessageMeta } from '../core/index.ts';
import type { Principal } from '../core/index.ts';
import { TempReceiver } from '../core/index.ts';
import type { ActorRef, Delivery, LocalRef } from '../core/index.ts';
import type { Kernel } from '../core/index.ts';
import type { TimerEntry } from '../core/index.ts';

/** An ask whose connection closed first: it was settled then, and its reply is not awaited. */
export class AskCancelledError extends TroupeError {
  constructor() {
    super('ERR_ASK_CANCELLED', 'the client connection that made the ask closed');
  }
}

/** How an ask ended: its reply, or the error that ended it. */
export type AskOutcome =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

interface InFlight {
  readonly receiver: TempReceiver;
  entry: TimerEntry | null;
  forget: (() => void) | null;
  readonly done: (outcome: AskOutcome) => void;
}

/** Reply addresses made here are `/temp/<prefix>gw-ask-<n>`: unique in the process. */
let seq = 0;

export class ConnectionAsks {
  readonly #system: Kernel;
  readonly #inFlight = new Map<number, InFlight>();

  constructor(system: Kernel) {
    this.#system = system;
  }

  /** Asks in flight. */
  get size(): number {
    return this.#inFlight.size;
  }

  has(id: number): boolean {
    return this.#inFlight.has(id);
  }

  /**
   * Sends `msg` to `ref` as ask `id` (unique among this connection's asks in flight) with its
   * deadline in `timeoutMs`, in the caller's trace context; `done` is called once with how it
   * ended (at once when it could not be delivered).
   */
  start(
    id: number,
    ref: ActorRef<unknown>,
    msg: unknown,
    timeoutMs: number,
    principal: Principal,
    done: (outcome: AskOutcome) => void,
  ): void {
    const sys = this.#system;
    const corr = ++seq;
    const receiver = new TempReceiver(
      sys,
      `gw-ask-${corr}`,
      (reply) =>
        this.#end(
          id,
          a,
          reply instanceof ReplyFailure
            ? { ok: false, error: reply.error }
            : { ok: true, value: reply },
        ),
      // the system terminates
      (error) => this.#end(id, a, { ok: false, error }),
    );
    const a: InFlight = { receiver, entry: null, forget: null, done };
    this.#inFlight.set(id, a);
    // an ask to another node fails at once when that node goes down
    a.forget = sys.guardAsk(ref, (error) => this.#end(id, a, { ok: false, error }));
    a.entry = sys.timers.schedule(() => {
      a.entry = null;
      this.#end(id, a, { ok: false, error: new AskTimeoutError(ref.path, timeoutMs) });
    }, timeoutMs);
    const trace = sys.tracing ? sys.telemetry.callerContext() : null;
    let d: Delivery;
    try {
      d = (ref as LocalRef).deliverWithMeta(
        msg,
        new MessageMeta(null, receiver.ref, corr, trace, principal),
      );
    } catch (error) {
      // it cannot cross to where the actor is (SerializationError, naming the field)
      return this.#end(id, a, { ok: false, error });
    }
    // not delivered (no link to its node, a full mailbox…): nothing is kept for it
    if (d !== 'enqueued') this.#end(id, a, { ok: false, error: new AskDeliveryError(ref.path, d) });
  }

  /** Settles every ask in flight now, each `done` with AskCancelledError: the connection is gone. */
  cancelAll(): void {
    for (const [id, a] of [...this.#inFlight])
      this.#end(id, a, { ok: false, error: new AskCancelledError() });
  }

  /** Ends ask `id` (once: a second end of it, or of an earlier ask of that id, does nothing). */
  #end(id: number, a: InFlight, outcome: AskOutcome): void {
    if (this.#inFlight.get(id) !== a) return;
    this.#inFlight.delete(id);
    a.receiver.close();
    if (a.entry !== null) this.#system.timers.cancel(a.entry);
    a.entry = null;
    a.forget?.();
    a.forget = null;
    a.done(outcome);
  }
}
