/**
 * Routes: which shard a path lives on, as one shard knows it.
 *
 * Placement is by path. A *placed root* is an actor whose parent lives on another shard
 * (every actor a worker shard runs at the top of its tree: top-level actors of a worker shard
 * are children of the main thread's `/user`); its descendants live with it unless they are
 * placed roots themselves. The shard of a placed root's parent chooses where it goes, tells
 * every shard (`placed`) before the spawn returns its ref, and stays its authority. Each
 * shard's table maps the placed roots it knows to their shards; a path goes by the deepest
 * placed root above it. Temporary receivers (ask replies, listeners) carry their shard in
 * their name (`/temp/s2-ask-7`; none on shard 0). Paths outside `/user` and `/temp`
 * (`/system`) are per shard.
 *
 * Learning keeps FIFO: a ref can travel faster than the `placed` frame about it (it comes on
 * another port). A shard that must route a path deeper than the deepest root it knows, on
 * another shard, or a top-level path it has never heard of, does not guess: it asks the
 * authority (`where`: the shard of that root, or the main thread) and what is sent meanwhile
 * waits; the answer (`route`) comes on the same port as that authority's `placed` frames. It
 * is kept (a confirmed route, bounded) until the root above it changes.
 *
 * Where a new actor goes (`choose`): the shard it is asked for (`{ shard: k }`, a portable
 * behaviour to run on another shard than its parent's), `'least-loaded'` (the live shard
 * with the fewest placed roots this shard knows of), `'round-robin'`; by default its
 * parent's shard, but round-robin for a portable top-level actor spawned on the main thread.
 * A behaviour that is not portable runs where it is spawned whatever the policy.
 */
import { InvalidOptionError } from '../core/index.ts';
import type { ShardChoice } from '../core/index.ts';
import { SHARD_PROTOCOL_VERSION, type ShardFrame } from './protocol.ts';
import { NotPortableError } from './errors.ts';

/** Paths the main thread said nobody has, remembered so they are not asked for again. */
export const ABSENT_PATHS = 10_000;
/** Messages held for one path while its route is asked for; more are dead letters. */
export const HELD_PER_PATH = 10_000;
/** Confirmed routes kept (answers to `where` below a known root); past it they are asked again. */
export const CONFIRMED_ROUTES = 100_000;

/** Routes, besides a shard id ≥ 0: this shard, asked for (held), nobody. */
export const LOCAL = -1;
export const HOLD = -2;
export const ABSENT = -3;

const USER = '/user/';
const TEMP = '/temp/';

export { tempPrefix } from '../core/index.ts';

/** The shard a temporary receiver lives on, from its name; null off /temp. */
export function tempShard(path: string): number | null {
  if (!path.startsWith(TEMP)) return null;
  const m = /^s(\d+)-/.exec(path.slice(TEMP.length));
  return m === null ? 0 : Number(m[1]);
}

/** `/user/a/b` → `/user/a`; null off /user. */
export function topLevelOf(path: string): string | null {
  if (!path.startsWith(USER) || path.length === USER.length) return null;
  const end = path.indexOf('/', USER.length);
  return end < 0 ? path : path.slice(0, end);
}

export function isUserPath(path: string): boolean {
  return path.startsWith(USER);
}

/** A `where` in flight: who was asked, the root that led there (null: none known), what waits. */
interface Question<H> {
  readonly asked: number;
  readonly root: string | null;
  readonly held: H[];
}

/** What the table needs of its shard. */
export interface RoutesHost {
  readonly shard: number;
  /** Shards of the node. */
  readonly count: number;
  isLive(shard: number): boolean;
  /** Posts a `where` (or any control frame). */
  post(shard: number, frame: ShardFrame): void;
  /** On the main thread: whether an actor lives at a path with no placed root above it. */
  hasHere(path: string): boolean;
}

export class Routes<H> {
  /** Placed root path → shard (on the authority of a root: kept in step with its stand-in). */
  readonly placements = new Map<string, number>();
  /** Bumped whenever a route may have changed: what was resolved before is resolved again. */
  gen = 0;
  readonly #confirmed = new Map<string, Map<string, number>>();
  #confirmedSize = 0;
  readonly #questions = new Map<string, Question<H>>();
  readonly #absent = new Set<string>();
  /** Placed roots whose spawn is under way on this shard (their messages wait here). */
  readonly spawning = new Set<string>();
  readonly #host: RoutesHost;
  #roundRobin = 0;

  constructor(host: RoutesHost) {
    this.#host = host;
  }

  /**
   * The shard a new actor goes to (see above). Throws InvalidOptionError for a shard that
   * does not exist or does not run, and NotPortableError for a behaviour another thread
   * cannot load.
   */
  choose(portable: boolean, asked: ShardChoice | undefined, topLevelOnMain: boolean): number {
    const { shard: self, count } = this.#host;
    if (asked === undefined) {
      if (!portable || !topLevelOnMain) return self;
      asked = 'round-robin';
    }
    if (typeof asked === 'number') {
      if (asked >= count)
        throw new InvalidOptionError('options.shard', asked, `a shard from 0 to ${count - 1}`);
      if (asked === self) return asked;
      if (!portable) throw new NotPortableError(asked);
      if (!this.#host.isLive(asked))
        throw new InvalidOptionError('options.shard', asked, 'a shard whose thread is running');
      return asked;
    }
    if (!portable) return self;
    if (asked === 'least-loaded') return this.leastLoaded();
    for (;;) {
      const s = this.#roundRobin;
      this.#roundRobin = (s + 1) % count;
      if (this.#host.isLive(s)) return s;
    }
  }

  /** The live shard with the fewest placed roots in this table, lowest id on a tie. */
  leastLoaded(exclude = -1): number {
    const { shard: self, count } = this.#host;
    const load = new Array<number>(count).fill(0);
    for (const s of this.placements.values()) load[s] = (load[s] ?? 0) + 1;
    let best = -1;
    for (let s = 0; s < count; s++)
      if (s !== exclude && this.#host.isLive(s) && (best < 0 || load[s]! < load[best]!)) best = s;
    return best < 0 ? self : best;
  }

  set(path: string, shard: number): void {
    const prev = this.placements.get(path);
    if (prev === shard) return;
    this.placements.set(path, shard);
    if (prev !== undefined) this.#dropConfirmed(path);
    if (this.#absent.size > 0) this.#absent.clear();
    this.gen++;
  }

  unset(path: string): void {
    if (!this.placements.delete(path)) return;
    this.#dropConfirmed(path);
    this.gen++;
  }

  #dropConfirmed(root: string): void {
    const m = this.#confirmed.get(root);
    if (m === undefined) return;
    this.#confirmedSize -= m.size;
    this.#confirmed.delete(root);
  }

  /**
   * Where messages for `path` go: a shard, LOCAL, ABSENT, or HOLD (then, when `ask`, a
   * `where` is in flight, or was already, and what is sent must wait for the answer). A
   * placed root whose spawn is under way here routes to this shard's id (its messages wait
   * with the others).
   */
  resolve(path: string, temp: number | null, ask: boolean): number {
    const self = this.#host.shard;
    if (temp !== null) return temp === self ? LOCAL : this.#host.isLive(temp) ? temp : ABSENT;
    if (!path.startsWith(USER)) return LOCAL;
    let end = path.length;
    while (end > USER.length) {
      const prefix = end === path.length ? path : path.slice(0, end);
      const s = this.placements.get(prefix);
      if (s !== undefined) {
        if (s === self) return end === path.length && this.spawning.has(path) ? self : LOCAL;
        if (!this.#host.isLive(s)) return ABSENT;
        if (end === path.length) return s;
        const c = this.#confirmed.get(prefix)?.get(path);
        if (c !== undefined) return c === self ? LOCAL : this.#host.isLive(c) ? c : ABSENT;
        return ask ? this.#ask(path, s, prefix) : s;
      }
      end = path.lastIndexOf('/', end - 1);
    }
    // no root known above it: the main thread knows every top-level actor
    if (self === 0) return LOCAL;
    if (this.#absent.has(path)) return ABSENT;
    return ask ? this.#ask(path, 0, null) : HOLD;
  }

  #ask(path: string, shard: number, root: string | null): number {
    if (!this.#questions.has(path)) {
      this.#questions.set(path, { asked: shard, root, held: [] });
      this.#host.post(shard, { v: SHARD_PROTOCOL_VERSION, k: 'where', path });
    }
    return HOLD;
  }

  /** Keeps `h` until the answer about `path`; false when it cannot wait (no question, too many). */
  hold(path: string, h: H): boolean {
    const q = this.#questions.get(path);
    if (q === undefined || q.held.length >= HELD_PER_PATH) return false;
    q.held.push(h);
    return true;
  }

  /** Takes what waits for the answer about `path` (the question stays in flight). */
  takeHeld(path: string): H[] {
    const q = this.#questions.get(path);
    if (q === undefined || q.held.length === 0) return [];
    return q.held.splice(0);
  }

  /** The answer to another shard's `where`: what this shard knows of where `path` goes. */
  answer(path: string): ShardFrame {
    const v = SHARD_PROTOCOL_VERSION;
    const self = this.#host.shard;
    let end = path.length;
    while (end > USER.length) {
      const prefix = end === path.length ? path : path.slice(0, end);
      const s = this.placements.get(prefix);
      if (s !== undefined) {
        const placed = end === path.length;
        if (s === self || !this.#host.isLive(s))
          return { v, k: 'route', path, prefix: path, shard: self, placed };
        if (placed) return { v, k: 'route', path, prefix: path, shard: s, placed };
        const c = this.#confirmed.get(prefix)?.get(path);
        if (c !== undefined) return { v, k: 'route', path, prefix: path, shard: c, placed: false };
        return { v, k: 'route', path, prefix, shard: s, placed: true };
      }
      end = path.lastIndexOf('/', end - 1);
    }
    // nothing placed above it: it is here or nowhere (the main thread knows every top level)
    if (self === 0 && !this.#host.hasHere(path))
      return { v, k: 'route', path, prefix: null, shard: null, placed: false };
    return { v, k: 'route', path, prefix: path, shard: self, placed: false };
  }

  /**
   * An answer came: learn it; returns what waited for it (to be sent again, in order). A placed
   * root is learnt as a placement (so that its `unplaced` forgets it); anything else as a
   * route confirmed below the root the question was about (forgotten when that root changes).
   */
  learn(path: string, prefix: string | null, shard: number | null, placed: boolean): H[] {
    const q = this.#questions.get(path);
    this.#questions.delete(path);
    if (prefix === null || shard === null) {
      if (this.#absent.size >= ABSENT_PATHS) this.#absent.clear();
      this.#absent.add(path);
    } else if (placed) {
      if (!this.placements.has(prefix)) this.set(prefix, shard);
    } else {
      const root = q?.root ?? topLevelOf(path) ?? path;
      if (this.#confirmedSize >= CONFIRMED_ROUTES) {
        this.#confirmed.clear();
        this.#confirmedSize = 0;
      }
      let m = this.#confirmed.get(root);
      if (m === undefined) this.#confirmed.set(root, (m = new Map()));
      if (!m.has(path)) this.#confirmedSize++;
      m.set(path, shard);
    }
    this.gen++;
    return q?.held ?? [];
  }

  /**
   * Shard `shard` died: its placements are forgotten (but those this shard is the authority
   * of, in `keep`), so are routes confirmed there; returns the placed roots it had and what
   * waited for its answers (to be sent again by what is known now).
   */
  lost(shard: number, keep: (path: string) => boolean): { roots: string[]; held: H[] } {
    const roots: string[] = [];
    for (const [path, s] of [...this.placements])
      if (s === shard) {
        roots.push(path);
        if (!keep(path)) this.unset(path);
      }
    for (const [root, m] of [...this.#confirmed])
      for (const [path, s] of [...m])
        if (s === shard) {
          m.delete(path);
          this.#confirmedSize--;
          if (m.size === 0) this.#confirmed.delete(root);
        }
    this.gen++;
    const held: H[] = [];
    for (const [path, q] of [...this.#questions]) {
      if (q.asked !== shard) continue;
      this.#questions.delete(path);
      held.push(...q.held);
    }
    return { roots, held };
  }
}
