/**
 * The client SDK's timers run on the clock it is given (protocol/clock.ts): request timeouts
 * and the reconnect backoff are driven by a simulated clock, with no real sleep.
 */
import { describe, expect, it } from 'vitest';
import { TroupeClient, type SocketLike } from '../../protocol/client/client.ts';
import { SimulatedClock } from '../../testing.ts';

/** Sockets that never open, then close when told: what the client sees of a dead gateway. */
function deadGateway() {
  const sockets: SocketLike[] = [];
  const transport = (): SocketLike => {
    const s: SocketLike = {
      binaryType: 'arraybuffer',
      readyState: 0,
      send: () => undefined,
      close: () => undefined,
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    sockets.push(s);
    return s;
  };
  return { sockets, transport };
}

describe('the client on an injected clock', () => {
  it('times a request out and dials again after its backoff, on simulated time', async () => {
    const clock = new SimulatedClock();
    const gw = deadGateway();
    const client = new TroupeClient('ws://127.0.0.1:1/troupe', gw.transport, {
      clock,
      requestTimeoutMs: 1_000,
      reconnect: { initialDelayMs: 100, maxDelayMs: 100, factor: 1 },
    });
    const ping = client.ping().then(
      () => 'answered',
      (e: unknown) => (e as { code?: string }).code,
    );
    await clock.advance(999);
    expect(gw.sockets).toHaveLength(1);
    await clock.advance(1);
    expect(await ping).toBe('timeout');
    // the socket closes: the next dial waits out the backoff (50–100 ms with jitter)
    gw.sockets[0]!.onclose!({ code: 1006, reason: '' });
    await clock.advance(49);
    expect(gw.sockets).toHaveLength(1);
    await clock.advance(51);
    expect(gw.sockets).toHaveLength(2);
    // close waits up to 1 s (this clock's) for the socket to close
    const closed = client.close();
    await clock.advance(1_000);
    await closed;
  });
});
