/**
 * The agent's tool calls: from a model reply to results in the context.
 *
 * - The step's calls are checked before any runs (callsOf): a call id the model repeats in one
 *   step is an error (one approval is one call); a tool that does not exist, or that the
 *   task's principal may not use (actors/agent/access.ts), is reported as not available;
 *   arguments that are not JSON, or that the tool's schema refuses, are the call's error. A
 *   call whose tool's `approval` rule says so (or whose rule throws) waits for a human
 *   (actors/agent/approvals.ts); the others run.
 * - The calls that may run now are checked against the budgets, and reserved in the
 *   subtree's, together, before any starts (actors/agent/spending.ts): a step the budget
 *   cannot cover starts nothing (so a restart repeats nothing).
 * - Each call runs outside the turn, with the principal the task's tools act for and an
 *   AbortSignal that fires at the tool's `timeoutMs` (on the system's timer heap), when the
 *   call fails with a timeout error. Its result (or error) comes back as a keyed `tool.result`
 *   (actors/agent/keys.ts), as data cut at MAX_RESULT_CHARS (actors/agent/results.ts), and
 *   is recorded under the call's id, so a finished call is never repeated. `tool.started` and
 *   `tool.finished` are emitted.
 */
import type { AnyEventObject } from 'xstate';
import type { TimerEntry } from '../../runtime/core/timers.ts';
import type { ActorContext } from '../../runtime/core/context.ts';
import type { ActorRef } from '../../runtime/core/ref.ts';
import type { Principal } from '../../runtime/core/principal.ts';
import { actorContext } from '../current.ts';
import type { AgentSettings } from './config.ts';
import type { Context } from './context.ts';
import type { TaskPrincipal, ToolAccess } from './access.ts';
import type { Amount } from './budget.ts';
import type { ModelReply } from './model.ts';
import type { Spending } from './spending.ts';
import { running } from './keys.ts';
import { track } from './cancel.ts';
import { dataOf, safeString } from './results.ts';
import type { ToolCallRecord } from './types.ts';

export interface ToolRuns {
  /** The step's calls, from the model's reply: checked, and marked for approval. */
  callsOf(reply: ModelReply, principal: TaskPrincipal | null, room?: ToolRoom): ToolCallRecord[];
  /** Starts the calls that may run now (`running`: those that need no approval, and approved ones). */
  run(context: Context): void;
}

/** How many of a step's calls the budgets cover, and which budget says so. */
export interface ToolRoom {
  readonly calls: number;
  readonly why: string;
}

const NO_LIMIT: ToolRoom = { calls: Infinity, why: '' };

/** A call of the model's that does not run: its error goes back to the model. */
const refused = (
  c: { readonly id: string; readonly name: string; readonly arguments: string },
  error: string,
  id = c.id,
): ToolCallRecord => ({ id, name: c.name, arguments: c.arguments, status: 'error', error });

export function toolRuns(settings: AgentSettings, access: ToolAccess, budgets: Spending): ToolRuns {
  const { tools, mayUse } = access;

  const callsOf = (
    reply: ModelReply,
    principal: TaskPrincipal | null,
    room: ToolRoom = NO_LIMIT,
  ): ToolCallRecord[] => {
    const seen = new Set<string>();
    let admitted = 0;
    return reply.toolCalls.map((c, i): ToolCallRecord => {
      // ids come from the model: a repeated one would let one approval run two calls
      if (seen.has(c.id))
        return refused(
          c,
          `the call id ${JSON.stringify(c.id.slice(0, 40))} was already used in this step`,
          `${c.id}#${i}`,
        );
      seen.add(c.id);
      const tool = tools.get(c.name);
      if (tool === undefined || !mayUse(tool, principal))
        return refused(c, `no tool named ${JSON.stringify(c.name)} is available`);
      let args: unknown;
      try {
        args = JSON.parse(c.arguments);
      } catch {
        return refused(c, 'the arguments are not JSON');
      }
      const problem = tool.check(args);
      if (problem !== null) return refused(c, `invalid arguments: ${problem}`);
      // the budget covers only the first calls of the step: the others are refused, saying so
      if (++admitted > room.calls)
        return refused(
          c,
          `not run: ${room.why} covers ${room.calls} of this step's ${reply.toolCalls.length} calls`,
        );
      let approval: boolean;
      try {
        approval = tool.needsApproval(args as never);
      } catch {
        // a rule that throws asks a human
        approval = true;
      }
      return {
        id: c.id,
        name: c.name,
        arguments: c.arguments,
        status: approval ? 'awaiting-approval' : 'running',
      };
    });
  };

  /** Runs one call; its result (or error) comes back as a keyed message. Never rejects. */
  const runOne = (
    ctx: ActorContext<any, any>,
    key: string,
    call: ToolCallRecord,
    principal: Principal,
  ): Promise<void> => {
    const tool = tools.get(call.name)!;
    const args = JSON.parse(call.arguments) as unknown;
    ctx.emit({ type: 'tool.started', callId: call.id, tool: call.name });
    const abort = new AbortController();
    let timer: TimerEntry | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = ctx.system.timers.schedule(() => {
        // the timeout's error first: the abort that follows would end the race too
        reject(new Error(`timed out after ${tool.timeoutMs} ms`));
        abort.abort();
      }, tool.timeoutMs);
    });
    const reply = (ok: boolean, v: unknown) => {
      ctx.self.tell(
        ok
          ? { type: 'tool.result', key, callId: call.id, ok: true, value: dataOf(v) }
          : {
              type: 'tool.result',
              key,
              callId: call.id,
              ok: false,
              error: v instanceof Error ? v.message : safeString(v),
            },
      );
    };
    // a cancel (actors/agent/cancel.ts) aborts the signal: the call ends at once
    const aborted = new Promise<never>((_, reject) =>
      abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error), {
        once: true,
      }),
    );
    const work = Promise.race([
      aborted,
      Promise.resolve().then(() =>
        tool.run(args, {
          callId: call.id,
          agent: ctx.self as ActorRef<unknown>,
          system: ctx.system,
          signal: abort.signal,
          principal,
          // the cell spawns and stops its children from outside its turn as well
          spawn: (behaviour, options) => ctx.spawn(behaviour, options),
          stopChild: (ref) => ctx.stop(ref),
        }),
      ),
      timeout,
    ])
      .then(
        (v) => reply(true, v),
        (e: unknown) => reply(false, e),
      )
      .catch((e: unknown) =>
        ctx.system.logger.error(`troupe: agent ${ctx.self.path}: a tool result was lost`, e),
      )
      .finally(() => {
        if (timer !== undefined) ctx.system.timers.cancel(timer);
      });
    track(key, abort, work);
    return work;
  };

  const run = (context: Context): void => {
    const { ctx, key } = running();
    const starting = context.calls.filter((c) => c.status === 'running');
    if (starting.length === 0) return;
    const amount: Amount = { tokens: 0, modelCalls: 0, toolCalls: starting.length, cost: 0 };
    const reservation = `${context.name}:${key}:t${context.turn}:${starting.map((c) => c.id).join(',')}`;
    budgets.reserve(
      ctx,
      key,
      context,
      reservation,
      amount,
      () => {
        const principal = access.principalFor(ctx, context.principal ?? null);
        void Promise.all(starting.map((call) => runOne(ctx, key, call, principal))).then(() =>
          budgets.settle(reservation, amount),
        );
      },
      (why) => {
        for (const call of starting)
          ctx.self.tell({ type: 'tool.result', key, callId: call.id, ok: false, error: why });
      },
    );
  };

  return { callsOf, run };
}

/** A keyed `tool.result` recorded on its call (if that call still runs), and emitted. */
export function recordResult(context: Context, event: AnyEventObject): Partial<Context> {
  const i = context.calls.findIndex((c) => c.id === event.callId);
  if (i < 0 || context.calls[i]!.status !== 'running') return {};
  const calls = [...context.calls];
  calls[i] =
    event.ok === true
      ? { ...calls[i]!, status: 'done', result: event.value }
      : { ...calls[i]!, status: 'error', error: String(event.error) };
  actorContext('tool result').emit({
    type: 'tool.finished',
    callId: event.callId,
    ok: event.ok === true,
  });
  return {
    calls,
    spent: { ...context.spent, toolCalls: context.spent.toolCalls + 1 },
  };
}

/** Every call of the step has its result (or error). */
export const stepFinished = (context: Context): boolean =>
  context.calls.every((c) => c.status === 'done' || c.status === 'error');

/** A call waits for a human, and none runs. */
export const waitingForHuman = (context: Context): boolean =>
  context.calls.some((c) => c.status === 'awaiting-approval') &&
  !context.calls.some((c) => c.status === 'running');
