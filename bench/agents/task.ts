/**
 * The one task every agent implementation runs (bench/agents/): the same instructions, the
 * same tool and the same two-step script, so that what differs between the rows is the
 * framework.
 *
 * The script, decided from the conversation (not from a call count, so an agent of a pool
 * can take task after task): while no tool result follows the latest user message the model
 * calls `TOOL_NAME` with `TOOL_ARGUMENTS`; once one has come back it answers `FINAL_ANSWER`.
 * Two model calls (`STEPS_PER_TASK`) and one tool run per task. In `loop` mode the model
 * always calls the tool (with arguments that change per call), which only a step cap stops:
 * the tests use it to check that each framework's cap is `STEP_CAP` model calls.
 */

/** Model calls a task takes: a tool call, then the answer. */
export const STEPS_PER_TASK = 2;

/**
 * The most model calls one task may make, in every framework (LangGraph's `recursionLimit`,
 * the Agents SDK's `maxTurns`, Mastra's `maxSteps`, the AI SDK's `stepCountIs`, troupe's
 * `modelCalls` budget): each is set to this many model calls.
 */
export const STEP_CAP = 4;

export const INSTRUCTIONS =
  'You are a weather assistant. Look the weather up with the lookup_weather tool, then answer in one sentence.';

export const TOOL_NAME = 'lookup_weather';
export const TOOL_DESCRIPTION = 'Looks up the current weather of a city.';
/** The tool's arguments, as JSON Schema. */
export const TOOL_PARAMETERS = {
  type: 'object' as const,
  properties: { city: { type: 'string' as const, description: 'the city' } },
  required: ['city'],
  additionalProperties: false as const,
};

export interface ToolArguments {
  readonly city: string;
}

/** What the model asks for, in the script's first step. */
export const TOOL_ARGUMENTS: ToolArguments = { city: 'Paris' };
/** What the tool returns (as text, the same in every framework). */
export const TOOL_RESULT = 'sunny, 21 °C';
/** The model's answer once the tool result is in: every run must end with it. */
export const FINAL_ANSWER = 'It is sunny and 21 °C in Paris.';

/** The input of task `i` (distinct per task: troupe answers a repeated task from its memory). */
export function taskInput(i: number): string {
  return `What is the weather in Paris? (task ${i})`;
}

/** `script`: the two steps; `loop`: a tool call at every step (a cap must stop it). */
export type ScriptMode = 'script' | 'loop';

/** What the fake model does next: call the tool (with these arguments), or answer. */
export type Move =
  | { readonly kind: 'call'; readonly arguments: ToolArguments; readonly id: string }
  | { readonly kind: 'answer'; readonly text: string };

/**
 * The script's next move. `afterToolResult`: whether the conversation's last message is a
 * tool result; `call`: how many calls this fake model has made (for distinct call ids and,
 * in `loop` mode, distinct arguments).
 */
export function nextMove(mode: ScriptMode, afterToolResult: boolean, call: number): Move {
  if (mode === 'script' && afterToolResult) return { kind: 'answer', text: FINAL_ANSWER };
  const city = mode === 'loop' ? `Paris ${call}` : TOOL_ARGUMENTS.city;
  return { kind: 'call', arguments: { city }, id: `call_${call}` };
}

/** The tool's body, shared by every implementation; counts its runs in `counter`. */
export function runTool(counter: { toolRuns: number }): string {
  counter.toolRuns++;
  return TOOL_RESULT;
}
