/**
 * The agent's snapshot as persistence saves it: the machine's record (actors/machine.ts)
 * less what the agent's config already holds. Its instructions open every conversation, the
 * same text in each of a kind's agents; the saved conversation keeps that system message
 * without its text (`content` left out) and restore puts the config's text back. A system
 * message whose text differs from the config's (instructions changed since) is saved whole,
 * and a record saved whole (before this form) restores as it is.
 */
import type { MachineSnapshotRecord } from '../machine.ts';
import type { ChatMessage } from './types.ts';

interface Persisted {
  readonly context?: { readonly messages?: readonly ChatMessage[] };
}

function withMessages(
  record: MachineSnapshotRecord,
  messages: ChatMessage[],
): MachineSnapshotRecord {
  const machine = record.machine as Persisted & Record<string, unknown>;
  return { ...record, machine: { ...machine, context: { ...machine.context, messages } } };
}

function messagesOf(record: unknown): readonly ChatMessage[] | undefined {
  const m = (record as { machine?: Persisted } | null)?.machine?.context?.messages;
  return Array.isArray(m) ? m : undefined;
}

/** The record to save: its first message's text left out when it is the instructions. */
export function compactRecord(
  record: MachineSnapshotRecord,
  instructions: string | undefined,
): MachineSnapshotRecord {
  const messages = messagesOf(record);
  const first = messages?.[0];
  if (instructions === undefined || first?.role !== 'system' || first.content !== instructions)
    return record;
  const { content: _text, ...rest } = first;
  return withMessages(record, [rest as ChatMessage, ...messages!.slice(1)]);
}

/** The record saved, with the instructions' text back in its first message. */
export function expandRecord(record: unknown, instructions: string | undefined): unknown {
  const messages = messagesOf(record);
  const first = messages?.[0];
  if (first?.role !== 'system' || typeof first.content === 'string') return record;
  const whole = { ...first, content: instructions ?? '' } as ChatMessage;
  return withMessages(record as MachineSnapshotRecord, [whole, ...messages!.slice(1)]);
}
