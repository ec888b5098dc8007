import { describe, expect, it } from 'vitest';
import { VigilError } from '../../../core/errors.js';
import { backoffDelay, DEFAULT_RETRY, retry } from '../../../core/retry.js';

describe('backoffDelay', () => {
  it('grows exponentially and stops at the cap', () => {
    const opts = { ...DEFAULT_RETRY, jitter: 0 };
    expect([1, 2, 3, 4].map((a) => backoffDelay(a, opts))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay(30, opts)).toBe(opts.maxDelayMs);
  });

  it('keeps jitter within the configured fraction', () => {
    const opts = { ...DEFAULT_RETRY, jitter: 0.2 };
    expect(backoffDelay(1, opts, () => 0)).toBe(80);
    expect(backoffDelay(1, opts, () => 1)).toBe(120);
  });
});

describe('retry', () => {
  const fast = { initialDelayMs: 1, maxDelayMs: 2 };

  it('retries retriable errors until success', async () => {
    let calls = 0;
    const result = await retry(async () => {
      calls++;
      if (calls < 3) throw new VigilError('BROKER_UNAVAILABLE', 'down');
      return 'ok';
    }, fast);
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('never retries programmer errors or non-retriable codes', async () => {
    let calls = 0;
    await expect(
      retry(async () => {
        calls++;
        throw new TypeError('bug');
      }, fast),
    ).rejects.toThrow(TypeError);
    await expect(
      retry(async () => {
        calls++;
        throw new VigilError('CONFIG_INVALID', 'bad');
      }, fast),
    ).rejects.toThrow('bad');
    expect(calls).toBe(2);
  });

  it('gives up after maxAttempts and rethrows the last error', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new VigilError('PRODUCE_FAILED', `attempt ${calls}`);
        },
        { ...fast, maxAttempts: 4 },
      ),
    ).rejects.toThrow('attempt 4');
  });
});
