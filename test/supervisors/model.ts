/**
 * A small pure model of OTP's supervisor semantics, as supervisors/supervisor.ts documents
 * them, for the model-based property test (model.test.ts). No troupe imports: the model
 * knows specs, a clock and a log, nothing else.
 *
 * What it models:
 * - a tree of supervisors (one-for-one, one-for-all, rest-for-one; `intensity` restarts in
 *   `period` ms) whose children are workers (permanent, transient, temporary) or nested
 *   supervisors (always permanent);
 * - events: a worker crashes, a worker stops itself normally, simulated time advances, the
 *   system shuts down;
 * - restart types: permanent always restarted, transient only after a crash, temporary never
 *   (and removed from its supervisor, also when a sibling's group restart takes it down);
 * - strategies: one-for-one restarts the child; one-for-all all children, rest-for-one the
 *   child and those after it: the ended child goes down first, then the others in reverse
 *   list order, then all start again in list order;
 * - intensity: each restart is stamped with the clock; more than `intensity` stamps within
 *   the last `period` ms (inclusive) and the supervisor gives up. The ended child stops
 *   first, then the others (in reverse order, see ModelOptions) when its parent stops or
 *   restarts it: the parent treats it as a failed permanent child (a restart that counts
 *   toward the parent's own intensity). The root giving up ends the system;
 * - a restarted supervisor starts its whole subtree afresh from its spec (empty windows,
 *   temporary children back, stopped transient children running again).
 *
 * The log is what the test's workers write: `start:<id>` in init, `stop:<id>` in the stop hook:
 * the model predicts the order of stops and starts, not just who is alive.
 *
 * Where troupe does not do what OTP's code does, the model has an option (ModelOptions), set
 * one way for OTP and the other for troupe (OTP_RULES, TROUPE_RULES).
 */

export type ModelStrategy = 'one-for-one' | 'one-for-all' | 'rest-for-one';
export type ModelRestart = 'permanent' | 'transient' | 'temporary';

export interface WorkerSpec {
  readonly kind: 'worker';
  readonly id: string;
  readonly restart: ModelRestart;
}

export interface SupSpec {
  readonly kind: 'supervisor';
  readonly id: string;
  readonly strategy: ModelStrategy;
  readonly intensity: number;
  readonly period: number;
  readonly children: readonly NodeSpec[];
}

export type NodeSpec = WorkerSpec | SupSpec;

export interface ModelOptions {
  /**
   * OTP (true): a group restart terminates the group, then starts every child spec of the group,
   * also a transient child that had stopped normally before (supervisor.erl keeps its spec with
   * pid `undefined`, and `restart_multiple_children` starts them all). troupe (false): only the
   * children that were running, and the one that ended, start again.
   */
  readonly restartStoppedSiblings: boolean;
}

export const OTP_RULES: ModelOptions = {
  restartStoppedSiblings: true,
};

export const TROUPE_RULES: ModelOptions = {
  restartStoppedSiblings: false,
};

interface MChild {
  readonly spec: NodeSpec;
  running: boolean;
  /** For a supervisor child: its state (replaced by a fresh one when it restarts). */
  sup: MSup | null;
}

interface MSup {
  readonly spec: SupSpec;
  children: MChild[];
  /** Restart stamps within the window, oldest first. */
  stamps: number[];
}

/** Ids from the root's children down to an actor: `['s1', 'w4']`. */
export type ModelPath = readonly string[];

export class SupervisionModel {
  readonly options: ModelOptions;
  readonly log: string[] = [];
  now = 0;
  /** The root supervisor gave up: the system ended with reason `failure`. */
  terminated = false;
  private readonly root: MChild;

  constructor(spec: SupSpec, options: ModelOptions) {
    this.options = options;
    this.root = this.start(spec);
  }

  advance(ms: number): void {
    this.now += ms;
  }

  /** A running worker's handler throws. */
  crash(path: ModelPath): void {
    const { parent, child } = this.find(path);
    this.ended(parent, child, true, false);
  }

  /** A running worker stops itself normally (its stop hook runs at once). */
  exit(path: ModelPath): void {
    const { parent, child } = this.find(path);
    this.stop(child);
    this.ended(parent, child, false, true);
  }

  /** The system shuts down: the root supervisor stops its children (see `stopOrder`). */
  shutdown(): void {
    if (!this.terminated) this.stop(this.root);
  }

  /** The paths of the running actors (supervisors and workers), parents first. */
  running(): ModelPath[] {
    return this.walk().map((x) => x.path);
  }

  /** The paths of the running workers. */
  runningWorkers(): ModelPath[] {
    return this.walk()
      .filter((x) => x.child.spec.kind === 'worker')
      .map((x) => x.path);
  }

  private walk(): { path: ModelPath; child: MChild }[] {
    const out: { path: ModelPath; child: MChild }[] = [];
    const go = (s: MSup, prefix: ModelPath): void => {
      for (const child of s.children) {
        if (!child.running) continue;
        const path = [...prefix, child.spec.id];
        out.push({ path, child });
        if (child.sup !== null) go(child.sup, path);
      }
    };
    if (!this.terminated) go(this.root.sup!, []);
    return out;
  }

  // ---- the rules ----------------------------------------------------------------------------

  private find(path: ModelPath): { parent: MChild; child: MChild } {
    let parent = this.root;
    for (let i = 0; ; i++) {
      const child = parent.sup!.children.find((c) => c.spec.id === path[i]);
      if (child === undefined || !child.running)
        throw new Error(`model: no running actor at ${path.join('/')}`);
      if (i === path.length - 1) return { parent, child };
      parent = child;
    }
  }

  /**
   * `child` of `parent` ended, by a failure (`abnormal`) or normally; `stopped`: it has already
   * stopped (its stop hook ran), else it is still to be taken down (a failed actor waits for its
   * supervisor's directive).
   */
  private ended(parent: MChild, child: MChild, abnormal: boolean, stopped: boolean): void {
    const s = parent.sup!;
    const restart = child.spec.kind === 'worker' ? child.spec.restart : 'permanent';
    if (!(restart === 'permanent' || (restart === 'transient' && abnormal))) {
      if (!stopped) this.stop(child);
      if (restart === 'temporary') s.children = s.children.filter((c) => c !== child);
      return;
    }
    // count the restart; past the intensity the supervisor gives up
    const threshold = this.now - s.spec.period;
    s.stamps = s.stamps.filter((t) => t >= threshold);
    s.stamps.push(this.now);
    if (s.stamps.length > s.spec.intensity) {
      // the ended child is already dead (OTP: its terminate ran when it crashed); the
      // supervisor's other children stop when it does
      if (!stopped) this.stop(child);
      if (parent === this.root) {
        this.stop(parent);
        this.terminated = true;
        return;
      }
      const { parent: grand } = this.find(this.pathOf(parent));
      this.ended(grand, parent, true, false);
      return;
    }
    if (s.spec.strategy === 'one-for-one') {
      if (!stopped) this.stop(child);
      this.restart(s, child);
      return;
    }
    const at = s.children.indexOf(child);
    const group = s.spec.strategy === 'one-for-all' ? s.children : s.children.slice(at);
    const members = group.filter(
      (c) =>
        c === child ||
        c.running ||
        (this.options.restartStoppedSiblings &&
          c.spec.kind === 'worker' &&
          c.spec.restart !== 'temporary'),
    );
    // the ended child goes down first, then the others, last in the list first
    if (!stopped) this.stop(child);
    for (const m of members.slice().reverse()) {
      if (m === child) continue;
      if (m.running) this.stop(m);
      if (m.spec.kind === 'worker' && m.spec.restart === 'temporary')
        s.children = s.children.filter((c) => c !== m);
    }
    // then all start again, in list order
    for (const m of members) if (s.children.includes(m)) this.restart(s, m);
  }

  /** Stops a running actor and, first, its running children in reverse list order. */
  private stop(c: MChild): void {
    if (!c.running) return;
    if (c.sup !== null) {
      for (const x of c.sup.children.slice().reverse()) this.stop(x);
    }
    if (c.spec.kind === 'worker') this.log.push(`stop:${c.spec.id}`);
    c.running = false;
  }

  /** Starts a spec afresh: a worker's init, or a supervisor and its children in order. */
  private start(spec: NodeSpec): MChild {
    if (spec.kind === 'worker') {
      this.log.push(`start:${spec.id}`);
      return { spec, running: true, sup: null };
    }
    const sup: MSup = { spec, children: [], stamps: [] };
    for (const c of spec.children) sup.children.push(this.start(c));
    return { spec, running: true, sup };
  }

  /** Starts `c` again, in its place in the list. */
  private restart(s: MSup, c: MChild): void {
    const next = this.start(c.spec);
    s.children[s.children.indexOf(c)] = next;
  }

  private pathOf(target: MChild): ModelPath {
    const search = (c: MChild, prefix: ModelPath): ModelPath | null => {
      if (c === target) return prefix;
      for (const x of c.sup?.children ?? []) {
        const p = search(x, [...prefix, x.spec.id]);
        if (p !== null) return p;
      }
      return null;
    };
    return search(this.root, [])!;
  }
}

/** Every worker path the spec can have (to look for live workers the model does not expect). */
export function workerPaths(spec: SupSpec, prefix: ModelPath = []): ModelPath[] {
  return spec.children.flatMap((c) =>
    c.kind === 'worker' ? [[...prefix, c.id]] : workerPaths(c, [...prefix, c.id]),
  );
}

/** Every supervisor path below the root. */
export function supervisorPaths(spec: SupSpec, prefix: ModelPath = []): ModelPath[] {
  return spec.children.flatMap((c) =>
    c.kind === 'worker' ? [] : [[...prefix, c.id], ...supervisorPaths(c, [...prefix, c.id])],
  );
}
