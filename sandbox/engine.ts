/**
 * The two halves of a sandbox.
 *
 * `Sandbox` is the isolate's half: a lease from the isolate pool (an isolate of its own, a
 * fresh context, the driver of sandbox/bootstrap.ts) and every call into it. Each call is one
 * synchronous `applySync` with primitive arguments (JSON text in) and one string back
 * (effects as JSON text, or a fault), under isolated-vm's `timeout` (the CPU limit, or the
 * wall time left when that is shorter), and marked on the call board (sandbox/board.ts) when
 * one is installed, so that a call isolated-vm cannot stop is seen. It deals in text only, so
 * it runs where the isolates live: in a sandbox host process (sandbox/host.ts), in both modes
 * (the pool's tests and the bench also use it in-process).
 *
 * `RefBook` is the node's half: it copies values in (refs become `{ $ref }`, remembered as
 * given) and reads what comes out: it parses the text, never runs it, and revives a ref only
 * when this sandbox was given it.
 *
 * Violations (cpu, wall, memory, copy) dispose the isolate before the error is thrown; a
 * throw of the code (SandboxCodeError) leaves the isolate and its state as they were, so a
 * supervisor may resume it. After any failure the isolate is never given to other code.
 */
import type ivm from 'isolated-vm';
import { decodeValue, encodeValue } from '../runtime/core/refcodec.ts';
import { isActorRef, type ActorRef } from '../runtime/core/ref.ts';
import type { Address } from '../protocol/address.ts';
import {
  SandboxCapabilityError,
  SandboxCodeError,
  SandboxLimitError,
  SandboxSourceError,
  type ResolvedSandboxLimits,
  type SandboxLimitName,
} from './limits.ts';
import { isolatePool, type IsolatePool, type Lease } from './pool.ts';
import { callWatch } from './board.ts';

/** What the code may do; letters passed to the bootstrap's 'c'. */
export interface Grants {
  readonly tell: boolean;
  readonly emit: boolean;
  readonly log: boolean;
  readonly clock: boolean;
}

export function grantLetters(g: Grants): string {
  return (g.tell ? 't' : '') + (g.emit ? 'e' : '') + (g.log ? 'l' : '') + (g.clock ? 'c' : '');
}

const TIMED_OUT = 'Script execution timed out.';

/** The isolate's half (see the top of this file). */
export class Sandbox {
  readonly path: string;
  readonly limits: ResolvedSandboxLimits;
  readonly #pool: IsolatePool;
  readonly #lease: Lease;
  #failed: Error | null = null;
  #released = false;

  constructor(
    path: string,
    limits: ResolvedSandboxLimits,
    grants: string,
    domain: string,
    pool: IsolatePool = isolatePool(),
  ) {
    this.path = path;
    this.limits = limits;
    this.#pool = pool;
    this.#lease = pool.acquire(domain, limits.memoryMb);
    try {
      this.#call('c', limits.copyBytes, grants, limits.cpuMs);
    } catch (e) {
      this.release();
      throw e;
    }
  }

  /** The isolate is gone (after a violation, or released). */
  get disposed(): boolean {
    return this.#lease.isolate.isDisposed;
  }

  /** The sandbox failed (its isolate is disposed on release, not given back). */
  fail(error: Error): void {
    this.#failed ??= error;
  }

  /** A failure found outside the isolate (a copy over the limit, a forged ref): disposed now. */
  abandon(error: Error): void {
    this.#failed ??= error;
    if (!this.#released) {
      this.#released = true;
      this.#pool.discard(this.#lease);
    }
  }

  /** Compiles and runs the code's top level (its declarations) in this sandbox's context. */
  load(source: string, filename: string): void {
    this.#runScript(source, filename, false);
  }

  /** Compiles `source`, a function expression, and returns the function (for 'u'). */
  compileFunction(source: string, filename: string): ivm.Reference<unknown> {
    return this.#runScript(source, filename, true) as ivm.Reference<unknown>;
  }

  /**
   * Calls the driver: 'i' init, 'r' receive (effects text: '' or '[…]'), 'v' view or 'p'
   * persist (the state as JSON). Throws the typed failure; a violation has disposed the
   * isolate by then.
   */
  call(op: 'i' | 'r' | 'v' | 'p', a: string, b: string): string {
    const out = this.#call(op, a, b, this.limits.cpuMs);
    if (out.charCodeAt(0) === 33 /* ! */) throw this.#fault(out);
    if (op === 'v' || op === 'p') this.#checkCopy(out);
    return out;
  }

  /**
   * Runs a compiled function with `input` (JSON) to its end: a promise it returns is settled
   * as far as the isolate's microtasks take it (nothing else can settle it: there are no
   * timers or I/O inside). The whole run is within the wall limit from `startedAt`. Returns
   * the result's JSON and the effects texts (its log lines).
   */
  runTask(
    fn: ivm.Reference<unknown>,
    input: string,
    startedAt: number,
  ): { result: string; effects: string[] } {
    const left = () => this.limits.wallMs - (performance.now() - startedAt);
    this.#usable();
    const started = performance.now();
    const budget = Math.min(this.limits.cpuMs, left());
    let out: string;
    const timeout = this.#timeout(budget);
    const watch = callWatch();
    watch?.begin(timeout, this.#limitOf(budget));
    try {
      out = this.#lease.driver.applySync(undefined, ['u', fn.derefInto(), input, Date.now()], {
        timeout,
      });
    } catch (e) {
      throw this.#violation(e, performance.now() - started, budget);
    } finally {
      watch?.end();
      fn.release();
    }
    if (out.charCodeAt(0) === 33 /* ! */) throw this.#fault(out);
    const effects = out === '' ? [] : [out];
    const end = this.#call('w', '', '', Math.max(1, left()));
    if (end.charCodeAt(0) === 33 /* ! */) throw this.#fault(end);
    const cut = end.indexOf('\u0000');
    if (cut > 0) effects.push(end.slice(0, cut));
    const result = end.slice(cut + 1);
    if (result.charCodeAt(0) === 61 /* = */) {
      const json = result.slice(1);
      this.#checkCopy(json);
      return { result: json, effects };
    }
    if (result === '?') {
      const e = new SandboxCodeError(
        this.path,
        'Error',
        'its promise never settles (nothing inside can settle it: there are no timers or I/O)',
      );
      this.#failed = e;
      throw e;
    }
    throw this.#fault(result);
  }

  /** Ends this sandbox; its isolate goes back to the pool when it can be reused. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    // after any failure the isolate is not given to anyone else: a restart gets a fresh one
    if (this.#failed !== null) this.#pool.discard(this.#lease);
    else this.#pool.release(this.#lease, !this.#lease.isolate.isDisposed);
  }

  // ---- inside ---------------------------------------------------------------------------

  #usable(): void {
    if (this.#failed instanceof SandboxLimitError || this.#lease.isolate.isDisposed)
      throw new SandboxCodeError(
        this.path,
        'Error',
        `its isolate was disposed${this.#failed ? ` (${this.#failed.message})` : ''}: it must be restarted`,
      );
    if (this.#released) throw new SandboxCodeError(this.path, 'Error', 'the sandbox has ended');
  }

  #timeout(ms: number): number {
    return Math.max(1, Math.ceil(Math.min(ms, this.limits.wallMs)));
  }

  #runScript(source: string, filename: string, reference: boolean): unknown {
    this.#usable();
    let script: ivm.Script;
    try {
      script = this.#lease.isolate.compileScriptSync(source, { filename });
    } catch (e) {
      if (this.#lease.isolate.isDisposed) throw this.#violation(e, 0, this.limits.cpuMs);
      const err = new SandboxSourceError(this.path, messageOf(e));
      this.#failed = err;
      throw err;
    }
    const started = performance.now();
    const timeout = this.#timeout(this.limits.cpuMs);
    const watch = callWatch();
    watch?.begin(timeout, this.#limitOf(this.limits.cpuMs));
    try {
      return script.runSync(this.#lease.context, {
        timeout,
        ...(reference ? { reference: true } : {}),
      });
    } catch (e) {
      throw this.#violation(e, performance.now() - started, this.limits.cpuMs);
    } finally {
      watch?.end();
      script.release();
    }
  }

  #call(op: string, a: string | number, b: string, budgetMs: number): string {
    this.#usable();
    const started = performance.now();
    const timeout = this.#timeout(budgetMs);
    const watch = callWatch();
    watch?.begin(timeout, this.#limitOf(budgetMs));
    try {
      return this.#lease.driver.applySync(undefined, [op, a, b, Date.now()], { timeout });
    } catch (e) {
      throw this.#violation(e, performance.now() - started, budgetMs);
    } finally {
      watch?.end();
    }
  }

  /** The limit a call given `budgetMs` is stopped by: the wall limit when it is the shorter. */
  #limitOf(budgetMs: number): SandboxLimitName {
    return budgetMs < this.limits.cpuMs || this.limits.wallMs < this.limits.cpuMs ? 'wall' : 'cpu';
  }

  #checkCopy(json: string): void {
    const bytes = copySize(json, this.limits.copyBytes);
    if (bytes > this.limits.copyBytes) throw this.#limit('copy', bytes);
  }

  /** Disposes the isolate now and makes the typed error. */
  #limit(limit: SandboxLimitName, value: number): SandboxLimitError {
    const e = new SandboxLimitError(limit, value, this.path, allowedOf(this.limits, limit));
    this.#failed = e;
    this.#pool.discard(this.#lease);
    return e;
  }

  /** What an error thrown by isolated-vm means. */
  #violation(e: unknown, elapsedMs: number, budgetMs: number): Error {
    if (e instanceof SandboxLimitError || e instanceof SandboxCodeError) return e;
    const message = messageOf(e);
    if (this.#lease.isolate.isDisposed)
      // out of memory (isolated-vm disposes the isolate itself)
      return this.#limit('memory', this.limits.memoryMb);
    if (message === TIMED_OUT) return this.#limit(this.#limitOf(budgetMs), Math.round(elapsedMs));
    const err = new SandboxCodeError(this.path, nameOf(e), message);
    this.#failed = err;
    return err;
  }

  #fault(out: string): Error {
    if (out.startsWith('!copy ')) return this.#limit('copy', Number(out.slice(6)));
    let err: Error;
    if (out.startsWith('!source ')) err = new SandboxSourceError(this.path, out.slice(8));
    else if (out.startsWith('!code ')) {
      const nl = out.indexOf('\n');
      err = new SandboxCodeError(this.path, out.slice(6, nl), out.slice(nl + 1));
    } else err = new SandboxCodeError(this.path, 'Error', 'the sandbox answered what it cannot');
    this.#failed = err;
    return err;
  }
}

/** The size of a copy in bytes of UTF-8, counted exactly only near the limit. */
export function copySize(json: string, max: number): number {
  // a JSON character is 1–3 bytes in UTF-8
  if (json.length * 3 <= max || json.length > max) return json.length;
  return Buffer.byteLength(json);
}

export function allowedOf(limits: ResolvedSandboxLimits, limit: SandboxLimitName): number {
  return limit === 'cpu'
    ? limits.cpuMs
    : limit === 'wall'
      ? limits.wallMs
      : limit === 'memory'
        ? limits.memoryMb
        : limits.copyBytes;
}

/** An effect the code asked for, parsed and with its refs revived. */
export type Effect =
  | { readonly kind: 'tell'; readonly to: ActorRef<unknown>; readonly msg: unknown }
  | { readonly kind: 'reply'; readonly value: unknown }
  | { readonly kind: 'emit'; readonly event: unknown }
  | { readonly kind: 'log'; readonly text: string };

const NO_EFFECTS: readonly Effect[] = Object.freeze([]);

/** The node's half (see the top of this file): one per sandbox. */
export class RefBook {
  readonly path: string;
  readonly #copyBytes: number;
  readonly #grants: Grants;
  /** The refs this sandbox holds, by address: only these can be told from inside. */
  readonly #refs = new Map<string, ActorRef<unknown>>();
  readonly #refOf = (address: Address): ActorRef<unknown> => {
    const ref = this.#refs.get(address);
    if (ref === undefined)
      throw new SandboxCapabilityError(
        this.path,
        'a ref',
        `${address} is not a ref this sandbox was given`,
      );
    return ref;
  };

  constructor(path: string, copyBytes: number, grants: Grants) {
    this.path = path;
    this.#copyBytes = copyBytes;
    this.#grants = grants;
  }

  /**
   * A value copied in as JSON (refs as `{ $ref }`, remembered as given). Over the copy limit:
   * SandboxLimitError (the caller disposes the isolate).
   */
  copyIn(value: unknown): string {
    const json = JSON.stringify(encodeValue(value, 'address')) ?? 'null';
    const bytes = copySize(json, this.#copyBytes);
    if (bytes > this.#copyBytes)
      throw new SandboxLimitError('copy', bytes, this.path, this.#copyBytes);
    if (json.includes('"$ref"')) this.#remember(value, 0);
    return json;
  }

  /** A ref given to the sandbox (its self, a sender): its JSON. */
  give(ref: ActorRef<unknown>): string {
    this.#refs.set(ref.address, ref);
    return `{"$ref":${JSON.stringify(ref.address)}}`;
  }

  /** A value copied out, refs revived (a ref it was not given: SandboxCapabilityError). */
  read(json: string): unknown {
    this.#checkOut(json);
    return this.#decode(JSON.parse(json));
  }

  /**
   * Effects text ('' or '[…]') as effects, checked: each only when granted, each value within
   * the copy limit in UTF-8 bytes, refs only those given.
   */
  effects(out: string): readonly Effect[] {
    if (out === '') return NO_EFFECTS;
    let list: unknown;
    try {
      list = JSON.parse(out);
    } catch {
      list = null;
    }
    if (!Array.isArray(list)) throw this.#garbled();
    const effects: Effect[] = [];
    for (const e of list as unknown[]) {
      if (!Array.isArray(e)) throw this.#garbled();
      switch (e[0]) {
        case 't': {
          if (!this.#grants.tell) throw this.#refused('tell', 'it was not granted');
          const to = typeof e[1] === 'string' ? this.#refs.get(e[1]) : undefined;
          if (to === undefined)
            throw this.#refused('tell', `${String(e[1])} is not a ref this sandbox was given`);
          effects.push({ kind: 'tell', to, msg: this.#value(e[2]) });
          break;
        }
        case 'r':
          effects.push({ kind: 'reply', value: this.#value(e[1]) });
          break;
        case 'e':
          if (!this.#grants.emit) throw this.#refused('emit', 'it was not granted');
          effects.push({ kind: 'emit', event: this.#value(e[1]) });
          break;
        case 'l':
          if (!this.#grants.log) throw this.#refused('log', 'it was not granted');
          if (typeof e[1] !== 'string') throw this.#garbled();
          this.#checkOut(e[1]);
          effects.push({ kind: 'log', text: e[1] });
          break;
        default:
          throw this.#garbled();
      }
    }
    return effects;
  }

  /** One value copied out: its size checked (bytes of its JSON), its refs revived. */
  #value(v: unknown): unknown {
    if (v !== null && typeof v === 'object') this.#checkOut(JSON.stringify(v));
    else if (typeof v === 'string') this.#checkOut(v);
    return this.#decode(v);
  }

  #checkOut(json: string): void {
    const bytes = copySize(json, this.#copyBytes);
    if (bytes > this.#copyBytes)
      throw new SandboxLimitError('copy', bytes, this.path, this.#copyBytes);
  }

  /** Revives refs and tags; what is not data (an invalid date, too deep) is the code's fault. */
  #decode(v: unknown): unknown {
    try {
      return decodeValue(v, this.#refOf);
    } catch (e) {
      if (e instanceof SandboxCapabilityError) throw e;
      throw new SandboxCodeError(
        this.path,
        'Error',
        `it asked to send what is not data: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  #refused(capability: string, why: string): SandboxCapabilityError {
    return new SandboxCapabilityError(this.path, capability, why);
  }

  #garbled(): SandboxCodeError {
    return new SandboxCodeError(this.path, 'Error', 'the sandbox answered what it cannot');
  }

  /** Remembers the refs inside a value copied in (as deep as the codec goes). */
  #remember(v: unknown, depth: number): void {
    if (v === null || typeof v !== 'object' || depth > 64) return;
    if (isActorRef(v)) {
      this.#refs.set(v.address, v);
      return;
    }
    if (Array.isArray(v)) for (const x of v) this.#remember(x, depth + 1);
    else
      for (const k of Object.keys(v)) this.#remember((v as Record<string, unknown>)[k], depth + 1);
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
function nameOf(e: unknown): string {
  return e instanceof Error ? e.name : typeof e;
}
