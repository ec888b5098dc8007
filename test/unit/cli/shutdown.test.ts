import { afterEach, describe, expect, it, vi } from 'vitest';
import { stopWithin } from '../../../cli/shutdown.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('stopWithin (lifecycle.shutdownTimeoutMs)', () => {
  it('gives up on a shutdown that hangs once the deadline passes, not before', async () => {
    vi.useFakeTimers();
    const expired = vi.fn();
    void stopWithin(() => new Promise<void>(() => {}), 25_000, expired);
    await vi.advanceTimersByTimeAsync(24_999);
    expect(expired).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(expired).toHaveBeenCalledTimes(1);
  });

  it('leaves a shutdown that finishes in time alone', async () => {
    vi.useFakeTimers();
    const expired = vi.fn();
    const done = stopWithin(
      () => new Promise<void>((resolve) => setTimeout(resolve, 1_000)),
      25_000,
      expired,
    );
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await done).toBe(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(expired).not.toHaveBeenCalled();
  });

  it('reports a shutdown that failed', async () => {
    expect(
      await stopWithin(
        () => Promise.reject(new Error('close failed')),
        25_000,
        () => {},
      ),
    ).toBe(false);
  });
});
