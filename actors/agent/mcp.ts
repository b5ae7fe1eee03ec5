/**
 * Tools from MCP servers, through the official `@modelcontextprotocol/sdk`:
 *
 *   const fs = await mcpTools({ command: 'npx', args: ['@modelcontextprotocol/server-filesystem', dir] });
 *   createAgent({ model, tools: fs.tools });  …  await fs.close();
 *
 * A server is reached over stdio (`command`, `args`) or streamable HTTP (`url`). Each of its
 * tools becomes a troupe tool (actors/agent/tools.ts): its input schema validates the
 * model's arguments before the call; the result's text parts are joined (other parts are
 * given as JSON); a result marked `isError` is the tool's error. Options set on every tool:
 * `approval`, `scope`, `timeoutMs`, a name `prefix`.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { defineTool, type ApprovalRule, type Tool } from './tools.ts';

export type McpServer =
  | {
      readonly command: string;
      readonly args?: readonly string[];
      readonly env?: Record<string, string>;
    }
  | { readonly url: string };

export interface McpToolOptions {
  readonly prefix?: string;
  readonly approval?: ApprovalRule<any>;
  readonly scope?: string;
  readonly timeoutMs?: number;
}

export interface McpTools {
  readonly tools: readonly Tool[];
  close(): Promise<void>;
}

export async function mcpTools(server: McpServer, options: McpToolOptions = {}): Promise<McpTools> {
  const client = new Client({ name: 'troupe', version: '0.1.0' });
  const transport =
    'url' in server
      ? new StreamableHTTPClientTransport(new URL(server.url))
      : new StdioClientTransport({
          command: server.command,
          args: [...(server.args ?? [])],
          ...(server.env === undefined ? {} : { env: server.env }),
          stderr: 'ignore',
        });
  await client.connect(transport);
  const listed = await client.listTools();
  const tools = listed.tools.map((t) =>
    defineTool({
      name: `${options.prefix ?? ''}${t.name}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64),
      description: t.description ?? t.name,
      parameters: (t.inputSchema ?? { type: 'object' }) as Record<string, unknown>,
      ...(options.approval === undefined ? {} : { approval: options.approval }),
      ...(options.scope === undefined ? {} : { scope: options.scope }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      run: async (args, ctx) => {
        const result = await client.callTool(
          { name: t.name, arguments: args as Record<string, unknown> },
          undefined,
          { signal: ctx.signal },
        );
        const parts = (result.content ?? []) as { type: string; text?: string }[];
        const text = parts
          .map((p) => (p.type === 'text' ? (p.text ?? '') : JSON.stringify(p)))
          .join('\n');
        if (result.isError === true) throw new Error(text === '' ? 'the tool failed' : text);
        return text;
      },
    }),
  );
  return { tools, close: () => client.close() };
}
