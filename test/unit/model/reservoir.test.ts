import { describe, expect, it } from 'vitest';
import { Reservoir } from '../../../model/reservoir.js';

const row = (v: number) => Float32Array.of(v, -v);

function firstColumn(r: Reservoir): number[] {
  const s = r.snapshot();
  return Array.from({ length: s.n }, (_, i) => s.rows[i * s.d]!);
}

describe('Reservoir', () => {
  it('keeps the most recent rows up to its capacity, oldest first', () => {
    const r = new Reservoir({ capacity: 3, d: 2 });
    for (let i = 0; i < 5; i++) r.add(row(i), 0, 'e', `t/0/${i}`);
    expect(firstColumn(r)).toEqual([2, 3, 4]);
    expect(r.snapshot().rows[1]).toBe(-2);
    expect(r.counts()).toMatchObject({ size: 3, added: 5, replaced: 2 });
  });

  it('stratified: an entity at its cap replaces its own oldest row, not the other entities’', () => {
    const r = new Reservoir({ capacity: 10, d: 2, perEntity: 2 });
    r.add(row(100), 0, 'quiet', 'q/0/0');
    for (let i = 0; i < 6; i++) r.add(row(i), 0, 'chatty', `c/0/${i}`);
    const s = r.snapshot();
    expect(s.entities.filter((e) => e === 'chatty')).toHaveLength(2);
    expect(firstColumn(r)).toEqual([100, 4, 5]);
    expect(r.counts().entities).toBe(2);
  });

  it('stratified and full: the global oldest goes, whichever entity it belongs to', () => {
    const r = new Reservoir({ capacity: 3, d: 2, perEntity: 2 });
    r.add(row(1), 0, 'a', 'a/1');
    r.add(row(2), 0, 'b', 'b/2');
    r.add(row(3), 0, 'c', 'c/3');
    r.add(row(4), 0, 'd', 'd/4');
    expect(firstColumn(r)).toEqual([2, 3, 4]);
  });

  it('a confirmed anomaly is taken out and refused when replayed', () => {
    const r = new Reservoir({ capacity: 10, d: 2 });
    r.add(row(1), 0, 'e', 't/0/1');
    r.add(row(2), 0, 'e', 't/0/2');
    expect(r.exclude('t/0/1')).toBe(true);
    expect(r.has('t/0/1')).toBe(false);
    expect(r.add(row(1), 0, 'e', 't/0/1')).toBe(false);
    // Excluded before it ever arrived (feedback from another replica): refused too.
    r.exclude('t/0/9');
    expect(r.add(row(9), 0, 'e', 't/0/9')).toBe(false);
    expect(firstColumn(r)).toEqual([2]);
    expect(r.counts().excluded).toBe(3);
    // The freed slot is reused.
    r.add(row(3), 0, 'e', 't/0/3');
    expect(firstColumn(r)).toEqual([2, 3]);
  });

  it('the same record added twice (a redelivery) is held once', () => {
    const r = new Reservoir({ capacity: 10, d: 2 });
    expect(r.add(row(1), 0, 'e', 't/0/1')).toBe(true);
    expect(r.add(row(1), 0, 'e', 't/0/1')).toBe(false);
    expect(r.size).toBe(1);
  });

  it('stays bounded over a long stream (its insertion log is compacted)', () => {
    const r = new Reservoir({ capacity: 50, d: 2, perEntity: 5 });
    for (let i = 0; i < 20_000; i++) r.add(row(i), 0, `e${i % 7}`, `t/0/${i}`);
    expect(r.size).toBe(35);
    const s = r.snapshot();
    expect(s.n).toBe(35);
    expect(Math.min(...firstColumn(r))).toBeGreaterThanOrEqual(20_000 - 35);
  });
});
