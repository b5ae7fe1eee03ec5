/**
 * Tools an agent may call: `defineTool({ name, description, parameters, run, timeoutMs,
 * scope, approval })`.
 *
 * - `parameters` is a JSON Schema, compiled once by Ajv (a well-kept validator) when the tool
 *   is defined; arguments that do not match go back to the model as the tool's error and
 *   never reach `run`. Arguments holding a number that is not finite (JSON's `1e999` parses to
 *   Infinity, which Ajv's `number` and `integer` take) are refused the same way, wherever they
 *   sit: JSON has no such numbers, so no schema can ask for one.
 * - `run(args, ctx)` may return a promise; it gets an AbortSignal that fires at `timeoutMs`
 *   (default 30 s), when the call then fails with a timeout error given to the model.
 * - `scope`: a permission the agent must hold (its config's `scopes`) to use the tool, and,
 *   when the task's principal has scopes, the principal too.
 * - `approval`: 'never' (default), 'always', or a function of the arguments: when it says so,
 *   the agent waits for a human's approval of that very call (actors/agent/approvals.ts).
 *
 * `codeTool()` runs code in the sandbox (`runUntrusted`); `offloadTool(...)` runs a CPU-heavy
 * task on the node's offload pool.
 */
import { Ajv } from 'ajv';
import type { ActorRef } from '../../runtime/core/ref.ts';
import type { Behaviour, InOf, ReplyOf } from '../../runtime/core/behaviour.ts';
import type { SpawnOptions } from '../../runtime/options.ts';
import type { SystemApi } from '../../runtime/system-api.ts';
import type { OffloadTask } from '../../runtime/core/offload.ts';
import { InvalidOptionError, TroupeError } from '../../runtime/core/error.ts';
import { runUntrusted } from '../../sandbox/run.ts';
import type { SandboxLimits } from '../../sandbox/limits.ts';
import type { ToolSpec } from './model.ts';
import type { Principal } from '../../runtime/core/principal.ts';

export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;

export interface ToolContext {
  readonly callId: string;
  readonly agent: ActorRef<unknown>;
  readonly system: SystemApi;
  readonly signal: AbortSignal;
  /**
   * Who the call acts for: the task's principal (else the agent itself, `agent:<address>`),
   * narrowed to the scopes the task may use (runtime/core/principal.ts). Pass it on
   * (`ref.ask(msg, { principal })`) to act for it: a sub-agent then does no more than this
   * task may.
   */
  readonly principal: Principal;
  /** Spawns a child of the agent (supervised by it): sub-agents, helpers. */
  spawn<B extends Behaviour<any, any, any>>(
    behaviour: B,
    options?: SpawnOptions,
  ): ActorRef<InOf<B>, ReplyOf<B>>;
  /** Stops a child the tool spawned. */
  stopChild(ref: ActorRef<any, any>): void;
}

export type ApprovalRule<A> = 'never' | 'always' | ((args: A) => boolean);

export interface ToolDefinition<A, R> {
  readonly name: string;
  readonly description: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  run(args: A, ctx: ToolContext): R | Promise<R>;
  readonly timeoutMs?: number;
  readonly scope?: string;
  readonly approval?: ApprovalRule<A>;
}

export interface Tool<A = any, R = unknown> extends ToolSpec {
  readonly timeoutMs: number;
  readonly scope: string | undefined;
  readonly approval: ApprovalRule<A>;
  run(args: A, ctx: ToolContext): R | Promise<R>;
  /** null when `args` match the schema, else what is wrong (for the model). */
  check(args: unknown): string | null;
  needsApproval(args: A): boolean;
}

const ajv = new Ajv({ allErrors: true, strict: false });

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function defineTool<A = any, R = unknown>(def: ToolDefinition<A, R>): Tool<A, R> {
  if (typeof def !== 'object' || def === null)
    throw new InvalidOptionError('tool', def, 'an object');
  if (typeof def.name !== 'string' || !NAME.test(def.name))
    throw new InvalidOptionError('tool.name', def.name, 'letters, digits, "_" or "-", 1 to 64');
  if (typeof def.description !== 'string' || def.description.length === 0)
    throw new InvalidOptionError(
      `tool ${def.name}: description`,
      def.description,
      'a sentence for the model',
    );
  if (typeof def.run !== 'function')
    throw new InvalidOptionError(
      `tool ${def.name}: run`,
      def.run,
      'a function (args, ctx) → result',
    );
  if (typeof def.parameters !== 'object' || def.parameters === null)
    throw new InvalidOptionError(
      `tool ${def.name}: parameters`,
      def.parameters,
      'a JSON Schema object',
    );
  let validate: ReturnType<typeof ajv.compile>;
  try {
    validate = ajv.compile(def.parameters);
  } catch (e) {
    throw new InvalidOptionError(
      `tool ${def.name}: parameters`,
      def.parameters,
      `a valid JSON Schema (${(e as Error).message})`,
    );
  }
  const timeoutMs = def.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
    throw new InvalidOptionError(`tool ${def.name}: timeoutMs`, def.timeoutMs, 'an integer > 0');
  const approval = def.approval ?? 'never';
  if (approval !== 'never' && approval !== 'always' && typeof approval !== 'function')
    throw new InvalidOptionError(
      `tool ${def.name}: approval`,
      approval,
      "'never', 'always' or a function",
    );
  return {
    name: def.name,
    description: def.description,
    parameters: def.parameters,
    timeoutMs,
    scope: def.scope,
    approval,
    run: def.run,
    check(args) {
      const nonFinite = nonFiniteAt(args);
      if (nonFinite !== null)
        return `${nonFinite === '' ? 'arguments' : nonFinite} must be a finite number`;
      if (validate(args)) return null;
      return (validate.errors ?? [])
        .map(
          (e: { instancePath: string; message?: string }) =>
            `${e.instancePath === '' ? 'arguments' : e.instancePath} ${e.message ?? 'invalid'}`,
        )
        .join('; ');
    },
    needsApproval(args) {
      return approval === 'always' || (typeof approval === 'function' && approval(args));
    },
  };
}

/**
 * Where in `value` (parsed JSON) a number is not finite, as a JSON Pointer (`''`: the value
 * itself), or null. Walked without recursion: arguments may nest as deep as JSON.parse allows.
 */
export function nonFiniteAt(value: unknown): string | null {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return at;
    } else if (typeof v === 'object' && v !== null) {
      if (Array.isArray(v))
        for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${at}/${i}`]);
      else
        for (const k of Object.keys(v).reverse())
          stack.push([
            (v as Record<string, unknown>)[k],
            `${at}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`,
          ]);
    }
  }
  return null;
}

/** Runs code in the sandbox (isolated-vm): `{ code, input? }`, the code's `return` is the result. */
export function codeTool(
  options: {
    name?: string;
    limits?: SandboxLimits;
    approval?: ApprovalRule<{ code: string }>;
  } = {},
): Tool<{ code: string; input?: unknown }> {
  return defineTool<{ code: string; input?: unknown }>({
    name: options.name ?? 'run_code',
    description:
      'Runs JavaScript in a sandbox: the body of an async function of `input`; `return` the result (JSON). No I/O, no timers.',
    parameters: {
      type: 'object',
      properties: { code: { type: 'string', minLength: 1 }, input: {} },
      required: ['code'],
      additionalProperties: false,
    },
    approval: options.approval ?? 'never',
    run: ({ code, input }) => runUntrusted(code, input, options.limits, { domain: 'agent-code' }),
  });
}

/** Runs a stateless CPU-heavy task on the node's offload pool (runtime/core/offload.ts). */
export function offloadTool<I, O>(def: {
  name: string;
  description: string;
  parameters: Readonly<Record<string, unknown>>;
  task: OffloadTask<I, O>;
  timeoutMs?: number;
}): Tool<I, O> {
  return defineTool<I, O>({
    name: def.name,
    description: def.description,
    parameters: def.parameters,
    ...(def.timeoutMs === undefined ? {} : { timeoutMs: def.timeoutMs }),
    run: (args, ctx) => ctx.system.offload(def.task, args),
  });
}

/**
 * A delegated task that ended without an answer: the sub-agent failed or stopped (`ended`),
 * or its task ended otherwise (`stopReason`: budget, error, max_steps without an answer…).
 * The delegating agent's model gets it as the tool's error, and can react.
 */
export class DelegationFailedError extends TroupeError {
  readonly tool: string;
  readonly agent: string;
  readonly stopReason: string | null;
  constructor(tool: string, agent: string, why: string, stopReason: string | null = null) {
    super('ERR_DELEGATION_FAILED', `${tool}: the sub-agent ${agent} ${why}`);
    this.name = 'DelegationFailedError';
    this.tool = tool;
    this.agent = agent;
    this.stopReason = stopReason;
  }
}

/** How long a cancelled delegation waits for its sub-agent to take the cancel. */
const CANCEL_GRACE_MS = 5_000;

interface DelegatedDone {
  readonly answer: string | null;
  readonly stopReason?: string;
  readonly error?: { readonly message?: string };
}

/**
 * Delegation: a tool that spawns a sub-agent as a child of the calling agent (supervised by
 * it), gives it `{ task }` and returns its answer; the sub-agent stops when it has answered.
 * The task acts for the call's principal (ToolContext.principal): the sub-agent may use no
 * scope the delegating task could not.
 * `agent` makes the sub-agent's behaviour (e.g. `() => createAgent({...})`).
 *
 * A sub-agent that fails or stops before it answers, or whose task ends without an answer,
 * fails the call at once with DelegationFailedError (the model sees it as the tool's error),
 * not at the timeout. A cancelled call (its signal aborts: the delegating task was cancelled,
 * or the call timed out) cancels the sub-agent's task first, so a cancel goes down the tree.
 */
export function delegateTool(def: {
  name: string;
  description: string;
  agent: () => Behaviour<any, any, any>;
  timeoutMs?: number;
}): Tool<{ task: string }, string | null> {
  return defineTool<{ task: string }, string | null>({
    name: def.name,
    description: def.description,
    parameters: {
      type: 'object',
      properties: { task: { type: 'string', minLength: 1 } },
      required: ['task'],
      additionalProperties: false,
    },
    timeoutMs: def.timeoutMs ?? 5 * 60_000,
    run: async ({ task }, ctx) => {
      const child = ctx.spawn(def.agent());
      let unwatch = (): void => undefined;
      const ended = new Promise<never>((_, reject) => {
        unwatch = ctx.system.watch(child, (t) => {
          const why = t.error instanceof Error ? `: ${t.error.message}` : '';
          reject(new DelegationFailedError(def.name, child.address, `${t.reason}${why}`));
        });
      });
      let onAbort = (): void => undefined;
      const cancelled = new Promise<never>((_, reject) => {
        onAbort = () =>
          reject(new DelegationFailedError(def.name, child.address, 'was cancelled', 'cancelled'));
        if (ctx.signal.aborted) onAbort();
        else ctx.signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        const done = (await Promise.race([
          child.ask(
            { type: 'task', input: task, from: ctx.agent.address },
            { timeout: def.timeoutMs ?? 5 * 60_000, principal: ctx.principal },
          ),
          ended,
          cancelled,
        ])) as DelegatedDone;
        if (done.answer === null && done.stopReason !== undefined && done.stopReason !== 'answer')
          throw new DelegationFailedError(
            def.name,
            child.address,
            `ended its task without an answer (${done.stopReason}${done.error?.message === undefined ? '' : `: ${done.error.message}`})`,
            done.stopReason,
          );
        return done.answer;
      } finally {
        unwatch();
        ctx.signal.removeEventListener('abort', onAbort);
        // a cancel goes down: the sub-agent's task is cancelled (its own calls aborted) first
        if (ctx.signal.aborted)
          await child
            .ask(
              { type: 'cancel', reason: `${def.name} was cancelled` },
              { timeout: CANCEL_GRACE_MS, principal: ctx.principal },
            )
            .catch(() => undefined);
        ctx.stopChild(child);
      }
    },
  });
}

/**
 * A shared blackboard on a topic: `post` publishes `{ type: 'message', from, content }` to it;
 * agents subscribed to the topic (`system.topics.subscribe(topic, agentRef)`) get each post
 * as another agent's message (data in their conversation).
 */
export function blackboardTool(topic: string, name = 'post'): Tool<{ content: string }> {
  return defineTool<{ content: string }>({
    name,
    description: `Posts a note on the shared blackboard "${topic}" for the other agents`,
    parameters: {
      type: 'object',
      properties: { content: { type: 'string', minLength: 1 } },
      required: ['content'],
      additionalProperties: false,
    },
    run: ({ content }, ctx) => {
      ctx.system.topics.publish(topic, { type: 'message', from: ctx.agent.address, content });
      return 'posted';
    },
  });
}
