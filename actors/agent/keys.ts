/**
 * The agent's result keys. Work runs outside the turn and comes back as messages: the model
 * call and each tool call tell the agent their result. Those messages carry a key made at each
 * start of the actor (never in the snapshot), so nobody else (a client through the gateway,
 * another agent) can forge a model reply or a tool result; a stale one from before a restart
 * is ignored.
 */
import { randomBytes } from 'node:crypto';
import type { AnyEventObject } from 'xstate';
import { actorContext } from '../current.ts';
import type { ActorContext } from '../../runtime/core/context.ts';

/** The keys of the running actors: made at each start, never persisted. */
const keys = new WeakMap<object, string>();

const newKey = (): string => randomBytes(12).toString('base64url');

/** The actor's key, made if it has none yet. */
export function keyOf(ctx: ActorContext<any, any>): string {
  let k = keys.get(ctx);
  if (k === undefined) keys.set(ctx, (k = newKey()));
  return k;
}

/** The actor's key now, if it has one (a timer set before a restart carries the new one). */
export function currentKey(ctx: ActorContext<any, any>): string | undefined {
  return keys.get(ctx);
}

/** Each start makes a new key: results of work started before it are ignored. */
export function rekey(ctx: ActorContext<any, any>): string {
  const k = newKey();
  keys.set(ctx, k);
  return k;
}

/** The agent running the action now, and its key. */
export function running(): { ctx: ActorContext<any, any>; key: string } {
  const ctx = actorContext('an agent action');
  return { ctx, key: keyOf(ctx) };
}

/** An event that carries the running agent's key (one of its own results). */
export const keyed = ({ event }: { event: AnyEventObject }): boolean => {
  const k = (event as { key?: unknown }).key;
  return typeof k === 'string' && k === keys.get(actorContext('an agent guard'));
};
