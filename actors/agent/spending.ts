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
    scope: 'agent' | 'task' = 'agent',
  ): void => {
    ctx.self.tell({ type: 'budget.denied', key, ...over, whose, scope });
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
      const now = ctx.system.clock.now();
      const over = overCap(caps, { ...context.spent }, amount, now - context.startedAt);
      if (over !== null) return deny(ctx, key, over, context.name);
      const task = taskSpent(context);
      const overTask = overCap(settings.perTask, task.spent, amount, now - task.at);
      if (overTask !== null) return deny(ctx, key, overTask, `${context.name}'s task`, 'task');
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

/** The error a keyed `budget.denied` puts in the context: every field of the error. */
export function deniedError(event: Record<string, unknown>): NonNullable<Context['error']> {
  const limit = Number(event.limit);
  const spent = Number(event.spent);
  return {
    name: 'BudgetExceededError',
    message: new BudgetExceededError(event.cap as BudgetCap, limit, spent, String(event.whose))
      .message,
    cap: event.cap as BudgetCap,
    limit,
    spent,
    scope: event.scope === 'task' || event.scope === 'principal' ? event.scope : 'agent',
  };
}

/** What the current task has spent, and when it began (`taskBase`; none: the agent's start). */
export function taskSpent(context: Context): { spent: Spent; at: number } {
  const base = context.taskBase;
  if (base === undefined) return { spent: context.spent, at: context.startedAt };
  const s = context.spent;
  const b = base.spent;
  return {
    spent: {
      tokens: s.tokens - b.tokens,
      modelCalls: s.modelCalls - b.modelCalls,
      toolCalls: s.toolCalls - b.toolCalls,
      cost: s.cost - b.cost,
    },
    at: base.at,
  };
}

/**
 * How many tool calls the agent's and the task's `toolCalls` caps still cover (Infinity: no
 * cap, or none left, which the step's reservation then refuses, ending the task).
 */
export function toolRoom(
  settings: AgentSettings,
  context: Context,
): { calls: number; why: string } {
  let calls = Infinity;
  let why = '';
  const agentCap = settings.caps.toolCalls;
  if (agentCap !== undefined && agentCap - context.spent.toolCalls < calls) {
    calls = agentCap - context.spent.toolCalls;
    why = `${context.name}'s toolCalls budget (${agentCap})`;
  }
  const taskCap = settings.perTask.toolCalls;
  const task = taskSpent(context).spent.toolCalls;
  if (taskCap !== undefined && taskCap - task < calls) {
    calls = taskCap - task;
    why = `${context.name}'s task's toolCalls budget (${taskCap})`;
  }
  return calls > 0 ? { calls, why } : { calls: Infinity, why: '' };
}

/** A `budget.warning`: a cap's fraction `at` reached. */
export interface BudgetWarning {
  readonly type: 'budget.warning';
  readonly scope: 'agent' | 'task';
  readonly cap: BudgetCap;
  readonly at: number;
  readonly limit: number;
  readonly spent: number;
}

const SPENDABLE = ['tokens', 'modelCalls', 'toolCalls', 'cost'] as const;

/**
 * The warnings a spend from `before` to `after` crosses: for each cap of the agent (over its
 * life) and of the task (`perTask`), each fraction of `warnAt` it reaches now and had not
 * reached before.
 */
export function budgetWarnings(
  settings: AgentSettings,
  before: Context,
  after: Spent,
): BudgetWarning[] {
  const out: BudgetWarning[] = [];
  const task = taskSpent(before);
  const scopes = [
    { scope: 'agent' as const, caps: settings.caps, from: before.spent, base: ZERO_SPENT },
    {
      scope: 'task' as const,
      caps: settings.perTask,
      from: task.spent,
      base: before.taskBase?.spent ?? ZERO_SPENT,
    },
  ];
  for (const { scope, caps, from, base } of scopes)
    for (const cap of SPENDABLE) {
      const limit = caps[cap];
      if (limit === undefined || limit <= 0) continue;
      const was = from[cap];
      const now = after[cap] - base[cap];
      for (const at of settings.warnAt)
        if (was < at * limit && now >= at * limit)
          out.push({ type: 'budget.warning', scope, cap, at, limit, spent: now });
    }
  return out;
}
