/**
 * The agent's model calls. Each `thinking` turn makes one: its estimate (the conversation's
 * characters / 4, plus `maxOutputTokens`) is checked and reserved against the budgets
 * (actors/agent/spending.ts), then the provider is called with the tools the task's principal
 * may use, and the reply or the error comes back to the agent as a keyed `model.result` or
 * `model.error` (actors/agent/keys.ts). Streamed text is emitted as `token` events.
 *
 * - A call that takes longer than `modelTimeoutMs` (default 120 s) is abandoned: its signal
 *   aborts and it fails retryably. The timer is on the system's timer heap (its clock, and
 *   nothing fires after the system ends); the reservation is settled all the same.
 * - A provider that reports no usage is charged its estimate.
 * - A model call that fails retryably (network, 408/409/429, 5xx, errors with no status) is
 *   retried with exponential backoff and full jitter (a random wait up to `retry.baseMs`
 *   doubled each attempt, at most `retry.maxMs`; never before an error's `retryInMs`, which a
 *   shared client's open breaker gives) up to `retry.attempts`, within the budget; then
 *   ModelCallError goes to the
 *   supervisor.
 */
import type { AnyEventObject } from 'xstate';
import type { TimerEntry } from '../../runtime/core/timers.ts';
import { TroupeError } from '../../runtime/core/error.ts';
import type { AgentSettings } from './config.ts';
import type { Context } from './context.ts';
import type { ToolAccess } from './access.ts';
import type { Amount } from './budget.ts';
import type { ModelReply, ToolSpec } from './model.ts';
import type { Spending } from './spending.ts';
import { running } from './keys.ts';
import { track } from './cancel.ts';
import { ModelCallError, costOf, type ChatMessage } from './types.ts';

/** Characters of each list of tool specs as the provider is sent them (one list per scope). */
const specChars = new WeakMap<readonly ToolSpec[], number>();

function charsOfSpecs(specs: readonly ToolSpec[]): number {
  let n = specChars.get(specs);
  if (n === undefined) specChars.set(specs, (n = JSON.stringify(specs).length));
  return n;
}

/**
 * A call's estimate: the conversation (instructions included) and the tools' schemas, at 4
 * characters a token, each message's and tool call's framing counted, plus the completion cap.
 */
export function estimateTokens(
  messages: readonly ChatMessage[],
  specs: readonly ToolSpec[],
  maxOutput: number,
): number {
  let chars = charsOfSpecs(specs);
  for (const m of messages) {
    chars += m.content.length + 16;
    if (m.toolCalls !== undefined)
      for (const c of m.toolCalls) chars += c.name.length + c.arguments.length + c.id.length + 16;
  }
  return Math.ceil(chars / 4) + maxOutput;
}

/**
 * When an error says to retry: a shared client's open breaker (ProviderUnavailableError's
 * `retryInMs`), read by shape so the agent imports nothing of the provider folder.
 */
function retryAfterOf(e: unknown): number | undefined {
  const ms = (e as { retryInMs?: unknown } | null)?.retryInMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/** Whether a failed call may be tried again: a ModelCallError says; other troupe errors not. */
function retryable(e: unknown): boolean {
  return e instanceof ModelCallError ? e.retryable : !(e instanceof TroupeError);
}

export interface ModelCalls {
  /** Calls the model for the context's turn (in an action: the running agent's). */
  call(context: Context): void;
  /** Whether a `model.error` may be retried: retryable, and attempts are left. */
  canRetry(context: Context, event: AnyEventObject): boolean;
  /**
   * Tells the agent `model.retry` for the turn after the attempt's backoff: full jitter (a
   * random wait up to `retry.baseMs` doubled each attempt, at most `retry.maxMs`), and never
   * before the error said to retry (`retryAfterMs` of the `model.error`: a shared client's
   * open breaker, actors/agent/provider/).
   */
  retryLater(context: Context, event: AnyEventObject): void;
}

export function modelCalls(
  settings: AgentSettings,
  access: ToolAccess,
  budgets: Spending,
): ModelCalls {
  const { modelName, maxOutputTokens, modelTimeoutMs, retry, prices } = settings;

  const call = (context: Context): void => {
    const { ctx, key } = running();
    const turn = context.turn;
    // past the step cap: the last call, tools off (machine.ts)
    const specs =
      (context.steps ?? 0) >= settings.maxSteps ? [] : access.specsFor(context.principal ?? null);
    const estimateTokensNow = estimateTokens(context.messages, specs, maxOutputTokens);
    const estimate: Amount = {
      tokens: estimateTokensNow,
      modelCalls: 1,
      toolCalls: 0,
      cost: costOf(
        modelName,
        { inputTokens: estimateTokensNow - maxOutputTokens, outputTokens: maxOutputTokens },
        prices,
      ),
    };
    const reservation = `${context.name}:${key}:m${turn}`;
    const emit = (event: unknown) => ctx.emit(event);
    const journal = settings.journal;
    const conversation = context.conversationId;
    /** The reply as the machine takes it. */
    const result = (reply: ModelReply) => ({
      type: 'model.result',
      key,
      turn,
      reply: {
        content: String(reply.content),
        toolCalls: reply.toolCalls.map((c) => ({
          id: String(c.id),
          name: String(c.name),
          arguments: String(c.arguments),
        })),
        usage: reply.usage,
      },
    });
    /** Records the reply (when there is a journal), then hands it to the machine. */
    const deliver = (reply: ModelReply): Promise<void> => {
      const msg = result(reply);
      if (journal === undefined || conversation === undefined) {
        ctx.self.tell(msg);
        return Promise.resolve();
      }
      return journal.record(conversation, turn, msg.reply).then(
        () => {
          ctx.self.tell(msg);
        },
        (e: unknown) => {
          ctx.system.logger.error(
            `troupe: agent ${ctx.self.path}: the journal did not record a reply (a crash now would call the model again)`,
            e,
          );
          ctx.self.tell(msg);
        },
      );
    };
    const callProvider = () =>
      budgets.reserve(
        ctx,
        key,
        context,
        reservation,
        estimate,
        () => {
          let reply: ModelReply | null = null;
          // a provider that never answers is abandoned: its reservation is settled all the same
          const abort = new AbortController();
          // on the system's timer heap: its clock, and nothing fires after the system ends
          let timer: TimerEntry | undefined;
          const timedOut = new Promise<never>((_, reject) => {
            timer = ctx.system.timers.schedule(() => {
              abort.abort();
              reject(new ModelCallError(`no answer from the model in ${modelTimeoutMs} ms`, true));
            }, modelTimeoutMs);
          });
          const work = Promise.race([
            settings.model.complete({
              model: modelName,
              messages: context.messages,
              tools: specs,
              maxOutputTokens,
              onToken: (text) => emit({ type: 'token', turn, text }),
              signal: abort.signal,
            }),
            timedOut,
          ])
            .then(
              (r) => {
                // a provider that reports no usage is charged its estimate
                const usage =
                  r.usage.inputTokens + r.usage.outputTokens > 0
                    ? r.usage
                    : {
                        inputTokens: estimateTokensNow - maxOutputTokens,
                        outputTokens: maxOutputTokens,
                      };
                reply = { ...r, usage };
                if (perPrincipal !== undefined && principal !== undefined)
                  perPrincipal.charge(
                    principal,
                    usage.inputTokens + usage.outputTokens,
                    costOf(modelName, usage, prices),
                  );
                return deliver(reply);
              },
              (e: unknown) => {
                const status = e instanceof ModelCallError ? e.status : undefined;
                const after = retryAfterOf(e);
                ctx.self.tell({
                  type: 'model.error',
                  key,
                  turn,
                  message: e instanceof Error ? e.message : String(e),
                  retryable: retryable(e),
                  ...(status === undefined ? {} : { status }),
                  ...(after === undefined ? {} : { retryAfterMs: after }),
                });
              },
            )
            .finally(() => {
              if (timer !== undefined) ctx.system.timers.cancel(timer);
              const r = reply as ModelReply | null;
              const usage = r?.usage ?? { inputTokens: 0, outputTokens: 0 };
              budgets.settle(reservation, {
                tokens: usage.inputTokens + usage.outputTokens,
                modelCalls: 1,
                toolCalls: 0,
                cost: costOf(modelName, usage, prices),
              });
            });
          // a cancel aborts the call's signal (actors/agent/cancel.ts)
          track(key, abort, work);
          return work;
        },
        (why) => {
          ctx.self.tell({ type: 'model.error', key, turn, message: why, retryable: true });
        },
      );
    // the principal's day (principalBudgets): spent, the task ends before the call
    const principal = context.principal?.id;
    const perPrincipal = settings.principalBudgets;
    const checked = (go: () => void) => {
      if (perPrincipal === undefined || principal === undefined) return go();
      perPrincipal.over(principal).then(
        (over) => {
          if (over === null) return go();
          ctx.self.tell({
            type: 'budget.denied',
            key,
            ...over,
            whose: `${principal} (principal)`,
            scope: 'principal',
          });
        },
        (e: unknown) => {
          ctx.system.logger.error(`troupe: agent ${ctx.self.path}: principalBudgets failed`, e);
          go();
        },
      );
    };
    const callNow = () => checked(() => void callProvider());
    if (journal === undefined || conversation === undefined) return callNow();
    // a restarted agent takes the reply its turn had, if one was recorded: never paid twice
    journal.recorded(conversation, turn).then(
      (recorded) => {
        if (recorded === undefined) callNow();
        else ctx.self.tell(result(recorded));
      },
      (e: unknown) => {
        ctx.system.logger.error(
          `troupe: agent ${ctx.self.path}: the journal could not be read; calling the model`,
          e,
        );
        callNow();
      },
    );
  };

  return {
    call,
    canRetry: (context, event) =>
      (event as { retryable?: boolean }).retryable === true && context.attempt + 1 < retry.attempts,
    retryLater(context, event) {
      const { ctx, key } = running();
      const cap = Math.min(retry.maxMs, retry.baseMs * 2 ** (context.attempt - 1));
      const after = typeof event.retryAfterMs === 'number' ? event.retryAfterMs : 0;
      const wait = Math.max(Math.random() * cap, after);
      const target = ctx.self;
      const turn = context.turn;
      ctx.system.timers.schedule(() => target.tell({ type: 'model.retry', key, turn }), wait);
    },
  };
}
