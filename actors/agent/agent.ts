/**
 * createAgent(config): an LLM agent as an XState machine run by troupe (fromMachine). It
 * thinks (a model call), acts (tool calls, in parallel where the model asks for several),
 * thinks again, and is done — waiting for a human before the tools that need one, ending a
 * task whose budget runs out, and failing to its supervisor when the model stays down. This file only wires the
 * modules of actors/agent/, one concern each:
 *
 * - config.ts: AgentConfig, its defaults and its check (settingsOf);
 * - machine.ts: the states and their transitions, restarts included;
 * - context.ts: the snapshot, which is data (clients, the inspector and persistence follow it);
 * - input.ts: the messages it takes from others, checked before the machine sees them;
 * - keys.ts: the key made at each start that its own result messages carry;
 * - model-call.ts: the model calls (timeout, retries with backoff);
 * - tool-run.ts: the tool calls of a step (checked, reserved together, run outside the turn);
 * - access.ts: the task's principal, and which tools it may use;
 * - approvals.ts: the calls that wait for a human's decision;
 * - spending.ts: the agent's budgets (the subtree's keeper is budget.ts);
 * - conversation.ts: the messages, each with its source (provenance);
 * - results.ts: what is kept of a tool's result (cut at MAX_RESULT_CHARS);
 * - persisted.ts: the snapshot as saved, without what the config holds.
 *
 * Emitted events (`system.subscribeEvents`, gateway `subscribeEvents`): `token` (streamed
 * text), `tool.started`, `tool.finished`, `approval.requested` (the public approval, no
 * token), `approval.decided` (the decision), `done`.
 */
import { fromMachine, type MachineSnapshotRecord, type MachineView } from '../machine.ts';
import { compactRecord, expandRecord } from './persisted.ts';
import type { ActorContext } from '../../runtime/core/context.ts';
import type { Behaviour } from '../../runtime/core/behaviour.ts';
import { settingsOf, type AgentConfig } from './config.ts';
import type { Context } from './context.ts';
import { invalidInput, type AgentInput } from './input.ts';
import { currentKey, rekey } from './keys.ts';
import { abortAll } from './cancel.ts';
import { toolAccess } from './access.ts';
import { spending } from './spending.ts';
import { modelCalls } from './model-call.ts';
import { toolRuns } from './tool-run.ts';
import { publicViews } from './approvals.ts';
import { agentMachine } from './machine.ts';
import { armDeadlineFor } from './ends.ts';
import { refuse } from './refusal.ts';

export function createAgent(config: AgentConfig): Behaviour<AgentInput, unknown, any> {
  const settings = settingsOf(config);
  const access = toolAccess(settings.tools, settings.scopes);
  const budgets = spending(settings);
  const machine = agentMachine(
    settings,
    modelCalls(settings, access, budgets),
    toolRuns(settings, access, budgets),
  );
  const inner = fromMachine(machine, {
    input: (ctx: ActorContext<any, any>) => ({
      name: settings.name ?? ctx.self.path.slice(ctx.self.path.lastIndexOf('/') + 1),
      startedAt: ctx.system.clock.now(),
    }),
  });
  const publicView = publicViews();
  return {
    ...inner,
    kind: 'machine',
    init(ctx) {
      rekey(ctx);
      return inner.init(ctx);
    },
    // an agent that stops (or is restarted) aborts what it has in flight: its model call's
    // and its tools' signals (a delegated sub-agent is cancelled with it)
    stop(state, ctx) {
      const key = currentKey(ctx);
      if (key !== undefined) abortAll(key, 'the agent stopped');
      return inner.stop?.(state, ctx);
    },
    // what subscribers see: the context without the approval's token
    view: (state) => publicView(inner.view!(state) as MachineView),
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
    // the snapshot saved leaves out what the config holds (its instructions)
    persist: (state) =>
      compactRecord(inner.persist!(state) as MachineSnapshotRecord, settings.instructions),
    restore(snapshot, ctx) {
      const key = rekey(ctx);
      const s = inner.restore!(expandRecord(snapshot, settings.instructions), ctx);
      // after a restart from its snapshot, the agent resumes the work of the state it was in,
      // unless a message has moved it on first (the turn tells)
      const context = (s.actor.getSnapshot() as { context: Context }).context;
      ctx.self.tell({ type: 'agent.resume', key, turn: context.turn } as never);
      // a task's deadline outlives the restart: its timer is armed again, for what is left
      if (context.deadline !== undefined && context.stopReason === null)
        armDeadlineFor(ctx, key, context.deadline);
      return s;
    },
  } as Behaviour<AgentInput, unknown, any>;
}
