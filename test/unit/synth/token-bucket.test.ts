import { describe, expect, it } from 'vitest';
import { pacedBatchSize, TokenBucket } from '../../../synth/token-bucket.js';

describe('TokenBucket', () => {
  it('starts empty: the first batch waits its own share of a second', () => {
    const bucket = new TokenBucket(1000, 100, 0);
    expect(bucket.take(100, 0)).toBeCloseTo(100);
  });

  it('a caller that waits as told runs at the target rate, whatever the batch sizes', () => {
    const bucket = new TokenBucket(5000, 500, 0);
    let now = 0;
    let sent = 0;
    const sizes = [500, 7, 300, 1, 499, 250];
    for (let i = 0; i < 6000; i++) {
      const n = sizes[i % sizes.length]!;
      now += bucket.take(n, now);
      sent += n;
    }
    expect(sent / (now / 1000)).toBeCloseTo(5000, -1);
  });

  it('a slow caller is not paced at all, and idle time saves up at most `capacity` tokens', () => {
    const bucket = new TokenBucket(100, 10, 0);
    expect(bucket.take(10, 1_000)).toBe(0);
    // 10 s idle would be 1000 tokens; the cap keeps 10, so 20 more wait for 10 more tokens (100 ms).
    expect(bucket.take(20, 11_000)).toBeCloseTo(100);
  });

  it('refuses a non-positive rate or capacity', () => {
    expect(() => new TokenBucket(0, 1, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(10, 0, 0)).toThrow(RangeError);
  });

  it('paced batches are about 1/50 s of records, between 1 and the maximum', () => {
    expect(pacedBatchSize(10, 2000)).toBe(1);
    expect(pacedBatchSize(50_000, 2000)).toBe(1000);
    expect(pacedBatchSize(1_000_000, 2000)).toBe(2000);
  });
});
