/**
 * The messages an agent takes from others, and their check. Data from outside is checked
 * before the machine sees it (actors/agent/refusal.ts): a message that is not an object with a
 * string `type`, or a `task`, `message`, `approve` or `reject` whose fields are not of their
 * types (below), is refused: an ask of it is answered with InvalidMessageError, anything else
 * is a dead letter (`invalid-message`); the agent goes on. Other types pass (the machine
 * ignores those it does not know, and its own are keyed: actors/agent/keys.ts).
 *
 *     { type: 'task', input: string, from?: string, conversation?: 'keep' | 'new' }
 *     { type: 'message', from: string, content: string }
 *     { type: 'approve' | 'reject', callId: string, reason?: string, token?: string }
 *     { type: 'status' }
 *     { type: 'cancel', reason?: string }
 */
import { stringField, typed, untyped } from './refusal.ts';

/** Messages an agent takes from others (the rest are its own, keyed). */
export type AgentInput =
  | {
      readonly type: 'task';
      readonly input: string;
      readonly from?: string;
      /** `new`: the task starts from the instructions alone (config.conversation). */
      readonly conversation?: 'keep' | 'new';
    }
  | { readonly type: 'message'; readonly from: string; readonly content: string }
  | {
      readonly type: 'approve' | 'reject';
      readonly callId: string;
      readonly reason?: string;
      /** Checked when given: the agent's own correlation id, which no subscriber sees. */
      readonly token?: string;
    }
  | { readonly type: 'status' }
  /** Ends the task at work (actors/agent/cancel.ts). */
  | { readonly type: 'cancel'; readonly reason?: string };

/** Why a message from outside is refused (its schema above), or null. */
export function invalidInput(msg: unknown): string | null {
  const m = typed(msg);
  if (m === null) return untyped(msg);
  switch (m.type) {
    case 'task':
      return (
        stringField(m, 'input') ??
        stringField(m, 'from', true) ??
        (m.conversation === undefined || m.conversation === 'keep' || m.conversation === 'new'
          ? null
          : "conversation must be 'keep' or 'new'")
      );
    case 'message':
      return stringField(m, 'from') ?? stringField(m, 'content');
    case 'cancel':
      return stringField(m, 'reason', true);
    case 'approve':
    case 'reject':
      if ('principal' in m)
        return 'a decision names no principal: who decides is the principal the message acts for (the gateway’s authentication), never a field of it';
      return (
        stringField(m, 'callId') ?? stringField(m, 'reason', true) ?? stringField(m, 'token', true)
      );
    default:
      return null;
  }
}

/** A field of a message from outside: a string, or nothing. */
export const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
