/**
 * The mock model server (bench/mock-model) on a real loopback socket, driven by the official
 * openai SDK where one exists and by fetch for Anthropic's /v1/messages. Windows of time
 * (outage, rate limit) run on a simulated clock; the only real waits are a few ms of latency.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { optionsFromArgs } from '../../bench/mock-model/main.ts';
import type { MockModelOptions } from '../../bench/mock-model/options.ts';
import { argumentsFor } from '../../bench/mock-model/schema-arguments.ts';
import { SERVER_TIMEOUTS, startMockModel, type MockModel } from '../../bench/mock-model/server.ts';
import type { MockModelStats } from '../../bench/mock-model/stats.ts';

const servers: MockModel[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(options: MockModelOptions = {}) {
  const model = await startMockModel({ env: {}, ...options });
  servers.push(model);
  const client = new OpenAI({ baseURL: `${model.url}/v1`, apiKey: 'dummy', maxRetries: 0 });
  return { model, client };
}

function simulatedClock() {
  return {
    t: 0,
    now(): number {
      return this.t;
    },
  };
}

const searchTool = {
  type: 'function' as const,
  function: {
    name: 'search',
    description: 'search the index',
    parameters: {
      type: 'object',
      properties: {
        query: { type: 'string' },
        limit: { type: 'integer', minimum: 1, maximum: 10 },
        exact: { type: 'boolean' },
        sort: { enum: ['relevance', 'date'] },
      },
      required: ['query'],
    },
  },
};
const otherTool = {
  type: 'function' as const,
  function: {
    name: 'lookup',
    parameters: { type: 'object', properties: { id: { type: 'integer' } } },
  },
};
const ask = { role: 'user' as const, content: 'find the actor papers' };
const toolTurn = [
  ask,
  {
    role: 'assistant' as const,
    content: null,
    tool_calls: [
      { id: 'call_1', type: 'function' as const, function: { name: 'search', arguments: '{}' } },
    ],
  },
  { role: 'tool' as const, tool_call_id: 'call_1', content: '42 results about actors' },
];

async function post(
  model: MockModel,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(model.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { res, body: (await res.json()) as any };
}

/** The named SSE events of a response body, parsed. */
async function sseEvents(res: Response): Promise<{ event: string | undefined; data: any }[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)![1]!;
      return { event, data: data === '[DONE]' ? data : JSON.parse(data) };
    });
}

describe('chat completions', () => {
  it('calls the first offered tool with arguments built from its schema', async () => {
    const { client } = await serve();
    const reply = await client.chat.completions.create({
      model: 'm',
      messages: [ask],
      tools: [searchTool, otherTool],
    });
    const choice = reply.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    const call = choice.message.tool_calls![0]!;
    expect(call.type === 'function' && call.function.name).toBe('search');
    const args = call.type === 'function' ? JSON.parse(call.function.arguments) : undefined;
    expect(args).toEqual({ query: 'query-0', limit: 1, exact: true, sort: 'relevance' });
    expect(reply.usage!.total_tokens).toBe(
      reply.usage!.prompt_tokens + reply.usage!.completion_tokens,
    );
    expect(reply.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('answers text about the tool result once one came back', async () => {
    const { client } = await serve();
    const reply = await client.chat.completions.create({
      model: 'm',
      messages: toolTurn,
      tools: [searchTool],
    });
    expect(reply.choices[0]!.finish_reason).toBe('stop');
    expect(reply.choices[0]!.message.content).toBe('done: 42 results about actors');
  });

  it('calls the tool again after a new user turn', async () => {
    const { client } = await serve();
    const messages = [...toolTurn, { role: 'assistant' as const, content: 'done' }, ask];
    const reply = await client.chat.completions.create({
      model: 'm',
      messages,
      tools: [searchTool],
    });
    expect(reply.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('answers text derived from the last user message when no tool is offered', async () => {
    const { client } = await serve();
    const reply = await client.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello  there' },
      ],
    });
    expect(reply.choices[0]!.message.content).toBe('mock reply: hello there');
  });

  it('calls the tool an x-mock-tool header or options.toolName names', async () => {
    const { client } = await serve({ toolName: 'lookup' });
    const byOption = await client.chat.completions.create({
      model: 'm',
      messages: [ask],
      tools: [searchTool, otherTool],
    });
    const call = byOption.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ id: 0 });
    const byHeader = await client.chat.completions.create(
      { model: 'm', messages: [ask], tools: [searchTool, otherTool] },
      { headers: { 'x-mock-tool': 'search' } },
    );
    const named = byHeader.choices[0]!.message.tool_calls![0]!;
    expect(named.type === 'function' && named.function.name).toBe('search');
  });

  it('refuses with 400 a named tool that the request does not offer', async () => {
    const { client } = await serve({ toolName: 'missing' });
    const error = await client.chat.completions
      .create({ model: 'm', messages: [ask], tools: [searchTool] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('tools');
  });

  it('answers text when tool_choice is none', async () => {
    const { client } = await serve();
    const reply = await client.chat.completions.create({
      model: 'm',
      messages: [ask],
      tools: [searchTool],
      tool_choice: 'none',
    });
    expect(reply.choices[0]!.message.content).toBe('mock reply: find the actor papers');
  });

  it('counts the tool schemas in the prompt tokens', async () => {
    const { client } = await serve();
    const without = await client.chat.completions.create({ model: 'm', messages: [ask] });
    const withTools = await client.chat.completions.create({
      model: 'm',
      messages: [ask],
      tools: [searchTool],
    });
    expect(without.usage!.prompt_tokens).toBe(Math.ceil(JSON.stringify([[ask], null]).length / 4));
    expect(withTools.usage!.prompt_tokens).toBe(
      Math.ceil(JSON.stringify([[ask], [searchTool]]).length / 4),
    );
  });

  it('streams text in chunks, a usage chunk with include_usage, then [DONE]', async () => {
    const { client, model } = await serve();
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'tell me about the actor model, at length' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('mock reply: tell me about the actor model, at length');
    expect(chunks.length).toBeGreaterThan(4);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.total_tokens).toBe(
      last.usage!.prompt_tokens + last.usage!.completion_tokens,
    );
    const raw = await fetch(`${model.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ messages: [ask], stream: true }),
    });
    expect(raw.headers.get('content-type')).toBe('text/event-stream');
    const events = await sseEvents(raw);
    expect(events.at(-1)!.data).toBe('[DONE]');
    expect(events.some((e) => e.data !== '[DONE]' && 'usage' in e.data)).toBe(false);
  });

  it('streams a tool call whose argument deltas join to the arguments', async () => {
    const { client } = await serve();
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: [ask],
      tools: [searchTool],
      stream: true,
    });
    let args = '';
    let name = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0]!;
      const call = choice.delta.tool_calls?.[0];
      name += call?.function?.name ?? '';
      args += call?.function?.arguments ?? '';
      finish = choice.finish_reason ?? finish;
    }
    expect(name).toBe('search');
    expect(JSON.parse(args)).toEqual({
      query: 'query-0',
      limit: 1,
      exact: true,
      sort: 'relevance',
    });
    expect(finish).toBe('tool_calls');
  });
});

describe('the responses API', () => {
  const tools = [
    {
      type: 'function' as const,
      name: 'search',
      parameters: searchTool.function.parameters,
      strict: false,
    },
  ];

  it('answers a function_call item, then a message after the function_call_output', async () => {
    const { client } = await serve();
    const first = await client.responses.create({ model: 'm', input: 'find papers', tools });
    const call = first.output[0]!;
    expect(call.type).toBe('function_call');
    if (call.type !== 'function_call') return;
    expect(call.name).toBe('search');
    expect(JSON.parse(call.arguments)).toMatchObject({ query: 'query-0' });
    expect(first.usage!.total_tokens).toBe(first.usage!.input_tokens + first.usage!.output_tokens);
    const second = await client.responses.create({
      model: 'm',
      tools,
      input: [
        { role: 'user', content: 'find papers' },
        {
          type: 'function_call',
          call_id: call.call_id,
          name: call.name,
          arguments: call.arguments,
        },
        { type: 'function_call_output', call_id: call.call_id, output: 'three papers' },
      ],
    });
    expect(second.output[0]!.type).toBe('message');
    expect(second.output_text).toBe('done: three papers');
  });

  it('streams response.created, output_text deltas and response.completed with usage', async () => {
    const { client } = await serve();
    const stream = await client.responses.create({
      model: 'm',
      input: 'a question long enough for two deltas',
      stream: true,
    });
    const events = [];
    for await (const event of stream) events.push(event);
    const types = events.map((e) => e.type);
    expect(types.slice(0, 3)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
    ]);
    const deltas = events.flatMap((e) =>
      e.type === 'response.output_text.delta' ? [e.delta] : [],
    );
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe('mock reply: a question long enough for two deltas');
    const last = events.at(-1)!;
    expect(last.type).toBe('response.completed');
    if (last.type === 'response.completed')
      expect(last.response.usage!.output_tokens).toBeGreaterThan(0);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  });

  it('streams a function call as argument deltas', async () => {
    const { client } = await serve();
    const stream = await client.responses.create({
      model: 'm',
      input: 'find',
      tools,
      stream: true,
    });
    let done: any;
    for await (const event of stream) {
      if (event.type === 'response.function_call_arguments.done') done = event;
    }
    expect(JSON.parse(done.arguments)).toMatchObject({ query: 'query-0' });
  });
});

describe('anthropic messages', () => {
  const tools = [
    { name: 'search', description: 'search', input_schema: searchTool.function.parameters },
  ];

  it('answers a tool_use block, then text after the tool_result', async () => {
    const { model } = await serve();
    const messages: unknown[] = [{ role: 'user', content: 'find papers' }];
    const first = await post(model, '/v1/messages', {
      model: 'claude',
      max_tokens: 100,
      messages,
      tools,
    });
    expect(first.body.stop_reason).toBe('tool_use');
    const use = first.body.content[0];
    expect(use).toMatchObject({ type: 'tool_use', name: 'search', input: { query: 'query-0' } });
    expect(first.body.usage.input_tokens).toBeGreaterThan(0);
    expect(first.body.usage.output_tokens).toBeGreaterThan(0);
    messages.push(
      { role: 'assistant', content: [use] },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: use.id, content: 'seven papers' }],
      },
    );
    const second = await post(model, '/v1/messages', {
      model: 'claude',
      max_tokens: 100,
      messages,
      tools,
    });
    expect(second.body).toMatchObject({
      stop_reason: 'end_turn',
      content: [{ type: 'text', text: 'done: seven papers' }],
    });
  });

  it('streams message_start, deltas that join to the input, message_stop', async () => {
    const { model } = await serve();
    const res = await fetch(`${model.url}/v1/messages`, {
      method: 'POST',
      body: JSON.stringify({ messages: [{ role: 'user', content: 'find' }], tools, stream: true }),
    });
    const events = await sseEvents(res);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('message_start');
    expect(names.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(events.every((e) => e.event === e.data.type)).toBe(true);
    const json = events
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => e.data.delta.partial_json)
      .join('');
    expect(JSON.parse(json)).toMatchObject({ query: 'query-0' });
    expect(events.at(-2)!.data.delta.stop_reason).toBe('tool_use');
  });

  it('answers a malformed request with an anthropic-shaped 400', async () => {
    const { model } = await serve();
    const { res, body } = await post(model, '/v1/messages', { model: 'claude' });
    expect(res.status).toBe(400);
    expect(body).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', param: 'messages' },
    });
  });
});

describe('embeddings', () => {
  const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let dot = 0;
    for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
    return dot;
  };

  it('gives the same unit vector for the same text, closer for shared words', async () => {
    const { client } = await serve();
    const reply = await client.embeddings.create({
      model: 'e',
      input: ['the actor model', 'the actor model', 'actor systems', 'banana bread recipe'],
    });
    const [a, same, near, far] = reply.data.map((d) => Array.from(d.embedding));
    expect(a!.length).toBe(1536);
    expect(cosine(a!, a!)).toBeCloseTo(1, 5);
    expect(same).toEqual(a);
    expect(cosine(a!, near!)).toBeGreaterThan(cosine(a!, far!));
    expect(reply.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('honours dimensions, and floats match the base64 the SDK decodes', async () => {
    const { client } = await serve();
    const decoded = await client.embeddings.create({
      model: 'e',
      input: 'hello world',
      dimensions: 64,
    });
    const floats = await client.embeddings.create({
      model: 'e',
      input: 'hello world',
      dimensions: 64,
      encoding_format: 'float',
    });
    expect(floats.data[0]!.embedding.length).toBe(64);
    expect(Array.from(decoded.data[0]!.embedding)).toEqual(floats.data[0]!.embedding);
  });

  it('refuses dimensions out of range with a 400 naming the field', async () => {
    const { client } = await serve();
    const error = await client.embeddings
      .create({ model: 'e', input: 'x', dimensions: 0 })
      .catch((e: unknown) => e);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('dimensions');
  });
});

describe('arguments from a schema', () => {
  const schema = {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 12 },
      code: { type: 'string', maxLength: 2 },
      count: { type: 'integer', minimum: 5, maximum: 7 },
      ratio: { type: 'number' },
      flag: { type: 'boolean' },
      kind: { type: 'string', enum: ['a', 'b', 'c'] },
      fixed: { const: 'k' },
      when: { type: 'string', format: 'date-time' },
      tags: { type: 'array', items: { type: 'string' }, minItems: 2 },
      nested: {
        type: 'object',
        properties: { deep: { type: 'object', properties: { n: { type: 'integer' } } } },
      },
      maybe: { anyOf: [{ type: 'null' }, { type: 'integer' }] },
      either: { type: ['null', 'boolean'] },
      ref: { $ref: '#/$defs/point' },
    },
    required: ['name', 'undescribed'],
    $defs: { point: { type: 'object', properties: { x: { type: 'number' } }, required: ['x'] } },
  };

  it('fills every field by its type, bounds and format', () => {
    expect(argumentsFor(schema, 0)).toEqual({
      name: 'name-0xxxxxx',
      code: '0',
      count: 5,
      ratio: 0,
      flag: true,
      kind: 'a',
      fixed: 'k',
      when: '2026-01-01T00:00:00.000Z',
      tags: ['tags-0', 'tags-1'],
      nested: { deep: { n: 0 } },
      maybe: 0,
      either: true,
      ref: { x: 0 },
      undescribed: 'undescribed-0',
    });
  });

  it('varies with the variant and wraps numbers into their bounds', () => {
    const args = argumentsFor(schema, 4) as Record<string, unknown>;
    expect(args).toMatchObject({ name: 'name-4xxxxxx', count: 6, flag: true, kind: 'b', ratio: 4 });
    expect(argumentsFor(schema, 4)).toEqual(args);
  });

  it('gives {} for a tool without parameters and stops a recursive $ref', () => {
    expect(argumentsFor({}, 0)).toEqual({});
    const tree = {
      $ref: '#/$defs/node',
      $defs: { node: { type: 'object', properties: { child: { $ref: '#/$defs/node' } } } },
    };
    expect(JSON.stringify(argumentsFor(tree, 0))).toMatch(/null/);
  });
});

describe('loop mode', () => {
  const loopArgs = async (client: OpenAI, headers: Record<string, string>) => {
    const reply = await client.chat.completions.create(
      { model: 'm', messages: toolTurn, tools: [searchTool] },
      { headers },
    );
    const call = reply.choices[0]!.message.tool_calls?.[0];
    return call?.type === 'function' ? call.function.arguments : undefined;
  };

  it('calls the tool even after a tool result, with arguments that vary per call', async () => {
    const { client } = await serve();
    const first = await loopArgs(client, { 'x-mock-mode': 'loop' });
    const second = await loopArgs(client, { 'x-mock-mode': 'loop' });
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(first).not.toBe(second);
  });

  it('repeats the arguments with x-mock-repeat: 1 or options.repeatArguments', async () => {
    const { client } = await serve({ mode: 'loop', repeatArguments: true });
    const byOption = [await loopArgs(client, {}), await loopArgs(client, {})];
    expect(byOption[0]).toBeDefined();
    expect(byOption[1]).toBe(byOption[0]);
    const loose = await serve({ mode: 'loop' });
    const byHeader = [
      await loopArgs(loose.client, { 'x-mock-repeat': '1' }),
      await loopArgs(loose.client, { 'x-mock-repeat': '1' }),
    ];
    expect(byHeader[1]).toBe(byHeader[0]);
  });
});

describe('latency', () => {
  const timed = async (client: OpenAI, headers: Record<string, string> = {}) => {
    const start = performance.now();
    await client.chat.completions.create({ model: 'm', messages: [ask] }, { headers });
    return performance.now() - start;
  };

  it('waits the x-mock-latency-ms header, the option or MOCK_LATENCY_MS before replying', async () => {
    expect(
      await timed((await serve()).client, { 'x-mock-latency-ms': '25' }),
    ).toBeGreaterThanOrEqual(24);
    expect(await timed((await serve({ latencyMs: 25 })).client)).toBeGreaterThanOrEqual(24);
    expect(
      await timed((await serve({ env: { MOCK_LATENCY_MS: '25' } })).client),
    ).toBeGreaterThanOrEqual(24);
  });

  it('lets the header win over the option', async () => {
    const { client } = await serve({ latencyMs: 60_000 });
    expect(await timed(client, { 'x-mock-latency-ms': '0' })).toBeLessThan(5_000);
  });
});

describe('keep-alive', () => {
  it("holds an idle kept-alive socket past Node's 5 s default, headersTimeout above it", async () => {
    const { model } = await serve();
    expect(model.timeouts).toEqual(SERVER_TIMEOUTS);
    expect(model.timeouts.keepAliveTimeoutMs).toBeGreaterThan(5_000);
    expect(model.timeouts.headersTimeoutMs).toBeGreaterThan(model.timeouts.keepAliveTimeoutMs);
    expect(model.timeouts.requestTimeoutMs).toBeGreaterThan(model.timeouts.headersTimeoutMs);
  });

  it('serves a second request on the kept-alive socket of the first', async () => {
    const { model } = await serve();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<boolean>((resolve, reject) => {
        const req = request(`${model.url}/stats`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(req.reusedSocket));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await get()).toBe(false);
      expect(await get()).toBe(true);
    } finally {
      agent.destroy();
    }
  });
});

describe('faults', () => {
  const chat = (client: OpenAI, headers: Record<string, string> = {}) =>
    client.chat.completions.create({ model: 'm', messages: [ask] }, { headers }).withResponse();
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
    );

  it('answers 429 with Retry-After and x-ratelimit headers past the request limit, until the window rolls', async () => {
    const clock = simulatedClock();
    const { client, model } = await serve({ clock, rateLimit: { requests: 2, windowMs: 60_000 } });
    const first = await chat(client);
    expect(first.response.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(first.response.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    await chat(client);
    clock.t = 30_000;
    const error = await failure(chat(client));
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error!.headers!.get('retry-after')).toBe('30');
    expect(error!.headers!.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(error!.headers!.get('x-ratelimit-reset-requests')).toBe('30s');
    expect(error!.code).toBe('rate_limit_exceeded');
    clock.t = 59_999;
    expect(await failure(chat(client))).toBeInstanceOf(OpenAI.RateLimitError);
    clock.t = 60_000;
    expect(await failure(chat(client))).toBeUndefined();
    expect(model.stats().faults.rateLimit).toBe(2);
  });

  it('answers 429 of type tokens past the token limit', async () => {
    const { client } = await serve({ clock: simulatedClock(), rateLimit: { tokens: 30 } });
    const first = await chat(client);
    expect(Number(first.response.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(30);
    const error = await failure(chat(client));
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error!.type).toBe('tokens');
    expect(error!.headers!.get('x-ratelimit-limit-tokens')).toBe('30');
  });

  it('answers 429 when x-mock-fault: rate-limit asks', async () => {
    const { client } = await serve({ clock: simulatedClock() });
    const error = await failure(chat(client, { 'x-mock-fault': 'rate-limit' }));
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error!.headers!.get('retry-after')).toBe('1');
    expect(error!.headers!.get('x-ratelimit-remaining-requests')).toBe('0');
  });

  it('answers 503 from outage.fromMs up to outage.toMs after start', async () => {
    const clock = simulatedClock();
    const { client, model } = await serve({ clock, outage: { fromMs: 1_000, toMs: 2_000 } });
    const at = async (t: number) => {
      clock.t = t;
      return (await failure(chat(client)))?.status;
    };
    expect([await at(999), await at(1_000), await at(1_999), await at(2_000)]).toEqual([
      undefined,
      503,
      503,
      undefined,
    ]);
    model.reset();
    expect(await at(2_500)).toBe(undefined);
    expect(await at(3_000)).toBe(503);
  });

  it('answers 503 to the first outage.requests requests and when x-mock-fault: outage asks', async () => {
    const { client, model } = await serve({ outage: { requests: 2 } });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await failure(chat(client)))?.status);
    expect(statuses).toEqual([503, 503, undefined]);
    expect((await failure(chat(client, { 'x-mock-fault': 'outage' })))?.status).toBe(503);
    expect(model.stats().faults.outage).toBe(3);
  });

  it('answers a non-retryable 400 with an OpenAI-shaped error body', async () => {
    const { client, model } = await serve({ badRequest: { requests: 1 } });
    const error = await failure(chat(client));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error!.code).toBe('mock_bad_request');
    expect(error!.type).toBe('invalid_request_error');
    expect(await failure(chat(client))).toBeUndefined();
    expect((await failure(chat(client, { 'x-mock-fault': 'bad-request' })))?.status).toBe(400);
    const raw = await post(
      model,
      '/v1/chat/completions',
      { messages: [ask] },
      { 'x-mock-fault': 'bad-request' },
    );
    expect(raw.body).toEqual({
      error: {
        message: expect.any(String),
        type: 'invalid_request_error',
        param: null,
        code: 'mock_bad_request',
      },
    });
  });

  it('cuts a stream after streamCut.afterChunks chunks, which the SDK sees as an error', async () => {
    const { client, model } = await serve({ streamCut: { afterChunks: 2, requests: 1 } });
    const request = {
      model: 'm',
      messages: [{ role: 'user' as const, content: 'a reply with several chunks in it' }],
      stream: true as const,
    };
    const received: unknown[] = [];
    const consume = async () => {
      for await (const chunk of await client.chat.completions.create(request)) received.push(chunk);
    };
    await expect(consume()).rejects.toThrow();
    expect(received.length).toBe(2);
    received.length = 0;
    await consume();
    expect(received.length).toBeGreaterThan(2);
    expect(model.stats().faults.streamCut).toBe(1);
  });

  it('cuts a responses stream where x-mock-cut-after-chunks says', async () => {
    const { client } = await serve();
    const events: string[] = [];
    const consume = async () => {
      const stream = await client.responses.create(
        { model: 'm', input: 'hi', stream: true },
        { headers: { 'x-mock-cut-after-chunks': '1' } },
      );
      for await (const event of stream) events.push(event.type);
    };
    await expect(consume()).rejects.toThrow();
    expect(events).toEqual(['response.created']);
  });
});

describe('bad input', () => {
  it('answers non-JSON, a missing field and a bad header with a 400 naming it, and keeps serving', async () => {
    const { model, client } = await serve();
    const notJson = await post(model, '/v1/chat/completions', '{nope');
    expect(notJson.res.status).toBe(400);
    expect(notJson.body.error).toMatchObject({
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_request',
    });
    expect((await post(model, '/v1/chat/completions', { model: 'm' })).body.error.param).toBe(
      'messages',
    );
    expect((await post(model, '/v1/chat/completions', { messages: [42] })).body.error.param).toBe(
      'messages[0].role',
    );
    expect((await post(model, '/v1/responses', {})).body.error.param).toBe('input');
    expect((await post(model, '/v1/chat/completions', [1])).res.status).toBe(400);
    const header = await post(
      model,
      '/v1/chat/completions',
      { messages: [ask] },
      { 'x-mock-latency-ms': 'soon' },
    );
    expect(header.body.error.param).toBe('x-mock-latency-ms');
    expect((await post(model, '/v1/nothing', {})).res.status).toBe(404);
    expect(model.stats().faults.invalidRequest).toBe(6);
    expect(
      (await client.chat.completions.create({ model: 'm', messages: [ask] })).choices,
    ).toHaveLength(1);
  });

  it('answers 413 to a body over maxBodyBytes', async () => {
    const { model } = await serve({ maxBodyBytes: 100 });
    const { res, body } = await post(model, '/v1/chat/completions', {
      messages: [{ role: 'user', content: 'x'.repeat(200) }],
    });
    expect(res.status).toBe(413);
    expect(body.error.code).toBe('request_too_large');
  });
});

describe('stats', () => {
  it('counts calls per endpoint, tokens and replies; POST /stats/reset empties them', async () => {
    const { client, model } = await serve();
    const a = await client.chat.completions.create({
      model: 'm',
      messages: [ask],
      tools: [searchTool],
    });
    const b = await client.responses.create({ model: 'm', input: 'hi' });
    const c = await client.embeddings.create({ model: 'e', input: 'hi there' });
    const d = await post(model, '/v1/messages', { messages: [{ role: 'user', content: 'hi' }] });
    const stats = (await (await fetch(`${model.url}/stats`)).json()) as MockModelStats;
    expect(stats).toEqual(model.stats());
    expect(stats.calls).toEqual({ chatCompletions: 1, responses: 1, messages: 1, embeddings: 1 });
    expect(stats).toMatchObject({ toolCalls: 1, textReplies: 2 });
    expect(stats.promptTokens).toBe(
      a.usage!.prompt_tokens +
        b.usage!.input_tokens +
        c.usage.prompt_tokens +
        d.body.usage.input_tokens,
    );
    expect(stats.completionTokens).toBe(
      a.usage!.completion_tokens + b.usage!.output_tokens + d.body.usage.output_tokens,
    );
    expect(stats.totalTokens).toBe(stats.promptTokens + stats.completionTokens);
    const reset = await post(model, '/stats/reset', {});
    expect(reset.body.calls.chatCompletions).toBe(0);
    expect(model.stats().totalTokens).toBe(0);
    expect((await client.chat.completions.create({ model: 'm', messages: [ask] })).id).toBe(
      'chatcmpl-1',
    );
  });
});

describe('the server', () => {
  it('listens on 127.0.0.1 on a free port by default', async () => {
    const { model } = await serve();
    expect(model.url).toBe(`http://127.0.0.1:${model.port}`);
    expect(model.port).toBeGreaterThan(0);
  });

  it('rejects a bad option, naming it', async () => {
    await expect(startMockModel({ port: -1 })).rejects.toMatchObject({
      code: 'ERR_MOCK_MODEL_OPTION',
      option: 'port',
    });
    await expect(startMockModel({ outage: { fromMs: 5, toMs: 1 } })).rejects.toMatchObject({
      option: 'outage.toMs',
    });
    await expect(startMockModel({ env: { MOCK_LATENCY_MS: 'x' } })).rejects.toMatchObject({
      option: 'env.MOCK_LATENCY_MS',
    });
  });

  it('reads its options from the CLI flags', () => {
    expect(
      optionsFromArgs([
        '--port',
        '9',
        '--mode',
        'loop',
        '--outage-from-ms',
        '10',
        '--outage-to-ms',
        '20',
        '--rate-limit-requests',
        '5',
        '--cut-after-chunks',
        '3',
      ]),
    ).toEqual({
      port: 9,
      mode: 'loop',
      outage: { fromMs: 10, toMs: 20 },
      rateLimit: { requests: 5 },
      streamCut: { afterChunks: 3 },
    });
  });

  it('reads an outage with no end from the CLI as one to Infinity', async () => {
    const options = optionsFromArgs(['--outage-from-ms', '0']);
    expect(options.outage).toEqual({ fromMs: 0, toMs: Infinity });
    const { client } = await serve(options);
    const error = await client.chat.completions
      .create({ model: 'm', messages: [ask] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
  });

  it('runs as a process that prints its URL and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['bench/mock-model/main.ts', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const url = /listening on (\S+)/.exec(line.toString())![1]!;
    const stats = (await (await fetch(`${url}/stats`)).json()) as MockModelStats;
    expect(stats.calls.chatCompletions).toBe(0);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});
