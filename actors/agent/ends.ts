/**
 * How a task ends other than by its model's answer, for the machine (actors/agent/machine.ts):
 * from outside (a cancel, its deadline: what it has in flight is aborted, actors/agent/cancel.ts)
 * and by a model's error.
 */
import type { AnyEventObject } from 'xstate';
import type { ActorContext } from '../../runtime/core/context.ts';
import { abortAll } from './cancel.ts';
import type { Context } from './context.ts';
import { resultMessages } from './conversation.ts';
import { running } from './keys.ts';

/** A `model.error` as the task's error: the provider's message and HTTP status, if any. */
export function modelError(event: AnyEventObject): Context['error'] {
  const status = typeof event.status === 'number' ? { status: event.status } : {};
  return { name: 'ModelCallError', message: String(event.message), ...status };
}

/**
 * The step's calls with each that did not finish answered as an error saying `why`, so the
 * conversation holds a result for every call the model asked for.
 */
export function unfinishedAnswered(context: Context, why: string): Context['calls'] {
  return context.calls.map((c) =>
    c.status === 'done' || c.status === 'error'
      ? c
      : { ...c, status: 'error' as const, error: why },
  );
}

/**
 * The context of a task ended from outside (a cancel, its deadline): what it has in flight is
 * aborted, the pending calls are answered with `why` so the conversation holds.
 */
export function endAbruptly(
  context: Context,
  stopReason: 'cancelled' | 'timeout',
  why: string,
  error: { name: string; message: string },
) {
  abortAll(running().key, why);
  const pending = unfinishedAnswered(context, `${stopReason}: ${why}`);
  return {
    error,
    stopReason,
    answer: null,
    approval: null,
    messages: [...context.messages, ...resultMessages(pending)],
    calls: [],
  };
}

/** Arms the timer of the task's deadline (none without one): `task.deadline` when it is due. */
export function armDeadline(context: Context): void {
  if (context.deadline === undefined) return;
  const { ctx, key } = running();
  armDeadlineFor(ctx, key, context.deadline);
}

/** Arms `task.deadline` for `deadline` on the system's timer heap (its clock). */
export function armDeadlineFor(ctx: ActorContext<any, any>, key: string, deadline: number): void {
  const target = ctx.self;
  ctx.system.timers.schedule(
    () => target.tell({ type: 'task.deadline', key, deadline }),
    Math.max(0, deadline - ctx.system.clock.now()),
  );
}
