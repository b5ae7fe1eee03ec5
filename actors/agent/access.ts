/**
 * What a task may use, and who its tools act for. The principal (runtime/core/principal.ts): a task
 * acts for the principal of its `task` message (`ctx.principal`: the client's, stamped by the
 * gateway; null for one from host code or an actor that acts for nobody), kept in the snapshot
 * as `principal` (its id and scopes). A tool whose `scope` the config's `scopes` hold is
 * offered and run only when the principal grants it too (one without scopes grants what the
 * config holds). Tools get the principal narrowed to those scopes (ToolContext.principal; the
 * agent itself, `agent:<address>`, for a task of nobody), and a sub-agent asked with it does
 * no more.
 */
import {
  grants,
  narrowPrincipal,
  stampPrincipal,
  type Principal,
} from '../../runtime/core/principal.ts';
import type { ActorContext } from '../../runtime/core/context.ts';
import type { ToolSpec } from './model.ts';
import type { Tool } from './tools.ts';

/** The part of a principal an agent keeps for its task. */
export interface TaskPrincipal {
  readonly id: string;
  readonly scopes?: readonly string[];
}

/** What the agent keeps of the principal a task message acts for (null: nobody). */
export function taskPrincipal(p: Principal | null): TaskPrincipal | null {
  if (p === null) return null;
  return stampPrincipal(p.scopes === undefined ? { id: p.id } : { id: p.id, scopes: p.scopes });
}

/** The agent's tools as a task of a given principal may see and use them. */
export interface ToolAccess {
  /** By name. */
  readonly tools: ReadonlyMap<string, Tool>;
  /** A tool the task may use: its scope (if any) held by the config and by the principal. */
  mayUse(t: Tool, p: TaskPrincipal | null): boolean;
  /** The tools offered to the model for a task of `p`. */
  specsFor(p: TaskPrincipal | null): ToolSpec[];
  /**
   * Who the agent's tools act for: the task's principal (stamped again after a restart: the
   * snapshot is the agent's own), or the agent itself, narrowed to the scopes the task may
   * use. A sub-agent given it can do no more than this task.
   */
  principalFor(ctx: ActorContext<any, any>, p: TaskPrincipal | null): Principal;
}

export function toolAccess(
  tools: ReadonlyMap<string, Tool>,
  scopes: ReadonlySet<string>,
): ToolAccess {
  const mayUse = (t: Tool, p: TaskPrincipal | null): boolean =>
    t.scope === undefined || (scopes.has(t.scope) && grants(p as Principal | null, t.scope));
  const specOf = (t: Tool): ToolSpec => ({
    name: t.name,
    description: t.description,
    parameters: t.parameters,
  });
  const unlimited: ToolSpec[] = [...tools.values()].filter((t) => mayUse(t, null)).map(specOf);
  // the agent's own principal (a task that acts for nobody), made once per agent: stamping
  // copies and freezes, at every tool call otherwise
  const own = new WeakMap<object, Principal>();
  const ownScopes = [...scopes].filter((s) => grants(null, s));
  return {
    tools,
    mayUse,
    specsFor: (p) =>
      p?.scopes === undefined
        ? unlimited
        : [...tools.values()].filter((t) => mayUse(t, p)).map(specOf),
    principalFor: (ctx, p) => {
      if (p !== null)
        return narrowPrincipal(
          stampPrincipal(p),
          [...scopes].filter((s) => grants(p as Principal, s)),
        );
      let mine = own.get(ctx.self);
      if (mine === undefined)
        own.set(
          ctx.self,
          (mine = narrowPrincipal(stampPrincipal({ id: `agent:${ctx.self.address}` }), ownScopes)),
        );
      return mine;
    },
  };
}
