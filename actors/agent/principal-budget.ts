/**
 * Budgets per principal (issue 25): what one user may spend across every agent and task —
 * requests a minute, tokens a day, cost a day — keyed by the trusted principal of the
 * envelope (the gateway's authentication; never a field of a message).
 *
 *     const budgets = principalBudgets({ requestsPerMinute: 30, tokensPerDay: 200_000 });
 *     gateway({ admission: [budgets.admission], … })   // a client's send/ask, before the agent
 *     createAgent({ …, principalBudgets: budgets })     // each model call, inside the task
 *
 * - At the gateway (`admission`): a request of a principal over its requests this minute, or
 *   whose tokens or cost today are spent, is refused with code `limited` and the reason; it
 *   never reaches the agent. Each request admitted counts against the minute.
 * - In the agent (`principalBudgets`): before each model call of a task that acts for a
 *   principal, the principal's day is checked (the task ends with `stopReason: 'budget'`,
 *   `error.scope: 'principal'`, when it is spent), and each reply's tokens and cost are
 *   charged to it. So a task admitted before the day ran out stops at its next call.
 * - Windows are fixed, on the given clock: the minute (epoch ms / 60,000) and the UTC day.
 * - With `store` (a PersistenceStore: the snapshots' own), each principal's day is saved
 *   after each charge (`principal-budget/<id>`), and loaded on first use, so a restarted
 *   process keeps what was spent today; writes of one principal are chained, never raced.
 */
import { InvalidOptionError } from '../../runtime/core/error.ts';
import { systemClock, type Clock } from '../../runtime/core/clock.ts';
import type { PersistenceStore } from '../../runtime/core/persistence.ts';
import type { AdmissionStep, AdmissionVerdict } from '../../runtime/gateway/admission.ts';

export interface PrincipalBudgetOptions {
  readonly requestsPerMinute?: number;
  readonly tokensPerDay?: number;
  readonly costPerDay?: number;
  readonly store?: PersistenceStore;
  readonly clock?: Clock;
}

/** A principal's use: this minute's requests, today's tokens and cost. */
export interface PrincipalUse {
  readonly minute: number;
  readonly requests: number;
  readonly day: number;
  readonly tokens: number;
  readonly cost: number;
}

/** What is over: the cap, its limit and what was used. */
export interface PrincipalOver {
  readonly cap: 'requestsPerMinute' | 'tokensPerDay' | 'costPerDay';
  readonly limit: number;
  readonly spent: number;
}

export interface PrincipalBudgets {
  /** The gateway's admission step (`gateway({ admission: [it] })`). */
  readonly admission: AdmissionStep;
  /** The cap the principal's day is over, if any (loads a stored day first). */
  over(principal: string): Promise<PrincipalOver | null>;
  /** Charges a reply's tokens and cost to the principal's day. */
  charge(principal: string, tokens: number, cost: number): void;
  /** The principal's use now (tests, tools). */
  use(principal: string): Promise<PrincipalUse>;
}

const DAY_MS = 86_400_000;

function limitOf(field: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v >= 0))
    throw new InvalidOptionError(`principalBudgets.${field}`, v, 'a number ≥ 0');
  return v;
}

export function principalBudgets(options: PrincipalBudgetOptions = {}): PrincipalBudgets {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('principalBudgets', options, 'an object');
  const rpm = limitOf('requestsPerMinute', options.requestsPerMinute);
  const tpd = limitOf('tokensPerDay', options.tokensPerDay);
  const cpd = limitOf('costPerDay', options.costPerDay);
  const clock = options.clock ?? systemClock;
  const store = options.store;
  const uses = new Map<string, PrincipalUse>();
  const loading = new Map<string, Promise<void>>();
  const versions = new Map<string, number | null>();
  const writes = new Map<string, Promise<void>>();
  const keyOf = (id: string) => `principal-budget/${id}`;

  /** The principal's use, in the current windows (a past minute or day starts afresh). */
  const current = (id: string): PrincipalUse => {
    const now = clock.now();
    const minute = Math.floor(now / 60_000);
    const day = Math.floor(now / DAY_MS);
    let u = uses.get(id) ?? { minute, requests: 0, day, tokens: 0, cost: 0 };
    if (u.day !== day) u = { ...u, day, tokens: 0, cost: 0 };
    if (u.minute !== minute) u = { ...u, minute, requests: 0 };
    uses.set(id, u);
    return u;
  };

  const load = (id: string): Promise<void> => {
    if (store === undefined || versions.has(id)) return Promise.resolve();
    let p = loading.get(id);
    if (p === undefined) {
      p = store.load(keyOf(id)).then((loaded) => {
        loading.delete(id);
        versions.set(id, loaded?.version ?? null);
        const saved = loaded?.snapshot.data as Partial<PrincipalUse> | undefined;
        if (saved === undefined || typeof saved.day !== 'number') return;
        const u = current(id);
        if (saved.day === u.day)
          uses.set(id, {
            ...u,
            tokens: u.tokens + (Number(saved.tokens) || 0),
            cost: u.cost + (Number(saved.cost) || 0),
          });
      });
      loading.set(id, p);
    }
    return p;
  };

  /** Saves the principal's day, after the writes before it. */
  const save = (id: string): void => {
    if (store === undefined) return;
    const prev = writes.get(id) ?? Promise.resolve();
    const next = prev.then(async () => {
      const u = current(id);
      const v = await store.save(
        keyOf(id),
        { schemaVersion: 1, data: { day: u.day, tokens: u.tokens, cost: u.cost } },
        { expectedVersion: versions.get(id) ?? null },
      );
      versions.set(id, v);
    });
    const settled = next.catch(() => {
      // another writer (a process beside this one): read again before the next write
      versions.delete(id);
    });
    writes.set(id, settled);
    void settled.then(() => {
      if (writes.get(id) === settled) writes.delete(id);
    });
  };

  const dayOver = (u: PrincipalUse): PrincipalOver | null => {
    if (tpd !== undefined && u.tokens >= tpd)
      return { cap: 'tokensPerDay', limit: tpd, spent: u.tokens };
    if (cpd !== undefined && u.cost >= cpd) return { cap: 'costPerDay', limit: cpd, spent: u.cost };
    return null;
  };

  const refusal = (id: string, o: PrincipalOver): AdmissionVerdict => ({
    allow: false,
    code: 'limited',
    reason: `${id}'s ${o.cap} budget (${o.limit}) is spent (${Math.round(o.spent * 1e6) / 1e6}); try later`,
  });

  return {
    admission: async (request) => {
      const id = request.principal.id;
      await load(id);
      const u = current(id);
      if (rpm !== undefined && u.requests >= rpm)
        return refusal(id, { cap: 'requestsPerMinute', limit: rpm, spent: u.requests });
      const over = dayOver(u);
      if (over !== null) return refusal(id, over);
      uses.set(id, { ...u, requests: u.requests + 1 });
      return { allow: true };
    },
    async over(id) {
      await load(id);
      return dayOver(current(id));
    },
    charge(id, tokens, cost) {
      const u = current(id);
      uses.set(id, { ...u, tokens: u.tokens + tokens, cost: u.cost + cost });
      save(id);
    },
    async use(id) {
      await load(id);
      await writes.get(id);
      return current(id);
    },
  };
}
