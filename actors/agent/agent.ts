/**
 * createAgent(config): an LLM agent as an XState machine run by troupe (fromMachine).
 *
 *   idle ──task──▶ thinking ──reply with tool calls──▶ acting ──all answered──▶ thinking …
 *                      │  └─reply without tool calls──▶ done ──task──▶ thinking
 *                      ├─model error (retryable)──▶ retrying ──backoff──▶ thinking
 *                      └─budget refused / retries spent──▶ failed (a failure for the supervisor)
 *   acting ──a call that needs approval──▶ awaitingApproval ──approve/reject/expired──▶ acting
 *
 * - The snapshot is data (actors/agent/context.ts); work runs outside the turn and comes back
 *   as keyed messages (actors/agent/keys.ts).
 * - After a restart from its snapshot the agent picks up where it was: in `thinking` it calls
 *   the model again; in `acting` it runs the calls that had not finished (each call's result
 *   is recorded under its id, so a finished call is never repeated); an approval that waits
 *   keeps waiting (its expiry re-armed).
 * - A task acts for the principal of its `task` message, which limits its tools
 *   (actors/agent/access.ts).
 * - Approvals: a call whose tool's `approval` rule says so waits for
 *   `{ type: 'approve' | 'reject', callId, reason? }` naming the call in the snapshot's
 *   `approval`. Who may send one is decided where it comes in (the gateway asks `authorize`
 *   for `approve` as well as `send` / `ask`), and the decision's principal must grant
 *   `approve` (else `{ ok: false }`); no secret decides it: the approval's token never leaves the agent (it is in no
 *   snapshot a subscriber sees, in no event); it is the correlation id that binds the expiry
 *   timer and reminder to that approval, and a decision that carries a `token` must carry
 *   that one. A decision applies to the approval pending for its call id when it arrives, is
 *   usable once, and the approval expires after `approvalTimeoutMs` (its due time is in the
 *   snapshot; a system-clock timer is set at each start, and an entity also gets a durable
 *   reminder). The call's record, and its tool message in the conversation, keep the
 *   `decision`: approved, rejected or expired, `by` whom (the id of the principal the
 *   decision acts for, else its sending actor's address, else null; never a field of the
 *   message: a decision that names a `principal` is refused) and `at` when (the system
 *   clock). Asked, a decision answers `{ ok }` (a replayed, expired or wrong one: `ok: false`).
 * - Provenance: tool results, other agents' messages and humans' decisions are data in the
 *   conversation (actors/agent/conversation.ts).
 * - A step's tool calls are checked, reserved together and run outside the turn
 *   (actors/agent/tool-run.ts).
 * - Budgets: per agent and per subtree; a call the remaining budget cannot cover is not
 *   started (actors/agent/spending.ts, the subtree's keeper actors/agent/budget.ts).
 * - Data from outside is checked before the machine sees it (actors/agent/input.ts); a repeat
 *   of the task just finished is answered with the answer, not run again.
 * - Model calls time out, and are retried with backoff when they fail retryably
 *   (actors/agent/model-call.ts).
 * - Emitted events (`system.subscribeEvents`, gateway `subscribeEvents`): `token` (streamed
 *   text), `tool.started`, `tool.finished`, `approval.requested` (the public approval, no
 *   token), `approval.decided` (the decision), `done`.
 */
import { randomBytes } from 'node:crypto';
import { assign, setup, type AnyEventObject } from 'xstate';
import { fromMachine, type MachineView } from '../machine.ts';
import { actorContext } from '../current.ts';
import type { ActorContext } from '../../runtime/context.ts';
import type { ActorRef } from '../../runtime/ref.ts';
import type { Behaviour } from '../../runtime/behaviour.ts';
import { grants } from '../../runtime/principal.ts';
import type { ModelReply } from './model.ts';
import { ZERO_SPENT, chargeReply, deniedError, spending } from './spending.ts';
import { modelCalls } from './model-call.ts';
import { recordResult, stepFinished, toolRuns, waitingForHuman } from './tool-run.ts';
import {
  agentMessage,
  instructionsOf,
  lastTask,
  replyMessage,
  resultMessages,
  taskMessage,
} from './conversation.ts';
import { refuse } from './refusal.ts';
import { settingsOf, type AgentConfig } from './config.ts';
import { invalidInput, str, type AgentInput } from './input.ts';
import { currentKey, keyed, rekey, running } from './keys.ts';
import { taskPrincipal, toolAccess } from './access.ts';
import type { Context } from './context.ts';
import { publicApproval, type HeldApproval } from './approvals.ts';
import { BudgetExceededError, ModelCallError, type Decision } from './types.ts';

export function createAgent(config: AgentConfig): Behaviour<AgentInput, unknown, any> {
  const settings = settingsOf(config);
  const { name, modelName, approvalTimeoutMs } = settings;
  const access = toolAccess(settings.tools, settings.scopes);
  const self = running;
  const budgets = spending(settings);
  const model = modelCalls(settings, access, budgets);
  const toolCalls = toolRuns(settings, access, budgets);

  /** The first call waiting for a human gets an approval: a token, an expiry. */
  const requestApproval = (context: Context): HeldApproval | null => {
    const call = context.calls.find((c) => c.status === 'awaiting-approval');
    if (call === undefined) return null;
    const { ctx } = self();
    const now = ctx.system.clock.now();
    return {
      callId: call.id,
      tool: call.name,
      arguments: call.arguments,
      token: randomBytes(16).toString('base64url'),
      requestedAt: now,
      expiresAt: now + approvalTimeoutMs,
    };
  };

  /** The decision on the pending approval's call, recorded on it (and emitted). */
  const decided = (
    context: Context,
    outcome: Decision['outcome'],
    event: AnyEventObject | null,
  ): Decision => {
    const c = actorContext('approval');
    const decision: Decision = {
      outcome,
      // the principal the decision acts for, else the deciding actor (an expiry: nobody)
      by: event === null ? null : (c.principal?.id ?? c.sender?.address ?? null),
      at: c.system.clock.now(),
    };
    const a = context.approval!;
    c.emit({ type: 'approval.decided', callId: a.callId, tool: a.tool, ...decision });
    return decision;
  };

  const armExpiry = (approval: HeldApproval | null): void => {
    if (approval === null) return;
    const { ctx, key } = self();
    const msg = { type: 'approval.expired', key, callId: approval.callId, token: approval.token };
    const wait = Math.max(0, approval.expiresAt - ctx.system.clock.now());
    const target = ctx.self;
    ctx.system.timers.schedule(() => target.tell({ ...msg, key: currentKey(ctx) ?? '' }), wait);
    try {
      // an entity that is passivated meanwhile is woken by a durable reminder
      ctx.remindAt(approval.expiresAt, {
        type: 'approval.expired',
        key: '',
        callId: approval.callId,
        token: approval.token,
      } as never);
    } catch {
      // not an entity: the timer above is enough while it lives
    }
    ctx.emit({ type: 'approval.requested', ...publicApproval(approval) });
  };

  const machine = setup({
    types: {} as { context: Context; events: AnyEventObject },
    actions: {
      acceptTask: assign({
        messages: ({ context, event }) => [...context.messages, taskMessage(event)],
        calls: [],
        answer: null,
        attempt: 0,
        replyTo: () => {
          const c = actorContext('task');
          return (c.replyTo as ActorRef<unknown> | undefined) ?? null;
        },
        principal: () => taskPrincipal(actorContext('task').principal),
      }),
      takeReply: assign(({ context, event }) => {
        const reply = event.reply as ModelReply;
        const usage = reply.usage;
        const calls = toolCalls.callsOf(reply, context.principal ?? null);
        return {
          attempt: 0,
          spent: chargeReply(context.spent, usage, modelName, settings.prices),
          calls,
          messages: [...context.messages, replyMessage(reply, modelName)],
        };
      }),
      recordResult: assign(({ context, event }) => recordResult(context, event)),
      appendResults: assign({
        messages: ({ context }) => [...context.messages, ...resultMessages(context.calls)],
        calls: [],
      }),
      approveCall: assign(({ context, event }) => {
        const decision = decided(context, 'approved', event);
        return {
          calls: context.calls.map((c) =>
            c.id === context.approval!.callId ? { ...c, status: 'running' as const, decision } : c,
          ),
          approval: null,
        };
      }),
      rejectCall: assign(({ context, event }) => {
        const decision = decided(context, 'rejected', event);
        return {
          calls: context.calls.map((c) =>
            c.id === context.approval!.callId
              ? {
                  ...c,
                  status: 'error' as const,
                  error: `rejected by a human${typeof event.reason === 'string' ? `: ${event.reason.slice(0, 200)}` : ''}`,
                  decision,
                }
              : c,
          ),
          approval: null,
        };
      }),
      expireCall: assign(({ context }) => {
        const decision = decided(context, 'expired', null);
        return {
          calls: context.calls.map((c) =>
            c.id === context.approval!.callId
              ? { ...c, status: 'error' as const, error: 'the approval expired', decision }
              : c,
          ),
          approval: null,
        };
      }),
      answerOk: () => {
        const c = actorContext('approval');
        if (c.replyTo !== undefined) c.reply({ ok: true });
      },
      answerForbidden: () => {
        const c = actorContext('approval');
        if (c.replyTo !== undefined)
          c.reply({
            ok: false,
            reason: `principal ${c.principal?.id ?? '?'} does not hold the approve permission`,
          });
      },
      answerRefused: () => {
        const c = actorContext('approval');
        if (c.replyTo !== undefined)
          c.reply({
            ok: false,
            reason: 'no pending approval with that call and token (used, expired or wrong)',
          });
      },
      callModel: ({ context }) => model.call(context),
      runTools: ({ context }) => toolCalls.run(context),
      armExpiry: ({ context }) => armExpiry(context.approval),
      finish: ({ context }) => {
        const { ctx } = self();
        ctx.emit({ type: 'done', answer: context.answer });
        context.replyTo?.tell({
          type: 'agent.done',
          from: ctx.self.address,
          answer: context.answer,
        });
      },
      fail: ({ context }) => {
        const e = context.error!;
        if (e.name === 'BudgetExceededError') {
          const err = new BudgetExceededError(e.cap!, 0, 0, name);
          err.message = e.message;
          throw err;
        }
        throw new ModelCallError(e.message, false);
      },
      answerStatus: ({ context }) => {
        actorContext('status').reply({
          answer: context.answer,
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
      notPermitted: () => !grants(actorContext('approval').principal, 'approve'),
      keyed,
      currentTurn: ({ context, event }) =>
        keyed({ event }) && (event as { turn?: unknown }).turn === context.turn,
      hasToolCalls: ({ event }) =>
        ((event as { reply?: ModelReply }).reply?.toolCalls.length ?? 0) > 0,
      canRetry: ({ context, event }) => model.canRetry(context, event),
      stepFinished: ({ context }) => stepFinished(context),
      waitingForHuman: ({ context }) => waitingForHuman(context),
      approvalMatches: ({ context, event }) => {
        const e = event as { callId?: unknown; token?: unknown };
        const a = context.approval;
        return (
          a !== null &&
          e.callId === a.callId &&
          // the token check is kept for a decision that carries one
          (e.token === undefined || e.token === a.token) &&
          actorContext('approval').system.clock.now() <= a.expiresAt
        );
      },
      expiryMatches: ({ context, event }) => {
        const e = event as { callId?: unknown; token?: unknown; key?: unknown };
        const a = context.approval;
        if (a === null || e.callId !== a.callId || e.token !== a.token) return false;
        // the timer's own message, or a durable reminder past the expiry
        return keyed({ event }) || actorContext('approval').system.clock.now() >= a.expiresAt;
      },
    },
  }).createMachine({
    id: 'agent',
    context: ({ input }) => ({
      name: (input as { name?: string } | undefined)?.name ?? name,
      messages: instructionsOf(settings.instructions),
      calls: [],
      approval: null,
      spent: ZERO_SPENT,
      startedAt: (input as { startedAt?: number } | undefined)?.startedAt ?? Date.now(),
      turn: 0,
      attempt: 0,
      answer: null,
      error: null,
      replyTo: null,
      principal: null,
    }),
    initial: 'idle',
    on: {
      status: { actions: 'answerStatus' },
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
      'budget.denied': {
        guard: 'keyed',
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
            actions: 'acceptTask',
          },
        },
      },
      thinking: {
        entry: [assign({ turn: ({ context }) => context.turn + 1 }), 'callModel'],
        on: {
          'agent.resume': { guard: 'currentTurn', actions: 'callModel' },
          'model.result': [
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
                assign({ answer: ({ event }) => (event.reply as ModelReply).content }),
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
              guard: 'currentTurn',
              target: 'failed',
              actions: assign({
                error: ({ event }) => ({ name: 'ModelCallError', message: String(event.message) }),
              }),
            },
          ],
        },
      },
      retrying: {
        entry: ({ context }) => model.retryLater(context),
        on: {
          'model.retry': { guard: 'currentTurn', target: 'thinking' },
          'agent.resume': { guard: 'currentTurn', target: 'thinking' },
        },
      },
      acting: {
        entry: 'runTools',
        always: [
          { guard: 'stepFinished', target: 'thinking', actions: 'appendResults' },
          { guard: 'waitingForHuman', target: 'awaitingApproval' },
        ],
        on: {
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
        entry: [assign({ approval: ({ context }) => requestApproval(context) }), 'armExpiry'],
        on: {
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
        entry: 'finish',
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
                });
              },
            },
            {
              guard: ({ event }) => typeof event.input === 'string',
              target: 'thinking',
              actions: 'acceptTask',
            },
          ],
        },
      },
      failed: { entry: 'fail' },
    },
  });

  const inner = fromMachine(machine, {
    input: (ctx: ActorContext<any, any>) => ({ name, startedAt: ctx.system.clock.now() }),
  });
  const publicViews = new WeakMap<MachineView, MachineView>();
  return {
    ...inner,
    kind: 'machine',
    init(ctx) {
      rekey(ctx);
      return inner.init(ctx);
    },
    // what subscribers see: the context without the approval's token (memoized per view, as
    // the cell compares views by identity to know whether one changed)
    view(state) {
      const v = inner.view!(state) as MachineView;
      let out = publicViews.get(v);
      if (out === undefined) {
        const c = v.context as Context;
        out =
          c.approval === null
            ? v
            : { ...v, context: { ...c, approval: publicApproval(c.approval) } };
        publicViews.set(v, out);
      }
      return out;
    },
    receive(state, msg, ctx) {
      // a machine's event must be an object with a string type (XState throws otherwise, which
      // would fail the agent); the agent's machine arms no XState timers of its own
      const why = invalidInput(msg);
      if (why !== null) {
        refuse(ctx, msg, why);
        return state;
      }
      return inner.receive(state, msg as never, ctx);
    },
    restore(snapshot, ctx) {
      const key = rekey(ctx);
      const s = inner.restore!(snapshot, ctx);
      // after a restart from its snapshot, the agent resumes the work of the state it was in,
      // unless a message has moved it on first (the turn tells)
      const turn = (s.actor.getSnapshot() as { context: Context }).context.turn;
      ctx.self.tell({ type: 'agent.resume', key, turn } as never);
      return s;
    },
  } as Behaviour<AgentInput, unknown, any>;
}
