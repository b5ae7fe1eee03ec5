/**
 * A subtree's budget, held by one actor: `system.spawn(budgetKeeper({ tokens: 50_000,
 * cost: 2 }), { name: 'budget' })`, its ref given to each agent of the subtree
 * (`createAgent({ budget: { subtree: ref } })`).
 *
 * Before each model or tool call an agent asks to `reserve` its estimate; the keeper grants
 * it only if what was spent plus what is reserved plus the estimate stays within every cap,
 * so no call starts that the remaining budget cannot cover. After the call the agent
 * `settle`s the actual amount, which replaces the reservation. Calls reserved at once are
 * each covered, so the only overshoot is what actual usage exceeds the estimates by, for the
 * calls running at once (an estimate is a call's output cap plus its input). Reservations and
 * settlements are checked: amounts finite and not negative, a settlement only for a
 * reservation it granted.
 * A refused reservation makes the agent fail with BudgetExceededError naming the cap.
 */
import { fromReceive } from '../receive.ts';
import type { BudgetCap, BudgetCaps, Spent } from './types.ts';

export interface Amount {
  readonly tokens: number;
  readonly modelCalls: number;
  readonly toolCalls: number;
  readonly cost: number;
}

export type BudgetMsg =
  | { readonly type: 'reserve'; readonly id: string; readonly amount: Amount }
  | { readonly type: 'settle'; readonly id: string; readonly amount: Amount }
  | { readonly type: 'status' };

export type ReserveReply =
  | { readonly ok: true }
  | { readonly ok: false; readonly cap: BudgetCap; readonly limit: number; readonly spent: number };

export interface BudgetStatus {
  readonly caps: BudgetCaps;
  readonly spent: Spent;
  readonly reserved: number;
  readonly startedAt: number;
}

interface KeeperState {
  spent: { tokens: number; modelCalls: number; toolCalls: number; cost: number };
  reserved: Record<string, Amount>;
  startedAt: number;
}

const ZERO: Amount = { tokens: 0, modelCalls: 0, toolCalls: 0, cost: 0 };

function validAmount(a: unknown): a is Amount {
  if (typeof a !== 'object' || a === null) return false;
  const x = a as Record<string, unknown>;
  return ['tokens', 'modelCalls', 'toolCalls', 'cost'].every(
    (k) => typeof x[k] === 'number' && Number.isFinite(x[k]) && (x[k] as number) >= 0,
  );
}

function add(a: Amount, b: Amount): Amount {
  return {
    tokens: a.tokens + b.tokens,
    modelCalls: a.modelCalls + b.modelCalls,
    toolCalls: a.toolCalls + b.toolCalls,
    cost: a.cost + b.cost,
  };
}

/** The first cap that `committed + amount` would pass, or null. */
export function overCap(
  caps: BudgetCaps,
  committed: Amount,
  amount: Amount,
  elapsedMs: number,
): { cap: BudgetCap; limit: number; spent: number } | null {
  if (caps.wallMs !== undefined && elapsedMs >= caps.wallMs)
    return { cap: 'wallMs', limit: caps.wallMs, spent: elapsedMs };
  for (const cap of ['modelCalls', 'toolCalls', 'tokens', 'cost'] as const) {
    const limit = caps[cap];
    if (limit === undefined || amount[cap] === 0) continue;
    if (committed[cap] + amount[cap] > limit) return { cap, limit, spent: committed[cap] };
  }
  return null;
}

export function budgetKeeper(caps: BudgetCaps) {
  return fromReceive<KeeperState, BudgetMsg, ReserveReply | BudgetStatus>(
    (ctx) => ({ spent: { ...ZERO }, reserved: {}, startedAt: ctx.system.clock.now() }),
    (s, msg, ctx) => {
      switch (msg.type) {
        case 'reserve': {
          if (typeof msg.id !== 'string' || !validAmount(msg.amount)) {
            ctx.reply({ ok: false, cap: 'tokens', limit: 0, spent: 0 });
            return s;
          }
          const committed = Object.values(s.reserved).reduce(add, s.spent);
          const over = overCap(caps, committed, msg.amount, ctx.system.clock.now() - s.startedAt);
          if (over !== null) ctx.reply({ ok: false, ...over });
          else {
            s.reserved[msg.id] = msg.amount;
            ctx.reply({ ok: true });
          }
          return s;
        }
        case 'settle':
          // only a reservation it granted, with an amount that is one
          if (!(msg.id in s.reserved) || !validAmount(msg.amount)) return s;
          delete s.reserved[msg.id];
          s.spent = add(s.spent, msg.amount);
          return s;
        case 'status':
          ctx.reply({
            caps,
            spent: { ...s.spent },
            reserved: Object.keys(s.reserved).length,
            startedAt: s.startedAt,
          });
          return s;
      }
    },
    {
      // what was spent outlives a restart; reservations do not (their calls settle into nothing)
      persist: (s) => ({ spent: s.spent, startedAt: s.startedAt }),
      restore: (snap) => {
        const p = snap as { spent: KeeperState['spent']; startedAt: number };
        return { spent: { ...p.spent }, reserved: {}, startedAt: p.startedAt };
      },
    },
  );
}
