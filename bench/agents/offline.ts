/**
 * Keeps the agent benches off the network: every peer's tracing and telemetry off, and any
 * `fetch` to a host that is not loopback refused (with an error that names it), so that a
 * peer that would phone home fails its row instead of sending anything.
 *
 * - LangSmith (LangGraph): its tracing variables are removed from the environment
 *   (`LANGSMITH_TRACING`, `LANGCHAIN_TRACING_V2`…): tracing stays unset.
 * - OpenAI Agents SDK: `setTracingDisabled(true)`, called by bench/agents/openai-agents.ts
 *   when it loads (else it exports traces to OpenAI with OPENAI_API_KEY from the environment).
 * - Mastra: `MASTRA_TELEMETRY_DISABLED=1` (its PostHog usage events); no `Mastra` instance,
 *   so no observability exporter.
 * - AI SDK: no telemetry unless asked (`experimental_telemetry`); its warnings are silenced.
 */
const TRACING_ENV = [
  'LANGSMITH_TRACING',
  'LANGSMITH_TRACING_V2',
  'LANGCHAIN_TRACING',
  'LANGCHAIN_TRACING_V2',
  'LANGSMITH_API_KEY',
  'LANGCHAIN_API_KEY',
  'LANGSMITH_ENDPOINT',
  'LANGCHAIN_ENDPOINT',
];

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** A request to a host that is not loopback, refused by the bench. */
export class OffLoopbackError extends Error {
  readonly code = 'ERR_BENCH_OFF_LOOPBACK';
  readonly url: string;
  constructor(url: string) {
    super(`the agent benches send nothing off loopback: a request to ${url} was refused`);
    this.url = url;
  }
}

let done = false;

/** Turns tracing and telemetry off and guards `fetch` (once per process; before a peer loads). */
export function offline(): void {
  if (done) return;
  done = true;
  for (const name of TRACING_ENV) delete process.env[name];
  process.env.MASTRA_TELEMETRY_DISABLED = '1';
  (globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;
  const fetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!LOOPBACK.has(url.hostname)) return Promise.reject(new OffLoopbackError(url.href));
    return fetch(input, init);
  };
}
