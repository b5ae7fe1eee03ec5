/**
 * Approvals: a call whose tool's `approval` rule says so waits for
 * `{ type: 'approve' | 'reject', callId, reason? }` naming the call in the snapshot's
 * `approval`. Who may send one is decided where it comes in (the gateway asks `authorize` for
 * `approve` as well as `send` / `ask`), and the decision's principal must grant `approve`
 * (else `{ ok: false }`); no secret decides it: the approval's token never leaves the agent
 * (it is in no snapshot a subscriber sees, in no event); it is the correlation id that binds
 * the expiry timer and reminder to that approval, and a decision that carries a `token` must
 * carry that one. A decision applies to the approval pending for its call id when it arrives,
 * is usable once, and the approval expires after `approvalTimeoutMs` (default 10 minutes; its
 * due time is in the snapshot; a system-clock timer is set at each start, and an entity also
 * gets a durable reminder). The call's record, and its tool message in the conversation, keep
 * the `decision`: approved, rejected or expired, `by` whom (the id of the principal the
 * decision acts for, else its sending actor's address, else null; never a field of the
 * message: a decision that names a `principal` is refused) and `at` when (the system clock).
 * Asked, a decision answers `{ ok }` (a replayed, expired or wrong one: `ok: false`).
 * `approval.requested` (the public approval, no token) and `approval.decided` are emitted.
 */
import { randomBytes } from 'node:crypto';
import type { AnyEventObject } from 'xstate';
import { actorContext } from '../current.ts';
import type { MachineView } from '../machine.ts';
import { grants } from '../../runtime/core/principal.ts';
import type { Context } from './context.ts';
import { currentKey, keyed, running } from './keys.ts';
import type { Decision } from './types.ts';

/** An approval that waits, as snapshots and events show it. */
export interface PendingApproval {
  readonly callId: string;
  readonly tool: string;
  readonly arguments: string;
  /** When it was asked for, and when it expires (system clock, epoch ms). */
  readonly requestedAt: number;
  readonly expiresAt: number;
}

/** The approval as the agent holds it: with its token, which never leaves the agent. */
export interface HeldApproval extends PendingApproval {
  readonly token: string;
}

/** The public part of an approval (no token). */
export function publicApproval(a: HeldApproval): PendingApproval {
  return {
    callId: a.callId,
    tool: a.tool,
    arguments: a.arguments,
    requestedAt: a.requestedAt,
    expiresAt: a.expiresAt,
  };
}

/**
 * What subscribers see of the machine's views: the context without the approval's token
 * (memoized per view, as the cell compares views by identity to know whether one changed).
 */
export function publicViews(): (v: MachineView) => MachineView {
  const views = new WeakMap<MachineView, MachineView>();
  return (v) => {
    let out = views.get(v);
    if (out === undefined) {
      const c = v.context as Context;
      out =
        c.approval === null ? v : { ...v, context: { ...c, approval: publicApproval(c.approval) } };
      views.set(v, out);
    }
    return out;
  };
}

/** The first call waiting for a human gets an approval: a token, an expiry. */
export function requestApproval(context: Context, timeoutMs: number): HeldApproval | null {
  const call = context.calls.find((c) => c.status === 'awaiting-approval');
  if (call === undefined) return null;
  const { ctx } = running();
  const now = ctx.system.clock.now();
  return {
    callId: call.id,
    tool: call.name,
    arguments: call.arguments,
    token: randomBytes(16).toString('base64url'),
    requestedAt: now,
    expiresAt: now + timeoutMs,
  };
}

/** Sets the approval's expiry (a timer; for an entity, a durable reminder too) and emits it. */
export function armExpiry(approval: HeldApproval | null): void {
  if (approval === null) return;
  const { ctx, key } = running();
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
}

/** The decision on the pending approval's call, recorded on it (and emitted). */
function decided(
  context: Context,
  outcome: Decision['outcome'],
  event: AnyEventObject | null,
): Decision {
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
}

/** An `approve` of the pending call: it runs. */
export function approveCall(context: Context, event: AnyEventObject): Partial<Context> {
  const decision = decided(context, 'approved', event);
  return {
    calls: context.calls.map((c) =>
      c.id === context.approval!.callId ? { ...c, status: 'running' as const, decision } : c,
    ),
    approval: null,
  };
}

/** A `reject` of the pending call: its error says so, with the reason (200 characters). */
export function rejectCall(context: Context, event: AnyEventObject): Partial<Context> {
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
}

/** The pending approval expired: the call's error says so. */
export function expireCall(context: Context): Partial<Context> {
  const decision = decided(context, 'expired', null);
  return {
    calls: context.calls.map((c) =>
      c.id === context.approval!.callId
        ? { ...c, status: 'error' as const, error: 'the approval expired', decision }
        : c,
    ),
    approval: null,
  };
}

/** A decision for a principal without the `approve` permission (its scopes). */
export const notPermitted = (): boolean => !grants(actorContext('approval').principal, 'approve');

/** A decision for the pending approval's call (with its token, if it carries one), in time. */
export function approvalMatches(context: Context, event: AnyEventObject): boolean {
  const e = event as { callId?: unknown; token?: unknown };
  const a = context.approval;
  return (
    a !== null &&
    e.callId === a.callId &&
    // the token check is kept for a decision that carries one
    (e.token === undefined || e.token === a.token) &&
    actorContext('approval').system.clock.now() <= a.expiresAt
  );
}

/** The pending approval's own expiry. */
export function expiryMatches(context: Context, event: AnyEventObject): boolean {
  const e = event as { callId?: unknown; token?: unknown; key?: unknown };
  const a = context.approval;
  if (a === null || e.callId !== a.callId || e.token !== a.token) return false;
  // the timer's own message, or a durable reminder past the expiry
  return keyed({ event }) || actorContext('approval').system.clock.now() >= a.expiresAt;
}

/** Answers an asked decision that was taken. */
export function answerOk(): void {
  const c = actorContext('approval');
  if (c.replyTo !== undefined) c.reply({ ok: true });
}

/** Answers an asked decision whose principal may not approve. */
export function answerForbidden(): void {
  const c = actorContext('approval');
  if (c.replyTo !== undefined)
    c.reply({
      ok: false,
      reason: `principal ${c.principal?.id ?? '?'} does not hold the approve permission`,
    });
}

/** Answers an asked decision that matches no pending approval. */
export function answerRefused(): void {
  const c = actorContext('approval');
  if (c.replyTo !== undefined)
    c.reply({
      ok: false,
      reason: 'no pending approval with that call and token (used, expired or wrong)',
    });
}
