import { describe, expect, it } from 'vitest';
import { forEachChunk, yieldToEventLoop } from '../../../../connector/batch/yield.js';

describe('forEachChunk', () => {
  it('covers the range in chunks, yielding between chunks but not after the last', async () => {
    const calls: string[] = [];
    const covered = await forEachChunk(10, 4, (s, e) => calls.push(`${s}-${e}`), {
      yieldFn: async () => {
        calls.push('yield');
      },
    });
    expect(covered).toBe(10);
    expect(calls).toEqual(['0-4', 'yield', '4-8', 'yield', '8-10']);
  });

  it('does nothing for an empty range', async () => {
    let called = false;
    expect(await forEachChunk(0, 4, () => (called = true))).toBe(0);
    expect(called).toBe(false);
  });

  it('lets timers and I/O callbacks run between chunks', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('immediate'));
    await forEachChunk(3, 1, (s) => order.push(`chunk${s}`));
    expect(order.indexOf('immediate')).toBeGreaterThan(0);
    expect(order.indexOf('immediate')).toBeLessThan(order.length - 1);
  });

  it('stops starting chunks once aborted', async () => {
    const ac = new AbortController();
    const covered = await forEachChunk(
      100,
      10,
      (s) => {
        if (s === 20) ac.abort();
      },
      { signal: ac.signal, yieldFn: async () => {} },
    );
    expect(covered).toBe(30);
  });

  it('refuses a chunk size that is not a positive integer', async () => {
    await expect(forEachChunk(10, 0, () => {})).rejects.toThrow(RangeError);
    await expect(forEachChunk(10, 1.5, () => {})).rejects.toThrow(RangeError);
  });
});

describe('yieldToEventLoop', () => {
  it('resolves after already-queued immediates (a macrotask, not a microtask)', async () => {
    let ran = false;
    setImmediate(() => {
      ran = true;
    });
    await yieldToEventLoop();
    expect(ran).toBe(true);
  });
});
