/**
 * Refs inside msgpack frames (runtime/shards/link.ts between threads, runtime/nodes between
 * nodes): a ref travels as a msgpack extension holding its address, and is revived by the
 * reading side with the function `unpackWithRefs` is given (the reading system's `refOf`,
 * checked first where the frame comes from the network).
 *
 * msgpackr's extensions are global to the module, so this is registered once, here.
 */
import { addExtension, type Unpackr } from 'msgpackr';
import { LocalRef } from './ref.ts';
import { isSpawnUid } from './refcodec.ts';
import type { Address } from './address.ts';

export const REF_EXTENSION = 0x54;

let reviving: ((address: Address, uid?: number) => unknown) | null = null;

/**
 * The extension's payload: the address (an unbound ref, and what troupe before spawn uids
 * wrote), or `[address, uid]` for a ref bound to one spawn (runtime/ref.ts).
 */
addExtension({
  Class: LocalRef,
  type: REF_EXTENSION,
  write: (ref: LocalRef) => (ref.uid === 0 ? ref.address : [ref.address, ref.uid]),
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
