/**
 * The mock's token estimate: one token per 4 characters, rounded up. Deterministic and cheap;
 * the prompt count is taken over the serialised system text, messages and tool schemas, so
 * offering tools costs prompt tokens as it does with a real model.
 */

export const CHARS_PER_TOKEN = 4;

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}
