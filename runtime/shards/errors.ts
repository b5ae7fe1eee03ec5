/**
 * Errors of shards, and errors as they cross between threads: what an error keeps (its class
 * name, message and code), and how troupe's own messages that hold something that cannot
 * cross (a thrown value with functions in it…) are made to: what cannot is replaced by its
 * description, so that a notice or a failure is never lost for the shape of an error.
 */
import { InvalidOptionError, TroupeError, describe } from '../core/index.ts';
import type { ActorPath } from '../../protocol/address.ts';
import type { SystemMessage } from '../core/index.ts';

/** An error as it crosses: its class name, message and code survive; the rest does not. */
export interface CrossedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
}

/** The error a failure reply carried, made again on this side. */
export class RemoteError extends TroupeError {
  readonly remoteName: string;
  constructor(e: CrossedError) {
    super(e.code ?? 'ERR_REMOTE', e.message);
    this.remoteName = e.name;
  }
}

/** An actor was lost with the thread of its shard (the actor's failure, for its supervisor). */
export class ShardLostError extends TroupeError {
  readonly shard: number;
  readonly path: ActorPath;
  constructor(shard: number, path: ActorPath) {
    super(
      'ERR_SHARD_LOST',
      `${path} was lost with the thread of shard ${shard} (it died: an uncaught error, process.exit() or out of memory)`,
    );
    this.shard = shard;
    this.path = path;
  }
}

export class NotPortableError extends InvalidOptionError {
  constructor(shard: number) {
    super(
      'options.shard',
      shard,
      'the spawning thread for a behaviour that is not portable: make it with portable(import.meta.url, name, behaviour) to place it on another shard',
    );
  }
}

export function crossError(error: unknown): CrossedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { name: 'Error', message: describe(error) };
}

const NOTICES = new Set(['troupe.terminated', 'troupe.snapshot', 'troupe.delivery-failed']);

export function isNotice(msg: unknown): boolean {
  return (
    typeof msg === 'object' &&
    msg !== null &&
    NOTICES.has((msg as { type?: unknown }).type as string)
  );
}

/** A notice with what cannot cross replaced by its description (null: nothing to replace). */
export function plainNotice(msg: unknown): unknown {
  const m = msg as Record<string, unknown>;
  if (m.type === 'troupe.terminated' && m.error !== undefined)
    return { ...m, error: plainError(m.error) };
  if (m.type === 'troupe.delivery-failed') return { ...m, message: describe(m.message) };
  return null;
}

/** A system message with what cannot cross replaced by its description. */
export function plainSystem(msg: SystemMessage): SystemMessage | null {
  if (msg.type === 'failed') {
    const { message, ...rest } = msg;
    return {
      ...rest,
      error: plainError(msg.error),
      ...(message === undefined ? {} : { message: describe(message) }),
    };
  }
  if (msg.type === 'stop' && msg.error !== undefined)
    return { ...msg, error: plainError(msg.error) };
  return null;
}

export function plainError(error: unknown): Error {
  const e = crossError(error);
  const out = new Error(e.message);
  out.name = e.name;
  if (e.code !== undefined) (out as Error & { code?: string }).code = e.code;
  return out;
}
