/**
 * The mock model server as a process: `node bench/mock-model/main.ts --port 8080`. Prints
 * one line, `mock model listening on http://127.0.0.1:<port>`, and serves until SIGINT or
 * SIGTERM. Flags (each an option of server.ts; `MOCK_LATENCY_MS` is read as there):
 *
 *   --port N                 (0: a free port)
 *   --latency-ms N
 *   --mode reply|loop        --repeat-arguments
 *   --tool NAME
 *   --outage-from-ms N --outage-to-ms N     or     --outage-requests N
 *   --rate-limit-requests N  --rate-limit-tokens N  --rate-limit-window-ms N
 *   --bad-request-requests N
 *   --cut-after-chunks N     --cut-requests N
 */
import { parseArgs } from 'node:util';
import type { MockModelOptions } from './options.ts';
import { startMockModel } from './server.ts';

const FLAGS = {
  port: { type: 'string' },
  'latency-ms': { type: 'string' },
  mode: { type: 'string' },
  'repeat-arguments': { type: 'boolean' },
  tool: { type: 'string' },
  'outage-from-ms': { type: 'string' },
  'outage-to-ms': { type: 'string' },
  'outage-requests': { type: 'string' },
  'rate-limit-requests': { type: 'string' },
  'rate-limit-tokens': { type: 'string' },
  'rate-limit-window-ms': { type: 'string' },
  'bad-request-requests': { type: 'string' },
  'cut-after-chunks': { type: 'string' },
  'cut-requests': { type: 'string' },
} as const;

/** The options the flags say; numbers stay unchecked here (resolveOptions names the bad one). */
export function optionsFromArgs(args: string[]): MockModelOptions {
  const { values: v } = parseArgs({ args, options: FLAGS, strict: true });
  const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));
  const options: MockModelOptions = {
    port: num(v.port),
    latencyMs: num(v['latency-ms']),
    mode: v.mode as MockModelOptions['mode'],
    repeatArguments: v['repeat-arguments'],
    toolName: v.tool,
  };
  if (v['outage-requests'] !== undefined) {
    options.outage = { requests: Number(v['outage-requests']) };
  } else if (v['outage-from-ms'] !== undefined || v['outage-to-ms'] !== undefined) {
    options.outage = {
      fromMs: Number(v['outage-from-ms'] ?? 0),
      toMs: Number(v['outage-to-ms'] ?? Infinity),
    };
  }
  if (v['rate-limit-requests'] ?? v['rate-limit-tokens']) {
    options.rateLimit = {
      requests: num(v['rate-limit-requests']),
      tokens: num(v['rate-limit-tokens']),
      windowMs: num(v['rate-limit-window-ms']),
    };
  }
  if (v['bad-request-requests'] !== undefined) {
    options.badRequest = { requests: Number(v['bad-request-requests']) };
  }
  if (v['cut-after-chunks'] !== undefined) {
    options.streamCut = {
      afterChunks: Number(v['cut-after-chunks']),
      requests: num(v['cut-requests']),
    };
  }
  // undefined fields fall back to the defaults
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

async function main(): Promise<void> {
  const server = await startMockModel(optionsFromArgs(process.argv.slice(2)));
  process.stdout.write(`mock model listening on ${server.url}\n`);
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`mock model: close failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    process.stderr.write(`mock model: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
