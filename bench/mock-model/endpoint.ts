/**
 * What one model endpoint is to the server: a dialect that reads its wire request into the
 * neutral form (request.ts) and writes a decided reply back, whole or as SSE events.
 */
import type { Dialect } from './error-body.ts';
import type { Reply } from './reply.ts';
import type { ModelRequest } from './request.ts';
import type { SseWriter } from './sse.ts';
import type { Usage } from './tokens.ts';

/** Characters of text or arguments per streamed delta. */
export const STREAM_PIECE_CHARS = 16;

export interface ReplyContext {
  /** the server's reply counter: ids are built from it (`chatcmpl-7`, `call_7`) */
  seq: number;
  /** seconds since the epoch */
  created: number;
  usage: Usage;
  request: ModelRequest;
}

export interface ModelEndpoint {
  dialect: Dialect;
  /** throws MockRequestError on a malformed request */
  read(body: unknown): ModelRequest;
  whole(reply: Reply, ctx: ReplyContext): unknown;
  stream(reply: Reply, ctx: ReplyContext, sse: SseWriter): void;
}

/** `text` in pieces of STREAM_PIECE_CHARS; one empty piece for empty text. */
export function pieces(text: string): string[] {
  if (text === '') return [''];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += STREAM_PIECE_CHARS) {
    out.push(text.slice(i, i + STREAM_PIECE_CHARS));
  }
  return out;
}
