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
 * calls running at once (an estimate is a call's output cap plus its input). A refused
 * reservation makes the agent fail with BudgetExceededError naming the cap.
 *
 * Its messages are checked, never trusted (actors/agent/refusal.ts): one that is not
 *
 *   { type: 'reserve', id: string of 1–MAX_RESERVATION_ID_CHARS, amount }
 *   { type: 'settle',  id: string, amount }
 *   { type: 'status' }
 *
 * (each amount's `tokens`, `modelCalls`, `toolCalls` and `cost` finite and not negative), or a
 * reserve for an id it holds already, or past MAX_RESERVATIONS held at once, is refused: an
 * ask is answered with InvalidMessageError, a tell is a dead letter (`invalid-message`); the
 * keeper goes on. A settlement for a reservation it does not hold changes nothing (an agent
 * releases the reservation of an ask that gave up, which may never have been granted).
 *
 * Persistence (`spawn(budgetKeeper(caps), { persistence })`): what was spent and what is
 * reserved are saved together after each message, before its answer leaves: a grant is
 * answered only once saved, so a keeper restarted from its snapshot still counts every
 * reservation it granted and never grants past a cap. A reservation whose caller never settles
 * (it was lost with its node) keeps its amount: the budget errs on the side of refusing.
 */
import { fromReceive } from '../receive.ts';
import type { BudgetCap, BudgetCaps, Spent } from './types.ts';
import { refuse, typed, untyped } from './refusal.ts';

/** Reservations a keeper holds at once, at most. */
export const MAX_RESERVATIONS = 10_000;
/** Characters of a reservation id, at most. */
export const MAX_RESERVATION_ID_CHARS = 512;

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
  spent: Amount;
  /** By reservation id (a Map: ids come from outside, `__proto__` included). */
  reserved: Map<string, Amount>;
  startedAt: number;
}

/** What persistence keeps: the spend and the reservations, together. */
interface KeeperSnapshot {
  readonly spent: Amount;
  readonly reserved?: readonly (readonly [string, Amount])[];
  readonly startedAt: number;
}

const ZERO: Amount = { tokens: 0, modelCalls: 0, toolCalls: 0, cost: 0 };

function validAmount(a: unknown): a is Amount {
  if (typeof a !== 'object' || a === null) return false;
  const x = a as Record<string, unknown>;
  return ['tokens', 'modelCalls', 'toolCalls', 'cost'].every(
    (k) => typeof x[k] === 'number' && Number.isFinite(x[k]) && (x[k] as number) >= 0,
  );
}

/** The four counts of an amount that was checked (nothing else of the sender's object kept). */
const amountOf = (a: Amount): Amount => ({
  tokens: a.tokens,
  modelCalls: a.modelCalls,
  toolCalls: a.toolCalls,
  cost: a.cost,
});

/** Why a keeper's message is refused, or null. */
function invalidMessage(msg: unknown): string | null {
  const m = typed(msg);
  if (m === null) return untyped(msg);
  switch (m.type) {
    case 'reserve':
    case 'settle':
      if (typeof m.id !== 'string' || m.id.length === 0 || m.id.length > MAX_RESERVATION_ID_CHARS)
        return `${m.type}: "id" must be a string of 1 to ${MAX_RESERVATION_ID_CHARS} characters`;
      if (!validAmount(m.amount))
        return `${m.type}: "amount" must hold tokens, modelCalls, toolCalls and cost, each a finite number ≥ 0`;
      return null;
    case 'status':
      return null;
    default:
      return `a type it does not take (${JSON.stringify(m.type.slice(0, 40))}): reserve, settle or status`;
  }
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
    (ctx) => ({ spent: { ...ZERO }, reserved: new Map(), startedAt: ctx.system.clock.now() }),
    (s, msg, ctx) => {
      const why = invalidMessage(msg);
      if (why !== null) {
        refuse(ctx, msg, why);
        return s;
      }
      switch (msg.type) {
        case 'reserve': {
          if (s.reserved.has(msg.id)) {
            refuse(
              ctx,
              msg,
              `reserve: the id ${JSON.stringify(msg.id.slice(0, 40))} is held already`,
            );
            return s;
          }
          if (s.reserved.size >= MAX_RESERVATIONS) {
            refuse(
              ctx,
              msg,
              `reserve: it holds ${MAX_RESERVATIONS} reservations (MAX_RESERVATIONS): settle some first`,
            );
            return s;
          }
          const committed = [...s.reserved.values()].reduce(add, s.spent);
          const over = overCap(caps, committed, msg.amount, ctx.system.clock.now() - s.startedAt);
          if (over !== null) ctx.reply({ ok: false, ...over });
          else {
            s.reserved.set(msg.id, amountOf(msg.amount));
            ctx.reply({ ok: true });
          }
          return s;
        }
        case 'settle':
          // only a reservation it holds
          if (!s.reserved.delete(msg.id)) return s;
          s.spent = add(s.spent, msg.amount);
          return s;
        case 'status':
          ctx.reply({
            caps,
            spent: { ...s.spent },
            reserved: s.reserved.size,
            startedAt: s.startedAt,
          });
          return s;
      }
    },
    {
      // the spend and the reservations together: a restart never forgets a grant
      persist: (s): KeeperSnapshot => ({
        spent: s.spent,
        reserved: [...s.reserved],
        startedAt: s.startedAt,
      }),
      restore: (snap) => {
        const p = snap as KeeperSnapshot;
        const reserved = new Map<string, Amount>();
        // a snapshot written before reservations were kept has none
        for (const [id, amount] of p.reserved ?? [])
          if (typeof id === 'string' && validAmount(amount)) reserved.set(id, amountOf(amount));
        return { spent: amountOf(p.spent), reserved, startedAt: p.startedAt };
      },
    },
  );
}
