/**
 * Server-sent events out of a ServerResponse, with the mock's stream cut: after
 * `cutAfterChunks` events the socket is ended and destroyed (no terminating chunk, no `[DONE]`), which
 * a client sees as a connection lost mid-reply. `0` cuts right after the headers.
 */
import type { ServerResponse } from 'node:http';

export class SseWriter {
  readonly #res: ServerResponse;
  readonly #cutAfter: number;
  #sent = 0;
  #cut = false;

  constructor(res: ServerResponse, headers: Record<string, string>, cutAfterChunks = Infinity) {
    this.#res = res;
    this.#cutAfter = cutAfterChunks;
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();
    if (cutAfterChunks === 0) this.#destroy();
  }

  /** Whether the stream was cut (every later send is dropped). */
  get cut(): boolean {
    return this.#cut;
  }

  /** One event: `event: <name>` when named, then `data: <JSON or raw text>`. */
  send(data: unknown, event?: string): void {
    if (this.#cut || this.#res.destroyed) return;
    const payload = typeof data === 'string' ? data : JSON.stringify(data);
    this.#res.write(`${event === undefined ? '' : `event: ${event}\n`}data: ${payload}\n\n`);
    this.#sent += 1;
    if (this.#sent >= this.#cutAfter) this.#destroy();
  }

  end(): void {
    if (!this.#cut && !this.#res.destroyed) this.#res.end();
  }

  #destroy(): void {
    this.#cut = true;
    // end() first: the events written so far reach the client before the connection drops
    const socket = this.#res.socket;
    socket?.end(() => socket.destroy());
  }
}
