/**
 * Acknowledgements, on the receiving side of shard links: which frames from each shard have
 * been handled, that is, whose every message has been taken by its actor from its mailbox (or
 * did not wait in one: a system message, a reply to a temporary receiver, a dead letter).
 *
 * While a frame is read, each message queued in a cell is marked by where it sits: the cell
 * and the count its mailbox will have taken once it is gone (Mailbox.taken + size). A frame is
 * handled once every mark is passed, or its cell has stopped. The router acknowledges the last
 * handled frame on the next frame going back to that shard, or by itself after a short delay
 * (runtime/shards/router.ts); the sender then lets those frames go (runtime/shards/link.ts).
 */
import type { ActorCell } from '../cell.ts';

/** One received frame: its sequence number, then cell, mark, cell, mark… */
type Marks = unknown[];

export class Acks {
  /** Per shard: frames received and not all handled yet, oldest first. */
  readonly #unhandled: Marks[][];
  /** Per shard: the last of its frames known handled, and the last acknowledged to it. */
  readonly #handledUpTo: number[];
  readonly #ackedUpTo: number[];
  /** The frame being read: its marks, and the last cell delivered to with its mark. */
  #marks: Marks = [0];
  #cell: ActorCell | null = null;
  #at = 0;

  constructor(shards: number) {
    this.#unhandled = Array.from({ length: shards }, () => []);
    this.#handledUpTo = new Array<number>(shards).fill(0);
    this.#ackedUpTo = new Array<number>(shards).fill(0);
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

  /** The frame `seq` from `shard` has been read. */
  end(shard: number, seq: number): void {
    const marks = this.#marks;
    if (this.#cell !== null) marks.push(this.#cell, this.#at);
    this.#cell = null;
    marks[0] = seq;
    this.#unhandled[shard]!.push(marks);
  }

  /**
   * The last frame from `shard` known handled, when it has not been acknowledged yet (else 0).
   * The caller acknowledges it, and says so with `sent`.
   */
  due(shard: number): number {
    const list = this.#unhandled[shard];
    if (list !== undefined && list.length > 0) {
      let n = 0;
      for (; n < list.length; n++) {
        const marks = list[n]!;
        if (!handled(marks)) break;
        this.#handledUpTo[shard] = marks[0] as number;
      }
      if (n > 0) list.splice(0, n);
    }
    const upTo = this.#handledUpTo[shard] ?? 0;
    return upTo > (this.#ackedUpTo[shard] ?? 0) ? upTo : 0;
  }

  sent(shard: number, upTo: number): void {
    this.#ackedUpTo[shard] = upTo;
  }

  /** Whether frames from `shard` wait to be handled. */
  waiting(shard: number): boolean {
    return (this.#unhandled[shard]?.length ?? 0) > 0;
  }

  /** That shard is gone: nothing to acknowledge to it. */
  forget(shard: number): void {
    this.#unhandled[shard] = [];
  }
}

function handled(marks: Marks): boolean {
  for (let i = 1; i < marks.length; i += 2) {
    const cell = marks[i] as ActorCell;
    if (!cell.gone && cell.taken < (marks[i + 1] as number)) return false;
  }
  return true;
}
