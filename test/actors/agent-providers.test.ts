import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { createSystem, type ActorSystem } from '../../index.ts';
import { createAgent } from '../../actors/agent/agent.ts';
import type { AgentContext } from '../../actors/agent/context.ts';
import { openAIModel } from '../../actors/agent/openai.ts';
import { mcpTools, type McpTools } from '../../actors/agent/mcp.ts';
import { scriptedModel } from '../../actors/agent/model.ts';
import { defineTool } from '../../actors/agent/tools.ts';
import { ModelCallError } from '../../actors/agent/types.ts';
import { until } from '../support/until.ts';

/**
 * A small OpenAI-compatible server, written from the public chat completions reference:
 * POST /v1/chat/completions, streamed as server-sent events (`data: {chunk}` …
 * `data: [DONE]`), tool calls in deltas (id and name first, arguments in pieces), usage in a
 * last chunk with no choices (stream_options.include_usage).
 */
interface Recorded {
  readonly body: {
    model: string;
    messages: {
      role: string;
      content: string | null;
      tool_call_id?: string;
      tool_calls?: unknown[];
    }[];
    tools?: { type: string; function: { name: string } }[];
    stream?: boolean;
    stream_options?: { include_usage?: boolean };
    max_tokens?: number;
  };
  readonly auth: string | undefined;
}

function chatServer(plan: ((r: Recorded) => { status?: number; chunks?: unknown[] })[]) {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404).end();
        return;
      }
      const r: Recorded = {
        body: JSON.parse(raw) as Recorded['body'],
        auth: req.headers.authorization,
      };
      requests.push(r);
      const step = plan[Math.min(requests.length - 1, plan.length - 1)]!(r);
      if (step.status !== undefined && step.status !== 200) {
        res.writeHead(step.status, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: { message: `status ${step.status}`, type: 'server_error' } }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const c of step.chunks ?? []) res.write(`data: ${JSON.stringify(c)}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  return { server, requests };
}

const chunk = (delta: unknown, finish: string | null = null) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'test-model',
  choices: [{ index: 0, delta, finish_reason: finish }],
});
const usage = (p: number, c: number) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'test-model',
  choices: [],
  usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c },
});

const add = defineTool<{ a: number; b: number }>({
  name: 'add',
  description: 'adds two numbers',
  parameters: {
    type: 'object',
    properties: { a: { type: 'number' }, b: { type: 'number' } },
    required: ['a', 'b'],
  },
  run: ({ a, b }) => a + b,
});

const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});

function watchAgent(system: ActorSystem, ref: Parameters<ActorSystem['subscribe']>[0]) {
  const views: { value: string; context: AgentContext }[] = [];
  system.subscribe(ref, (u) => {
    if (u.type === 'troupe.snapshot') views.push(u.snapshot as never);
  });
  return views;
}

describe('the OpenAI provider, through the official openai SDK', () => {
  it('streams text and tool calls from an OpenAI-compatible server and sends back tool results', async () => {
    const { server, requests } = chatServer([
      () => ({
        chunks: [
          chunk({
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                index: 0,
                id: 'call_abc',
                type: 'function',
                function: { name: 'add', arguments: '' },
              },
            ],
          }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a": 2,' } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: ' "b": 40}' } }] }),
          chunk({}, 'tool_calls'),
          usage(30, 12),
        ],
      }),
      () => ({
        chunks: [
          chunk({ role: 'assistant', content: 'The answer ' }),
          chunk({ content: 'is 42.' }),
          chunk({}, 'stop'),
          usage(50, 6),
        ],
      }),
    ]);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
      const system = createSystem();
      systems.push(system);
      const agent = system.spawn(
        createAgent({
          model: openAIModel({ baseURL, apiKey: 'sk-test' }),
          modelName: 'test-model',
          tools: [add],
          instructions: 'use tools',
          prices: { 'test-model': { inputPerMillion: 1_000_000, outputPerMillion: 2_000_000 } },
        }),
      );
      const views = watchAgent(system, agent);
      const tokens: string[] = [];
      system.subscribeEvents(agent, (e) => {
        if (e.type === 'troupe.event' && (e.event as { type: string }).type === 'token')
          tokens.push((e.event as { text: string }).text);
      });
      agent.tell({ type: 'task', input: 'what is 2 + 40?' });
      await until(() => views.at(-1)?.value === 'done');
      const c = views.at(-1)!.context;
      expect(c.answer).toBe('The answer is 42.');
      expect(tokens).toEqual(['The answer ', 'is 42.']);
      expect(c.spent).toEqual({ tokens: 98, modelCalls: 2, toolCalls: 1, cost: 30 + 24 + 50 + 12 });
      // what the SDK sent
      expect(requests[0]!.auth).toBe('Bearer sk-test');
      expect(requests[0]!.body).toMatchObject({
        model: 'test-model',
        stream: true,
        stream_options: { include_usage: true },
      });
      expect(requests[0]!.body.tools?.map((t) => t.function.name)).toEqual(['add']);
      const second = requests[1]!.body.messages;
      expect(second.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
      expect(second[2]!.tool_calls).toEqual([
        {
          id: 'call_abc',
          type: 'function',
          function: { name: 'add', arguments: '{"a": 2, "b": 40}' },
        },
      ]);
      expect(second[3]).toMatchObject({ role: 'tool', tool_call_id: 'call_abc', content: '42' });
    } finally {
      server.close();
    }
  });

  it('puts together a tool call whose name is repeated in every delta, and one with no index', async () => {
    const { server } = chatServer([
      () => ({
        chunks: [
          chunk({
            role: 'assistant',
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'add', arguments: '{"a":1,' } },
            ],
          }),
          chunk({ tool_calls: [{ index: 0, function: { name: 'add', arguments: '"b":2}' } }] }),
          chunk({}, 'tool_calls'),
        ],
      }),
    ]);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const reply = await openAIModel({
        baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
      }).complete({ model: 'm', messages: [], tools: [], maxOutputTokens: 10 });
      expect(reply.toolCalls).toEqual([{ id: 'c1', name: 'add', arguments: '{"a":1,"b":2}' }]);
    } finally {
      server.close();
    }
  });

  it('retries a 429 and a 500, and fails on a 400 (not retryable)', async () => {
    const { server, requests } = chatServer([
      () => ({ status: 429 }),
      () => ({ status: 500 }),
      () => ({ chunks: [chunk({ role: 'assistant', content: 'ok' }, 'stop'), usage(1, 1)] }),
    ]);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    try {
      const system = createSystem();
      systems.push(system);
      const agent = system.spawn(
        createAgent({ model: openAIModel({ baseURL }), modelName: 'm', retry: { baseMs: 5 } }),
      );
      const views = watchAgent(system, agent);
      agent.tell({ type: 'task', input: 'hi' });
      await until(() => views.at(-1)?.value === 'done');
      expect(requests).toHaveLength(3);
      const model = openAIModel({ baseURL });
      const bad = chatServer([() => ({ status: 400 })]);
      await new Promise<void>((r) => bad.server.listen(0, '127.0.0.1', r));
      try {
        const e = await openAIModel({
          baseURL: `http://127.0.0.1:${(bad.server.address() as AddressInfo).port}/v1`,
        })
          .complete({ model: 'm', messages: [], tools: [], maxOutputTokens: 10 })
          .catch((x: unknown) => x);
        expect(e).toBeInstanceOf(ModelCallError);
        expect((e as ModelCallError).retryable).toBe(false);
        expect((e as ModelCallError).status).toBe(400);
      } finally {
        bad.server.close();
      }
      void model;
    } finally {
      server.close();
    }
  });
});

describe('MCP tools, through the official MCP SDK', () => {
  let mcp: McpTools;
  beforeAll(async () => {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve('@modelcontextprotocol/server-everything/package.json');
    const entry = new URL('dist/index.js', `file://${pkg.replace(/package\.json$/, '')}`).pathname;
    mcp = await mcpTools(
      { command: process.execPath, args: [entry, 'stdio'] },
      { timeoutMs: 10_000 },
    );
  }, 30_000);
  afterAll(async () => {
    await mcp?.close();
  });

  it('lists the tools of a real MCP server over stdio and calls them from an agent', async () => {
    const names = mcp.tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['echo']));
    const echo = mcp.tools.find((t) => t.name === 'echo')!;
    // the server's input schema validates the model's arguments
    expect(echo.check({})).not.toBeNull();
    expect(echo.check({ message: 'hi' })).toBeNull();
    const system = createSystem();
    systems.push(system);
    const model = scriptedModel([
      { toolCalls: [{ name: 'echo', arguments: { message: 'hello from troupe' } }] },
      (req) => ({ content: req.messages.at(-1)!.content }),
    ]);
    const agent = system.spawn(createAgent({ model, tools: mcp.tools }));
    const views = watchAgent(system, agent);
    agent.tell({ type: 'task', input: 'echo something' });
    await until(() => views.at(-1)?.value === 'done', 10_000);
    expect(views.at(-1)!.context.answer).toContain('hello from troupe');
  });
});
