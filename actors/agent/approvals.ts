/**
 * Approvals: a call that waits for a human's decision, as the agent holds it (with its token)
 * and as snapshots and events show it (without).
 */
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
