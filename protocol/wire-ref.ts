/**
 * Refs inside msgpack frames (the shard link between threads, the node link between nodes):
 * a ref travels as msgpack extension REF_EXTENSION holding its address, or `[address, uid]`
 * for a ref bound to one spawn; the reading side revives it with the function
 * `unpackWithRefs` is given (the reading system's `refOf`, checked first where the frame
 * comes from the network). The wire knows no actors: the runtime names its ref class once
 * (`defineRefExtension`, runtime/core/wire-ref.ts).
 *
 * msgpackr's extensions are global to the module, so there is one registration.
 */
import { addExtension, type Unpackr } from 'msgpackr';
import type { Address } from './address.ts';

export const REF_EXTENSION = 0x54;

/** A ref as the wire writes it: its address, and its spawn uid (0: unbound). */
export interface WireRef {
  readonly address: Address;
  readonly uid: number;
}

/** Whether `uid` is a spawn uid as the encoder writes it (a positive safe integer). */
export function isSpawnUid(uid: unknown): uid is number {
  return typeof uid === 'number' && Number.isSafeInteger(uid) && uid > 0;
}

let reviving: ((address: Address, uid?: number) => unknown) | null = null;
let defined = false;

/**
 * Packs instances of `Class` (the runtime's ref) as the extension: the address alone for an
 * unbound ref (what troupe wrote before spawn uids), else `[address, uid]`. Once per process.
 */
export function defineRefExtension(Class: new (...args: any[]) => WireRef): void {
  if (defined) return;
  defined = true;
  addExtension({
    Class,
    type: REF_EXTENSION,
    write: (ref: WireRef) => (ref.uid === 0 ? ref.address : [ref.address, ref.uid]),
    read: (payload: unknown) => {
      if (reviving === null) throw new Error('a troupe ref outside a troupe link');
      if (typeof payload === 'string') return reviving(payload as Address);
      if (
        Array.isArray(payload) &&
        payload.length === 2 &&
        typeof payload[0] === 'string' &&
        isSpawnUid(payload[1])
      )
        return reviving(payload[0] as Address, payload[1]);
      // the revive function refuses what is no address (a frame from the network is checked)
      return reviving(payload as Address);
    },
  });
}

/** Unpacks `bytes`, reviving the refs in it with `revive` (which may throw: the unpack does). */
export function unpackWithRefs(
  unpackr: Unpackr,
  bytes: Uint8Array,
  revive: (address: Address, uid?: number) => unknown,
): unknown {
  reviving = revive;
  try {
    return unpackr.unpack(bytes);
  } finally {
    reviving = null;
  }
}
