/**
 * Snapshots as bytes, for the embedded store (runtime/core/persistence.ts InMemoryStore):
 * msgpack (msgpackr, the object shapes shared by every snapshot of one codec as records, so
 * the keys of a conversation's messages are written once), deflated when it is large enough
 * to gain by it, held as a one-byte-a-character string: a string costs its length, with no
 * buffer object or backing store beside it. A hibernated agent's snapshot (a finished
 * two-step conversation) is about 250 B this way, against 1.2 KB as JSON and about 2 KB as
 * objects.
 *
 * The first character says the form: RAW (msgpack) or DEFLATED (raw deflate of it).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { Packr } from 'msgpackr';

const RAW = '\u0000';
const DEFLATED = '\u0001';
/** Smaller msgpack is kept as it is: deflate gains little on it, for its fixed cost. */
export const DEFLATE_FROM_BYTES = 256;

export class SnapshotBytes {
  readonly #codec = new Packr({
    structures: [],
    // msgpackr writes a function as undefined: refused instead, as structuredClone does
    writeFunction: () => {
      throw new TypeError('a function cannot be stored in a snapshot');
    },
  });

  /** The bytes of `value` (throws for what cannot be written). */
  encode(value: unknown): string {
    // a view of the codec's buffer, which the next pack reuses: copied out below
    const packed = this.#codec.pack(value);
    if (packed.length < DEFLATE_FROM_BYTES) return RAW + packed.toString('latin1');
    return DEFLATED + deflateRawSync(packed, { level: 1 }).toString('latin1');
  }

  /** The value back: a new copy at each call. */
  decode(bytes: string): unknown {
    const body = Buffer.from(bytes.slice(1), 'latin1');
    return this.#codec.unpack(bytes[0] === DEFLATED ? inflateRawSync(body) : body);
  }
}
