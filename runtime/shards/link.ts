/**
 * The wire of one ordered link between two shards: envelopes batched into msgpack frames
 * (msgpackr, records on: both ends are threads of this process, one Packr and one Unpackr per
 * link, in step because a MessagePort keeps order). bench/threads/transport.ts measured
 * this against structured clone of envelope objects: several times faster on small
 * messages, as fast on 4 KB ones (bench/README.md keeps both figures).
 *
 * A frame is a Uint8Array posted on the port (control frames are objects, protocol.ts):
 *
 *   [seq, acks, entry, …]   entry = flags, to, [from], [replyTo, corr], [trace], [principal], body
 *
 * `acks` (0: none) lists frames the other way whose messages are all handled (see below):
 * acknowledgements ride on the frames that go back anyway.
 *
 * It carries the fields of the boundary envelope (protocol/envelope.ts) in a tighter form, in
 * the entry layout the node link uses too (protocol/entries.ts):
 * - flags: the kind (0 user, 1 system, 2 reply) and which optional fields follow;
 * - addresses are interned per link: the first time as a string (the reader numbers it in
 *   the same order), then as that number; past INTERNED_ADDRESSES, as `[address]`;
 * - refs inside a body travel as a msgpack extension (their address, runtime/core/wire-ref.ts) and
 *   are revived by the reading system; a body holding an Error (or anything else the ref codec must handle) is
 *   encoded by runtime/core/refcodec.ts first, and flagged;
 * - trace context as W3C headers;
 * - the principal the message acts for (runtime/core/principal.ts) as its JSON data, stamped again
 *   by the reader (a thread of this process).
 *
 * What crosses is checked at send by `crossing`: plain objects, arrays, strings, finite
 * numbers, booleans, null, refs, dates and errors; anything else throws SerializationError
 * naming the field, in the sender's turn (the rules of runtime/core/refcodec.ts).
 *
 * The writer keeps each frame it sent until the other shard acknowledges that every message
 * in it was handled (its actors took them from their mailboxes), up to LINK_RETAIN_BYTES per
 * link (then the oldest are let go, and counted): when that shard dies, what it had not
 * handled is known, and becomes dead letters. Frames are acknowledged one by one, so a
 * message waiting in one actor's mailbox does not keep back the frames that did not carry it.
 */
import { Packr, Unpackr } from 'msgpackr';
import type { ActorRef } from '../core/index.ts';
import { unpackWithRefs } from '../core/index.ts';
import { decodeValue } from '../core/index.ts';
import type { Address } from '../../protocol/address.ts';
import type { EnvelopeKind } from '../core/index.ts';
import { stampPrincipal, type Principal } from '../core/index.ts';
import { ENCODED, kindCode, pushEntry, pushTell, readEntries } from '../../protocol/entries.ts';

/** Entries per frame at most: a longer burst goes as several frames. */
export const MAX_FRAME_ENTRIES = 512;
/** Addresses a link numbers; more go as strings each time. */
export const INTERNED_ADDRESSES = 65_536;
/** Bytes of unacknowledged frames a link keeps for dead letters if its shard dies. */
export const LINK_RETAIN_BYTES = 32 * 1024 * 1024;

export { ENCODED, KIND_REPLY, KIND_SYSTEM, KIND_USER, kindCode } from '../../protocol/entries.ts';

export { crossing } from '../core/index.ts';

/** An entry as the writer is given it. */
export interface OutEntry {
  readonly kind: number;
  readonly to: Address;
  readonly from: Address | undefined;
  readonly replyTo: Address | undefined;
  readonly corr: number;
  readonly trace: Readonly<Record<string, string>> | undefined;
  readonly principal: Principal | undefined;
  /** As it goes on the wire: as given, or encoded by runtime/core/refcodec.ts (`encoding`). */
  readonly body: unknown;
  /** 0, or ENCODED. */
  readonly encoding: number;
}

/**
 * An entry as read back: addresses as strings, the body revived (refs of `refOf`'s system),
 * handed over as arguments (no object per message).
 */
export type EachEntry = (
  kind: EnvelopeKind,
  to: Address,
  from: Address | undefined,
  replyTo: Address | undefined,
  corr: number,
  trace: Readonly<Record<string, string>> | undefined,
  principal: Principal | undefined,
  body: unknown,
) => void;

/** An entry as an object (for what is not on the hot path). */
export interface InEntry {
  readonly kind: EnvelopeKind;
  readonly to: Address;
  readonly from: Address | undefined;
  readonly replyTo: Address | undefined;
  readonly corr: number;
  readonly trace: Readonly<Record<string, string>> | undefined;
  readonly principal: Principal | undefined;
  readonly body: unknown;
}

interface Retained {
  readonly seq: number;
  readonly bytes: Uint8Array;
  readonly count: number;
  /** The record structures the frame was packed with (they change when the link resets). */
  readonly structures: object[];
}

const newPackr = (): Packr => new Packr({ sequential: true, useRecords: true });
const newUnpackr = (): Unpackr =>
  new Unpackr({ sequential: true, useRecords: true, mapsAsObjects: true, int64AsType: 'number' });

/** Packs without records: only to learn whether a body packs (it leaves no state behind). */
const probe = new Packr({ useRecords: false });

export class LinkWriter {
  #packr = newPackr();
  readonly #ids = new Map<string, number>();
  /** Numbered addresses by number; the numbering of the frame being filled starts at `#idsAtFrame`. */
  readonly #names: string[] = [];
  #idsAtFrame = 0;
  #values: unknown[] = [0, 0];
  #count = 0;
  #seq = 0;
  /** Frames not acknowledged yet, by sequence number, oldest first. */
  readonly #retained = new Map<number, Retained>();
  #retainedBytes = 0;
  /** Entries sent whose frames were let go before an acknowledgement (past the cap). */
  unretained = 0;
  /**
   * The link's record structures were started again (a frame failed to pack): the reader must
   * start again too, before the next frame (the router sends `link-reset` first).
   */
  resetPending = false;

  /** Entries waiting for the next frame. */
  get count(): number {
    return this.#count;
  }

  readonly #addressOf = (a: string): unknown => this.#address(a);

  #address(a: string): unknown {
    const id = this.#ids.get(a);
    if (id !== undefined) return id;
    if (this.#ids.size >= INTERNED_ADDRESSES) return [a];
    this.#ids.set(a, this.#names.length);
    this.#names.push(a);
    return a;
  }

  /** Adds an entry; returns the entries now waiting. */
  push(e: OutEntry): number {
    pushEntry(
      this.#values,
      this.#addressOf,
      e.kind,
      e.to,
      e.from,
      e.replyTo,
      e.corr,
      e.trace,
      e.principal,
      e.body,
      e.encoding !== 0,
    );
    return ++this.#count;
  }

  /**
   * A user message that crosses as it is, sent by an actor (or nobody): the common case, no
   * allocation beyond the frame's.
   */
  pushTell(to: Address, from: Address | undefined, body: unknown): number {
    pushTell(this.#values, this.#addressOf, to, from, body);
    return ++this.#count;
  }

  /**
   * The frame of what waits (null: nothing), kept until it is acknowledged; `acks` (0: none)
   * acknowledges frames the other way.
   *
   * Bodies are checked when they are sent, but packed here, at the end of the turn: one
   * changed meanwhile may no longer pack (a bigint put in, a cycle made). Then the frame is
   * made again without it: each entry that no longer packs is put in `dropped` (for its
   * sender's dead letter, once the frame is on its way), the addresses numbered for this frame
   * are numbered again, and the link's record structures start again (a failed pack leaves
   * msgpackr's half-written), so `resetPending` is set: the reader must start again before
   * the next frame. When nothing of the frame packs, it returns null (the acknowledgements it
   * was to carry are the caller's to send).
   */
  take(acks: readonly number[] | 0, dropped: OutEntry[]): Uint8Array | null {
    if (this.#count === 0) return null;
    const v = this.#values;
    v[1] = acks;
    v[0] = this.#seq + 1;
    let bytes: Uint8Array | null;
    try {
      bytes = this.#packr.pack(v).slice();
    } catch {
      bytes = this.#salvage(v, dropped);
    }
    const count = this.#count;
    this.#values = [0, 0];
    this.#count = 0;
    this.#idsAtFrame = this.#names.length;
    if (bytes === null) return null;
    const seq = ++this.#seq;
    this.#retained.set(seq, { seq, bytes, count, structures: this.#structures() });
    this.#retainedBytes += bytes.byteLength;
    if (this.#retainedBytes > LINK_RETAIN_BYTES)
      for (const [s, old] of this.#retained) {
        if (this.#retainedBytes <= LINK_RETAIN_BYTES || s === seq) break;
        this.#retained.delete(s);
        this.#retainedBytes -= old.bytes.byteLength;
        this.unretained += old.count;
      }
    return bytes;
  }

  /**
   * The record structures frames are packed with now: a copy made again whenever they changed
   * (msgpackr reuses record ids past its own limit, so a kept frame must be read with the ones
   * it was packed with).
   */
  #structures(): object[] {
    const now = (this.#packr as unknown as { structures: object[] & { nextId?: number } })
      .structures;
    const mark = `${now.length}:${now.nextId ?? 0}`;
    if (this.#structuresCopy === null || this.#structuresMark !== mark) {
      this.#structuresCopy = now.slice();
      this.#structuresMark = mark;
    }
    return this.#structuresCopy;
  }

  #structuresCopy: object[] | null = null;
  #structuresMark = '';

  /** The frame made again from the entries that still pack (see take); null if none does. */
  #salvage(v: unknown[], dropped: OutEntry[]): Uint8Array | null {
    const names = this.#names;
    const entries = salvaged(v, (x) => (typeof x === 'number' ? names[x]! : x));
    // the numbering of this frame starts again, and so do the record structures
    for (let id = this.#idsAtFrame; id < names.length; id++) this.#ids.delete(names[id]!);
    names.length = this.#idsAtFrame;
    this.#packr = newPackr();
    this.#structuresCopy = null;
    this.resetPending = true;
    this.#values = [0, v[1]];
    this.#count = 0;
    for (const e of entries) {
      try {
        probe.pack(e.body);
      } catch {
        dropped.push(e);
        continue;
      }
      this.push(e);
    }
    if (this.#count === 0) return null;
    this.#values[0] = this.#seq + 1;
    try {
      return this.#packr.pack(this.#values).slice();
    } catch {
      // it packs alone but not in the frame (a getter that throws…): none of it goes
      dropped.push(...salvaged(this.#values, (x) => (typeof x === 'number' ? names[x]! : x)));
      for (let id = this.#idsAtFrame; id < names.length; id++) this.#ids.delete(names[id]!);
      names.length = this.#idsAtFrame;
      this.#packr = newPackr();
      return null;
    }
  }

  /** The other shard handled every message of these frames. */
  acked(seqs: readonly number[]): void {
    for (const s of seqs) {
      const r = this.#retained.get(s);
      if (r === undefined) continue;
      this.#retained.delete(s);
      this.#retainedBytes -= r.bytes.byteLength;
    }
  }

  /** The entries of every frame not acknowledged, in order (the other shard died). */
  unacknowledged(refOf: (address: Address) => ActorRef<unknown>): InEntry[] {
    const out: InEntry[] = [];
    let reader: LinkReader | null = null;
    let structures: object[] | null = null;
    for (const f of this.#retained.values()) {
      // a reader in step with the frames kept: the records they were packed with, the
      // addresses this writer numbered
      if (reader === null || f.structures !== structures) {
        structures = f.structures;
        reader = new LinkReader(
          new Unpackr({
            sequential: true,
            useRecords: true,
            mapsAsObjects: true,
            int64AsType: 'number',
            structures: structures.slice(),
          }),
          this.#names.slice(),
        );
      }
      reader.read(f.bytes, refOf, (kind, to, from, replyTo, corr, trace, principal, body) =>
        out.push({ kind, to, from, replyTo, corr, trace, principal, body }),
      );
    }
    return out;
  }
}

/** The entries of a frame's values, addresses given back by `name` (for the writer's salvage). */
function salvaged(v: unknown[], name: (x: unknown) => unknown): OutEntry[] {
  const out: OutEntry[] = [];
  readEntries(
    v,
    2,
    (x) => (Array.isArray(x) ? (x[0] as Address) : (name(x) as Address)),
    (kind, to, from, replyTo, corr, trace, principal, body, encoded) =>
      out.push({
        kind: kindCode(kind),
        to,
        from,
        replyTo,
        corr,
        trace,
        principal: principal as Principal | undefined,
        body,
        encoding: encoded ? ENCODED : 0,
      }),
  );
  return out;
}

export class LinkReader {
  #unpackr: Unpackr;
  readonly #names: string[];
  /** The acknowledgements the last frame read carried (0: none). */
  acks: readonly number[] | 0 = 0;

  constructor(unpackr = newUnpackr(), names: string[] = []) {
    this.#unpackr = unpackr;
    this.#names = names;
  }

  /** The writer's record structures started again (`link-reset`): so do this reader's. */
  reset(): void {
    this.#unpackr = newUnpackr();
  }

  readonly #addressAt = (v: unknown): Address => this.#address(v);

  #address(v: unknown): Address {
    if (typeof v === 'number') return this.#names[v] as Address;
    if (typeof v === 'string') {
      // the numbering stops where the writer's does: past it, none is numbered
      if (this.#names.length < INTERNED_ADDRESSES) this.#names.push(v);
      return v as Address;
    }
    return (v as string[])[0] as Address;
  }

  /**
   * Reads a frame: calls `each` per entry, in order; returns the frame's sequence number.
   * Throws on a frame that does not decode (the link is broken: nothing to do but log it).
   */
  read(bytes: Uint8Array, refOf: (address: Address) => ActorRef<unknown>, each: EachEntry): number {
    const v = unpackWithRefs(this.#unpackr, bytes, refOf) as unknown[];
    this.acks = v[1] as readonly number[] | 0;
    readEntries(v, 2, this.#addressAt, (kind, to, from, replyTo, corr, trace, p, raw, encoded) =>
      each(
        kind,
        to,
        from,
        replyTo,
        corr,
        trace,
        p === undefined ? undefined : stampPrincipal(p),
        encoded ? decodeValue(raw, refOf) : raw,
      ),
    );
    return v[0] as number;
  }
}
