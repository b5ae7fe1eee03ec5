/**
 * The shared client's options (actors/agent/provider/options.ts): each checked when the
 * client is made; a bad one throws InvalidOptionError naming the field.
 */
import { describe, expect, it } from 'vitest';
import { scriptedModel } from '../../../actors/agent/model.ts';
import {
  SHARED_MODEL_DEFAULTS,
  sharedModelSettings,
} from '../../../actors/agent/provider/options.ts';
import { sharedModel } from '../../../actors/agent/provider/shared-model.ts';
import { InvalidOptionError } from '../../../runtime/core/error.ts';

const provider = scriptedModel([{ content: 'ok' }]);

function refusal(options: unknown, p: unknown = provider): InvalidOptionError {
  try {
    sharedModel(p as never, options as never);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidOptionError);
    return e as InvalidOptionError;
  }
  throw new Error('no error');
}

describe('the options of a shared client', () => {
  it('takes the defaults of SHARED_MODEL_DEFAULTS and the provider name', () => {
    const s = sharedModelSettings(provider, undefined);
    expect(s).toMatchObject({
      name: 'scripted',
      maxConcurrent: 64,
      maxQueued: 10_000,
      requestsPerMinute: Infinity,
      tokensPerMinute: Infinity,
      learnLimits: true,
      callTimeoutMs: SHARED_MODEL_DEFAULTS.callTimeoutMs,
      retry: SHARED_MODEL_DEFAULTS.retry,
      breaker: { openAfterFailures: 5, resetMs: SHARED_MODEL_DEFAULTS.breaker.resetMs },
      fallbacks: [],
    });
    expect(sharedModel(provider, { name: 'openai-eu' }).name).toBe('openai-eu');
  });

  it.each([
    [{ maxConcurrent: 0 }, 'options.maxConcurrent'],
    [{ maxConcurrent: 1.5 }, 'options.maxConcurrent'],
    [{ maxConcurrent: Infinity }, 'options.maxConcurrent'],
    [{ maxQueued: -1 }, 'options.maxQueued'],
    [{ requestsPerMinute: 0 }, 'options.requestsPerMinute'],
    [{ tokensPerMinute: -5 }, 'options.tokensPerMinute'],
    [{ tokensPerMinute: '100k' }, 'options.tokensPerMinute'],
    [{ learnLimits: 'yes' }, 'options.learnLimits'],
    [{ callTimeoutMs: 0 }, 'options.callTimeoutMs'],
    [{ callTimeoutMs: Infinity }, 'options.callTimeoutMs'],
    [{ maxRetryAfterMs: -1 }, 'options.maxRetryAfterMs'],
    [{ retry: { attempts: 0 } }, 'options.retry.attempts'],
    [{ retry: { baseMs: -1 } }, 'options.retry.baseMs'],
    [{ retry: { baseMs: 1_000, maxMs: 10 } }, 'options.retry.maxMs'],
    [{ retry: { tries: 3 } }, 'options.retry.tries'],
    [{ retry: 3 }, 'options.retry'],
    [{ breaker: { openAfterFailures: 0 } }, 'options.breaker.openAfterFailures'],
    [{ breaker: { resetMs: 0 } }, 'options.breaker.resetMs'],
    [{ fallbacks: {} }, 'options.fallbacks'],
    [{ fallbacks: [{}] }, 'options.fallbacks[0].provider'],
    [{ fallbacks: [{ provider, model: '' }] }, 'options.fallbacks[0].model'],
    [{ clock: { now: () => 0 } }, 'options.clock'],
    [{ random: 0.5 }, 'options.random'],
    [{ limiter: {} }, 'options.limiter'],
    [{ name: '' }, 'options.name'],
    [{ rpm: 60 }, 'options.rpm'],
    ['fast', 'options'],
  ])('refuses %j, naming %s', (options, field) => {
    expect(refusal(options).field).toBe(field);
    expect(refusal(options).code).toBe('ERR_INVALID_OPTION');
  });

  it('refuses a provider without complete()', () => {
    expect(refusal({}, { name: 'x' }).field).toBe('provider');
  });

  it('takes Infinity where a limit may be none', () => {
    expect(() =>
      sharedModel(provider, {
        maxQueued: Infinity,
        breaker: { openAfterFailures: Infinity },
        requestsPerMinute: Infinity,
      }),
    ).not.toThrow();
  });
});
