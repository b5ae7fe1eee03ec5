/**
 * Acknowledgements, on the receiving side of shard links: which frames from each shard have
 * been handled, that is, whose every message has been taken by its actor from its mailbox (or
 * did not wait in one: a system message, a reply to a temporary receiver, a dead letter).
 *
 * While a frame is read, each message queued in a cell is marked by where it sits: the cell
 * and the count its mailbox will have taken once it is gone (Mailbox.taken + size). A message
 * that must wait before it reaches a mailbox (its actor's spawn is under way here, or its route
 * is being asked for) gets a Pending mark, passed on to its cell when it is delivered. A frame
 * is handled once every mark is passed (or its cell has stopped). Frames are acknowledged one
 * by one, as each is handled: a message stuck in one mailbox keeps back only its own frame.
 * The router acknowledges on the next frame going back to that shard, or by itself after a
 * short delay (runtime/shards/router.ts); the sender then lets those frames go
 * (runtime/shards/link.ts).
 */
import type { ActorCell } from '../core/index.ts';

/** A message of a frame that waits before reaching a mailbox. */
export class Pending {
  /** Where it went once delivered: its cell and mark; or `done` (no mailbox, or a dead letter). */
  cell: ActorCell | null = null;
  at = 0;
  done = false;

  /** It was delivered: to `cell` (queued there), or elsewhere (null). */
  delivered(cell: ActorCell | null): void {
    if (cell === null) this.done = true;
    else {
      this.cell = cell;
      this.at = cell.taken + cell.size;
    }
  }
}

/** One received frame: its sequence number, then cell, mark, cell, mark… (or Pending, 0). */
type Marks = unknown[];

/** Frames of one shard not all handled yet that are looked at again, at most. */
export const UNHANDLED_FRAMES = 100_000;
/**
 * Frames looked at per `due` (the next ones the next time, round the list): when a receiver
 * falls behind, each frame going back does not pay for its whole backlog.
 */
export const ACK_SCAN_FRAMES = 256;

export class Acks {
  /** Per shard: frames received and not all handled yet, oldest first. */
  readonly #unhandled: Marks[][];
  /** Per shard: where the next `due` starts looking. */
  readonly #cursor: number[];
  /** The frame being read: its marks, and the last cell delivered to with its mark. */
  #marks: Marks = [0];
  #cell: ActorCell | null = null;
  #at = 0;

  constructor(shards: number) {
    this.#unhandled = Array.from({ length: shards }, () => []);
    this.#cursor = new Array<number>(shards).fill(0);
  }

  /** A frame is about to be read. */
  begin(): void {
    this.#marks = [0];
    this.#cell = null;
  }

  /** A message of the frame now waits in `cell`'s mailbox (the last one pushed). */
  queued(cell: ActorCell): void {
    if (cell !== this.#cell) {
      if (this.#cell !== null) this.#marks.push(this.#cell, this.#at);
      this.#cell = cell;
    }
    this.#at = cell.taken + cell.size;
  }

  /** A message of the frame waits before it reaches a mailbox: its mark, to pass on. */
  pending(): Pending {
    const p = new Pending();
    this.#marks.push(p, 0);
    return p;
  }

  /** The frame `seq` from `shard` has been read. */
  end(shard: number, seq: number): void {
    const marks = this.#marks;
    if (this.#cell !== null) marks.push(this.#cell, this.#at);
    this.#cell = null;
    marks[0] = seq;
    const list = this.#unhandled[shard]!;
    // past the bound, the oldest is no longer looked at: never acknowledged, it stays with its
    // sender until the sender's own bound lets it go
    if (list.length >= UNHANDLED_FRAMES) list.shift();
    list.push(marks);
  }

  /**
   * Frames from `shard` handled since they were last asked for (0: none): the handled ones at
   * the head of the list (frames are mostly handled in order), then up to ACK_SCAN_FRAMES more
   * from where the last call stopped (one stuck in a mailbox does not hold back the others).
   */
  due(shard: number): number[] | 0 {
    const list = this.#unhandled[shard];
    if (list === undefined || list.length === 0) return 0;
    let out: number[] | 0 = 0;
    let head = 0;
    while (head < list.length && handled(list[head]!))
      (out === 0 ? (out = []) : out).push(list[head++]![0] as number);
    if (head > 0) list.splice(0, head);
    if (list.length > 1) {
      let at = this.#cursor[shard]! < list.length ? this.#cursor[shard]! : 1;
      let removed = false;
      for (let n = Math.min(ACK_SCAN_FRAMES, list.length - 1); n > 0; n--) {
        const marks = list[at]!;
        if (marks[0] !== -1 && handled(marks)) {
          (out === 0 ? (out = []) : out).push(marks[0] as number);
          marks[0] = -1;
          removed = true;
        }
        if (++at >= list.length) at = 1;
      }
      this.#cursor[shard] = at;
      if (removed) {
        let kept = 0;
        for (const marks of list) if (marks[0] !== -1) list[kept++] = marks;
        list.length = kept;
      }
    }
    return out;
  }

  /** Whether frames from `shard` wait to be handled. */
  waiting(shard: number): boolean {
    return (this.#unhandled[shard]?.length ?? 0) > 0;
  }

  /** That shard is gone: nothing to acknowledge to it. */
  forget(shard: number): void {
    this.#unhandled[shard] = [];
    this.#cursor[shard] = 0;
  }
}

function handled(marks: Marks): boolean {
  for (let i = 1; i < marks.length; i += 2) {
    const m = marks[i];
    if (m instanceof Pending) {
      if (m.done) continue;
      const cell = m.cell;
      if (cell === null || (!cell.gone && cell.taken < m.at)) return false;
      continue;
    }
    const cell = m as ActorCell;
    if (!cell.gone && cell.taken < (marks[i + 1] as number)) return false;
  }
  return true;
}
