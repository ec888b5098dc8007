import { describe, expect, it } from 'vitest';
import { murmur3Bytes, murmur3Utf8, signedBucket } from '../../../../schemas/features/murmur3.js';

describe('murmur3Utf8', () => {
  // Published MurmurHash3_x86_32 vectors (SMHasher; the widely cited set of Ian Boyd's answer), and Python
  // mmh3.hash(s.encode('utf8'), seed) for the non-ASCII ones.
  const vectors: [string, number, number][] = [
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['test', 0, 0xba6bd213],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ['a', 0x9747b28c, 0x7fa09ea6],
    ['ab', 0x9747b28c, 0x74875592],
    ['abc', 0x9747b28c, 0xc84a62dd],
    ['abcd', 0x9747b28c, 0xf0478627],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['ππππππππ', 0x9747b28c, 0xd58063c1],
    ['foo', 0, -156908512 >>> 0],
    ['héllo wörld', 0, -1745358220 >>> 0],
    ['😀x', 0, 1914495294],
    ['merchant_12345', 42, -1206955609 >>> 0],
  ];
  for (const [s, seed, want] of vectors) {
    it(`hashes ${JSON.stringify(s)} with seed ${seed.toString(16)}`, () => {
      expect(murmur3Utf8(s, seed)).toBe(want);
    });
  }

  it('equals hashing the UTF-8 bytes, for all kinds of code points', () => {
    const samples = [
      '',
      'x',
      'ÿ',
      'ĀĀ',
      '€uro',
      '中文字符',
      '𝄞music',
      'mixed ascii é 中 😀',
      'a'.repeat(1000),
    ];
    for (const s of samples) {
      for (const seed of [0, 1, 0xdeadbeef]) {
        expect(murmur3Utf8(s, seed), s).toBe(murmur3Bytes(Buffer.from(s, 'utf8'), seed));
      }
    }
  });

  it('hashes a lone surrogate as U+FFFD, as Buffer does', () => {
    for (const s of ['\ud800', 'a\udc00b', 'x\ud83d']) {
      expect(murmur3Utf8(s)).toBe(murmur3Bytes(Buffer.from(s, 'utf8')));
    }
  });
});

describe('signedBucket', () => {
  it('follows scikit-learn: |h as int32| mod k, sign from the int32 sign', () => {
    // mmh3 'foo' seed 0 = -156908512 → bucket 156908512 % 10 = 2, negative.
    expect(signedBucket(murmur3Utf8('foo'), 10)).toBe(-3);
    // 'test' seed 0 = 0xba6bd213 = -1167338989 as int32 → 1167338989 % 7 = 6, negative.
    expect(signedBucket(murmur3Utf8('test'), 7)).toBe(-((1167338989 % 7) + 1));
    expect(signedBucket(5, 4)).toBe(2);
  });

  it('maps -2^31 as scikit-learn does', () => {
    expect(signedBucket(0x80000000, 10)).toBe(-(((2147483647 - 9) % 10) + 1));
  });

  it('always lands in range', () => {
    for (let i = 0; i < 1000; i++) {
      const b = signedBucket(murmur3Utf8(`k${i}`), 13);
      expect(Math.abs(b)).toBeGreaterThanOrEqual(1);
      expect(Math.abs(b)).toBeLessThanOrEqual(13);
    }
  });
});
