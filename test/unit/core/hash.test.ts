import { describe, expect, it } from 'vitest';
import { fnv1a } from '../../../core/hash.js';

describe('fnv1a', () => {
  // Reference values of 32-bit FNV-1a from the algorithm's authors (ASCII: one code unit per byte).
  it('matches the published test vectors', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });

  it('splits source keys about evenly', () => {
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) buckets[fnv1a(`orders/3/${i}`) % 10]!++;
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(500);
  });
});
