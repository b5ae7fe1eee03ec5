/**
 * The ref codec: turns a value holding refs into plain data and back. Used wherever a value
 * leaves the thread: persistence now, thread and node boundaries later.
 *
 * Encoded forms (a plain object with exactly this one key is read as the tagged value):
 *   ActorRef      → { $ref: "troupe://node/path", $uid: 123 }   revived as a ref of the decoding
 *                   system, bound to that spawn of the actor (runtime/core/ref.ts); without `$uid`
 *                   (an unbound ref, or one written before uids) it reaches whatever actor
 *                   lives at the path
 *   Date          → { $date: "2026-11-24T08:00:00.000Z" }
 *   Error         → { $error: { name, message, code?, data? } }   revived as an Error with those
 *                   fields; `data` holds the error's own fields of plain scalar values (a
 *                   BudgetExceededError's cap, limit and spent; an HTTP status…), set on the
 *                   revived Error as they were
 *   user data that looks like a tag (one key among $ref, $date, $error, $esc, or exactly
 *   the two keys $ref and $uid)
 *                 → { $esc: { … } }                  revived as that plain object
 *
 * Anything that cannot round-trip is refused with SerializationError naming where it sits
 * (`$.context.cb`): functions, symbols, bigints, non-finite numbers, Map/Set/class instances,
 * cycles, `__proto__` keys (decoding drops them), and nesting deeper than MAX_ENCODE_DEPTH.
 * Plain objects, arrays, strings, finite numbers, booleans and null pass; `undefined`
 * properties are left out (as JSON does).
 */
import { TroupeError, describe } from './error.ts';
import { isSpawnUid } from '../../protocol/wire-ref.ts';
import { isActorRef } from './ref.ts';
import type { ActorRef } from './ref.ts';
import type { Address } from '../../protocol/address.ts';

const TAGS = new Set(['$ref', '$date', '$error', '$esc']);

/** Makes a ref of the decoding system for an address, bound to `uid` when one is given. */
export type RefOf = (address: Address, uid?: number) => ActorRef<unknown>;

/** An error's fields the codec writes itself, or never: not in its `data`. */
const ERROR_OWN = new Set(['name', 'message', 'code', 'stack', 'cause', '__proto__']);

const isScalar = (x: unknown): boolean =>
  typeof x === 'string' ||
  typeof x === 'boolean' ||
  x === null ||
  (typeof x === 'number' && Number.isFinite(x));

/** An error's own fields of scalar values (its `data`), or null when it has none. */
function errorData(e: Error): Record<string, unknown> | null {
  let data: Record<string, unknown> | null = null;
  for (const k of Object.keys(e)) {
    if (ERROR_OWN.has(k)) continue;
    const x = (e as unknown as Record<string, unknown>)[k];
    if (isScalar(x)) (data ??= {})[k] = x;
  }
  return data;
}

/** Deepest nesting the codec accepts. */
export const MAX_ENCODE_DEPTH = 64;

export class SerializationError extends TroupeError {
  readonly at: string;
  readonly value: unknown;
  constructor(at: string, value: unknown, why: string) {
    super('ERR_NOT_SERIALIZABLE', `${at} cannot be serialised (${describe(value)}): ${why}`);
    this.at = at;
    this.value = value;
  }
}

/**
 * How refs are written: `bound` (the live wire: threads and nodes) with the uid of the spawn
 * they name; `address` (snapshots, which outlive every spawn, and what clients and sandboxes
 * see) as the address alone, revived as a ref to whatever actor lives there.
 */
export type RefForm = 'bound' | 'address';

export function encodeValue(value: unknown, refs: RefForm = 'bound'): unknown {
  return enc(value, '$', 0, new Set(), refs === 'bound');
}

function enc(v: unknown, at: string, depth: number, seen: Set<object>, bound: boolean): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      if (!Number.isFinite(v))
        throw new SerializationError(at, v, 'only finite numbers can be stored');
      return v;
    case 'undefined':
      return undefined;
    case 'function':
    case 'symbol':
    case 'bigint':
      throw new SerializationError(at, v, `a ${typeof v} cannot be stored; keep data only`);
  }
  if (v === null) return null;
  const o = v as object;
  if (isActorRef(o)) return bound ? o.toJSON() : { $ref: o.address };
  if (o instanceof Date) {
    if (Number.isNaN(o.getTime())) throw new SerializationError(at, v, 'an invalid Date');
    return { $date: o.toISOString() };
  }
  if (o instanceof Error) {
    const code = (o as { code?: unknown }).code;
    const e: Record<string, unknown> =
      typeof code === 'string'
        ? { name: o.name, message: o.message, code }
        : { name: o.name, message: o.message };
    const data = errorData(o);
    if (data !== null) e.data = data;
    return { $error: e };
  }
  if (depth >= MAX_ENCODE_DEPTH)
    throw new SerializationError(at, v, `nested deeper than ${MAX_ENCODE_DEPTH}`);
  if (seen.has(o)) throw new SerializationError(at, v, 'a cycle');
  seen.add(o);
  let out: unknown;
  if (Array.isArray(o)) {
    const arr = new Array<unknown>(o.length);
    for (let i = 0; i < o.length; i++) {
      const e = enc(o[i], `${at}[${i}]`, depth + 1, seen, bound);
      arr[i] = e === undefined ? null : e;
    }
    out = arr;
  } else {
    const proto = Object.getPrototypeOf(o) as unknown;
    if (proto !== Object.prototype && proto !== null)
      throw new SerializationError(
        at,
        v,
        'only plain objects, arrays, refs, dates and errors can be stored',
      );
    const rec: Record<string, unknown> = {};
    for (const k of Object.keys(o)) {
      // JSON.parse makes own "__proto__" keys; decoders drop them, so they cannot be stored
      if (k === '__proto__')
        throw new SerializationError(`${at}.__proto__`, o, 'a __proto__ key cannot be stored');
      const e = enc((o as Record<string, unknown>)[k], `${at}.${k}`, depth + 1, seen, bound);
      if (e !== undefined) rec[k] = e;
    }
    const keys = Object.keys(rec);
    out =
      (keys.length === 1 && TAGS.has(keys[0]!)) ||
      (keys.length === 2 && '$ref' in rec && '$uid' in rec)
        ? { $esc: rec }
        : rec;
  }
  seen.delete(o);
  return out;
}

/** Revives encoded data; `refOf(address)` makes a ref of the decoding system. */
export function decodeValue(value: unknown, refOf: RefOf): unknown {
  return dec(value, refOf, 0);
}

function dec(v: unknown, refOf: RefOf, depth: number): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    if (depth >= MAX_ENCODE_DEPTH)
      throw new SerializationError('$', v, `nested deeper than ${MAX_ENCODE_DEPTH}`);
    return v.map((e) => dec(e, refOf, depth + 1));
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  // tagged leaves first: the encoder accepts them at any depth up to the limit
  let fields = o;
  if (keys.length === 2 && typeof o.$ref === 'string' && isSpawnUid(o.$uid))
    return refOf(o.$ref as Address, o.$uid);
  if (keys.length === 1) {
    if (typeof o.$esc === 'object' && o.$esc !== null && !Array.isArray(o.$esc))
      fields = o.$esc as Record<string, unknown>;
    else if (typeof o.$ref === 'string') return refOf(o.$ref as Address);
    if (typeof o.$date === 'string') {
      const d = new Date(o.$date);
      // the encoder never writes one: it is not data this codec made
      if (Number.isNaN(d.getTime())) throw new SerializationError('$', v, 'an invalid date');
      return d;
    }
    if (typeof o.$error === 'object' && o.$error !== null) {
      const e = o.$error as { name?: unknown; message?: unknown; code?: unknown; data?: unknown };
      const err = new Error(typeof e.message === 'string' ? e.message : '');
      if (typeof e.name === 'string') err.name = e.name;
      if (typeof e.code === 'string') (err as Error & { code?: string }).code = e.code;
      if (typeof e.data === 'object' && e.data !== null && !Array.isArray(e.data))
        for (const [k, x] of Object.entries(e.data))
          if (!ERROR_OWN.has(k) && isScalar(x)) (err as unknown as Record<string, unknown>)[k] = x;
      return err;
    }
  }
  if (depth >= MAX_ENCODE_DEPTH)
    throw new SerializationError('$', v, `nested deeper than ${MAX_ENCODE_DEPTH}`);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(fields)) {
    if (k === '__proto__') continue;
    out[k] = dec(fields[k], refOf, depth + 1);
  }
  return out;
}

/**
 * Whether a body can go as it is (true) or must go through the ref codec (false): checks the
 * common shapes without allocating; anything unusual (an Error, a class instance, a function,
 * a cycle…) is left to encodeValue, which encodes it or throws SerializationError naming the
 * field.
 */
export function crossing(body: unknown): boolean {
  return plain(body, 0);
}

function plain(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return true;
    case 'number':
      return Number.isFinite(v);
    case 'object':
      break;
    default:
      return false;
  }
  if (v === null) return true;
  if (depth >= MAX_ENCODE_DEPTH) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!plain(v[i], depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto === Object.prototype || proto === null) {
    for (const k in v as object) {
      if (k === '__proto__' || !plain((v as Record<string, unknown>)[k], depth + 1)) return false;
    }
    return true;
  }
  if (isActorRef(v)) return true;
  if (v instanceof Date) return !Number.isNaN(v.getTime());
  return false;
}
