/**
 * The test probe: an actor that records what it receives, for tests of actors.
 *
 *   const probe = createTestProbe(system);
 *   counter.tell({ type: 'get', replyTo: probe.ref });
 *   await probe.expectMessage({ count: 1 });
 *
 * Waiting never sleeps on a simulated clock: the probe runs the system to idle, then moves
 * simulated time to the next timer, until the message comes or `within` ms of simulated time
 * have passed. On the real clock it waits up to `within` real ms.
 */
import assert from 'node:assert/strict';
import { SimulatedClock, nextTurn } from './simulated-clock.ts';
import { fromReceiveLike } from './probe-behaviour.ts';
import type { Kernel } from '../core/index.ts';
import type { ActorRef } from '../core/index.ts';
import type { Terminated } from '../core/index.ts';

/** Default wait of expectMessage, in (simulated or real) milliseconds. */
export const EXPECT_WITHIN_MS = 3_000;
/** Default quiet period of expectNoMessage, in milliseconds. */
export const EXPECT_NO_MESSAGE_MS = 100;
/** Scheduler turns `settle` waits for the system to be idle before giving up. */
const SETTLE_MAX_TURNS = 100_000;

/** Runs the system until no actor has work and nothing async is in flight. */
export async function settle(system: Kernel): Promise<void> {
  for (let i = 0; i < SETTLE_MAX_TURNS; i++) {
    await nextTurn();
    if (system.isIdle) return;
  }
  throw new Error(
    `troupe/testing: the system did not become idle within ${SETTLE_MAX_TURNS} turns`,
  );
}

interface ProbeCommand {
  readonly $probe: 'send' | 'watch' | 'unwatch';
  readonly target: ActorRef<any, any>;
  readonly msg?: unknown;
}

export class TestProbe<M = unknown> {
  readonly system: Kernel;
  /** The probe's ref: give it as a reply address, a watcher, a subscriber. */
  readonly ref: ActorRef<M>;
  private readonly queue: unknown[] = [];
  private wake: (() => void) | null = null;

  constructor(system: Kernel, name?: string) {
    this.system = system;
    const behaviour = fromReceiveLike<ProbeCommand | M>((msg, ctx) => {
      const c = msg as ProbeCommand;
      if (
        typeof c === 'object' &&
        c !== null &&
        (c.$probe === 'send' || c.$probe === 'watch' || c.$probe === 'unwatch')
      ) {
        if (c.$probe === 'send') c.target.tell(c.msg);
        else if (c.$probe === 'watch') ctx.watch(c.target);
        else ctx.unwatch(c.target);
        return;
      }
      this.queue.push(msg);
      const w = this.wake;
      this.wake = null;
      w?.();
    });
    this.ref = system.spawn(
      behaviour,
      name === undefined
        ? { mailbox: { capacity: Infinity } }
        : { name, mailbox: { capacity: Infinity } },
    );
  }

  /** Sends `msg` to `target` with the probe as the sender (so `ctx.reply` comes back here). */
  send<T>(target: ActorRef<T, any>, msg: T): void {
    (this.ref as ActorRef<unknown>).tell({ $probe: 'send', target, msg } satisfies ProbeCommand);
  }

  /** The probe will receive `troupe.terminated` when `target` stops. */
  watch(target: ActorRef<any, any>): void {
    (this.ref as ActorRef<unknown>).tell({ $probe: 'watch', target } satisfies ProbeCommand);
  }

  /** Messages received and not yet taken by an expectation. */
  get pending(): readonly unknown[] {
    return this.queue.slice();
  }

  /**
   * Takes the next message and checks it: deep-equal to `expected`, or accepted by a predicate.
   * Rejects with an AssertionError if it does not match or none comes within `within` ms.
   */
  async expectMessage<T = M>(
    expected?: T | ((msg: T) => boolean),
    options: { within?: number } = {},
  ): Promise<T> {
    const msg = (await this.next(options.within ?? EXPECT_WITHIN_MS, 'a message')) as T;
    if (typeof expected === 'function')
      assert.ok((expected as (m: T) => boolean)(msg), `unexpected message: ${show(msg)}`);
    else if (expected !== undefined) assert.deepStrictEqual(msg, expected);
    return msg;
  }

  /** Asserts that nothing arrives for `ms` milliseconds (simulated time on a simulated clock). */
  async expectNoMessage(ms = EXPECT_NO_MESSAGE_MS): Promise<void> {
    await this.waitFor(ms);
    assert.equal(this.queue.length, 0, `expected no message, got ${show(this.queue[0])}`);
  }

  /** Watches `target` and waits for its `troupe.terminated`. */
  async expectTerminated(
    target: ActorRef<any, any>,
    options: { within?: number } = {},
  ): Promise<Terminated> {
    this.watch(target);
    const msg = (await this.next(
      options.within ?? EXPECT_WITHIN_MS,
      `troupe.terminated of ${target.path}`,
    )) as Terminated;
    assert.equal(
      msg?.type,
      'troupe.terminated',
      `expected troupe.terminated of ${target.path}, got ${show(msg)}`,
    );
    assert.equal(msg.ref.address, target.address);
    return msg;
  }

  private async next(within: number, what: string): Promise<unknown> {
    const clock = this.system.clock;
    const deadline = clock.now() + within;
    for (;;) {
      if (this.queue.length > 0) return this.queue.shift();
      if (clock.now() >= deadline) assert.fail(`expected ${what} within ${within} ms, got none`);
      await this.step(deadline);
    }
  }

  private async waitFor(ms: number): Promise<void> {
    const clock = this.system.clock;
    const deadline = clock.now() + ms;
    while (clock.now() < deadline && this.queue.length === 0) await this.step(deadline);
  }

  /** Lets the system work; then moves time toward `deadline` (simulated) or waits (real). */
  private async step(deadline: number): Promise<void> {
    const clock = this.system.clock;
    await settle(this.system);
    if (this.queue.length > 0) return;
    if (clock instanceof SimulatedClock) {
      const due = clock.nextDue();
      const to = due === undefined ? deadline : Math.min(due, deadline);
      await clock.advance(Math.max(0, to - clock.now()), () => settle(this.system));
      return;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(
        () => {
          this.wake = null;
          resolve();
        },
        Math.max(0, deadline - clock.now()),
      );
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}

export function createTestProbe<M = unknown>(system: Kernel, name?: string): TestProbe<M> {
  return new TestProbe<M>(system, name);
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
