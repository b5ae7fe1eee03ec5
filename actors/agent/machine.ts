/**
 * The agent's machine: its states, and the actions and guards that move it, wired from the
 * modules that do the work (model-call.ts, tool-run.ts, approvals.ts, spending.ts,
 * conversation.ts).
 *
 *   idle ──task──▶ thinking ──reply with tool calls──▶ acting ──all answered──▶ thinking …
 *                      │  └─reply without tool calls──▶ done ──task──▶ thinking
 *                      │    (past `maxSteps`: one last call with tools off, then done)
 *                      ├─model error (retryable)──▶ retrying ──backoff──▶ thinking
 *                      ├─budget refused──▶ done (stopReason budget; onBudget 'escalate': failed)
 *                      └─retries spent──▶ failed (a failure for the supervisor)
 *   acting ──a call that needs approval──▶ awaitingApproval ──approve/reject/expired──▶ acting
 *
 * - A task while it works on another is refused (`agent.busy` to its sender); the task it is
 *   working on, asked again (the first ask was lost, or timed out), sends the answer to the
 *   latest asker; a repeat of the task just finished is answered with the answer, not run
 *   again. The answer goes to the task's asker or sender as `agent.done`, and `done` is
 *   emitted, with the task's stopReason; a failure throws ModelCallError (or, by choice,
 *   BudgetExceededError, MaxStepsExceededError, LoopDetectedError) for the supervisor.
 * - After a restart from its snapshot the agent picks up where it was (`agent.resume`, keyed,
 *   told at each restore): in `thinking` it calls the model again; in `acting` it runs the
 *   calls that had not finished (each call's result is recorded under its id, so a finished
 *   call is never repeated); an approval that waits keeps waiting (its expiry re-armed).
 * - Another agent's `message` is added to the conversation at any time, as data.
 * - Asked `status`, it answers the answer, what was spent, the calls and the pending
 *   approval's call id and tool.
 */
import { assign, setup, type AnyEventObject } from 'xstate';
import { actorContext } from '../current.ts';
import type { ActorRef } from '../../runtime/core/ref.ts';
import type { AgentSettings } from './config.ts';
import { initialContext, type Context } from './context.ts';
import { str } from './input.ts';
import { keyed, running } from './keys.ts';
import { taskPrincipal } from './access.ts';
import type { ModelReply } from './model.ts';
import type { ModelCalls } from './model-call.ts';
import { recordResult, stepFinished, waitingForHuman, type ToolRuns } from './tool-run.ts';
import { budgetWarnings, chargeReply, deniedError, toolRoom } from './spending.ts';
import type { Spent } from './types.ts';
import {
  agentMessage,
  instructionsOf,
  lastTask,
  replyMessage,
  resultMessages,
  taskMessage,
} from './conversation.ts';
import {
  answerForbidden,
  answerOk,
  answerRefused,
  approvalMatches,
  approveCall,
  armExpiry,
  expireCall,
  expiryMatches,
  notPermitted,
  rejectCall,
  requestApproval,
} from './approvals.ts';
import {
  BudgetExceededError,
  LoopDetectedError,
  MaxStepsExceededError,
  ModelCallError,
} from './types.ts';
import { lastCallMessage, loopIn, repeatsAfter } from './stops.ts';
import {
  answerCancelForbidden,
  answerCancelled,
  answerNothingToCancel,
  mayCancel,
} from './cancel.ts';
import { armDeadline, endAbruptly, modelError, unfinishedAnswered } from './ends.ts';

/** The machine of an agent with these settings, its model calls and its tool runs. */
export function agentMachine(settings: AgentSettings, model: ModelCalls, tools: ToolRuns) {
  /**
   * The task has had all its steps (replies taken): the step whose results come in now was
   * its last with tools, and the call in flight, if any, is the last one, with tools off.
   */
  const atCap = (context: Context): boolean => (context.steps ?? 0) >= settings.maxSteps;
  /**
   * The context of a task that ends with `reply`'s text (the step cap's last call, a loop):
   * the reply is kept without its tool calls, which never run.
   */
  /** Emits the `budget.warning`s a spend from the context's to `after` crosses; `after`. */
  const warned = (context: Context, after: Spent): Spent => {
    const warnings = budgetWarnings(settings, context, after);
    if (warnings.length > 0) {
      const { ctx } = running();
      for (const w of warnings) ctx.emit(w);
    }
    return after;
  };
  /** The spend after `reply`, its warnings emitted. */
  const charged = (context: Context, reply: ModelReply): Spent =>
    warned(context, chargeReply(context.spent, reply.usage, modelName, settings.prices));
  /** One step past `expectedSteps`: `steps.warning`, once a task. */
  const stepsAfter = (context: Context): number => {
    const steps = (context.steps ?? 0) + 1;
    if (settings.expectedSteps !== undefined && steps === settings.expectedSteps + 1)
      running().ctx.emit({ type: 'steps.warning', steps, expected: settings.expectedSteps });
    return steps;
  };
  const endWith = (context: Context, reply: ModelReply, stopReason: 'max_steps' | 'loop') => ({
    spent: charged(context, reply),
    messages: [...context.messages, replyMessage({ ...reply, toolCalls: [] }, modelName)],
    answer: reply.content,
    steps: stepsAfter(context),
    repeats: repeatsAfter(context.repeats, reply),
    stopReason,
    attempt: 0,
  });
  /** The reply asks for a tool call this task has asked for `loopRepeats − 1` times already. */
  const looping = (context: Context, event: AnyEventObject): boolean =>
    loopIn(context.repeats, event.reply as ModelReply, settings.loopRepeats) !== null;
  const { modelName, approvalTimeoutMs } = settings;
  /** A task at work ends from outside: a cancel, or its deadline (actors/agent/ends.ts). */
  const endedFromOutside = {
    cancel: [
      {
        guard: ({ context }: { context: Context }) => !mayCancel(context),
        actions: 'answerCancelForbidden',
      },
      { target: 'done', actions: ['endOnCancel', 'answerCancelled'] },
    ],
    'task.deadline': {
      guard: ({ context, event }: { context: Context; event: AnyEventObject }) =>
        keyed({ event }) && event.deadline === context.deadline,
      target: 'done',
      actions: 'endOnTimeout',
    },
  } as const;
  return setup({
    types: {} as { context: Context; events: AnyEventObject },
    actions: {
      acceptTask: assign({
        // a task of its own conversation, or one from the instructions alone
        messages: ({ context, event }) =>
          settings.conversation === 'per-task' || event.conversation === 'new'
            ? [...instructionsOf(settings.instructions), taskMessage(event)]
            : [...context.messages, taskMessage(event)],
        calls: [],
        answer: null,
        steps: 0,
        stopReason: null,
        repeats: {},
        error: null,
        attempt: 0,
        replyTo: () => {
          const c = actorContext('task');
          return (c.replyTo as ActorRef<unknown> | undefined) ?? null;
        },
        principal: () => taskPrincipal(actorContext('task').principal),
        // the task's deadline (taskTimeoutMs), on the system clock
        deadline: () =>
          settings.taskTimeoutMs === undefined
            ? undefined
            : actorContext('task').system.clock.now() + settings.taskTimeoutMs,
        // the task's own spend is measured from here (budget.perTask; kept only with one)
        taskBase: ({ context }) =>
          Object.keys(settings.perTask).length === 0
            ? undefined
            : { spent: context.spent, at: actorContext('task').system.clock.now() },
      }),
      takeReply: assign(({ context, event }) => {
        const reply = event.reply as ModelReply;
        const calls = tools.callsOf(reply, context.principal ?? null, toolRoom(settings, context));
        return {
          attempt: 0,
          steps: stepsAfter(context),
          repeats: repeatsAfter(context.repeats, reply),
          spent: charged(context, reply),
          calls,
          messages: [...context.messages, replyMessage(reply, modelName)],
        };
      }),
      recordResult: assign(({ context, event }) => {
        const next = recordResult(context, event);
        return next.spent === undefined ? next : { ...next, spent: warned(context, next.spent) };
      }),
      appendResults: assign({
        messages: ({ context }) => [
          ...context.messages,
          ...resultMessages(context.calls),
          // the step cap: the next call is the last, with tools off
          ...(atCap(context) ? [lastCallMessage(settings.maxSteps)] : []),
        ],
        calls: [],
      }),
      approveCall: assign(({ context, event }) => approveCall(context, event)),
      rejectCall: assign(({ context, event }) => rejectCall(context, event)),
      expireCall: assign(({ context }) => expireCall(context)),
      // a budget cannot cover the next call: the task ends, the agent stays up for the next;
      // the step's calls that did not run are answered as not run, so the conversation holds
      endOnBudget: assign(({ context, event }) => {
        const error = deniedError(event);
        const pending = unfinishedAnswered(context, `not run: ${error.message}`);
        return {
          error,
          stopReason: 'budget' as const,
          answer: null,
          messages: [...context.messages, ...resultMessages(pending)],
          calls: [],
        };
      }),
      // what only a running task needs: its asker and its loop count
      forgetTask: assign({ replyTo: null, repeats: {} }),
      // a cancel: the task ends, what it has in flight is aborted, the pending calls are
      // answered as cancelled so the conversation holds
      endOnCancel: assign(({ context, event }) => {
        const reason = str(event.reason) ?? 'cancelled';
        return endAbruptly(context, 'cancelled', reason, {
          name: 'TaskCancelledError',
          message: `the task was cancelled: ${reason}`,
        });
      }),
      // the task's deadline (taskTimeoutMs): as a cancel, with stopReason timeout
      endOnTimeout: assign(({ context }) =>
        endAbruptly(context, 'timeout', `the task's ${settings.taskTimeoutMs} ms are up`, {
          name: 'TaskTimeoutError',
          message: `the task did not end within taskTimeoutMs (${settings.taskTimeoutMs} ms)`,
        }),
      ),
      armDeadline: ({ context }) => armDeadline(context),
      answerCancelled,
      answerNothingToCancel,
      answerCancelForbidden,
      answerOk,
      answerForbidden,
      answerRefused,
      callModel: ({ context }) => model.call(context),
      runTools: ({ context }) => tools.run(context),
      armExpiry: ({ context }) => armExpiry(context.approval),
      finish: ({ context }) => {
        const { ctx } = running();
        // a task ended by an error (a budget, the step cap, the model's refusal) says which
        const error = context.error === null ? {} : { error: context.error };
        ctx.emit({
          type: 'done',
          answer: context.answer,
          stopReason: context.stopReason,
          ...error,
        });
        context.replyTo?.tell({
          type: 'agent.done',
          from: ctx.self.address,
          answer: context.answer,
          stopReason: context.stopReason,
          ...error,
        });
      },
      fail: ({ context }) => {
        const e = context.error!;
        if (e.name === 'LoopDetectedError') {
          throw new LoopDetectedError(context.name, e.tool ?? '?', settings.loopRepeats);
        }
        if (e.name === 'MaxStepsExceededError')
          throw new MaxStepsExceededError(context.name, settings.maxSteps);
        if (e.name === 'BudgetExceededError') {
          const err = new BudgetExceededError(e.cap!, e.limit ?? 0, e.spent ?? 0, context.name);
          err.message = e.message;
          throw err;
        }
        throw new ModelCallError(e.message, false, e.status);
      },
      answerStatus: ({ context }) => {
        actorContext('status').reply({
          answer: context.answer,
          stopReason: context.stopReason ?? null,
          steps: context.steps ?? 0,
          spent: context.spent,
          calls: context.calls,
          approval:
            context.approval === null
              ? null
              : { callId: context.approval.callId, tool: context.approval.tool },
        });
      },
    },
    guards: {
      /** A decision for a principal without the `approve` permission (its scopes). */
      notPermitted,
      keyed,
      currentTurn: ({ context, event }) =>
        keyed({ event }) && (event as { turn?: unknown }).turn === context.turn,
      hasToolCalls: ({ event }) =>
        ((event as { reply?: ModelReply }).reply?.toolCalls.length ?? 0) > 0,
      canRetry: ({ context, event }) => model.canRetry(context, event),
      stepFinished: ({ context }) => stepFinished(context),
      waitingForHuman: ({ context }) => waitingForHuman(context),
      approvalMatches: ({ context, event }) => approvalMatches(context, event),
      expiryMatches: ({ context, event }) => expiryMatches(context, event),
    },
  }).createMachine({
    id: 'agent',
    context: ({ input }) =>
      initialContext(
        (input as { name?: string } | undefined)?.name ?? settings.name ?? 'agent',
        settings.instructions,
        // the system's clock, which the wall-time budget is measured on
        (input as { startedAt?: number } | undefined)?.startedAt ??
          actorContext('an agent start').system.clock.now(),
        settings.journal !== undefined,
      ),
    initial: 'idle',
    on: {
      status: { actions: 'answerStatus' },
      // no task at work (states at work take their own)
      cancel: { actions: 'answerNothingToCancel' },
      // an approval when none waits (used, expired, or never asked for) is refused
      approve: { actions: 'answerRefused' },
      reject: { actions: 'answerRefused' },
      // the task it is working on, asked again (the first ask was lost, or timed out): the
      // answer goes to the latest asker; another task while busy is refused
      task: [
        {
          guard: ({ context, event }) => lastTask(context.messages) === str(event.input),
          actions: assign({
            replyTo: () => (actorContext('task').replyTo as ActorRef<unknown> | undefined) ?? null,
          }),
        },
        {
          actions: () => {
            const c = actorContext('task');
            if (c.replyTo !== undefined)
              c.replyTo.tell({ type: 'agent.busy', from: c.self.address });
          },
        },
      ],
      // another agent's message, at any time: data in the conversation
      message: {
        guard: ({ event }) => typeof event.content === 'string' && typeof event.from === 'string',
        actions: assign({
          messages: ({ context, event }) => [...context.messages, agentMessage(event)],
        }),
      },
      // with onBudget 'escalate': the supervisor decides (a stop ends the task: see below)
      'budget.denied': {
        guard: ({ event }) => keyed({ event }) && settings.onBudget === 'escalate',
        target: '.failed',
        actions: assign({
          error: ({ event }) => deniedError(event),
        }),
      },
    },
    states: {
      idle: {
        on: {
          task: {
            guard: ({ event }) => typeof event.input === 'string',
            target: 'thinking',
            actions: ['acceptTask', 'armDeadline'],
          },
        },
      },
      thinking: {
        entry: [assign({ turn: ({ context }) => context.turn + 1 }), 'callModel'],
        on: {
          ...endedFromOutside,
          'budget.denied': {
            guard: ({ event }) => keyed({ event }) && settings.onBudget === 'stop',
            target: 'done',
            actions: 'endOnBudget',
          },
          'agent.resume': { guard: 'currentTurn', actions: 'callModel' },
          'model.result': [
            {
              // the last call, past the step cap: its text is the answer, whatever it asks
              guard: ({ context, event }) =>
                keyed({ event }) && event.turn === context.turn && atCap(context),
              target: 'done',
              actions: assign(({ context, event }) =>
                endWith(context, event.reply as ModelReply, 'max_steps'),
              ),
            },
            {
              // a loop, with onLoop 'fail': the supervisor decides; the call never runs
              guard: ({ context, event }) =>
                keyed({ event }) &&
                event.turn === context.turn &&
                settings.onLoop === 'fail' &&
                looping(context, event),
              target: 'failed',
              actions: assign(({ context, event }) => {
                const loop = loopIn(
                  context.repeats,
                  event.reply as ModelReply,
                  settings.loopRepeats,
                )!;
                running().ctx.emit({ type: 'loop.detected', ...loop });
                return {
                  error: {
                    name: 'LoopDetectedError',
                    message: new LoopDetectedError(context.name, loop.tool, loop.repeats).message,
                    tool: loop.tool,
                  },
                };
              }),
            },
            {
              // a loop: the task ends with the reply's text; the repeated call never runs
              guard: ({ context, event }) =>
                keyed({ event }) && event.turn === context.turn && looping(context, event),
              target: 'done',
              actions: assign(({ context, event }) => {
                const reply = event.reply as ModelReply;
                const loop = loopIn(context.repeats, reply, settings.loopRepeats)!;
                running().ctx.emit({ type: 'loop.detected', ...loop });
                return endWith(context, reply, 'loop');
              }),
            },
            {
              guard: ({ context, event }) =>
                keyed({ event }) &&
                event.turn === context.turn &&
                ((event.reply as ModelReply).toolCalls.length ?? 0) > 0,
              target: 'acting',
              actions: 'takeReply',
            },
            {
              guard: 'currentTurn',
              target: 'done',
              actions: [
                'takeReply',
                assign({
                  answer: ({ event }) => (event.reply as ModelReply).content,
                  stopReason: 'answer' as const,
                }),
              ],
            },
          ],
          'model.error': [
            {
              guard: ({ context, event }) =>
                keyed({ event }) && event.turn === context.turn && model.canRetry(context, event),
              target: 'retrying',
              actions: assign({ attempt: ({ context }) => context.attempt + 1 }),
            },
            {
              // refused by the model (a 400): the task ends, for no retry or restart can mend it
              guard: ({ context, event }) =>
                keyed({ event }) && event.turn === context.turn && event.retryable !== true,
              target: 'done',
              actions: assign({
                error: ({ event }) => modelError(event),
                stopReason: 'error' as const,
                answer: null,
                attempt: 0,
              }),
            },
            {
              // retries spent: the model stays down, its supervisor decides
              guard: 'currentTurn',
              target: 'failed',
              actions: assign({ error: ({ event }) => modelError(event) }),
            },
          ],
        },
      },
      retrying: {
        entry: ({ context, event }) => model.retryLater(context, event),
        on: {
          ...endedFromOutside,
          'budget.denied': {
            guard: ({ event }) => keyed({ event }) && settings.onBudget === 'stop',
            target: 'done',
            actions: 'endOnBudget',
          },
          'model.retry': { guard: 'currentTurn', target: 'thinking' },
          'agent.resume': { guard: 'currentTurn', target: 'thinking' },
        },
      },
      acting: {
        entry: 'runTools',
        always: [
          {
            // the step cap, with `onMaxSteps: 'escalate'`: the supervisor decides
            guard: ({ context }) =>
              stepFinished(context) && atCap(context) && settings.onMaxSteps === 'escalate',
            target: 'failed',
            actions: assign({
              error: ({ context }) => ({
                name: 'MaxStepsExceededError',
                message: new MaxStepsExceededError(context.name, settings.maxSteps).message,
              }),
            }),
          },
          {
            // the step cap, with `onMaxSteps: 'fail'`: the task ends without a last call
            guard: ({ context }) =>
              stepFinished(context) && atCap(context) && settings.onMaxSteps === 'fail',
            target: 'done',
            actions: [
              'appendResults',
              assign({
                error: ({ context }) => ({
                  name: 'MaxStepsExceededError',
                  message: new MaxStepsExceededError(context.name, settings.maxSteps).message,
                }),
                stopReason: 'max_steps' as const,
                answer: null,
              }),
            ],
          },
          { guard: 'stepFinished', target: 'thinking', actions: 'appendResults' },
          { guard: 'waitingForHuman', target: 'awaitingApproval' },
        ],
        on: {
          ...endedFromOutside,
          'budget.denied': {
            guard: ({ event }) => keyed({ event }) && settings.onBudget === 'stop',
            target: 'done',
            actions: 'endOnBudget',
          },
          'agent.resume': { guard: 'keyed', actions: 'runTools' },
          'tool.result': {
            guard: 'keyed',
            actions: 'recordResult',
            target: 'acting',
            reenter: false,
          },
        },
      },
      awaitingApproval: {
        entry: [
          assign({ approval: ({ context }) => requestApproval(context, approvalTimeoutMs) }),
          'armExpiry',
        ],
        on: {
          ...endedFromOutside,
          'agent.resume': { guard: 'keyed', actions: 'armExpiry' },
          approve: [
            { guard: 'notPermitted', actions: 'answerForbidden' },
            { guard: 'approvalMatches', target: 'acting', actions: ['approveCall', 'answerOk'] },
            { actions: 'answerRefused' },
          ],
          reject: [
            { guard: 'notPermitted', actions: 'answerForbidden' },
            { guard: 'approvalMatches', target: 'acting', actions: ['rejectCall', 'answerOk'] },
            { actions: 'answerRefused' },
          ],
          'approval.expired': { guard: 'expiryMatches', target: 'acting', actions: 'expireCall' },
        },
      },
      done: {
        entry: ['finish', 'forgetTask'],
        on: {
          task: [
            {
              // the task it has just finished, asked again (a retry): the answer, not a rerun
              guard: ({ context, event }) => lastTask(context.messages) === event.input,
              actions: ({ context }) => {
                const c = actorContext('task');
                c.replyTo?.tell({
                  type: 'agent.done',
                  from: c.self.address,
                  answer: context.answer,
                  stopReason: context.stopReason,
                });
              },
            },
            {
              guard: ({ event }) => typeof event.input === 'string',
              target: 'thinking',
              actions: ['acceptTask', 'armDeadline'],
            },
          ],
        },
      },
      failed: { entry: 'fail' },
    },
  });
}
