/**
 * Group restarts (one-for-all, rest-for-one) as a plan: the child that ended goes down first
 * (a failed one is halted by its directive), then the other members are halted one at a time,
 * last in the list first (a temporary member is stopped for good), each within its
 * `shutdown`; once all are down (and after the backoff delay, if any), they start again in
 * list order: a halted member from its `init` or snapshot, a dead one spawned anew.
 *
 * One plan runs at a time. A child outside the plan that needs a group restart meanwhile
 * waits in `pending` and gets the next plan; a member that fails or stops meanwhile is
 * absorbed by the plan under way (supervisors/supervisor.ts). A member terminated by request
 * (or otherwise `final`) is not started again.
 */
import type { ActorContext } from '../runtime/core/context.ts';
import { emit, ignored, isRegistered, startActor, type Child } from './children.ts';
import { nextDelay, startFailed, stopFinal } from './restart-policy.ts';
import { later } from './timers.ts';
import { shutdownChild } from './exit.ts';
import type { SupervisorMsg, SupervisorReply, SupervisorState } from './supervisor.ts';

type Ctx = ActorContext<SupervisorMsg, SupervisorReply>;

export interface Plan {
  readonly members: Child[];
  /** Children still to halt, first to halt last. */
  readonly queue: Child[];
  waitingFor: Child | null;
  readonly delayMs: number;
}

export function startPlan(s: SupervisorState, trigger: Child, delayMs: number, ctx: Ctx): void {
  const at = s.children.indexOf(trigger);
  const group = s.o.strategy === 'one-for-all' ? s.children : s.children.slice(at);
  const members = group.filter((c) => c === trigger || c.state !== 'dead');
  s.plan = { members, queue: members.slice(), waitingFor: null, delayMs };
  // a failed trigger is being halted by its directive: it goes down first (as in OTP, where it
  // is already dead), then the others in reverse list order
  if (trigger.state === 'halting') s.plan.waitingFor = trigger;
  else advancePlan(s, ctx);
}

/** Halts the next member (last in the list first) or, when all are down, starts them in order. */
export function advancePlan(s: SupervisorState, ctx: Ctx): void {
  const p = s.plan;
  if (p === null) return;
  p.waitingFor = null;
  for (;;) {
    const m = p.queue.pop();
    if (m === undefined) break;
    if (m.state === 'running') {
      if (m.spec.restart === 'temporary') {
        // temporary children are not restarted, not even by a sibling's restart
        stopFinal(m, 'group');
        shutdownChild(m.ref!);
      } else {
        m.state = 'halting';
        m.restarting = true;
        ctx.halt(m.ref!);
      }
      p.waitingFor = m;
      return;
    }
    if (m.state === 'halting' || m.state === 'terminating') {
      p.waitingFor = m;
      return;
    }
  }
  if (p.delayMs > 0) later(s, p.delayMs, () => startMembers(s, p, ctx), ctx);
  else startMembers(s, p, ctx);
}

function startMembers(s: SupervisorState, p: Plan, ctx: Ctx): void {
  if (s.plan !== p) return;
  s.plan = null;
  for (const m of p.members) {
    if (m.final || !isRegistered(s, m)) continue;
    if (m.state === 'halted') {
      ctx.startHalted(m.ref!);
      m.state = 'running';
      m.restarting = false;
    } else if (m.state === 'dead') {
      const r = startActor(m, ctx);
      if (r.kind === 'ignored') {
        ignored(s, m);
        continue;
      }
      if (r.kind === 'failed') {
        startFailed(s, m, r.error, ctx);
        continue;
      }
    } else continue;
    emit(ctx, {
      type: 'child-restarted',
      supervisor: ctx.path,
      child: m.ref!.path,
      id: m.name,
      delayMs: p.delayMs,
      at: ctx.system.clock.now(),
    });
  }
  // a child that failed while this plan ran and that it has just restarted is done
  s.pending = s.pending.filter(
    (c) => isRegistered(s, c) && !c.final && !(p.members.includes(c) && c.state === 'running'),
  );
  const next = s.pending.shift();
  if (next !== undefined) startPlan(s, next, nextDelay(s, ctx), ctx);
}
