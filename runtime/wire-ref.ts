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
import type { Address } from './address.ts';

export const REF_EXTENSION = 0x54;

let reviving: ((address: Address) => unknown) | null = null;

addExtension({
  Class: LocalRef,
  type: REF_EXTENSION,
  write: (ref: LocalRef) => ref.address,
  read: (address: Address) => {
    if (reviving === null) throw new Error('a troupe ref outside a troupe link');
    return reviving(address);
  },
});

/** Unpacks `bytes`, reviving the refs in it with `revive` (which may throw: the unpack does). */
export function unpackWithRefs(
  unpackr: Unpackr,
  bytes: Uint8Array,
  revive: (address: Address) => unknown,
): unknown {
  reviving = revive;
  try {
    return unpackr.unpack(bytes);
  } finally {
    reviving = null;
  }
}
