/**
 * The ordered fallback list of a shared client (actors/agent/provider/fallback.ts): the
 * next provider is tried when the primary is unavailable, never for a refused request.
 */
import { describe, expect, it } from 'vitest';
import { scriptedModel } from '../../../actors/agent/model.ts';
import { sharedModel } from '../../../actors/agent/provider/shared-model.ts';
import { ModelCallError } from '../../../actors/agent/types.ts';
import { SimulatedClock } from '../../../testing.ts';
import { flush, handProvider, outage, requestOf } from './fake-provider.ts';

describe('the fallback list of a shared client', () => {
  it('sends to the first fallback while the primary breaker is open', async () => {
    const clock = new SimulatedClock();
    const primary = handProvider('primary');
    const backup = scriptedModel([{ content: 'from the backup' }]);
    const model = sharedModel(primary, {
      clock,
      retry: { attempts: 1 },
      breaker: { openAfterFailures: 1 },
      fallbacks: [{ provider: backup, model: 'small-model' }],
    });
    const first = model.complete(requestOf('a'));
    await flush();
    primary.calls[0]!.fail(outage());
    // the failure that opened the breaker falls back too
    await expect(first).resolves.toMatchObject({ content: 'from the backup' });
    expect(model.state().breaker).toBe('open');
    await expect(model.complete(requestOf('b'))).resolves.toMatchObject({
      content: 'from the backup',
    });
    expect(primary.calls).toHaveLength(1);
    expect(backup.calls).toBe(2);
  });

  it('passes the fallback the request with the route model in place of the request model', async () => {
    const models: string[] = [];
    const primary = scriptedModel([{ error: 'down', retryable: true, status: 503 }]);
    const model = sharedModel(primary, {
      clock: new SimulatedClock(),
      retry: { attempts: 1 },
      fallbacks: [
        {
          provider: {
            name: 'b',
            complete: (r) => {
              models.push(r.model);
              return Promise.resolve({
                content: 'b',
                toolCalls: [],
                usage: { inputTokens: 1, outputTokens: 1 },
              });
            },
          },
          model: 'gpt-4o-mini',
        },
      ],
    });
    await model.complete(requestOf('a', { model: 'gpt-4o' }));
    expect(models).toEqual(['gpt-4o-mini']);
  });

  it('tries the fallbacks in order, skipping one that is unavailable too', async () => {
    const clock = new SimulatedClock();
    const down = (status: number) => scriptedModel([{ error: 'down', retryable: true, status }]);
    const third = scriptedModel([{ content: 'third' }]);
    const second = down(502);
    const model = sharedModel(down(503), {
      clock,
      retry: { attempts: 1 },
      fallbacks: [{ provider: second }, { provider: third }],
    });
    await expect(model.complete(requestOf('a'))).resolves.toMatchObject({ content: 'third' });
    expect(second.calls).toBe(1);
  });

  it('falls back on a 404 (the model is not there)', async () => {
    const model = sharedModel(scriptedModel([{ error: 'no such model', status: 404 }]), {
      clock: new SimulatedClock(),
      fallbacks: [{ provider: scriptedModel([{ content: 'other' }]) }],
    });
    await expect(model.complete(requestOf('a'))).resolves.toMatchObject({ content: 'other' });
  });

  it('does not fall back on a request the provider refused (400)', async () => {
    const backup = scriptedModel([{ content: 'never' }]);
    const model = sharedModel(scriptedModel([{ error: 'bad', status: 400 }]), {
      clock: new SimulatedClock(),
      fallbacks: [{ provider: backup }],
    });
    await expect(model.complete(requestOf('a'))).rejects.toMatchObject({ status: 400 });
    expect(backup.calls).toBe(0);
  });

  it("throws the primary's error when every route is unavailable", async () => {
    const model = sharedModel(scriptedModel([{ error: 'down', retryable: true, status: 503 }]), {
      clock: new SimulatedClock(),
      retry: { attempts: 1 },
      fallbacks: [
        { provider: scriptedModel([{ error: 'also down', retryable: true, status: 500 }]) },
      ],
    });
    const e = await model.complete(requestOf('a')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ModelCallError);
    expect(e).toMatchObject({ status: 503, retryable: true });
  });
});
