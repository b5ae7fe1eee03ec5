/**
 * One offload pool for the node (runtime/core/offload.ts): a worker shard does not start threads
 * of its own; its tasks go to the main thread's pool, so `offload.maxThreads` and
 * `offload.maxQueue` bound the whole node. A task's input crosses to the main thread and on
 * to a pool thread; its output comes back the same way (`offload`, `offload-abort` and
 * `offloaded` frames, runtime/shards/protocol.ts). Timeouts are the pool's; an abort (the
 * requesting actor stopped, its signal fired) is sent on and settles the task at once here.
 * An input that cannot cross a thread fails at once with ERR_OFFLOAD_DATA.
 */
import {
  OffloadAbortedError,
  OffloadDataError,
  reviveOffloadError,
  runStart,
  type Offloads,
  type OffloadRunOptions,
  type OffloadTask,
  type ResolvedOffloadOptions,
} from '../core/index.ts';
import { SHARD_PROTOCOL_VERSION, type ShardFrame } from './protocol.ts';
import type { ShardRouter } from './router.ts';

interface Pending {
  readonly label: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  readonly detach: () => void;
}

/** A worker shard's offloads: sent to the main thread's pool. */
export class ShardOffloads implements Offloads {
  readonly options: ResolvedOffloadOptions;
  readonly #router: () => ShardRouter;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #closed = false;
  started = false;

  get inFlight(): number {
    return this.#pending.size;
  }

  constructor(options: ResolvedOffloadOptions, router: () => ShardRouter) {
    this.options = options;
    this.#router = router;
  }

  run<I, O>(task: OffloadTask<I, O>, input: I, options?: OffloadRunOptions): Promise<O> {
    const start = runStart(task, options, this.options.timeoutMs, this.#closed);
    if ('error' in start) return Promise.reject(start.error);
    const { label, timeoutMs } = start;
    const signal = options?.signal;
    this.started = true;
    const req = ++this.#seq;
    const router = this.#router();
    return new Promise<O>((resolve, reject) => {
      try {
        router.post(0, {
          v: SHARD_PROTOCOL_VERSION,
          k: 'offload',
          req,
          module: task.module,
          name: task.name,
          input,
          timeoutMs: timeoutMs === Infinity ? null : timeoutMs,
        });
      } catch (error) {
        reject(new OffloadDataError(label, error));
        return;
      }
      const onAbort = (): void => {
        if (!this.#pending.delete(req)) return;
        router.post(0, { v: SHARD_PROTOCOL_VERSION, k: 'offload-abort', req });
        reject(new OffloadAbortedError(label, 'by its signal'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(req, {
        label,
        resolve: resolve as (v: unknown) => void,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      });
    });
  }

  /** The main thread's answer. */
  answered(frame: Extract<ShardFrame, { k: 'offloaded' }>): void {
    const p = this.#pending.get(frame.req);
    if (p === undefined) return;
    this.#pending.delete(frame.req);
    p.detach();
    if (frame.ok) p.resolve(frame.value);
    else p.reject(reviveOffloadError(p.label, frame.error!));
  }

  /** Aborts what is in flight (the system shuts down). */
  close(): Promise<void> {
    this.#closed = true;
    const router = this.#router();
    for (const [req, p] of [...this.#pending]) {
      this.#pending.delete(req);
      p.detach();
      router.post(0, { v: SHARD_PROTOCOL_VERSION, k: 'offload-abort', req });
      p.reject(new OffloadAbortedError(p.label, 'the system has shut down'));
    }
    return Promise.resolve();
  }
}
