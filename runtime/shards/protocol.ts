/**
 * The channel between shards (threads of one node): one discriminated union with a version,
 * validated before anything trusts a frame. Every pair of shards has its own MessagePort
 * (the main thread is shard 0), so frames between two shards arrive in the order they were
 * sent: FIFO per sender→receiver pair holds across shards because every envelope from one
 * shard to another takes that one port.
 *
 * Codec: structured clone of plain frames, envelopes inside with refs as addresses (the
 * boundary envelope, runtime/boundary.ts). bench/threads/transport.ts measures it against
 * msgpackr frames on transferred buffers: on small envelopes they were within noise of each
 * other here, and on 4 KB bodies structured clone was about twice as fast, so frames are
 * cloned; the bench keeps both figures so the choice can be checked again.
 *
 *   batch      envelopes for actors on the receiving shard, in send order
 *   spawn      main → shard: spawn a portable behaviour as /user/<key>
 *   spawned    shard → main: it runs (or `error`: it could not be spawned)
 *   placed     main → every shard: top-level actor <key> lives on <shard>
 *   unplaced   main → every shard: it is gone
 *   where      shard → main: where does <key> live? (answered by placed or unplaced)
 *   dead       shard → main: a dead letter, for the node's one dead-letter stream
 *   log        shard → main: a line for the node's logger
 *   lost       main → every shard: shard <shard>'s thread died
 *   shutdown   main → shard: stop every actor; answered by `terminated`
 */
import type { Envelope } from '../envelope.ts';
import type { PortableOrigin } from './portable.ts';

export const SHARD_PROTOCOL_VERSION = 1;

/** A top-level name: a user's name, or the number of a generated one (`$<base36>`). */
export type TopKey = string | number;

export interface SpawnFrameOptions {
  readonly mailbox?: { readonly capacity: number; readonly overflow: string };
  readonly shutdown?: number | 'brutal';
}

export interface DeadLetterFrame {
  readonly message: unknown;
  readonly recipient: string;
  readonly sender?: string;
  readonly reason: string;
  readonly error?: string;
}

export type ShardFrame =
  | { readonly v: 1; readonly k: 'batch'; readonly envelopes: readonly Envelope[] }
  | {
      readonly v: 1;
      readonly k: 'spawn';
      readonly key: TopKey;
      readonly origin: PortableOrigin;
      readonly options: SpawnFrameOptions;
    }
  | { readonly v: 1; readonly k: 'spawned'; readonly key: TopKey; readonly error?: string }
  | { readonly v: 1; readonly k: 'placed'; readonly key: TopKey; readonly shard: number }
  | { readonly v: 1; readonly k: 'unplaced'; readonly key: TopKey }
  | { readonly v: 1; readonly k: 'where'; readonly key: TopKey }
  | { readonly v: 1; readonly k: 'dead'; readonly letter: DeadLetterFrame }
  | {
      readonly v: 1;
      readonly k: 'log';
      readonly level: 'info' | 'warn' | 'error';
      readonly message: string;
      readonly details: readonly string[];
    }
  | { readonly v: 1; readonly k: 'lost'; readonly shard: number }
  | { readonly v: 1; readonly k: 'shutdown' }
  | { readonly v: 1; readonly k: 'terminated' };

const KINDS = new Set([
  'batch',
  'spawn',
  'spawned',
  'placed',
  'unplaced',
  'where',
  'dead',
  'log',
  'lost',
  'shutdown',
  'terminated',
]);

const isKey = (k: unknown): k is TopKey =>
  (typeof k === 'string' && k.length > 0) ||
  (typeof k === 'number' && Number.isSafeInteger(k) && k >= 0);

const isShard = (s: unknown): s is number =>
  typeof s === 'number' && Number.isInteger(s) && s >= 0 && s < 256;

/**
 * The frame, checked for its version, kind and the fields this side reads; null for one that
 * is not a frame of this protocol (the caller logs it and drops it).
 */
export function checkFrame(data: unknown): ShardFrame | null {
  if (typeof data !== 'object' || data === null) return null;
  const f = data as Record<string, unknown>;
  if (f.v !== SHARD_PROTOCOL_VERSION || typeof f.k !== 'string' || !KINDS.has(f.k)) return null;
  switch (f.k) {
    case 'batch':
      return Array.isArray(f.envelopes) ? (f as unknown as ShardFrame) : null;
    case 'spawn': {
      const o = f.origin as Record<string, unknown> | null;
      return isKey(f.key) &&
        typeof o === 'object' &&
        o !== null &&
        typeof o.module === 'string' &&
        typeof o.export === 'string' &&
        typeof f.options === 'object' &&
        f.options !== null
        ? (f as unknown as ShardFrame)
        : null;
    }
    case 'placed':
      return isKey(f.key) && isShard(f.shard) ? (f as unknown as ShardFrame) : null;
    case 'lost':
      return isShard(f.shard) ? (f as unknown as ShardFrame) : null;
    case 'spawned':
    case 'unplaced':
    case 'where':
      return isKey(f.key) ? (f as unknown as ShardFrame) : null;
    case 'log':
      return (f.level === 'info' || f.level === 'warn' || f.level === 'error') &&
        typeof f.message === 'string' &&
        Array.isArray(f.details)
        ? (f as unknown as ShardFrame)
        : null;
    case 'dead':
      return typeof f.letter === 'object' && f.letter !== null
        ? (f as unknown as ShardFrame)
        : null;
    default:
      return f as unknown as ShardFrame;
  }
}
