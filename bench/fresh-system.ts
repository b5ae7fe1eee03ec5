/**
 * How every troupe run is set up: a fresh system per run, shut down after it, and a
 * completion that the last actor resolves and that any dead letter rejects. A benchmark
 * that loses a message (a full mailbox, a stopped actor) fails loudly instead of hanging or
 * reporting a figure for work it did not do.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createSystem, type ActorSystem, type DeadLetter } from '../index.ts';

export class LostMessageError extends Error {
  readonly code = 'ERR_BENCH_LOST_MESSAGE';
  readonly letter: DeadLetter;
  constructor(letter: DeadLetter) {
    super(
      `dead letter (${letter.reason}) to ${letter.recipient}: ${describe(letter.message)}; ` +
        'raise the mailbox capacity of the benchmark actor',
    );
    this.letter = letter;
  }
}

function describe(msg: unknown): string {
  try {
    return JSON.stringify(msg) ?? String(msg);
  } catch {
    return String(msg);
  }
}

/** Runs `body` on a fresh system and shuts the system down after, whatever happened. */
export async function withSystem<T>(body: (system: ActorSystem) => Promise<T>): Promise<T> {
  const system = createSystem();
  try {
    return await body(system);
  } finally {
    await system.shutdown();
  }
}

export interface Completion<T> {
  readonly promise: Promise<T>;
  /** Called by the actor that finishes the benchmark. */
  readonly resolve: (value: T) => void;
}

/** A promise for the end of a run; the first dead letter in `system` rejects it. */
export function completion<T>(system: ActorSystem): Completion<T> {
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  system.deadLetters.subscribe((letter) => reject(new LostMessageError(letter)));
  return { promise, resolve };
}

/** Resolves once no actor of `system` has work left (every spawned actor has started). */
export async function untilIdle(system: ActorSystem): Promise<void> {
  while (!system.isIdle) await nextTurn();
}
