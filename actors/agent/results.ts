/**
 * What an agent keeps of a value from outside (a tool's result, a thrown error): data, as
 * JSON sees it, never longer than MAX_RESULT_CHARS (the rest is cut, and says so), and text
 * for the model. None of these throws, whatever the value (a getter that throws, a cycle, a
 * BigInt, a `toString` that throws).
 */

/** Longest tool result kept (characters of its JSON): the rest is cut, and says so. */
export const MAX_RESULT_CHARS = 20_000;

/** The value as text (String's), or a placeholder when that throws. */
export function safeString(v: unknown): string {
  try {
    return String(v as string);
  } catch {
    return 'a value that cannot be shown';
  }
}

/** A result as data (JSON's view of it), never larger than MAX_RESULT_CHARS; never throws. */
export function dataOf(v: unknown): unknown {
  if (v === undefined) return null;
  let json: string | undefined;
  try {
    json = JSON.stringify(v);
  } catch {
    return safeString(v).slice(0, MAX_RESULT_CHARS);
  }
  if (json === undefined) return null;
  if (json.length > MAX_RESULT_CHARS)
    return `${json.slice(0, MAX_RESULT_CHARS)}… (cut: ${json.length} characters in all)`;
  return JSON.parse(json) as unknown;
}

/** A result as the text of its tool message. */
export function textOf(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v) ?? 'null';
  } catch {
    return safeString(v);
  }
}
