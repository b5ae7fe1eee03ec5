/**
 * An agent's side of its budgets (the subtree's keeper is actors/agent/budget.ts): per agent
 * (`budget` caps) and per subtree (`budget.subtree`, a budgetKeeper). A call the remaining
 * budget cannot cover is not started: the agent fails with BudgetExceededError naming the
 * cap. Before each model call, and each step of tool calls (checked and reserved together,
 * before any starts), the amount is checked against the agent's own caps and what it has
 * spent, then reserved in the subtree's budget; after the work it is settled with what was
 * actually spent. A provider that reports no usage is charged its estimate
 * (actors/agent/model-call.ts).
 */
import type { ActorContext } from '../../runtime/core/context.ts';
import type { AgentSettings } from './config.ts';
import type { Context } from './context.ts';
import { overCap, type Amount, type ReserveReply } from './budget.ts';
import { safeString } from './results.ts';
import {
  BudgetExceededError,
  costOf,
  type BudgetCap,
  type PriceTable,
  type Spent,
  type Usage,
} from './types.ts';

/** What a new agent has spent. */
export const ZERO_SPENT: Spent = { tokens: 0, modelCalls: 0, toolCalls: 0, cost: 0 };
/** What a released reservation settles. */
export const NOTHING: Amount = { tokens: 0, modelCalls: 0, toolCalls: 0, cost: 0 };

/** Time the subtree's keeper has to answer a reservation. */
const RESERVE_TIMEOUT_MS = 10_000;

export interface Spending {
  /**
   * Checks `amount` against the agent's caps, then reserves it in the subtree's budget under
   * `id`, and calls `start` once granted. A call either budget cannot cover is denied: a
   * keyed `budget.denied` goes through the mailbox, as everything does, and the machine fails.
   * A keeper that does not answer: the reservation is released (a grant that comes after the
   * ask gave up) and `unanswered` is called with why.
   */
  reserve(
    ctx: ActorContext<any, any>,
    key: string,
    context: Context,
    id: string,
    amount: Amount,
    start: () => unknown,
    unanswered: (why: string) => void,
  ): void;
  /** Settles the reservation `id` with what was spent (when there is a subtree). */
  settle(id: string, amount: Amount): void;
}

export function spending(settings: AgentSettings): Spending {
  const { caps, subtree } = settings;

  /** A call the budgets cannot cover: the denial goes through the mailbox, as everything does. */
  const deny = (
    ctx: ActorContext<any, any>,
    key: string,
    over: { cap: BudgetCap; limit: number; spent: number },
    whose: string,
  ): void => {
    ctx.self.tell({ type: 'budget.denied', key, ...over, whose });
  };

  /** Reserves `amount` in the subtree's budget (when there is one); true when granted. */
  const ask = async (id: string, amount: Amount): Promise<ReserveReply> => {
    if (subtree === null) return { ok: true };
    return (await subtree.ask(
      { type: 'reserve', id, amount },
      { timeout: RESERVE_TIMEOUT_MS },
    )) as ReserveReply;
  };
  const settle = (id: string, amount: Amount): void => {
    subtree?.tell({ type: 'settle', id, amount });
  };

  return {
    settle,
    reserve(ctx, key, context, id, amount, start, unanswered) {
      const over = overCap(
        caps,
        { ...context.spent },
        amount,
        ctx.system.clock.now() - context.startedAt,
      );
      if (over !== null) return deny(ctx, key, over, context.name);
      void ask(id, amount).then(
        (granted) => {
          if (!granted.ok) return deny(ctx, key, granted, 'the subtree');
          return start();
        },
        (e: unknown) => {
          // a grant that comes after the ask gave up is released
          settle(id, NOTHING);
          unanswered(`the subtree's budget did not answer: ${safeString(e)}`);
        },
      );
    },
  };
}

/** What was spent, with a model reply's usage added. */
export function chargeReply(
  spent: Spent,
  usage: Usage,
  modelName: string,
  prices: PriceTable | undefined,
): Spent {
  return {
    tokens: spent.tokens + usage.inputTokens + usage.outputTokens,
    modelCalls: spent.modelCalls + 1,
    toolCalls: spent.toolCalls,
    cost: spent.cost + costOf(modelName, usage, prices),
  };
}

/** The error a keyed `budget.denied` puts in the context (the machine then fails). */
export function deniedError(event: Record<string, unknown>): NonNullable<Context['error']> {
  return {
    name: 'BudgetExceededError',
    message: new BudgetExceededError(
      event.cap as BudgetCap,
      Number(event.limit),
      Number(event.spent),
      String(event.whose),
    ).message,
    cap: event.cap as BudgetCap,
  };
}
