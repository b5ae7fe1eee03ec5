/**
 * The runtime's refs on the wire (protocol/wire-ref.ts): LocalRef is the class packed as the
 * ref extension. Imported by the links that pack frames (runtime/shards/link.ts,
 * runtime/nodes/link.ts) before they pack any.
 */
import { defineRefExtension } from '../../protocol/wire-ref.ts';
import { LocalRef } from './ref.ts';

defineRefExtension(LocalRef);

export { unpackWithRefs } from '../../protocol/wire-ref.ts';
