/**
 * The inspector's system actor, `/system/inspector`: it samples the runtime at a named rate
 * (`sampleMs`, default 1 s) and publishes what the inspector page shows as its snapshot, so
 * the page watches it through the gateway like any actor (no second protocol).
 *
 * - A sample walks the supervision tree of this thread from the guardians: for each actor its
 *   behaviour kind, lifecycle, statechart state (machines), mailbox depth, message rate (from
 *   the cells' handled counts), restarts (its incarnation) and dead letters addressed to it;
 *   for each subtree the same summed. Children on other shards show as their stand-ins (kind
 *   and shard); shards and linked nodes show as groups.
 * - The snapshot holds the totals, the groups, the two roots and the first `topChildren`
 *   children of each, and the last `feedSize` dead letters and supervision events: bounded
 *   whatever the number of actors. Deeper levels are asked for, a page at a time:
 *   `{ type: 'children', path, offset, limit }`. `{ type: 'actor', path }` answers one actor's
 *   details, its recent messages and its supervision events, and taps it (its messages are
 *   recorded, sender, type and time) for `tapMs`.
 * - Watching costs the watched little: nothing is walked while nobody subscribes to the
 *   inspector, the walk reads counters the cells keep anyway, and only a tapped actor leaves
 *   its fast path (at most `maxTaps` are tapped: a new tap past it ends the one that would end
 *   first).
 * - One sampling loop, whatever is sent: a timer of its own (its message is an object no one
 *   else holds, so a client cannot arm another) fires every `sampleMs` while someone subscribes
 *   or a tap is live, and is not re-armed once neither holds: an inspector nobody watches arms
 *   no timer. A new subscriber wakes it (the cell asks the behaviour's `view` for the subscriber's
 *   first snapshot, and `view` arms the loop if it sleeps: the next sample comes at once). A
 *   client's `{ type: 'sample' }` asks for the same and nothing more: while the loop runs it
 *   changes nothing, so any number of them (from one subscriber or many) still makes one
 *   sample per `sampleMs`.
 */
import type { ActorPath } from '../../protocol/address.ts';
import {
  ActorCell,
  lifecycleName,
  type Kid,
  type MessageTap,
  type RemoteKid,
} from '../core/index.ts';
import type { Behaviour } from '../core/index.ts';
import type { ActorContext } from '../core/index.ts';
import type { ActorRef } from '../core/index.ts';
import type { DeadLetter } from '../core/index.ts';
import type { RuntimeEvent } from '../core/index.ts';
import type { Kernel } from '../core/index.ts';
import { shardsExtension } from '../shards/extension.ts';
import { nodesExtension } from '../nodes/extension.ts';
import { InvalidOptionError, onlyKnownOptions } from '../core/index.ts';

export const INSPECTOR_NAME = 'inspector';
export const INSPECTOR_PATH = `/system/${INSPECTOR_NAME}` as ActorPath;

export interface InspectorOptions {
  /** How often the runtime is sampled while someone watches (ms). */
  readonly sampleMs?: number;
  /** Children of each root in the snapshot (the rest are asked for). */
  readonly topChildren?: number;
  /** Dead letters and supervision events kept in the feed. */
  readonly feedSize?: number;
  /** How long an actor stays tapped after it was last asked about (ms). */
  readonly tapMs?: number;
  /** Messages a tap keeps. */
  readonly tapMessages?: number;
  /** Actors tapped at once, at most (each is on its slow path while tapped). */
  readonly maxTaps?: number;
}

export const DEFAULT_INSPECTOR_OPTIONS: Required<InspectorOptions> = Object.freeze({
  sampleMs: 1_000,
  topChildren: 100,
  feedSize: 200,
  tapMs: 30_000,
  tapMessages: 50,
  maxTaps: 16,
});

export function resolveInspectorOptions(v: unknown, field: string): Required<InspectorOptions> {
  if (v === undefined || v === true) return DEFAULT_INSPECTOR_OPTIONS;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new InvalidOptionError(field, v, 'an object, true or false');
  const o = v as Record<string, unknown>;
  const d = DEFAULT_INSPECTOR_OPTIONS;
  onlyKnownOptions(field, o, Object.keys(d));
  const int = (k: keyof InspectorOptions, min: number): number => {
    const x = o[k];
    if (x === undefined) return d[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min)
      throw new InvalidOptionError(`${field}.${k}`, x, `an integer ≥ ${min}`);
    return x;
  };
  return {
    sampleMs: int('sampleMs', 10),
    topChildren: int('topChildren', 1),
    feedSize: int('feedSize', 1),
    tapMs: int('tapMs', 1),
    tapMessages: int('tapMessages', 1),
    maxTaps: int('maxTaps', 1),
  };
}

/** Sums over a subtree. */
export interface Totals {
  actors: number;
  mailbox: number;
  /** Messages handled per second, over the last sample. */
  rate: number;
  restarts: number;
  deadLetters: number;
}

export interface ActorInfo {
  readonly path: string;
  readonly name: string;
  readonly kind: string;
  readonly status: string;
  /** The statechart state of a machine (its `value`, as text). */
  readonly state?: string;
  readonly mailbox: number;
  readonly rate: number;
  readonly restarts: number;
  readonly deadLetters: number;
  /** Direct children. */
  readonly children: number;
  /** Itself and everything below it (for actors with children). */
  readonly subtree?: Totals;
  /** It runs on another shard (a stand-in here). */
  readonly shard?: number;
}

export interface FeedEntry {
  readonly at: number;
  readonly kind: 'dead-letter' | 'supervision';
  /** The dead letter's reason, or the event's type. */
  readonly type: string;
  /** The actor it is about (the recipient, the child, the supervisor). */
  readonly path: string;
  /** The message's type (dead letters), the supervisor (supervision). */
  readonly detail?: string;
  readonly error?: string;
}

export interface TappedMessage {
  readonly at: number;
  readonly type: string;
  readonly sender?: string;
}

export interface InspectorView {
  readonly node: string;
  readonly at: number;
  readonly sampleMs: number;
  readonly totals: Totals;
  readonly shards: readonly { readonly shard: number; readonly actors: number }[];
  readonly nodes: readonly { readonly node: string; readonly up: boolean }[];
  readonly roots: readonly ActorInfo[];
  /** The first children of each root, and how many there are. */
  readonly top: Readonly<Record<string, { total: number; children: readonly ActorInfo[] }>>;
  readonly feed: readonly FeedEntry[];
}

export type InspectorMsg =
  | { readonly type: 'sample' }
  | { readonly type: 'children'; readonly path: string; offset?: number; limit?: number }
  | { readonly type: 'actor'; readonly path: string };

export interface ChildrenPage {
  readonly path: string;
  readonly total: number;
  readonly offset: number;
  readonly children: readonly ActorInfo[];
}

export interface ActorDetail {
  readonly info: ActorInfo | null;
  readonly messages: readonly TappedMessage[];
  readonly events: readonly FeedEntry[];
}

const MAX_PAGE = 500;

class Tap implements MessageTap {
  readonly entries: TappedMessage[] = [];
  until: number;
  readonly cell: ActorCell;
  private readonly size: number;
  constructor(cell: ActorCell, size: number, until: number) {
    this.cell = cell;
    this.size = size;
    this.until = until;
  }
  record(msg: unknown, sender: ActorRef<unknown> | undefined, at: number): void {
    if (this.entries.length >= this.size) this.entries.shift();
    this.entries.push({
      at,
      type: typeOf(msg),
      ...(sender === undefined ? {} : { sender: sender.address }),
    });
  }
}

interface State {
  view: InspectorView;
  /** Handled counts at the last sample, to make rates. */
  handled: Map<ActorCell, number>;
  sampledAt: number;
  rates: Map<ActorCell, number>;
  subtrees: Map<ActorCell, Totals>;
  deadByPath: Map<string, number>;
  feed: FeedEntry[];
  taps: Map<string, Tap>;
  /** The sampling loop's armed timer, or null while it sleeps. */
  timer: unknown;
  /** The loop's own message: compared by identity, so no one else can send it. */
  readonly tick: object;
  /** Arms the loop if it sleeps (from `view`, which has no context). */
  wake: () => void;
  stopListening: (() => void)[];
}

/** The type of a message, for people: its `type` field, else its kind of value. */
function typeOf(msg: unknown): string {
  if (typeof msg === 'object' && msg !== null) {
    const t = (msg as { type?: unknown }).type;
    if (typeof t === 'string') return t.slice(0, 80);
    return Array.isArray(msg) ? 'array' : 'object';
  }
  return typeof msg;
}

function errorText(e: unknown): string | undefined {
  if (e === undefined) return undefined;
  if (e instanceof Error) return `${e.name}: ${e.message}`.slice(0, 300);
  try {
    return (typeof e === 'object' && e !== null ? JSON.stringify(e) : String(e as string)).slice(
      0,
      300,
    );
  } catch {
    return 'an error that cannot be shown';
  }
}

function pathOfAddress(a: string): string {
  if (a.startsWith('troupe://')) {
    const slash = a.indexOf('/', 9);
    return slash < 0 ? a : a.slice(slash);
  }
  return a;
}

function stateText(cell: ActorCell): string | undefined {
  if (cell.behaviour.kind !== 'machine') return undefined;
  const v = cell.inspectView() as { value?: unknown } | undefined;
  if (v === undefined || v.value === undefined) return undefined;
  if (typeof v.value === 'string') return v.value;
  try {
    return JSON.stringify(v.value).slice(0, 120);
  } catch {
    return undefined;
  }
}

function isCell(k: Kid): k is ActorCell {
  return k instanceof ActorCell;
}

/** The behaviour of `/system/inspector` (spawned by the gateway). */
export function inspectorBehaviour(
  options: Required<InspectorOptions>,
): Behaviour<InspectorMsg, unknown, State> {
  /** Arms the loop's next tick in `delayMs`, unless it is armed already. */
  const arm = (s: State, sys: Kernel, self: ActorRef<unknown>, delayMs: number): void => {
    if (s.timer !== null) return;
    s.timer = sys.clock.setTimeout(() => {
      s.timer = null;
      self.tell(s.tick);
    }, delayMs);
  };

  /** Whether the loop must go on: someone subscribes, or a tap has to be ended in time. */
  const wanted = (s: State, ctx: ActorContext<InspectorMsg, unknown>): boolean =>
    (ctx as unknown as ActorCell).hasSnapshotSubscribers || s.taps.size > 0;

  const pushFeed = (s: State, e: FeedEntry): void => {
    s.feed.push(e);
    if (s.feed.length > options.feedSize * 2) s.feed.splice(0, s.feed.length - options.feedSize);
  };

  const info = (s: State, k: Kid, sys: Kernel): ActorInfo => {
    const path = k.ref.path;
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (!isCell(k)) {
      const r = k as RemoteKid & { shard?: number };
      return {
        path,
        name,
        kind: r.kind ?? 'remote',
        status: lifecycleName(k.kidStatus),
        mailbox: 0,
        rate: 0,
        restarts: k.incarnation,
        deadLetters: s.deadByPath.get(path) ?? 0,
        children: 0,
        ...(typeof r.shard === 'number' ? { shard: r.shard } : {}),
      };
    }
    let children = 0;
    for (const _ of k.kidsForInspection()) children++;
    const state = stateText(k);
    const sub = s.subtrees.get(k);
    void sys;
    return {
      path,
      name,
      kind: k.behaviour.kind,
      status: k.lifecycle,
      ...(state === undefined ? {} : { state }),
      mailbox: k.mailboxDepth,
      rate: Math.round(s.rates.get(k) ?? 0),
      restarts: k.incarnation,
      deadLetters: s.deadByPath.get(path) ?? 0,
      children,
      ...(sub === undefined ? {} : { subtree: { ...sub, rate: Math.round(sub.rate) } }),
    };
  };

  const sample = (s: State, ctx: ActorContext<InspectorMsg, unknown>): void => {
    // the inspector is the kernel's own: it reads the system's internals, not SystemApi
    const sys = (ctx as unknown as ActorCell).system;
    const now = sys.clock.now();
    // taps nobody asked about lately are removed
    for (const [path, tap] of s.taps)
      if (tap.until < now) {
        tap.cell.setTap(null);
        s.taps.delete(path);
      }
    const self = ctx as unknown as ActorCell;
    const watched = self.hasSnapshotSubscribers;
    if (!watched && s.view.at !== 0) return;
    const dt = Math.max(1, now - s.sampledAt) / 1000;
    const handled = new Map<ActorCell, number>();
    const rates = new Map<ActorCell, number>();
    const subtrees = new Map<ActorCell, Totals>();
    const shardCounts = new Map<number, number>();
    const walk = (cell: ActorCell): Totals => {
      const h = cell.handled;
      handled.set(cell, h);
      const before = s.handled.get(cell);
      const rate = before === undefined ? 0 : Math.max(0, h - before) / dt;
      rates.set(cell, rate);
      const t: Totals = {
        actors: 1,
        mailbox: cell.mailboxDepth,
        rate,
        restarts: cell.incarnation,
        deadLetters: s.deadByPath.get(cell.ref.path) ?? 0,
      };
      let kids = 0;
      for (const k of cell.kidsForInspection()) {
        kids++;
        if (isCell(k)) {
          const c = walk(k);
          t.actors += c.actors;
          t.mailbox += c.mailbox;
          t.rate += c.rate;
          t.restarts += c.restarts;
          t.deadLetters += c.deadLetters;
        } else {
          t.actors++;
          const shard = (k as { shard?: unknown }).shard;
          if (typeof shard === 'number') shardCounts.set(shard, (shardCounts.get(shard) ?? 0) + 1);
        }
      }
      if (kids > 0) subtrees.set(cell, t);
      return t;
    };
    const [user, system] = sys.guardians;
    const tu = walk(user);
    const ts = walk(system);
    s.handled = handled;
    s.rates = rates;
    s.subtrees = subtrees;
    s.sampledAt = now;
    const top: Record<string, { total: number; children: ActorInfo[] }> = {};
    for (const root of [user, system]) {
      const children: ActorInfo[] = [];
      let total = 0;
      for (const k of root.kidsForInspection()) {
        if (total++ < options.topChildren) children.push(info(s, k, sys));
      }
      top[root.ref.path] = { total, children };
    }
    const shards: { shard: number; actors: number }[] = [];
    const count = sys.findExtension(shardsExtension)?.count ?? 1;
    for (let i = 0; i < count; i++) shards.push({ shard: i, actors: shardCounts.get(i) ?? 0 });
    shards[0]!.actors =
      tu.actors + ts.actors - [...shardCounts.values()].reduce((a, b) => a + b, 0);
    const up = sys.findExtension(nodesExtension)?.runtime.net.peersUp ?? [];
    s.view = {
      node: sys.nodeId,
      at: now,
      sampleMs: options.sampleMs,
      totals: {
        actors: tu.actors + ts.actors,
        mailbox: tu.mailbox + ts.mailbox,
        rate: Math.round(tu.rate + ts.rate),
        restarts: tu.restarts + ts.restarts,
        deadLetters: sys.deadLetters.count,
      },
      shards: count > 1 ? shards : [],
      nodes: up.map((node) => ({ node, up: true })),
      roots: [info(s, user, sys), info(s, system, sys)],
      top,
      feed: s.feed.slice(-options.feedSize),
    };
  };

  const cellAt = (sys: Kernel, path: unknown): ActorCell | null => {
    if (typeof path !== 'string' || !path.startsWith('/')) return null;
    const t = sys.lookupHere(path as ActorPath);
    return t instanceof ActorCell ? t : null;
  };

  return {
    kind: 'inspector',
    init(ctx) {
      const sys = (ctx as unknown as ActorCell).system;
      const s: State = {
        view: {
          node: sys.nodeId,
          at: 0,
          sampleMs: options.sampleMs,
          totals: { actors: 0, mailbox: 0, rate: 0, restarts: 0, deadLetters: 0 },
          shards: [],
          nodes: [],
          roots: [],
          top: {},
          feed: [],
        },
        handled: new Map(),
        sampledAt: sys.clock.now(),
        rates: new Map(),
        subtrees: new Map(),
        deadByPath: new Map(),
        feed: [],
        taps: new Map(),
        timer: null,
        tick: { type: 'tick' },
        wake: () => undefined,
        stopListening: [],
      };
      const self = ctx.self as ActorRef<unknown>;
      s.wake = () => arm(s, sys, self, 0);
      s.stopListening.push(
        sys.deadLetters.subscribe((l: DeadLetter) => {
          const path = pathOfAddress(l.recipient);
          // temp receivers (ask replies) come and go: not counted per path
          if (!path.startsWith('/temp/')) {
            s.deadByPath.set(path, (s.deadByPath.get(path) ?? 0) + 1);
            if (s.deadByPath.size > 100_000) s.deadByPath.clear();
          }
          const error = errorText(l.error);
          pushFeed(s, {
            at: sys.clock.now(),
            kind: 'dead-letter',
            type: l.reason,
            path,
            detail: typeOf(l.message),
            ...(error === undefined ? {} : { error }),
          });
        }),
        sys.events.subscribe((e: RuntimeEvent) => {
          const ev = e as RuntimeEvent & {
            child?: string;
            supervisor?: string;
            actor?: string;
            error?: unknown;
          };
          const error = errorText(ev.error);
          pushFeed(s, {
            at: e.at,
            kind: 'supervision',
            type: e.type,
            path: ev.child ?? ev.actor ?? ev.supervisor ?? '',
            ...(ev.supervisor === undefined ? {} : { detail: ev.supervisor }),
            ...(error === undefined ? {} : { error }),
          });
        }),
      );
      sample(s, ctx);
      return s;
    },
    receive(s, msg, ctx) {
      const sys = (ctx as unknown as ActorCell).system;
      if (msg === s.tick) {
        // the loop's own tick: the only thing that samples (or ends taps) after init
        sample(s, ctx);
        if (wanted(s, ctx)) arm(s, sys, ctx.self as ActorRef<unknown>, options.sampleMs);
        return s;
      }
      if (typeof msg !== 'object' || msg === null) return s;
      switch (msg.type) {
        case 'sample':
          // asks for what a new subscriber gets: the loop, if it sleeps; never a second one
          if (wanted(s, ctx)) s.wake();
          return s;
        case 'children': {
          const cell = cellAt(sys, msg.path);
          const offset = Math.max(0, Math.floor(Number(msg.offset ?? 0)) || 0);
          const limit = Math.min(
            MAX_PAGE,
            Math.max(1, Math.floor(Number(msg.limit ?? 100)) || 100),
          );
          const children: ActorInfo[] = [];
          let total = 0;
          if (cell !== null)
            for (const k of cell.kidsForInspection()) {
              if (total >= offset && total < offset + limit) children.push(info(s, k, sys));
              total++;
            }
          const page: ChildrenPage = { path: String(msg.path), total, offset, children };
          ctx.reply(page);
          return s;
        }
        case 'actor': {
          const cell = cellAt(sys, msg.path);
          const path = String(msg.path);
          let tap = s.taps.get(path);
          const until = sys.clock.now() + options.tapMs;
          if (cell !== null && (tap === undefined || tap.cell !== cell)) {
            if (tap !== undefined) tap.cell.setTap(null);
            else if (s.taps.size >= options.maxTaps) endFirstTap(s);
            tap = new Tap(cell, options.tapMessages, until);
            s.taps.set(path, tap);
            cell.setTap(tap);
            // the loop ends it in time, watched or not
            s.wake();
          } else if (tap !== undefined) tap.until = until;
          const detail: ActorDetail = {
            info: cell === null ? null : info(s, cell, sys),
            messages: tap?.entries.slice() ?? [],
            events: s.feed.filter((e) => e.path === path).slice(-50),
          };
          ctx.reply(detail);
          return s;
        }
        default:
          return s;
      }
    },
    stop(s, ctx) {
      if (s.timer !== null) ctx.system.clock.clearTimeout(s.timer);
      s.timer = null;
      s.wake = () => undefined;
      for (const f of s.stopListening) f();
      for (const tap of s.taps.values()) tap.cell.setTap(null);
      s.taps.clear();
    },
    view: (s) => {
      // a subscriber is being given its first snapshot (or a sample's): the loop runs for it
      s.wake();
      return s.view;
    },
  };
}

/** Ends the tap that would end first (room for a new one). */
function endFirstTap(s: State): void {
  let first: [string, Tap] | undefined;
  for (const e of s.taps) if (first === undefined || e[1].until < first[1].until) first = e;
  if (first === undefined) return;
  first[1].cell.setTap(null);
  s.taps.delete(first[0]);
}
