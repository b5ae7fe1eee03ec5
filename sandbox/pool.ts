/**
 * The isolate pool: one per sandbox host process (sandbox/host.ts: each thread's host has its
 * own; isolates cannot cross threads). The pool's tests and the bench also make pools
 * in-process.
 *
 * - A lease is an isolate of its own with a fresh context in which the bootstrap has run
 *   (sandbox/bootstrap.ts): the driver is ready, nothing else is in it. A context is used
 *   once: a sandbox that ends gives its isolate back and the context is released, so nothing
 *   of one use is seen by the next.
 * - Isolates are keyed by trust domain and memory limit (the limit is fixed when an isolate
 *   is made): an isolate serves only code of the domain it first served.
 * - Ahead of need: after each acquire the pool prepares `warm` ready leases for that key in
 *   the background (the context is made on isolated-vm's threads, not this one); an acquire
 *   that finds none ready makes one at once (a cold start: a new isolate, ~1.5 ms).
 * - Bounded: at most `maxIsolates` isolates live in this pool (leased, ready and idle
 *   together). At the bound an idle or ready isolate of another key is disposed to make
 *   room; when every isolate is leased, acquire fails with SandboxPoolExhaustedError.
 * - An isolate whose sandbox went past a limit is disposed, never given back.
 */
import ivm from 'isolated-vm';
import { InvalidOptionError, TroupeError } from '../runtime/core/error.ts';
import { BOOTSTRAP } from './bootstrap.ts';
import { isPlainObject } from './limits.ts';

export const SANDBOX_MAX_ISOLATES = 64;
export const SANDBOX_WARM = 2;
/** The time the bootstrap may take in a fresh context (it takes well under 1 ms). */
const BOOTSTRAP_TIMEOUT_MS = 1_000;

export interface SandboxPoolOptions {
  /** Isolates alive in one thread at most, leased or not (default 64). */
  readonly maxIsolates?: number;
  /** Ready leases prepared ahead per trust domain and memory limit in use (default 2). */
  readonly warm?: number;
}

export interface ResolvedSandboxPoolOptions {
  readonly maxIsolates: number;
  readonly warm: number;
}

export function resolvePoolOptions(field: string, v: unknown): ResolvedSandboxPoolOptions {
  if (v === undefined) return { maxIsolates: SANDBOX_MAX_ISOLATES, warm: SANDBOX_WARM };
  if (!isPlainObject(v))
    throw new InvalidOptionError(field, v, 'an object ({ maxIsolates, warm })');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== 'maxIsolates' && k !== 'warm')
      throw new InvalidOptionError(`${field}.${k}`, o[k], 'absent (known: maxIsolates, warm)');
  const int = (k: 'maxIsolates' | 'warm', min: number, d: number): number => {
    const x = o[k];
    if (x === undefined) return d;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min)
      throw new InvalidOptionError(`${field}.${k}`, x, `an integer ≥ ${min}`);
    return x;
  };
  const maxIsolates = int('maxIsolates', 1, SANDBOX_MAX_ISOLATES);
  const warm = int('warm', 0, SANDBOX_WARM);
  if (warm > maxIsolates)
    throw new InvalidOptionError(`${field}.warm`, warm, `at most maxIsolates (${maxIsolates})`);
  return { maxIsolates, warm };
}

/** Every isolate of this thread is leased: no sandbox can start until one ends. */
export class SandboxPoolExhaustedError extends TroupeError {
  readonly maxIsolates: number;
  constructor(maxIsolates: number) {
    super(
      'ERR_SANDBOX_POOL_EXHAUSTED',
      `all ${maxIsolates} isolates of this thread are in use (raise sandbox.maxIsolates, or stop sandboxes that are done)`,
    );
    this.maxIsolates = maxIsolates;
  }
}

export type Driver = ivm.Reference<(op: string, a: unknown, b: unknown, now: number) => string>;

/** An isolate with a fresh, bootstrapped context, for one sandbox. */
export interface Lease {
  readonly key: string;
  readonly domain: string;
  readonly memoryMb: number;
  readonly isolate: ivm.Isolate;
  readonly context: ivm.Context;
  readonly driver: Driver;
}

export interface PoolStats {
  /** Isolates alive in this thread. */
  readonly live: number;
  readonly leased: number;
  /** Ready leases waiting (fresh contexts in warm isolates). */
  readonly ready: number;
  /** Cold starts: acquires that found nothing ready. */
  readonly cold: number;
  /** Isolates disposed after a violation. */
  readonly disposed: number;
}

export class IsolatePool {
  #options: ResolvedSandboxPoolOptions;
  readonly #ready = new Map<string, Lease[]>();
  /** Isolates given back, without a context yet, by key. */
  readonly #idle = new Map<string, ivm.Isolate[]>();
  readonly #preparing = new Map<string, number>();
  readonly #leased = new Set<Lease>();
  #live = 0;
  #cold = 0;
  #disposed = 0;
  #closed = false;

  constructor(options: ResolvedSandboxPoolOptions) {
    this.#options = options;
    warnWithoutNoNodeSnapshot();
  }

  get options(): ResolvedSandboxPoolOptions {
    return this.#options;
  }

  /** New bounds; ready and idle isolates over them are disposed. */
  configure(options: ResolvedSandboxPoolOptions): void {
    this.#options = options;
    while (this.#live > options.maxIsolates && this.#evictOne(undefined)) {
      /* evicting */
    }
  }

  /** A ready lease for code of `domain`, at once (sync): prepared ahead, or made now. */
  acquire(domain: string, memoryMb: number): Lease {
    if (this.#closed)
      throw new TroupeError('ERR_SANDBOX_POOL_CLOSED', 'the sandbox pool is closed');
    const key = `${domain}\u0000${memoryMb}`;
    let lease = this.#ready.get(key)?.pop();
    if (lease === undefined) {
      let isolate = this.#idle.get(key)?.pop();
      if (isolate === undefined) {
        this.#makeRoom(key);
        isolate = this.#newIsolate(memoryMb);
      }
      try {
        lease = this.#prepareSync(key, domain, memoryMb, isolate);
      } catch (e) {
        this.#dispose(isolate);
        throw e;
      }
      this.#cold++;
    }
    this.#leased.add(lease);
    this.#refillSoon(key, domain, memoryMb);
    return lease;
  }

  /**
   * The sandbox is done with `lease`. Its context is released; its isolate is kept for its
   * key when `reusable` (the sandbox ended without a violation) and the key wants more,
   * disposed otherwise.
   */
  release(lease: Lease, reusable: boolean): void {
    if (!this.#leased.delete(lease)) return;
    if (lease.isolate.isDisposed) {
      this.#live--;
      return;
    }
    if (!reusable || this.#closed) {
      this.#dispose(lease.isolate);
      return;
    }
    lease.driver.release();
    lease.context.release();
    const ready = this.#ready.get(lease.key)?.length ?? 0;
    const idle = this.#idle.get(lease.key);
    if (ready + (idle?.length ?? 0) >= Math.max(1, this.#options.warm)) {
      this.#dispose(lease.isolate);
      return;
    }
    if (idle === undefined) this.#idle.set(lease.key, [lease.isolate]);
    else idle.push(lease.isolate);
    this.#refillSoon(lease.key, lease.domain, lease.memoryMb);
  }

  /** A violation: the isolate is disposed now (it is gone when this returns). */
  discard(lease: Lease): void {
    if (this.#leased.delete(lease)) {
      this.#disposed++;
      this.#dispose(lease.isolate);
    }
  }

  /** Prepares `warm` ready leases for a key now; resolves when they are ready. */
  async prewarm(domain: string, memoryMb: number): Promise<void> {
    const key = `${domain}\u0000${memoryMb}`;
    await this.#refill(key, domain, memoryMb);
  }

  stats(): PoolStats {
    let ready = 0;
    for (const l of this.#ready.values()) ready += l.length;
    return {
      live: this.#live,
      leased: this.#leased.size,
      ready,
      cold: this.#cold,
      disposed: this.#disposed,
    };
  }

  /** Disposes every isolate that is not leased; leases still out are disposed on release. */
  close(): void {
    this.#closed = true;
    for (const list of this.#ready.values()) for (const l of list) this.#dispose(l.isolate);
    for (const list of this.#idle.values()) for (const i of list) this.#dispose(i);
    this.#ready.clear();
    this.#idle.clear();
  }

  // ---- inside ---------------------------------------------------------------------------

  #newIsolate(memoryMb: number): ivm.Isolate {
    const isolate = new ivm.Isolate({ memoryLimit: memoryMb });
    this.#live++;
    return isolate;
  }

  #dispose(isolate: ivm.Isolate): void {
    if (!isolate.isDisposed) isolate.dispose();
    this.#live--;
  }

  #prepareSync(key: string, domain: string, memoryMb: number, isolate: ivm.Isolate): Lease {
    const context = isolate.createContextSync();
    const driver = context.evalSync(BOOTSTRAP, {
      reference: true,
      timeout: BOOTSTRAP_TIMEOUT_MS,
    }) as Driver;
    return { key, domain, memoryMb, isolate, context, driver };
  }

  /**
   * Makes room for one more isolate: disposes a ready or idle one of another key; or, while
   * isolates are being prepared, goes over the bound by one (a preparation that ends over
   * the bound disposes its isolate instead of keeping it).
   */
  #makeRoom(key: string): void {
    if (this.#live < this.#options.maxIsolates) return;
    if (this.#evictOne(key)) return;
    let preparing = 0;
    for (const n of this.#preparing.values()) preparing += n;
    if (this.#live - preparing < this.#options.maxIsolates) return;
    throw new SandboxPoolExhaustedError(this.#options.maxIsolates);
  }

  #evictOne(except: string | undefined): boolean {
    for (const [k, list] of this.#idle)
      if (k !== except && list.length > 0) {
        this.#dispose(list.pop()!);
        return true;
      }
    for (const [k, list] of this.#ready)
      if (k !== except && list.length > 0) {
        this.#dispose(list.pop()!.isolate);
        return true;
      }
    return false;
  }

  #refillSoon(key: string, domain: string, memoryMb: number): void {
    if (this.#options.warm === 0) return;
    setImmediate(() => {
      this.#refill(key, domain, memoryMb).catch(() => {
        // a failed preparation leaves the key colder; the next acquire makes one at once
      });
    });
  }

  async #refill(key: string, domain: string, memoryMb: number): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (;;) {
      const have = (this.#ready.get(key)?.length ?? 0) + (this.#preparing.get(key) ?? 0);
      if (this.#closed || have >= this.#options.warm) break;
      let isolate = this.#idle.get(key)?.pop();
      if (isolate === undefined) {
        if (this.#live >= this.#options.maxIsolates) break;
        isolate = this.#newIsolate(memoryMb);
      }
      this.#preparing.set(key, (this.#preparing.get(key) ?? 0) + 1);
      jobs.push(this.#prepare(key, domain, memoryMb, isolate));
    }
    await Promise.all(jobs);
  }

  async #prepare(key: string, domain: string, memoryMb: number, isolate: ivm.Isolate) {
    try {
      const context = await isolate.createContext();
      const driver = (await context.eval(BOOTSTRAP, {
        reference: true,
        timeout: BOOTSTRAP_TIMEOUT_MS,
      })) as Driver;
      await driver.apply(undefined, ['n', '', '', 0], { timeout: BOOTSTRAP_TIMEOUT_MS });
      if (this.#closed || this.#live > this.#options.maxIsolates) {
        this.#dispose(isolate);
        return;
      }
      const lease: Lease = { key, domain, memoryMb, isolate, context, driver };
      const list = this.#ready.get(key);
      if (list === undefined) this.#ready.set(key, [lease]);
      else list.push(lease);
    } catch (e) {
      this.#dispose(isolate);
      throw e;
    } finally {
      this.#preparing.set(key, this.#preparing.get(key)! - 1);
    }
  }
}

let warned = false;

/**
 * isolated-vm asks for `--no-node-snapshot` on Node 20 and later (for the whole process: it
 * goes in NODE_OPTIONS; the npm scripts set it, and the sandbox host process is started with
 * it). Without it, said once per thread.
 */
function warnWithoutNoNodeSnapshot(): void {
  if (warned) return;
  warned = true;
  const flag = '--no-node-snapshot';
  if (process.execArgv.includes(flag) || (process.env.NODE_OPTIONS ?? '').includes(flag)) return;
  process.emitWarning(
    `isolated-vm needs node ${flag} (set NODE_OPTIONS=${flag}): without it V8 may crash when isolates are made`,
    { code: 'TROUPE_SANDBOX_NO_NODE_SNAPSHOT' },
  );
}

let pool: IsolatePool | null = null;

/** This thread's isolate pool (made at first use with the default bounds). */
export function isolatePool(): IsolatePool {
  return (pool ??= new IsolatePool(resolvePoolOptions('sandbox.pool', undefined)));
}

/** Sets this thread's pool bounds (`configureSandboxes({ pool })` calls it). */
export function configureIsolatePool(options: ResolvedSandboxPoolOptions): void {
  if (pool === null) pool = new IsolatePool(options);
  else pool.configure(options);
}
