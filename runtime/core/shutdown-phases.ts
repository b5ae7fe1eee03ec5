/**
 * Phased shutdown: the parts of a system (its extensions) add tasks to named phases, and the
 * system runs the phases in order when it shuts down, so no part knows the others' order.
 *
 *   unbind      stop taking work from outside (the gateway tells its clients 1001)
 *   drain       hand work over (entities passivated: snapshots saved, claims released)
 *   leave       leave the cluster (membership)
 *   ── the actors stop (`/user`, then `/system`) ──
 *   disconnect  close links and pools (node links, shard threads, the gateway's server)
 *   release     give shared resources back (the cluster's Redis connections)
 *
 * The first three run when `shutdown()` is called (not when a guardian's failure ends the
 * system: then the actors are stopping already), the last two once every actor has stopped,
 * whatever ended the system. A phase's tasks run together; the next phase starts when they
 * have all settled. A task that throws or rejects is logged and does not hold the others back.
 * A task may start work it does not wait for (return nothing): the phase does not wait either.
 */

export const BEFORE_STOP_PHASES = ['unbind', 'drain', 'leave'] as const;
export const AFTER_STOP_PHASES = ['disconnect', 'release'] as const;
export type ShutdownPhase =
  (typeof BEFORE_STOP_PHASES)[number] | (typeof AFTER_STOP_PHASES)[number];

export type ShutdownTask = () => Promise<unknown> | void;

interface Entry {
  readonly name: string;
  readonly task: ShutdownTask;
}

export class PhasedShutdown {
  readonly #phases = new Map<ShutdownPhase, Entry[]>();
  readonly #log: (message: string, error: unknown) => void;

  constructor(log: (message: string, error: unknown) => void) {
    this.#log = log;
  }

  /** Adds `task` (named `name` in logs) to `phase`. */
  add(phase: ShutdownPhase, name: string, task: ShutdownTask): void {
    let list = this.#phases.get(phase);
    if (list === undefined) this.#phases.set(phase, (list = []));
    list.push({ name, task });
  }

  /** Whether any task is in one of `phases`. */
  has(phases: readonly ShutdownPhase[]): boolean {
    return phases.some((p) => (this.#phases.get(p)?.length ?? 0) > 0);
  }

  /**
   * Runs `phases` in order, then calls `done` (once; never with an error). While the tasks
   * return no promise it all happens now, in this call: a system whose parts only start their
   * shutdown (the gateway's close) stops its actors at once, as one without parts does.
   */
  run(phases: readonly ShutdownPhase[], done: () => void, from = 0): void {
    for (let i = from; i < phases.length; i++) {
      const phase = phases[i]!;
      const pending: Promise<unknown>[] = [];
      for (const { name, task } of this.#phases.get(phase) ?? []) {
        const failed = (error: unknown) =>
          this.#log(`troupe: shutdown phase ${phase}: ${name} failed`, error);
        try {
          const r = task();
          if (r !== undefined) pending.push(Promise.resolve(r).catch(failed));
        } catch (error) {
          failed(error);
        }
      }
      if (pending.length > 0) {
        void Promise.all(pending).then(() => this.run(phases, done, i + 1));
        return;
      }
    }
    done();
  }
}
