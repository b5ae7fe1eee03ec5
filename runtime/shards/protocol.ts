/**
 * The channel between shards (threads of one node): one discriminated union with a version,
 * validated before anything trusts a frame. Every pair of shards has its own MessagePort
 * (the main thread is shard 0), so frames between two shards arrive in the order they were
 * sent: FIFO per sender→receiver pair holds across shards because every envelope from one
 * shard to another takes that one port.
 *
 * Placement is by path: a *placed root* is an actor spawned on another shard than its
 * parent (every top-level actor of a worker shard is one: its parent is the main thread's
 * `/user`), and its descendants live with it unless they are placed roots themselves. The
 * shard that runs a placed root's parent decides where it goes and is the authority for it.
 *
 *   (a Uint8Array) a frame of messages for actors on the receiving shard, in send order
 *                (runtime/shards/link.ts)
 *   ack          the receiving shard has handled every message of frames <seqs>
 *   link-reset   the sender's record structures start again: so must the reader's, before
 *                the next frame (runtime/shards/link.ts, `take`)
 *   spawn        parent's shard → shard: run a portable behaviour at <path>, child of <parent>
 *   spawn-failed shard → parent's shard: it could not be made (its module did not load…)
 *   placed       authority → every shard: the placed root <path> lives on <shard>
 *   unplaced     authority → every shard: it is gone
 *   where        shard → authority: where do messages for <path> go? (answered by `route`)
 *   route        the answer: <prefix> (the deepest placed root above <path> the authority
 *                knows, or <path> itself) lives on <shard>; null: nobody lives there;
 *                <placed>: <prefix> is a placed root (learnt as a placement, forgotten with
 *                it), else <path> lives with the root the asker knows (a confirmed route)
 *   store        shard → shard: load, save or delete with a store the receiver lent (store.ts)
 *   stored       the answer: the value, or the error (a conflict keeps its versions)
 *   offload      shard → main: run a task on the node's pool (runtime/shards/offload-link.ts)
 *   offload-abort shard → main: its requester no longer waits for it
 *   offloaded    main → shard: the task's output, or its OffloadError
 *   dead         shard → main: a dead letter, for the node's one dead-letter stream
 *   event        shard → main: a supervision or runtime event, for the node's one event stream
 *   log          shard → main: a line for the node's logger
 *   lost         main → every shard: shard <shard>'s thread died
 *   shutdown     main → shard: stop every actor; answered by `terminated`
 *   terminated   shard → main: every actor of that shard has stopped
 */
import type { OutEntry } from './link.ts';
import type { PortableOrigin } from './portable.ts';
import type { CrossedOffloadError } from '../core/index.ts';

export const SHARD_PROTOCOL_VERSION = 2;
type V = typeof SHARD_PROTOCOL_VERSION;

export interface SpawnFrameOptions {
  readonly mailbox?: { readonly capacity: number; readonly overflow: string };
  readonly shutdown?: number | 'brutal';
  /** A store lent by shard `owner` (runtime/shards/store.ts), and the snapshot's key. */
  readonly persistence?: { readonly owner: number; readonly id: number; readonly key: string };
}

/** An error as a store's answer carries it. */
export interface StoreErrorFrame {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly key?: string;
  readonly expectedVersion?: number | null;
  readonly actualVersion?: number | null;
}

export interface DeadLetterFrame {
  readonly message: unknown;
  readonly recipient: string;
  readonly sender?: string;
  readonly reason: string;
  readonly error?: string;
}

export type ShardFrame =
  | { readonly v: V; readonly k: 'ack'; readonly seqs: readonly number[] }
  | { readonly v: V; readonly k: 'link-reset' }
  | {
      readonly v: V;
      readonly k: 'spawn';
      readonly path: string;
      /** The parent's path (it lives on the shard that sent this frame). */
      readonly parent: string;
      /** Tells this spawn from an earlier one at the same path (its parent's shard counts). */
      readonly spawnId: number;
      /** Its incarnation: 0, or the next one when it is started again after its shard died. */
      readonly incarnation: number;
      readonly origin: PortableOrigin;
      readonly options: SpawnFrameOptions;
    }
  | {
      readonly v: V;
      readonly k: 'spawn-failed';
      readonly path: string;
      readonly spawnId: number;
      readonly error: string;
      /** What was sent to it meanwhile, back to its stand-in (bodies encoded). */
      readonly entries: readonly OutEntry[];
    }
  | { readonly v: V; readonly k: 'placed'; readonly path: string; readonly shard: number }
  | { readonly v: V; readonly k: 'unplaced'; readonly path: string }
  | { readonly v: V; readonly k: 'where'; readonly path: string }
  | {
      readonly v: V;
      readonly k: 'route';
      readonly path: string;
      readonly prefix: string | null;
      readonly shard: number | null;
      readonly placed: boolean;
    }
  | {
      readonly v: V;
      readonly k: 'store';
      readonly req: number;
      readonly id: number;
      readonly op: 'load' | 'save' | 'delete';
      readonly key: string;
      readonly snapshot?: { readonly schemaVersion: number; readonly data: unknown };
      readonly expectedVersion?: number | null;
    }
  | {
      readonly v: V;
      readonly k: 'stored';
      readonly req: number;
      readonly ok: boolean;
      readonly value?: unknown;
      readonly error?: StoreErrorFrame;
    }
  | {
      readonly v: V;
      readonly k: 'offload';
      readonly req: number;
      readonly module: string;
      readonly name: string;
      readonly input: unknown;
      /** null: no limit. */
      readonly timeoutMs: number | null;
    }
  | { readonly v: V; readonly k: 'offload-abort'; readonly req: number }
  | {
      readonly v: V;
      readonly k: 'offloaded';
      readonly req: number;
      readonly ok: boolean;
      readonly value?: unknown;
      readonly error?: CrossedOffloadError;
    }
  | { readonly v: V; readonly k: 'dead'; readonly letter: DeadLetterFrame }
  /** The event encoded by runtime/core/refcodec.ts (errors keep name, message and code). */
  | { readonly v: V; readonly k: 'event'; readonly event: unknown }
  | {
      readonly v: V;
      readonly k: 'log';
      readonly level: 'info' | 'warn' | 'error';
      readonly message: string;
      readonly details: readonly string[];
    }
  | { readonly v: V; readonly k: 'lost'; readonly shard: number }
  | { readonly v: V; readonly k: 'shutdown' }
  | { readonly v: V; readonly k: 'terminated' };

const KINDS = new Set([
  'ack',
  'link-reset',
  'spawn',
  'spawn-failed',
  'placed',
  'unplaced',
  'where',
  'route',
  'store',
  'stored',
  'offload',
  'offload-abort',
  'offloaded',
  'dead',
  'event',
  'log',
  'lost',
  'shutdown',
  'terminated',
]);

const isPath = (p: unknown): p is string =>
  typeof p === 'string' && p.length > 1 && p.charCodeAt(0) === 0x2f; // '/'

const isShard = (s: unknown): s is number =>
  typeof s === 'number' && Number.isInteger(s) && s >= 0 && s < 256;

const isCount = (n: unknown): n is number =>
  typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * The frame, checked for its version, kind and the fields this side reads; null for one that
 * is not a frame of this protocol (the caller logs it and drops it).
 */
export function checkFrame(data: unknown): ShardFrame | null {
  if (typeof data !== 'object' || data === null) return null;
  const f = data as Record<string, unknown>;
  if (f.v !== SHARD_PROTOCOL_VERSION || typeof f.k !== 'string' || !KINDS.has(f.k)) return null;
  const ok = (() => {
    switch (f.k) {
      case 'ack':
        return Array.isArray(f.seqs) && f.seqs.every(isCount);
      case 'spawn': {
        const o = f.origin as Record<string, unknown> | null;
        return (
          isPath(f.path) &&
          isPath(f.parent) &&
          isCount(f.spawnId) &&
          isCount(f.incarnation) &&
          typeof o === 'object' &&
          o !== null &&
          typeof o.module === 'string' &&
          typeof o.export === 'string' &&
          typeof f.options === 'object' &&
          f.options !== null
        );
      }
      case 'spawn-failed':
        return (
          isPath(f.path) &&
          isCount(f.spawnId) &&
          typeof f.error === 'string' &&
          Array.isArray(f.entries)
        );
      case 'placed':
        return isPath(f.path) && isShard(f.shard);
      case 'route':
        return (
          isPath(f.path) &&
          typeof f.placed === 'boolean' &&
          ((f.prefix === null && f.shard === null) || (isPath(f.prefix) && isShard(f.shard)))
        );
      case 'lost':
        return isShard(f.shard);
      case 'unplaced':
      case 'where':
        return isPath(f.path);
      case 'log':
        return (
          (f.level === 'info' || f.level === 'warn' || f.level === 'error') &&
          typeof f.message === 'string' &&
          Array.isArray(f.details)
        );
      case 'store':
        return (
          isCount(f.req) &&
          isCount(f.id) &&
          (f.op === 'load' || f.op === 'save' || f.op === 'delete') &&
          typeof f.key === 'string' &&
          (f.op !== 'save' || (typeof f.snapshot === 'object' && f.snapshot !== null))
        );
      case 'stored':
        return (
          isCount(f.req) &&
          typeof f.ok === 'boolean' &&
          (f.ok || (typeof f.error === 'object' && f.error !== null))
        );
      case 'offload':
        return (
          isCount(f.req) &&
          typeof f.module === 'string' &&
          typeof f.name === 'string' &&
          (f.timeoutMs === null || (typeof f.timeoutMs === 'number' && f.timeoutMs > 0))
        );
      case 'offload-abort':
        return isCount(f.req);
      case 'offloaded':
        return (
          isCount(f.req) &&
          typeof f.ok === 'boolean' &&
          (f.ok || (typeof f.error === 'object' && f.error !== null))
        );
      case 'dead':
        return typeof f.letter === 'object' && f.letter !== null;
      case 'event':
        return typeof f.event === 'object' && f.event !== null;
      default:
        return true;
    }
  })();
  return ok ? (f as unknown as ShardFrame) : null;
}
