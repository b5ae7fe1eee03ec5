/**
 * The agent toolkit's data: conversation messages with their provenance, tool calls, budgets
 * spent. Everything here is plain data (it lives in the agent's snapshot, which is persisted
 * and watched by clients).
 */
import { TroupeError } from '../../runtime/core/error.ts';

/**
 * Where a message in the conversation came from. `system` and `user` are the agent's
 * instructions and task; `model` its own output; `tool` a tool's result, `agent` another
 * agent's message and `human` a person's decision: those three are data to the model, never
 * instructions that could change its tools, scopes or budgets.
 */
export type Source =
  | { readonly kind: 'system' }
  | { readonly kind: 'user'; readonly from?: string }
  | { readonly kind: 'model'; readonly model: string }
  | { readonly kind: 'tool'; readonly tool: string; readonly callId: string }
  | { readonly kind: 'agent'; readonly from: string }
  | { readonly kind: 'human'; readonly principal?: string };

export interface ToolCallRequest {
  /** The model's id for the call (unique in the conversation). */
  readonly id: string;
  readonly name: string;
  /** The arguments as the model wrote them (JSON text). */
  readonly arguments: string;
}

/** A human's decision on a call that needed approval (or its expiry). */
export interface Decision {
  readonly outcome: 'approved' | 'rejected' | 'expired';
  /** Who decided (actors/agent/approvals.ts says where it comes from); null for an expiry. */
  readonly by: string | null;
  /** When (the system clock, epoch ms). */
  readonly at: number;
}

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant' | 'tool';
  readonly content: string;
  readonly source: Source;
  /** An assistant message's tool calls. */
  readonly toolCalls?: readonly ToolCallRequest[];
  /** A tool message: the call it answers. */
  readonly toolCallId?: string;
  /** A tool message whose call needed approval: the decision. */
  readonly decision?: Decision;
}

export type CallStatus =
  'pending' | 'running' | 'awaiting-approval' | 'approved' | 'done' | 'error';

/** One tool call of the current step, as the snapshot shows it. */
export interface ToolCallRecord {
  readonly id: string;
  readonly name: string;
  readonly arguments: string;
  readonly status: CallStatus;
  /** The result (done) or what went wrong (error), as given to the model. */
  readonly result?: unknown;
  readonly error?: string;
  /** For a call that needed approval: the decision, once made. */
  readonly decision?: Decision;
}

export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** What an agent has spent (its snapshot's `spent`). */
export interface Spent {
  readonly tokens: number;
  readonly modelCalls: number;
  readonly toolCalls: number;
  /** In the price table's currency. */
  readonly cost: number;
}

/** Caps: any may be absent (no cap). */
export interface BudgetCaps {
  readonly tokens?: number;
  readonly modelCalls?: number;
  readonly toolCalls?: number;
  readonly wallMs?: number;
  readonly cost?: number;
}

export type BudgetCap = keyof BudgetCaps;

/** Price of a model's tokens, per million. */
export interface ModelPrice {
  readonly inputPerMillion: number;
  readonly outputPerMillion: number;
}

export type PriceTable = Readonly<Record<string, ModelPrice>>;

/** A budget cap was reached: the agent (or its subtree) may not start another call. */
export class BudgetExceededError extends TroupeError {
  readonly cap: BudgetCap;
  readonly limit: number;
  readonly spent: number;
  constructor(cap: BudgetCap, limit: number, spent: number, whose: string) {
    super(
      'ERR_BUDGET_EXCEEDED',
      `${whose}'s ${cap} budget (${limit}) cannot cover another call (spent ${Math.round(spent * 1e6) / 1e6})`,
    );
    this.name = 'BudgetExceededError';
    this.cap = cap;
    this.limit = limit;
    this.spent = spent;
  }
}

/**
 * Why a task ended: `answer` (the model answered), `max_steps` (its step cap: the answer of
 * one last call without tools, or none with `onMaxSteps: 'fail'`), `loop` (the same tool call
 * asked for again and again), `budget` (a budget could not cover the next call), `error` (the
 * model refused the request: an error no retry can mend, such as a 400), `cancelled` (a
 * `cancel` message ended it: actors/agent/cancel.ts), `timeout` (its `taskTimeoutMs` deadline
 * passed: what it had in flight was aborted).
 */
export type StopReason =
  'answer' | 'max_steps' | 'loop' | 'budget' | 'error' | 'cancelled' | 'timeout';

/** A task called one tool with the same arguments `repeats` times, and `onLoop` is `fail`. */
export class LoopDetectedError extends TroupeError {
  readonly tool: string;
  readonly repeats: number;
  constructor(agent: string, tool: string, repeats: number) {
    super(
      'ERR_LOOP_DETECTED',
      `${agent} asked for ${tool} with the same arguments ${repeats} times in one task`,
    );
    this.name = 'LoopDetectedError';
    this.tool = tool;
    this.repeats = repeats;
  }
}

/** A task reached its step cap and the agent's `onMaxSteps` is `escalate`: its supervisor decides. */
export class MaxStepsExceededError extends TroupeError {
  readonly maxSteps: number;
  constructor(agent: string, maxSteps: number) {
    super('ERR_MAX_STEPS', `${agent} reached its step cap (${maxSteps} steps) without an answer`);
    this.name = 'MaxStepsExceededError';
    this.maxSteps = maxSteps;
  }
}

/** The model could not be reached (after its retries), or answered with an error. */
export { ModelCallError } from './provider/model-call-error.ts';

export function costOf(model: string, usage: Usage, prices: PriceTable | undefined): number {
  const p = prices?.[model];
  if (p === undefined) return 0;
  return (usage.inputTokens * p.inputPerMillion + usage.outputTokens * p.outputPerMillion) / 1e6;
}
