/**
 * The mock model server: an OpenAI- and Anthropic-compatible HTTP endpoint on 127.0.0.1 that
 * answers deterministically (reply.ts), counts what it served (stats.ts) and plays the faults
 * a bench asks for (faults.ts). Node `http` only.
 *
 * | route                        | what                                                   |
 * | ---------------------------- | ------------------------------------------------------ |
 * | `POST /v1/chat/completions`  | OpenAI chat completions (chat-completions.ts)          |
 * | `POST /v1/responses`         | OpenAI Responses API (responses.ts)                    |
 * | `POST /v1/messages`          | Anthropic Messages (messages.ts)                       |
 * | `POST /v1/embeddings`        | deterministic embeddings (embeddings.ts)               |
 * | `GET /stats`                 | MockModelStats as JSON                                 |
 * | `POST /stats/reset`          | `reset()`, answers the emptied stats                   |
 *
 * A request is read whole (at most `maxBodyBytes`, else 413), checked (400 with the
 * dialect's error body, naming the bad field or header), met with a fault or not, then the
 * reply is decided, its tokens counted, the latency waited and the reply written. Nothing a
 * client sends can throw out of the handler: an exception of the mock itself answers 500.
 *
 * `reset()` (and `POST /stats/reset`) returns the server to its just-started state: stats,
 * reply and loop counters, request counts of the faults, the outage window's start and the
 * rate-limit window. `close()` drops open connections and replies still waiting out their
 * latency.
 *
 * Connections are kept alive far longer than Node's defaults (SERVER_TIMEOUTS): a swarm of
 * 10,000 clients leaves sockets idle for seconds between calls, and Node's 5 s
 * `keepAliveTimeout` closed them under the clients ("other side closed"), which made the
 * peers retry (more calls than the script) or fail. The mock never closes an idle kept-alive
 * socket before `keepAliveTimeoutMs`; clients time out on their side.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chatCompletions } from './chat-completions.ts';
import { embeddingsBody, readEmbeddings } from './embeddings.ts';
import type { ModelEndpoint } from './endpoint.ts';
import { errorBody, type Dialect, type ErrorDetail } from './error-body.ts';
import { Faults, type Fault } from './faults.ts';
import { readControlHeaders, type ControlHeaders } from './headers.ts';
import { messages } from './messages.ts';
import { resolveOptions, type MockModelOptions, type ResolvedOptions } from './options.ts';
import { decideReply, replyText } from './reply.ts';
import { MockRequestError } from './request.ts';
import { responses } from './responses.ts';
import { SseWriter } from './sse.ts';
import { addTokens, emptyStats, type Endpoint, type MockModelStats } from './stats.ts';
import { estimateTokens } from './tokens.ts';

export const HOST = '127.0.0.1';
/** pending connections the kernel may queue: a swarm bench opens thousands at once */
export const LISTEN_BACKLOG = 4096;

/**
 * The HTTP server's timeouts, in ms: `keepAliveTimeoutMs` an idle kept-alive socket is held
 * (Node's default 5,000), `headersTimeoutMs` to receive a request's headers (Node requires it
 * above keepAliveTimeout; default 60,000), `requestTimeoutMs` to receive a whole request
 * (default 300,000).
 */
export const SERVER_TIMEOUTS = {
  keepAliveTimeoutMs: 120_000,
  headersTimeoutMs: 121_000,
  requestTimeoutMs: 600_000,
} as const;

export interface MockModel {
  /** `http://127.0.0.1:<port>`; OpenAI clients take `url + '/v1'` as their base URL */
  url: string;
  port: number;
  /** the timeouts the HTTP server was given (SERVER_TIMEOUTS), read back from it */
  timeouts: { keepAliveTimeoutMs: number; headersTimeoutMs: number; requestTimeoutMs: number };
  stats(): MockModelStats;
  reset(): void;
  close(): Promise<void>;
}

const MODEL_ROUTES: Record<string, { endpoint: Endpoint; model?: ModelEndpoint }> = {
  '/v1/chat/completions': { endpoint: 'chatCompletions', model: chatCompletions },
  '/v1/responses': { endpoint: 'responses', model: responses },
  '/v1/messages': { endpoint: 'messages', model: messages },
  '/v1/embeddings': { endpoint: 'embeddings' },
};

const FAULT_ANSWER: Record<Fault['kind'], { status: number; detail: ErrorDetail }> = {
  badRequest: {
    status: 400,
    detail: {
      kind: 'invalid_request',
      code: 'mock_bad_request',
      message: 'the mock model refuses this request (a bad-request fault): do not retry it',
    },
  },
  outage: {
    status: 503,
    detail: {
      kind: 'outage',
      code: 'service_unavailable',
      message: 'the mock model is in an outage window: retry later',
    },
  },
  rateLimit: {
    status: 429,
    detail: {
      kind: 'rate_limit',
      code: 'rate_limit_exceeded',
      message: 'the mock model rate limit was reached: retry after the retry-after header',
    },
  },
};

/** Starts a mock model server; rejects with MockModelOptionError on a bad option. */
export async function startMockModel(options: MockModelOptions = {}): Promise<MockModel> {
  const resolved = resolveOptions(options);
  const state = new ServerState(resolved);
  const server = createServer((req, res) => {
    state.handle(req, res).catch((error: unknown) => state.internalError(res, error));
  });
  server.keepAliveTimeout = SERVER_TIMEOUTS.keepAliveTimeoutMs;
  server.headersTimeout = SERVER_TIMEOUTS.headersTimeoutMs;
  server.requestTimeout = SERVER_TIMEOUTS.requestTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: HOST, port: resolved.port, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${HOST}:${port}`,
    port,
    timeouts: {
      keepAliveTimeoutMs: server.keepAliveTimeout,
      headersTimeoutMs: server.headersTimeout,
      requestTimeoutMs: server.requestTimeout,
    },
    stats: () => structuredClone(state.stats),
    reset: () => state.reset(),
    close: async () => {
      state.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

class ServerState {
  readonly #options: ResolvedOptions;
  readonly #faults: Faults;
  readonly #sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  #closed = false;
  stats: MockModelStats = emptyStats();
  #seq = 0;
  #loopVariant = 0;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#faults = new Faults(options);
  }

  reset(): void {
    this.stats = emptyStats();
    this.#seq = 0;
    this.#loopVariant = 0;
    this.#faults.reset();
  }

  close(): void {
    this.#closed = true;
    for (const sleeper of this.#sleepers) {
      clearTimeout(sleeper.timer);
      sleeper.wake();
    }
    this.#sleepers.clear();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // a client that hangs up mid-reply is not the server's failure
    res.on('error', () => res.destroy());
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && path === '/stats') return json(res, 200, this.stats);
    if (req.method === 'POST' && path === '/stats/reset') {
      this.reset();
      return json(res, 200, this.stats);
    }
    const route = MODEL_ROUTES[path];
    const dialect: Dialect = route?.model?.dialect ?? 'openai';
    if (!route || req.method !== 'POST') {
      this.stats.notFound += 1;
      return this.#error(res, dialect, 404, {
        kind: 'not_found',
        code: 'not_found',
        message: `the mock model serves no ${req.method} ${path}`,
      });
    }
    this.stats.calls[route.endpoint] += 1;
    try {
      const body = await readJson(req, this.#options.maxBodyBytes);
      const control = readControlHeaders(req.headers);
      if (route.model) await this.#model(res, route.model, body, control);
      else await this.#embeddings(res, body, control);
    } catch (error) {
      // a client that hung up while its body was read has nobody to answer
      if (res.destroyed) return;
      if (!(error instanceof MockRequestError)) throw error;
      this.stats.faults.invalidRequest += 1;
      const kind = error.status === 413 ? 'too_large' : 'invalid_request';
      const code = error.status === 413 ? 'request_too_large' : 'invalid_request';
      const detail = { kind, code, message: error.message, param: error.param } as const;
      if (error.status === 413) res.setHeader('connection', 'close');
      this.#error(res, dialect, error.status, detail);
    }
  }

  async #model(
    res: ServerResponse,
    endpoint: ModelEndpoint,
    body: unknown,
    control: ControlHeaders,
  ) {
    const request = endpoint.read(body);
    const promptTokens = estimateTokens(request.promptText);
    const admission = this.#faults.admit(control.fault, promptTokens);
    if (admission.fault)
      return this.#fault(res, endpoint.dialect, admission.fault, admission.headers);
    const reply = decideReply(request, {
      mode: control.mode ?? this.#options.mode,
      repeatArguments: control.repeat ?? this.#options.repeatArguments,
      toolName: control.tool ?? this.#options.toolName,
      nextLoopVariant: () => this.#loopVariant++,
    });
    const completionTokens = estimateTokens(replyText(reply));
    this.#faults.spend(completionTokens);
    addTokens(this.stats, promptTokens, completionTokens);
    if (reply.kind === 'toolCall') this.stats.toolCalls += 1;
    else this.stats.textReplies += 1;
    const ctx = {
      seq: ++this.#seq,
      created: Math.floor(Date.now() / 1000),
      usage: { promptTokens, completionTokens },
      request,
    };
    if (!(await this.#wait(res, control))) return;
    if (!request.stream) return json(res, 200, endpoint.whole(reply, ctx), admission.headers);
    this.stats.streamed += 1;
    const sse = new SseWriter(
      res,
      admission.headers,
      this.#faults.cutAfter(control.cutAfterChunks),
    );
    endpoint.stream(reply, ctx, sse);
    if (sse.cut) this.stats.faults.streamCut += 1;
  }

  async #embeddings(res: ServerResponse, body: unknown, control: ControlHeaders) {
    const request = readEmbeddings(body);
    const admission = this.#faults.admit(control.fault, request.promptTokens);
    if (admission.fault) return this.#fault(res, 'openai', admission.fault, admission.headers);
    addTokens(this.stats, request.promptTokens, 0);
    if (!(await this.#wait(res, control))) return;
    json(res, 200, embeddingsBody(request), admission.headers);
  }

  #fault(res: ServerResponse, dialect: Dialect, fault: Fault, headers: Record<string, string>) {
    const { status, detail } = FAULT_ANSWER[fault.kind];
    this.stats.faults[fault.kind] += 1;
    const limitType = fault.kind === 'rateLimit' ? fault.limitType : undefined;
    this.#error(res, dialect, status, { ...detail, limitType }, headers);
  }

  #error(
    res: ServerResponse,
    dialect: Dialect,
    status: number,
    detail: ErrorDetail,
    headers: Record<string, string> = {},
  ) {
    json(res, status, errorBody(dialect, detail), headers);
  }

  /** Waits the request's latency; false when the client left or the server closed meanwhile. */
  async #wait(res: ServerResponse, control: ControlHeaders): Promise<boolean> {
    const ms = control.latencyMs ?? this.#options.latencyMs;
    if (ms > 0) {
      await new Promise<void>((resolve) => {
        const sleeper = {
          wake: resolve,
          timer: setTimeout(() => {
            this.#sleepers.delete(sleeper);
            resolve();
          }, ms),
        };
        this.#sleepers.add(sleeper);
      });
    }
    return !this.#closed && !res.destroyed;
  }

  internalError(res: ServerResponse, error: unknown): void {
    this.stats.faults.internal += 1;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const message = `the mock model failed: ${error instanceof Error ? error.message : String(error)}`;
    this.#error(res, 'openai', 500, { kind: 'internal', code: 'internal_error', message });
  }
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The body as JSON; MockRequestError (400, or 413 past `maxBytes`) when it is not. */
function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) over = true;
      else chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (over) {
        reject(
          new MockRequestError(
            `the request body is over ${maxBytes} bytes (maxBodyBytes)`,
            null,
            413,
          ),
        );
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        reject(new MockRequestError(`the request body is not JSON: ${why}`, null));
      }
    });
  });
}
