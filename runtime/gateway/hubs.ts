/**
 * Hubs: one subscription of the gateway to an actor (or a topic), shared by every client
 * connection that subscribes to it.
 *
 * A snapshot hub holds the core subscription (`system.subscribe`, so the actor may be on any
 * shard or node) and numbers what it publishes: `epoch` (random, one per hub) and `version`
 * (+1 per publication). It keeps the last `historyVersions` snapshots in data form, so a
 * subscriber at any of them gets a JSON Patch (RFC 6902, computed by fast-json-patch) to the
 * latest; one further back, or of another epoch, gets the full state. Updates closer together
 * than `coalesceMs` are merged (latest wins: the skipped versions are never published, so no
 * client can be left on one). A hub outlives its last subscriber by `resumeWindowMs`, so a
 * client that reconnects in that time resumes with a patch.
 *
 * An event hub (an actor's emitted events, or a topic) passes each event on as it comes:
 * events are not kept, and a subscriber sees those that come while it is subscribed.
 */
import { randomBytes } from 'node:crypto';
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { encodeValue } from '../core/index.ts';
import type { ActorRef } from '../core/index.ts';
import type { EmittedEvent, SnapshotUpdate, Terminated } from '../core/index.ts';
import type { EndedError, PatchOperation } from '../../protocol/client-protocol.ts';
import type { Clock } from '../core/index.ts';
import { backgroundTimeout } from '../core/index.ts';

/** Above this many operations a patch is not worth it: the full state goes instead. */
export const MAX_PATCH_OPERATIONS = 64;

/** A client connection's subscription, as a hub serves it. */
export interface HubSubscriber {
  readonly id: number;
  /** The version this subscriber has (0: none yet). */
  sent: number;
  /** The subscriber's epoch (snapshot hubs), to know a resume from a fresh one. */
  state(epoch: string, version: number, snapshot: unknown): void;
  patch(epoch: string, base: number, version: number, patch: readonly PatchOperation[]): void;
  event(event: unknown): void;
  /** `error`: why a `failed` actor failed, as the ref codec writes an error (every field). */
  ended(reason: string, error?: EndedError): void;
}

/** The failure of a Terminated, as data: the ref codec's error form; none when it has none. */
export function endedError(t: Terminated): EndedError | undefined {
  if (!(t.error instanceof Error)) return undefined;
  try {
    return (encodeValue(t.error, 'address') as { $error: EndedError }).$error;
  } catch {
    return { name: t.error.name, message: t.error.message };
  }
}

/** What a hub needs of the gateway. */
export interface HubHost {
  subscribe(ref: ActorRef<unknown>, listener: (u: SnapshotUpdate | Terminated) => void): () => void;
  subscribeEvents(
    ref: ActorRef<unknown>,
    listener: (e: EmittedEvent | Terminated) => void,
  ): () => void;
  subscribeTopic(topic: string, listener: (msg: unknown) => void): () => void;
  /** The hub has no subscriber left and is gone. */
  dropped(hub: SnapshotHub | EventHub): void;
  /** A snapshot hub starts (true) or stops (false) waiting for resumes with no subscriber. */
  lingering(hub: SnapshotHub, on: boolean): void;
  logError(message: string, error: unknown): void;
  /** The system's clock: the coalescing window and the resume window run on it. */
  readonly clock: Clock;
  readonly coalesceMs: number;
  readonly historyVersions: number;
  readonly resumeWindowMs: number;
  /** Counters the gateway reports. */
  count(what: 'coalesced' | 'published'): void;
}

const NONE = Symbol('none');

export class SnapshotHub {
  readonly key: string;
  readonly epoch = randomBytes(9).toString('base64url');
  /** Published versions (0: none yet). */
  version = 0;
  private current: unknown = undefined;
  private readonly history = new Map<number, unknown>();
  readonly subscribers = new Set<HubSubscriber>();
  private readonly host: HubHost;
  private stopCore: (() => void) | null;
  private pending: unknown = NONE;
  /** The coalescing window's timer (of the host's clock). */
  private timer: unknown = null;
  private lastPublishAt = -Infinity;
  /** The patch from version - 1 to version, made once for every subscriber that needs it. */
  private step: readonly PatchOperation[] | null = null;
  /** The resume window's timer, while no subscriber is left. */
  private linger: unknown = null;
  private gone = false;
  private endReason = 'ended';
  private endError: EndedError | undefined = undefined;

  constructor(host: HubHost, key: string, ref: ActorRef<unknown>) {
    this.host = host;
    this.key = key;
    this.stopCore = host.subscribe(ref, (u) => this.onUpdate(u));
  }

  get ended(): boolean {
    return this.gone;
  }

  /** A subscriber joins; `since` is where it left off, if it resumes. */
  add(sub: HubSubscriber, since: { epoch: string; version: number } | undefined): void {
    // the actor was gone already (the core answers at once for an unknown local actor)
    if (this.gone) return sub.ended(this.endReason, this.endError);
    if (this.linger !== null) {
      this.host.clock.clearTimeout(this.linger);
      this.linger = null;
      this.host.lingering(this, false);
    }
    this.subscribers.add(sub);
    sub.sent =
      since !== undefined &&
      since.epoch === this.epoch &&
      since.version <= this.version &&
      (since.version === this.version || this.history.has(since.version))
        ? since.version
        : 0;
    if (this.version > 0) this.deliver(sub);
  }

  remove(sub: HubSubscriber): void {
    if (!this.subscribers.delete(sub) || this.subscribers.size > 0 || this.gone) return;
    const wait = this.host.resumeWindowMs;
    if (wait === 0) return this.close();
    this.linger = backgroundTimeout(this.host.clock, () => this.close(), wait);
    this.host.lingering(this, true);
  }

  /** Ends the core subscription (the gateway closes, or nobody came back). */
  close(): void {
    if (this.gone) return;
    this.gone = true;
    const clock = this.host.clock;
    if (this.timer !== null) clock.clearTimeout(this.timer);
    if (this.linger !== null) {
      clock.clearTimeout(this.linger);
      this.host.lingering(this, false);
    }
    this.timer = this.linger = null;
    this.stopCore?.();
    this.stopCore = null;
    this.history.clear();
    this.host.dropped(this);
  }

  private onUpdate(u: SnapshotUpdate | Terminated): void {
    if (this.gone) return;
    if (u.type === 'troupe.terminated') {
      this.stopCore = null;
      this.endReason = u.reason;
      this.endError = endedError(u);
      // what was merged into a pending publication goes out first: the last state is not lost
      if (this.pending !== NONE) this.publish();
      for (const s of this.subscribers) s.ended(u.reason, this.endError);
      this.subscribers.clear();
      this.close();
      return;
    }
    let data: unknown;
    try {
      data = encodeValue(u.snapshot, 'address') ?? null;
    } catch (error) {
      this.host.logError(
        `troupe: a snapshot of ${this.key} is not data; its subscribers end`,
        error,
      );
      this.endReason = 'not-serializable';
      for (const s of this.subscribers) s.ended('not-serializable');
      this.subscribers.clear();
      this.close();
      return;
    }
    if (this.pending !== NONE) this.host.count('coalesced');
    this.pending = data;
    if (this.timer !== null) return;
    const wait = this.lastPublishAt + this.host.coalesceMs - this.host.clock.now();
    if (wait <= 0) this.publish();
    else {
      this.timer = this.host.clock.setTimeout(() => {
        this.timer = null;
        this.publish();
      }, wait);
    }
  }

  private publish(): void {
    if (this.pending === NONE) return;
    this.current = this.pending;
    this.pending = NONE;
    this.version++;
    this.step = null;
    this.lastPublishAt = this.host.clock.now();
    const h = this.history;
    h.set(this.version, this.current);
    h.delete(this.version - this.host.historyVersions);
    this.host.count('published');
    for (const s of this.subscribers) this.deliver(s);
  }

  private deliver(sub: HubSubscriber): void {
    const base = sub.sent;
    const version = this.version;
    if (base === version) return;
    sub.sent = version;
    const from = base === 0 ? undefined : this.history.get(base);
    if (from === undefined) return sub.state(this.epoch, version, this.current);
    let patch: readonly PatchOperation[];
    if (base === version - 1) patch = this.step ??= diff(from, this.current);
    else patch = diff(from, this.current);
    if (patch.length > MAX_PATCH_OPERATIONS) sub.state(this.epoch, version, this.current);
    else sub.patch(this.epoch, base, version, patch);
  }
}

function diff(a: unknown, b: unknown): readonly PatchOperation[] {
  // a root that is not an object or array is replaced whole
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null)
    return Object.is(a, b) ? [] : [{ op: 'replace', path: '', value: b }];
  if (Array.isArray(a) !== Array.isArray(b)) return [{ op: 'replace', path: '', value: b }];
  return jsonpatch.compare(a, b) as Operation[] as readonly PatchOperation[];
}

export class EventHub {
  readonly key: string;
  readonly subscribers = new Set<HubSubscriber>();
  private readonly host: HubHost;
  private stopCore: (() => void) | null;
  private gone = false;
  private endReason = 'ended';
  private endError: EndedError | undefined = undefined;

  constructor(host: HubHost, key: string, source: { ref: ActorRef<unknown> } | { topic: string }) {
    this.host = host;
    this.key = key;
    this.stopCore =
      'ref' in source
        ? host.subscribeEvents(source.ref, (e) =>
            e.type === 'troupe.terminated' ? this.end(e.reason, endedError(e)) : this.pass(e.event),
          )
        : host.subscribeTopic(source.topic, (msg) => this.pass(msg));
  }

  get ended(): boolean {
    return this.gone;
  }

  add(sub: HubSubscriber): void {
    if (this.gone) return sub.ended(this.endReason, this.endError);
    this.subscribers.add(sub);
  }

  remove(sub: HubSubscriber): void {
    if (this.subscribers.delete(sub) && this.subscribers.size === 0) this.close();
  }

  close(): void {
    if (this.gone) return;
    this.gone = true;
    this.stopCore?.();
    this.stopCore = null;
    this.host.dropped(this);
  }

  private pass(event: unknown): void {
    if (this.gone) return;
    let data: unknown;
    try {
      data = encodeValue(event, 'address') ?? null;
    } catch (error) {
      this.host.logError(
        `troupe: an event of ${this.key} is not data; it was not passed on`,
        error,
      );
      return;
    }
    for (const s of this.subscribers) s.event(data);
  }

  private end(reason: string, error: EndedError | undefined): void {
    if (this.gone) return;
    this.endReason = reason;
    this.endError = error;
    this.stopCore = null;
    for (const s of this.subscribers) s.ended(reason, error);
    this.subscribers.clear();
    this.close();
  }
}
