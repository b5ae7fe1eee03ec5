/**
 * An agent's configuration: AgentConfig as `createAgent` takes it, its defaults (DEFAULTS, in
 * one constant) and AgentSettings, the config checked and merged with them once, when the
 * agent is made. The rest of the agent reads its settings, never the config.
 *
 * Checked, each by one small validator that throws InvalidOptionError naming the field:
 * `config` is an object, `config.model` a provider (it has `complete`), `config.tools`
 * have distinct names, `config.maxSteps` is an integer ≥ 1, `config.loopRepeats` one ≥ 2, and
 * `config.onMaxSteps`, `config.onLoop`, `config.onBudget` and `config.conversation` one of
 * their values. Everything else is read as given (absent: its default below).
 */
import { InvalidOptionError } from '../../runtime/core/error.ts';
import type { ActorRef } from '../../runtime/core/ref.ts';
import type { ModelProvider } from './model.ts';
import type { Tool } from './tools.ts';
import type { BudgetMsg } from './budget.ts';
import type { BudgetCaps, PriceTable } from './types.ts';
import type { ReplyJournal } from './journal.ts';
import type { PrincipalBudgets } from './principal-budget.ts';

export interface AgentConfig {
  /**
   * Its name in other agents' conversations and in logs. Default: its actor's name (the last
   * part of its path), so that one behaviour spawned many times makes agents of their own names.
   */
  readonly name?: string;
  readonly model: ModelProvider;
  /** The model's id (sent to the provider, and the price table's key). */
  readonly modelName?: string;
  /** Its instructions (the system message). */
  readonly instructions?: string;
  readonly tools?: readonly Tool[];
  /** The permissions its tools may need (a tool's `scope`). */
  readonly scopes?: readonly string[];
  /**
   * Caps over the agent's life (`tokens`, `modelCalls`, `toolCalls`, `wallMs` from its start,
   * `cost`), per task (`perTask`: the same caps, `wallMs` from the task's start), and per
   * subtree (`subtree`, a budgetKeeper). `warnAt`: the fractions of a cap at which a
   * `budget.warning` event is emitted (default 0.5, 0.8 and 1). A `cost` cap needs a price
   * for the model in `prices`.
   */
  readonly budget?: BudgetCaps & {
    readonly subtree?: ActorRef<BudgetMsg, unknown>;
    readonly perTask?: BudgetCaps;
    readonly warnAt?: readonly number[];
  };
  /**
   * Where model replies are recorded before the agent acts on them, so a restart never calls
   * the provider again for a reply it had (actors/agent/journal.ts): `memoryJournal()`, or
   * `storeJournal(store)` beside the snapshots. Default: none.
   */
  readonly journal?: ReplyJournal;
  /**
   * Budgets per principal, shared by every agent given them (actors/agent/principal-budget.ts):
   * before each model call of a task that acts for a principal its day is checked, and each
   * reply is charged to it. Give the same object to the gateway's `admission`.
   */
  readonly principalBudgets?: PrincipalBudgets;
  /**
   * How long one task may take, from its start (system clock): then it ends with `stopReason:
   * 'timeout'` and what it has in flight is aborted, as a cancel does. Default: no deadline.
   */
  readonly taskTimeoutMs?: number;
  /** The steps a task is expected to take: one past them emits `steps.warning` (once a task). */
  readonly expectedSteps?: number;
  readonly prices?: PriceTable;
  /** The most tokens one model reply may have (also the budget's estimate of a call). */
  readonly maxOutputTokens?: number;
  readonly retry?: {
    readonly attempts?: number;
    readonly baseMs?: number;
    readonly maxMs?: number;
  };
  readonly approvalTimeoutMs?: number;
  /** How long one model call may take before it is abandoned (a retryable error). */
  readonly modelTimeoutMs?: number;
  /**
   * The most steps (model calls with their tool calls) one task takes. At the cap the agent
   * makes one last call with its tools off, asking for its best answer, and the task ends
   * with `stopReason: 'max_steps'`. Default DEFAULTS.maxSteps (10).
   */
  readonly maxSteps?: number;
  /**
   * At the step cap: `answer` (the last call, default), `fail` (the task ends at once with
   * MaxStepsExceededError as its error, no last call; the agent stays up) or `escalate`
   * (MaxStepsExceededError to the supervisor).
   */
  readonly onMaxSteps?: 'answer' | 'fail' | 'escalate';
  /** A loop: the same tool with the same arguments this many times in a task (default 3, ≥ 2). */
  readonly loopRepeats?: number;
  /** At a loop: `stop` (the task ends, `stopReason: 'loop'`; default) or `fail` (LoopDetectedError). */
  readonly onLoop?: 'stop' | 'fail';
  /**
   * When a budget cannot cover the next call: `stop` (the task ends with `stopReason:
   * 'budget'` and the error; the agent stays up for its next task; default) or `escalate`
   * (BudgetExceededError to the supervisor).
   */
  readonly onBudget?: 'stop' | 'escalate';
  /**
   * What a task starts from: `keep` (the conversation so far, the task's message added; the
   * default) or `per-task` (the instructions and the task's message alone: an agent that
   * serves independent tasks, a pool's worker). A task message's `conversation: 'new'` starts
   * afresh whatever this says.
   */
  readonly conversation?: 'keep' | 'per-task';
}

/** The defaults of the optional fields (name: the actor's; modelName: the provider's name). */
export const DEFAULTS = {
  maxOutputTokens: 1_024,
  attempts: 3,
  baseMs: 200,
  maxMs: 5_000,
  approvalTimeoutMs: 10 * 60_000,
  modelTimeoutMs: 120_000,
  maxSteps: 10,
  loopRepeats: 3,
  warnAt: [0.5, 0.8, 1] as readonly number[],
};

/** The config, checked and with its defaults: what the agent's modules are made from. */
export interface AgentSettings {
  /** Undefined: each agent is named after its actor. */
  readonly name: string | undefined;
  readonly model: ModelProvider;
  readonly modelName: string;
  readonly instructions: string | undefined;
  /** By name. */
  readonly tools: ReadonlyMap<string, Tool>;
  readonly scopes: ReadonlySet<string>;
  readonly caps: BudgetCaps;
  readonly perTask: BudgetCaps;
  readonly warnAt: readonly number[];
  readonly expectedSteps: number | undefined;
  readonly journal: ReplyJournal | undefined;
  readonly taskTimeoutMs: number | undefined;
  readonly principalBudgets: PrincipalBudgets | undefined;
  readonly subtree: ActorRef<BudgetMsg, unknown> | null;
  readonly prices: PriceTable | undefined;
  readonly maxOutputTokens: number;
  readonly retry: { readonly attempts: number; readonly baseMs: number; readonly maxMs: number };
  readonly approvalTimeoutMs: number;
  readonly modelTimeoutMs: number;
  readonly maxSteps: number;
  readonly onMaxSteps: 'answer' | 'fail' | 'escalate';
  readonly loopRepeats: number;
  readonly onLoop: 'stop' | 'fail';
  readonly onBudget: 'stop' | 'escalate';
  readonly conversation: 'keep' | 'per-task';
}

function checkConfig(config: unknown): asserts config is AgentConfig {
  if (typeof config !== 'object' || config === null)
    throw new InvalidOptionError('config', config, 'an object');
}

function checkModel(model: ModelProvider | undefined): void {
  if (typeof model?.complete !== 'function')
    throw new InvalidOptionError('config.model', model, 'a model provider');
}

function toolsByName(tools: readonly Tool[] | undefined): Map<string, Tool> {
  const byName = new Map<string, Tool>();
  for (const t of tools ?? []) {
    if (byName.has(t.name))
      throw new InvalidOptionError('config.tools', t.name, 'tools with distinct names');
    byName.set(t.name, t);
  }
  return byName;
}

/** The settings of `config`; throws InvalidOptionError naming the field it refuses. */
export function settingsOf(config: AgentConfig): AgentSettings {
  checkConfig(config);
  checkModel(config.model);
  const tools = toolsByName(config.tools);
  const retry = { ...DEFAULTS, ...config.retry };
  const modelName = config.modelName ?? config.model.name;
  // a cost cap on a model without a price would never be reached: silently unlimited
  if (
    (config.budget?.cost !== undefined || config.budget?.perTask?.cost !== undefined) &&
    config.prices?.[modelName] === undefined
  )
    throw new InvalidOptionError(
      'config.prices',
      modelName,
      `a price for model ${modelName}: a cost cap cannot count without one`,
    );
  return {
    name: config.name,
    model: config.model,
    modelName,
    instructions: config.instructions,
    tools,
    scopes: new Set(config.scopes ?? []),
    caps: capsOf('config.budget', config.budget),
    perTask: capsOf('config.budget.perTask', config.budget?.perTask),
    warnAt: warnAtOf(config.budget?.warnAt),
    expectedSteps: positiveInteger('config.expectedSteps', config.expectedSteps),
    journal: journalOf(config.journal),
    taskTimeoutMs: positiveInteger('config.taskTimeoutMs', config.taskTimeoutMs),
    principalBudgets: principalBudgetsOf(config.principalBudgets),
    subtree: config.budget?.subtree ?? null,
    prices: config.prices,
    maxOutputTokens: config.maxOutputTokens ?? DEFAULTS.maxOutputTokens,
    retry,
    approvalTimeoutMs: config.approvalTimeoutMs ?? DEFAULTS.approvalTimeoutMs,
    modelTimeoutMs: config.modelTimeoutMs ?? DEFAULTS.modelTimeoutMs,
    maxSteps: maxStepsOf(config.maxSteps),
    onMaxSteps: onMaxStepsOf(config.onMaxSteps),
    loopRepeats: loopRepeatsOf(config.loopRepeats),
    onLoop: onLoopOf(config.onLoop),
    onBudget: onBudgetOf(config.onBudget),
    conversation: oneOf('config.conversation', config.conversation, ['keep', 'per-task']),
  };
}

const CAPS = ['tokens', 'modelCalls', 'toolCalls', 'wallMs', 'cost'] as const;

/** Budget caps: each given one a number ≥ 0. */
function capsOf(field: string, v: (BudgetCaps & object) | undefined): BudgetCaps {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null) throw new InvalidOptionError(field, v, 'an object');
  const caps: Record<string, number> = {};
  for (const cap of CAPS) {
    const n = (v as Record<string, unknown>)[cap];
    if (n === undefined) continue;
    if (typeof n !== 'number' || !(n >= 0))
      throw new InvalidOptionError(`${field}.${cap}`, n, 'a number ≥ 0');
    caps[cap] = n;
  }
  return caps;
}

function principalBudgetsOf(v: unknown): PrincipalBudgets | undefined {
  if (v === undefined) return undefined;
  const b = v as Partial<PrincipalBudgets> | null;
  if (typeof b?.over !== 'function' || typeof b.charge !== 'function')
    throw new InvalidOptionError('config.principalBudgets', v, 'principalBudgets(…)');
  return b as PrincipalBudgets;
}

function journalOf(v: unknown): ReplyJournal | undefined {
  if (v === undefined) return undefined;
  const j = v as Partial<ReplyJournal> | null;
  if (typeof j?.record !== 'function' || typeof j.recorded !== 'function')
    throw new InvalidOptionError('config.journal', v, 'a journal (record and recorded)');
  return j as ReplyJournal;
}

function warnAtOf(v: unknown): readonly number[] {
  if (v === undefined) return DEFAULTS.warnAt;
  if (!Array.isArray(v) || v.some((f) => typeof f !== 'number' || !(f > 0 && f <= 1)))
    throw new InvalidOptionError('config.budget.warnAt', v, 'an array of fractions in (0, 1]');
  return [...(v as number[])].sort((a, b) => a - b);
}

function positiveInteger(field: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new InvalidOptionError(field, v, 'an integer ≥ 1');
  return v;
}

/** One of `values` (absent: the first). */
function oneOf<T extends string>(field: string, v: unknown, values: readonly T[]): T {
  if (v === undefined) return values[0]!;
  if (!values.includes(v as T))
    throw new InvalidOptionError(field, v, values.map((x) => `'${x}'`).join(' or '));
  return v as T;
}

function onBudgetOf(v: unknown): 'stop' | 'escalate' {
  if (v === undefined) return 'stop';
  if (v !== 'stop' && v !== 'escalate')
    throw new InvalidOptionError('config.onBudget', v, "'stop' or 'escalate'");
  return v;
}

function loopRepeatsOf(v: unknown): number {
  if (v === undefined) return DEFAULTS.loopRepeats;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 2)
    throw new InvalidOptionError('config.loopRepeats', v, 'an integer ≥ 2');
  return v;
}

function onLoopOf(v: unknown): 'stop' | 'fail' {
  if (v === undefined) return 'stop';
  if (v !== 'stop' && v !== 'fail')
    throw new InvalidOptionError('config.onLoop', v, "'stop' or 'fail'");
  return v;
}

function maxStepsOf(v: unknown): number {
  if (v === undefined) return DEFAULTS.maxSteps;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new InvalidOptionError('config.maxSteps', v, 'an integer ≥ 1');
  return v;
}

function onMaxStepsOf(v: unknown): 'answer' | 'fail' | 'escalate' {
  return oneOf('config.onMaxSteps', v, ['answer', 'fail', 'escalate']);
}
