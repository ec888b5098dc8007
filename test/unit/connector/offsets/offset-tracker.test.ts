import { describe, expect, it } from 'vitest';
import { OffsetTracker, partitionKey } from '../../../../connector/offsets/offset-tracker.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], r: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

describe('OffsetTracker', () => {
  it('commits nothing before an ack, then the contiguous acknowledged prefix', () => {
    const t = new OffsetTracker();
    const g = t.assign('t', 0);
    for (const o of [10, 11, 12, 13]) expect(t.track('t', 0, o)).toBe(g);
    expect(t.committable('t', 0)).toBe(10);
    expect(t.pendingCommits()).toEqual([]);
    expect(t.ack('t', 0, 11, g)).toBe('acked');
    expect(t.committable('t', 0)).toBe(10);
    expect(t.pendingCommits()).toEqual([]);
    expect(t.ack('t', 0, 10, g)).toBe('acked');
    expect(t.committable('t', 0)).toBe(12);
    expect(t.pendingCommits()).toEqual([{ topic: 't', partition: 0, offset: 12, generation: g }]);
    t.ack('t', 0, 13, g);
    expect(t.committable('t', 0)).toBe(12);
    t.ack('t', 0, 12, g);
    expect(t.committable('t', 0)).toBe(14);
    expect(t.inFlight('t', 0)).toBe(0);
  });

  it('skips offset gaps (compaction, transaction markers)', () => {
    const t = new OffsetTracker();
    const g = t.assign('t', 0);
    for (const o of [5, 7, 20]) t.track('t', 0, o);
    t.ack('t', 0, 5, g);
    expect(t.committable('t', 0)).toBe(7);
    t.ack('t', 0, 7, g);
    expect(t.committable('t', 0)).toBe(20);
    t.ack('t', 0, 20, g);
    expect(t.committable('t', 0)).toBe(21);
    expect(t.ack('t', 0, 6, g)).toBe('unknown');
    expect(t.ack('t', 0, 99, g)).toBe('unknown');
  });

  it('ignores duplicate and unknown acks', () => {
    const t = new OffsetTracker();
    const g = t.assign('t', 0);
    t.track('t', 0, 0);
    t.track('t', 0, 1);
    t.ack('t', 0, 1, g);
    expect(t.ack('t', 0, 1, g)).toBe('duplicate');
    t.ack('t', 0, 0, g);
    expect(t.ack('t', 0, 0, g)).toBe('duplicate');
    expect(t.ack('t', 0, 2, g)).toBe('unknown');
    expect(t.ack('t', 9, 0, 999)).toBe('unknown');
  });

  it('never commits a revoked partition, and ignores acks after the revoke', () => {
    const t = new OffsetTracker();
    const g = t.assign('t', 0);
    t.assign('t', 1);
    t.track('t', 0, 0);
    t.track('t', 1, 0);
    t.revoke('t', 0);
    expect(t.ack('t', 0, 0, g)).toBe('stale');
    expect(t.pendingCommits().map((c) => c.partition)).toEqual([]);
    expect(t.committable('t', 0)).toBeUndefined();
    expect(t.track('t', 0, 1)).toBeUndefined();
    expect(t.isAssigned('t', 0)).toBe(false);
  });

  it('ignores a stale ack after revoke and reassign (generation guard)', () => {
    const t = new OffsetTracker();
    const g1 = t.assign('t', 0);
    t.track('t', 0, 100);
    t.revoke('t', 0);
    const g2 = t.assign('t', 0);
    expect(g2).not.toBe(g1);
    t.track('t', 0, 90);
    t.track('t', 0, 100);
    expect(t.ack('t', 0, 100, g1)).toBe('stale');
    expect(t.committable('t', 0)).toBe(90);
    expect(t.ack('t', 0, 90, g2)).toBe('acked');
    expect(t.committable('t', 0)).toBe(100);
  });

  it('records commits per generation, ignoring late or stale confirmations', () => {
    const t = new OffsetTracker();
    const g = t.assign('t', 0);
    for (let o = 0; o < 5; o++) t.track('t', 0, o);
    t.ack('t', 0, 0, g);
    t.ack('t', 0, 1, g);
    const [c1] = t.pendingCommits();
    expect(c1).toEqual({ topic: 't', partition: 0, offset: 2, generation: g });
    t.ack('t', 0, 2, g);
    const [c2] = t.pendingCommits();
    expect(t.markCommitted(c2!)).toBe(true);
    expect(t.markCommitted(c1!)).toBe(false);
    expect(t.committed('t', 0)).toBe(3);
    expect(t.pendingCommits()).toEqual([]);
    t.revoke('t', 0);
    t.assign('t', 0);
    expect(t.markCommitted({ ...c2!, offset: 4 })).toBe(false);
  });

  it('drops a redelivered offset instead of throwing, and still commits past it once', () => {
    const t = new OffsetTracker();
    const g = t.assign('t', 0);
    expect(t.track('t', 0, 5)).toBe(g);
    expect(t.track('t', 0, 6)).toBe(g);
    // The client fetched 5 and 6 again (a retried fetch): not to be processed a second time.
    expect(t.track('t', 0, 5)).toBeUndefined();
    expect(t.track('t', 0, 4)).toBeUndefined();
    expect(t.inFlight('t', 0)).toBe(2);
    expect(t.ack('t', 0, 5, g)).toBe('acked');
    expect(t.ack('t', 0, 6, g)).toBe('acked');
    expect(t.committable('t', 0)).toBe(7);
    expect(t.track('t', 0, 7)).toBe(g);
    expect(() => t.track('t', 0, 1.5)).toThrow(RangeError);
    expect(() => t.track('t', 0, -1)).toThrow(RangeError);
  });

  it('commits up to the batch end the client reports, past a transaction marker', () => {
    const t = new OffsetTracker();
    const g = t.assign('t', 0);
    // Records 10..12 of a transaction, its commit marker at 13: the client says the next offset is 14.
    for (const o of [10, 11, 12]) t.track('t', 0, o);
    t.delivered('t', 0, 14);
    t.ack('t', 0, 10, g);
    t.ack('t', 0, 11, g);
    // While 12 is in flight the marker changes nothing.
    expect(t.committable('t', 0)).toBe(12);
    t.ack('t', 0, 12, g);
    expect(t.committable('t', 0)).toBe(14);
    expect(t.pendingCommits()).toEqual([{ topic: 't', partition: 0, offset: 14, generation: g }]);
    // A later batch starts after the marker.
    expect(t.track('t', 0, 13)).toBeUndefined();
    expect(t.track('t', 0, 14)).toBe(g);
    expect(t.committable('t', 0)).toBe(14);
    t.ack('t', 0, 14, g);
    expect(t.committable('t', 0)).toBe(15);
  });

  it('ignores a batch end for a partition with nothing tracked', () => {
    const t = new OffsetTracker();
    t.assign('t', 0);
    t.delivered('t', 0, 100);
    t.delivered('u', 0, 100);
    expect(t.committable('t', 0)).toBeUndefined();
    expect(t.pendingCommits()).toEqual([]);
  });

  it('keeps partitions and topics apart', () => {
    const t = new OffsetTracker();
    const a = t.assign('a', 0);
    const b = t.assign('b', 0);
    t.track('a', 0, 0);
    t.track('b', 0, 0);
    t.ack('a', 0, 0, a);
    expect(t.pendingCommits()).toEqual([{ topic: 'a', partition: 0, offset: 1, generation: a }]);
    expect(t.ack('b', 0, 0, a)).toBe('stale');
    expect(t.committable('b', 0)).toBe(0);
    expect(t.totalInFlight).toBe(1);
    expect(b).toBeGreaterThan(a);
    t.revokeAll();
    expect(t.pendingCommits()).toEqual([]);
    expect(partitionKey('topic.x', 3)).toBe('topic.x:3');
  });

  it('compacts its memory on long runs and stays correct', () => {
    const t = new OffsetTracker();
    const g = t.assign('t', 0);
    for (let o = 0; o < 10_000; o++) {
      t.track('t', 0, o);
      t.ack('t', 0, o, g);
    }
    expect(t.committable('t', 0)).toBe(10_000);
    expect(t.ack('t', 0, 17, g)).toBe('duplicate');
    t.track('t', 0, 10_000);
    expect(t.committable('t', 0)).toBe(10_000);
  });
});

describe('OffsetTracker under random ack orders (property)', () => {
  /**
   * Reference: the committable offset is the smallest tracked offset not acknowledged, or one past the last
   * tracked offset when all are. Checked after every step, with fetches, acks, duplicate and stale acks and
   * commits interleaved at random.
   */
  function run(seed: number) {
    const r = rng(seed);
    const t = new OffsetTracker();
    let gen = t.assign('t', 0);
    let tracked: number[] = [];
    let unacked = new Set<number>();
    let next = Math.floor(r() * 1000);
    let pendingAcks: number[] = [];
    const staleAcks: [number, number][] = [];
    let lastCommitted: number | undefined;

    for (let step = 0; step < 400; step++) {
      const action = r();
      if (action < 0.35) {
        // Fetch a few records, with gaps.
        const n = 1 + Math.floor(r() * 5);
        for (let i = 0; i < n; i++) {
          next += r() < 0.2 ? 2 + Math.floor(r() * 5) : 1;
          expect(t.track('t', 0, next)).toBe(gen);
          tracked.push(next);
          unacked.add(next);
          pendingAcks.push(next);
        }
        shuffle(pendingAcks, r);
      } else if (action < 0.8 && pendingAcks.length > 0) {
        const o = pendingAcks.pop()!;
        expect(t.ack('t', 0, o, gen)).toBe('acked');
        unacked.delete(o);
        if (r() < 0.2) expect(t.ack('t', 0, o, gen)).toBe('duplicate');
      } else if (action < 0.9) {
        for (const c of t.pendingCommits()) {
          expect(c.offset).toBeGreaterThan(lastCommitted ?? -1);
          expect(t.markCommitted(c)).toBe(true);
          lastCommitted = c.offset;
        }
      } else if (action < 0.95 && staleAcks.length > 0) {
        const [o, g] = staleAcks.pop()!;
        expect(t.ack('t', 0, o, g)).toBe('stale');
      } else if (action >= 0.97) {
        // Rebalance: revoke (remembering unacked records for stale acks later), then reassign, re-fetching
        // from an earlier position as a new owner's restart would.
        for (const o of pendingAcks) staleAcks.push([o, gen]);
        t.revoke('t', 0);
        expect(t.pendingCommits()).toEqual([]);
        gen = t.assign('t', 0);
        tracked = [];
        unacked = new Set();
        pendingAcks = [];
        lastCommitted = undefined;
        next = Math.max(0, next - Math.floor(r() * 20));
      }

      const c = t.committable('t', 0);
      if (tracked.length === 0) {
        expect(c).toBeUndefined();
        continue;
      }
      const lowestUnacked = unacked.size === 0 ? undefined : Math.min(...unacked);
      const expected = lowestUnacked ?? tracked[tracked.length - 1]! + 1;
      expect(c).toBe(expected);
      // The safety property itself: never at or past an offset still in flight.
      if (lowestUnacked !== undefined) expect(c!).toBeLessThanOrEqual(lowestUnacked);
      for (const p of t.pendingCommits())
        if (lowestUnacked !== undefined) expect(p.offset).toBeLessThanOrEqual(lowestUnacked);
      expect(t.inFlight('t', 0)).toBe(unacked.size);
    }
  }

  for (let seed = 1; seed <= 40; seed++) {
    it(`seed ${seed}`, () => run(seed));
  }

  it('commits everything once every record in a random order is acknowledged', () => {
    const r = rng(99);
    for (let round = 0; round < 50; round++) {
      const t = new OffsetTracker();
      const g = t.assign('t', 3);
      const offsets: number[] = [];
      let o = Math.floor(r() * 100);
      for (let i = 0; i < 1 + Math.floor(r() * 60); i++) {
        o += 1 + (r() < 0.1 ? Math.floor(r() * 10) : 0);
        offsets.push(o);
        t.track('t', 3, o);
      }
      const order = shuffle([...offsets], r);
      const acked = new Set<number>();
      for (const x of order) {
        t.ack('t', 3, x, g);
        acked.add(x);
        const c = t.committable('t', 3)!;
        // Everything below the committable offset that was tracked is acknowledged.
        for (const y of offsets) if (y < c) expect(acked.has(y)).toBe(true);
      }
      expect(t.committable('t', 3)).toBe(offsets.at(-1)! + 1);
    }
  });
});
