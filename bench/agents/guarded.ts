/**
 * A peer's failure as data: an agent bench's run that throws or takes longer than its
 * bench's timeout becomes a sample with `error` (the harness reports the result with msgs/s
 * 0 and `extra.error`), and the suite goes on. A run that timed out is left to end on its own
 * (there is no way to cancel a framework's run from outside); its pool is closed when it does.
 */
import type { Sample } from '../harness.ts';

/** What a thrown value says, with its class: `GraphRecursionError: Recursion limit…`. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.constructor.name}: ${e.message.split('\n')[0]!}`;
  return String(e);
}

/** `body()`, or a failed sample when it throws or takes longer than `timeoutMs`. */
export async function guarded(timeoutMs: number, body: () => Promise<Sample>): Promise<Sample> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([body(), timeout]);
  } catch (e) {
    return { messages: 0, seconds: (performance.now() - t0) / 1000, error: describeError(e) };
  } finally {
    clearTimeout(timer);
  }
}
