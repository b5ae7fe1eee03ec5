/**
 * The agent's snapshot. The snapshot (`context`) is data: the conversation (each message with
 * its `source`), the current step's tool calls with their status and results, the pending
 * approval, and what was spent. Clients and the inspector follow it; persistence keeps it.
 * AgentContext is what a subscriber sees; the machine holds the approval with its token
 * (actors/agent/approvals.ts), which leaves no view.
 */
import { randomUUID } from 'node:crypto';
import type { ActorRef } from '../../runtime/core/ref.ts';
import type { TaskPrincipal } from './access.ts';
import type { HeldApproval, PendingApproval } from './approvals.ts';
import { instructionsOf } from './conversation.ts';
import { ZERO_SPENT } from './spending.ts';
import type { Repeats } from './stops.ts';
import type { BudgetCap, ChatMessage, Spent, StopReason, ToolCallRecord } from './types.ts';

export interface AgentContext {
  readonly name: string;
  readonly messages: readonly ChatMessage[];
  readonly calls: readonly ToolCallRecord[];
  readonly approval: PendingApproval | null;
  readonly spent: Spent;
  readonly startedAt: number;
  /** When the current task must end (taskTimeoutMs; system clock), if it has a deadline. */
  readonly deadline?: number;
  /**
   * This conversation's id, made at the agent's first start (its replies' key in a journal:
   * actors/agent/journal.ts); absent in snapshots saved before it was.
   */
  readonly conversationId?: string;
  /**
   * What had been spent when the current task began, and when it began (the system clock):
   * the task's own spend is `spent` less this, checked against `budget.perTask`.
   */
  readonly taskBase?: { readonly spent: Spent; readonly at: number };
  readonly turn: number;
  readonly attempt: number;
  readonly answer: string | null;
  /** The model replies the current task has taken (its steps). */
  readonly steps: number;
  /** Why the last task ended; null while one runs (or before the first). */
  readonly stopReason: StopReason | null;
  /** How many times this task asked for each tool call (actors/agent/stops.ts). */
  readonly repeats: Repeats;
  readonly error: {
    readonly name: string;
    readonly message: string;
    readonly cap?: BudgetCap;
    /** A budget's limit and what it had spent (BudgetExceededError). */
    readonly limit?: number;
    readonly spent?: number;
    /**
     * Whose cap: the agent's, the task's (`budget.perTask`), or the principal's
     * (`principalBudgets`: `cap` is then `tokensPerDay` or `costPerDay`).
     */
    readonly scope?: 'agent' | 'task' | 'principal';
    /** A loop's tool (LoopDetectedError). */
    readonly tool?: string;
    /** The provider's HTTP status (ModelCallError). */
    readonly status?: number;
  } | null;
  /** Who gets `agent.done` with the answer (the asker or sender of the task). */
  readonly replyTo: ActorRef<unknown> | null;
  /**
   * Who the task acts for: the principal of the `task` message (`ctx.principal`, stamped by
   * the gateway), its id and scopes; null for a task that acts for nobody. Its scopes limit
   * the tools (actors/agent/access.ts).
   */
  readonly principal: TaskPrincipal | null;
}

/** What the machine's context holds (AgentContext is what a subscriber sees of it). */
export type Context = Omit<AgentContext, 'approval'> & { readonly approval: HeldApproval | null };

/**
 * A new agent's context: named, with its instructions, nothing spent (started at `startedAt`);
 * `journaled`: it gets a conversation id, its replies' key in a journal (an agent without a
 * journal does without: the id is 36 characters of every snapshot).
 */
export function initialContext(
  name: string,
  instructions: string | undefined,
  startedAt: number,
  journaled = false,
): Context {
  return {
    name,
    messages: instructionsOf(instructions),
    calls: [],
    approval: null,
    spent: ZERO_SPENT,
    startedAt,
    ...(journaled ? { conversationId: randomUUID() } : {}),
    turn: 0,
    attempt: 0,
    answer: null,
    steps: 0,
    stopReason: null,
    repeats: {},
    error: null,
    replyTo: null,
    principal: null,
  };
}
