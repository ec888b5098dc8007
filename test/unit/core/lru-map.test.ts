import { describe, expect, it } from 'vitest';
import { LruMap } from '../../../core/lru-map.js';

describe('LruMap', () => {
  it('never holds more than its limit, forgetting the least recently used first', () => {
    const m = new LruMap<number, string>(3);
    m.set(1, 'a').set(2, 'b').set(3, 'c');
    expect(m.get(1)).toBe('a'); // 1 is now the most recent; 2 the least
    m.set(4, 'd');
    expect([m.has(1), m.has(2), m.has(3), m.has(4)]).toEqual([true, false, true, true]);
    expect(m.evicted).toBe(1);
    for (let i = 0; i < 100_000; i++) m.set(Math.floor(Math.random() * 2 ** 32), 'x');
    expect(m.size).toBe(3);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new LruMap(0)).toThrow(RangeError);
    expect(() => new LruMap(1.5)).toThrow(RangeError);
  });
});
