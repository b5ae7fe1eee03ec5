/** Workers that write what happens to them in a shared log, for supervision tests. */
import { fromReceive, type Behaviour } from '../../index.ts';

export type WorkerMsg = 'crash' | 'exit' | 'ping' | { type: 'get' };

export function worker(
  id: string,
  log: string[],
  options: { hook?: () => void | Promise<void> } = {},
): Behaviour<WorkerMsg, unknown, number> {
  return fromReceive<number, WorkerMsg, unknown>(
    () => {
      log.push(`start:${id}`);
      return 0;
    },
    (n, msg, ctx) => {
      if (msg === 'crash') throw new Error(`${id} crashed`);
      if (msg === 'exit') ctx.stop();
      if (typeof msg === 'object') ctx.reply(n);
      return msg === 'ping' ? n + 1 : n;
    },
    {
      stop: () => {
        log.push(`stop:${id}`);
        return options.hook?.();
      },
    },
  );
}

/** The error `p` rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection, got a value');
}
