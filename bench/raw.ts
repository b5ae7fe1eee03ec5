/**
 * The raw actor: the JavaScript ceiling every benchmark is measured against (impl `raw`).
 *
 * The least an actor can be in one thread and still be an actor: a ring-buffer mailbox per
 * actor, a run queue of actors with work, drained in a loop started as a microtask after the
 * first send (as troupe's scheduler is), at most THROUGHPUT messages per actor per turn. No
 * bounds, no refs, no failure handling, no supervision, no time slice: nothing troupe must
 * do and a ceiling need not. A troupe figure divided by a raw figure is what troupe's
 * features cost on that path.
 *
 * Behaviours are plain functions `(msg) => void` with their state in their closure.
 */

/** Messages an actor handles per turn (troupe's DEFAULT_THROUGHPUT). */
const THROUGHPUT = 64;
/**
 * First mailbox allocation, in messages, made at the first send (troupe holds a message that
 * arrives in an empty mailbox in the mailbox itself, and allocates at the second).
 */
const FIRST_SLOTS = 8;

/** Shared by every actor that has never received a message: an idle actor holds no buffer. */
const NO_SLOTS: never[] = [];

export class RawScheduler {
  private queue: (RawActor<any> | undefined)[] = new Array<RawActor<any> | undefined>(64);
  private head = 0;
  private size = 0;
  private pending = false;

  enqueue(actor: RawActor<any>): void {
    let q = this.queue;
    if (this.size === q.length) q = this.grow();
    q[(this.head + this.size) & (q.length - 1)] = actor;
    this.size++;
    if (!this.pending) {
      this.pending = true;
      queueMicrotask(this.drain);
    }
  }

  private readonly drain = (): void => {
    while (this.size > 0) {
      const q = this.queue;
      const actor = q[this.head]!;
      q[this.head] = undefined;
      this.head = (this.head + 1) & (q.length - 1);
      this.size--;
      actor.run(THROUGHPUT);
    }
    this.pending = false;
  };

  private grow(): (RawActor<any> | undefined)[] {
    const old = this.queue;
    const next = new Array<RawActor<any> | undefined>(old.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.head = 0;
    this.queue = next;
    return next;
  }
}

export class RawActor<M> {
  private buf: (M | undefined)[] = NO_SLOTS;
  private head = 0;
  private size = 0;
  private scheduled = false;
  private readonly scheduler: RawScheduler;
  private readonly receive: (msg: M) => void;

  constructor(scheduler: RawScheduler, receive: (msg: M) => void) {
    this.scheduler = scheduler;
    this.receive = receive;
  }

  tell(msg: M): void {
    let buf = this.buf;
    if (this.size === buf.length) buf = this.grow();
    buf[(this.head + this.size) & (buf.length - 1)] = msg;
    this.size++;
    if (!this.scheduled) {
      this.scheduled = true;
      this.scheduler.enqueue(this);
    }
  }

  /** Handles at most `throughput` messages; requeues itself if more are waiting. */
  run(throughput: number): void {
    const buf = this.buf;
    const mask = buf.length - 1;
    const receive = this.receive;
    let n = throughput;
    do {
      const msg = buf[this.head] as M;
      buf[this.head] = undefined;
      this.head = (this.head + 1) & mask;
      this.size--;
      receive(msg);
    } while (--n > 0 && this.size > 0 && this.buf === buf);
    if (this.size > 0) this.scheduler.enqueue(this);
    else this.scheduled = false;
  }

  private grow(): (M | undefined)[] {
    const old = this.buf;
    const next = new Array<M | undefined>(old.length === 0 ? FIRST_SLOTS : old.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.head = 0;
    this.buf = next;
    return next;
  }
}
