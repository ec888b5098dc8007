import { describe, expect, it } from 'vitest';
import { WindowHistory, windowIndices } from '../../../model/windows.js';

describe('windowIndices', () => {
  it('gives each record the window ending at it, padded with the entity’s first record', () => {
    const idx = windowIndices(5, 3);
    expect(Array.from(idx)).toEqual([0, 0, 0, 0, 0, 1, 0, 1, 2, 1, 2, 3, 2, 3, 4]);
  });

  it('keeps entities apart', () => {
    const idx = windowIndices(4, 2, ['a', 'b', 'a', 'b']);
    expect(Array.from(idx)).toEqual([0, 0, 1, 1, 0, 2, 1, 3]);
  });
});

describe('WindowHistory', () => {
  it('produces exactly the windows windowIndices describes, across batch boundaries', () => {
    const d = 2;
    const w = 4;
    const n = 23;
    const entities = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 'x' : i % 3 === 1 ? 'y' : 'z'));
    const rows = Float32Array.from({ length: n * d }, (_, k) => k + 0.5);
    const idx = windowIndices(n, w, entities);
    const expected = new Float32Array(n * w * d);
    for (let k = 0; k < n * w; k++) expected.set(rows.subarray(idx[k]! * d, idx[k]! * d + d), k * d);

    const history = new WindowHistory(d, w);
    const got = new Float32Array(n * w * d);
    // Uneven batches: 5, 1, 7, 10.
    let off = 0;
    for (const m of [5, 1, 7, 10]) {
      const out = new Float32Array(m * w * d);
      history.windowsInto(rows.subarray(off * d), m, entities.slice(off, off + m), out);
      got.set(out, off * w * d);
      off += m;
    }
    expect(Array.from(got)).toEqual(Array.from(expected));
    expect(history.size).toBe(3);
  });

  it('forgets the least recently seen entity beyond its bound', () => {
    const history = new WindowHistory(1, 2, 2);
    const out = new Float32Array(2);
    history.windowsInto(Float32Array.of(1), 1, ['a'], out);
    history.windowsInto(Float32Array.of(2), 1, ['b'], out);
    history.windowsInto(Float32Array.of(3), 1, ['a'], out); // a is now most recent
    history.windowsInto(Float32Array.of(4), 1, ['c'], out); // evicts b
    expect(history.size).toBe(2);
    history.windowsInto(Float32Array.of(5), 1, ['b'], out);
    expect(Array.from(out)).toEqual([5, 5]); // b starts afresh, padded with itself
    history.windowsInto(Float32Array.of(6), 1, ['c'], out);
    expect(Array.from(out)).toEqual([4, 6]);
  });
});
