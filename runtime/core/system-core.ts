/**
 * What refs, cells and temporary receivers need from their system: the narrow internal
 * interface runtime/system.ts implements (so those modules do not depend on the whole system).
 */
import type { ActorPath, Address } from '../../protocol/address.ts';
import type { ActorCell } from './cell.ts';
import type { LocalRef, Delivery, Target } from './ref.ts';
import type { SystemMessage } from './system-message.ts';
import type { AskOptions } from './ask.ts';
import type { TempReceiver } from './temp.ts';
import type { Logger } from './logger.ts';

export interface SystemCore {
  /** The cell whose turn is running, or null outside any actor. */
  current: ActorCell | null;
  /** Whether a tracer provider was registered at the start of this turn. */
  readonly tracing: boolean;
  readonly logger: Logger;
  /** Put before the names of temporary receivers: they tell which shard they live on. */
  readonly tempPrefix: string;
  addressOf(path: ActorPath): Address;
  lookup(path: ActorPath): Target | null;
  /** The target of an actor on another node (runtime/nodes), or null without nodes. */
  foreignTarget(address: Address): Target | null;
  /** A user message for no live target: dead letters. */
  undeliverable(ref: LocalRef, msg: unknown, meta: unknown): Delivery;
  /** A system message for no target at all (never spawned, or long gone). */
  systemUndeliverable(ref: LocalRef, msg: SystemMessage): void;
  ask(ref: LocalRef, msg: unknown, options: AskOptions | undefined): Promise<unknown>;
  /**
   * The meta of a message sent by `cur` (or by the caller, outside any actor) that needs more
   * than its sender: a trace, or the principal `cur`'s current message acts for.
   */
  sendMeta(cur: ActorCell | null): unknown;
  registerTemp(t: TempReceiver): void;
  unregisterTemp(t: TempReceiver): void;
}
