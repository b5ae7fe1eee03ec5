/**
 * The AI SDK's in-process fake model (`MockLanguageModelV4`, from `ai/test`), scripted by
 * bench/agents/task.ts: the fake model of both the `ai-sdk` and the `mastra` rows (Mastra
 * runs AI SDK models). It answers `doGenerate` (the AI SDK's `generateText`) and `doStream`
 * (Mastra's loop streams), each move decided from the prompt's last message.
 */
import { MockLanguageModelV4 } from 'ai/test';
import { nextMove, TOOL_NAME, type ScriptMode } from './task.ts';
import type { Counter } from './pool.ts';

type Options = NonNullable<ConstructorParameters<typeof MockLanguageModelV4>[0]>;
type DoGenerate = Extract<NonNullable<Options['doGenerate']>, (...args: never[]) => unknown>;
type CallOptions = Parameters<DoGenerate>[0];

const USAGE = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 10, text: 10, reasoning: undefined },
};

function moveOf(mode: ScriptMode, counter: Counter, options: CallOptions) {
  return nextMove(mode, options.prompt.at(-1)?.role === 'tool', counter.modelCalls++);
}

/** A fake AI SDK model that follows the script; its calls count in `counter`. */
export function aiSdkModel(mode: ScriptMode, counter: Counter): MockLanguageModelV4 {
  return new MockLanguageModelV4({
    provider: 'bench',
    modelId: 'scripted',
    doGenerate: (options) => {
      const move = moveOf(mode, counter, options);
      return Promise.resolve(
        move.kind === 'answer'
          ? {
              content: [{ type: 'text' as const, text: move.text }],
              finishReason: { unified: 'stop' as const, raw: 'stop' },
              usage: USAGE,
              warnings: [],
            }
          : {
              content: [
                {
                  type: 'tool-call' as const,
                  toolCallId: move.id,
                  toolName: TOOL_NAME,
                  input: JSON.stringify(move.arguments),
                },
              ],
              finishReason: { unified: 'tool-calls' as const, raw: 'tool_calls' },
              usage: USAGE,
              warnings: [],
            },
      );
    },
    doStream: (options) => {
      const move = moveOf(mode, counter, options);
      const parts =
        move.kind === 'answer'
          ? [
              { type: 'text-start' as const, id: 't' },
              { type: 'text-delta' as const, id: 't', delta: move.text },
              { type: 'text-end' as const, id: 't' },
            ]
          : [
              {
                type: 'tool-call' as const,
                toolCallId: move.id,
                toolName: TOOL_NAME,
                input: JSON.stringify(move.arguments),
              },
            ];
      const finish = {
        type: 'finish' as const,
        usage: USAGE,
        finishReason:
          move.kind === 'answer'
            ? { unified: 'stop' as const, raw: 'stop' }
            : { unified: 'tool-calls' as const, raw: 'tool_calls' },
      };
      const all = [{ type: 'stream-start' as const, warnings: [] }, ...parts, finish];
      return Promise.resolve({
        stream: new ReadableStream({
          start(controller) {
            for (const p of all) controller.enqueue(p);
            controller.close();
          },
        }),
      });
    },
  });
}
