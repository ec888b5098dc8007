import { describe, expect, it } from 'vitest';
import {
  notOwnedInTransaction,
  PartitionOwnership,
  sortPartitions,
  tpKey,
} from '../../../../connector/transport/ownership.js';
import { isVigilError } from '../../../../core/errors.js';

const tp = (topic: string, partition: number) => ({ topic, partition });

describe('PartitionOwnership', () => {
  it('owns what was assigned, under a fresh epoch each time', () => {
    const o = new PartitionOwnership();
    const e1 = o.assign([tp('a', 0), tp('a', 1)]);
    expect(o.list()).toEqual([tp('a', 0), tp('a', 1)]);
    expect(o.epochOf('a', 0)).toBe(e1);
    const e2 = o.assign([tp('b', 0)]);
    expect(e2).toBeGreaterThan(e1);
    expect(o.epochOf('b', 0)).toBe(e2);
    expect(o.epochOf('a', 0)).toBe(e1);
    expect(o.epochOf('c', 0)).toBe(-1);
  });

  it('during a revoke: no deliveries, commits still accepted (the onRevoked hook commits)', () => {
    const o = new PartitionOwnership();
    const epoch = o.assign([tp('a', 0), tp('a', 1)]);
    expect(o.startRevoke([tp('a', 1), tp('zz', 9)])).toEqual([tp('a', 1)]);
    expect(o.canDeliver('a', 1)).toBe(false);
    expect(o.canDeliver('a', 0, epoch)).toBe(true);
    expect(o.splitCommit([{ ...tp('a', 1), offset: 5n, epoch }]).accepted).toHaveLength(1);
    expect(o.list()).toEqual([tp('a', 0)]);
    expect(o.list(true)).toEqual([tp('a', 0), tp('a', 1)]);
    // A second revoke of the same partition does not report it again.
    expect(o.startRevoke([tp('a', 1)])).toEqual([]);
  });

  it('after a revoke finishes, commits of those partitions are refused', () => {
    const o = new PartitionOwnership();
    o.assign([tp('a', 0), tp('a', 1)]);
    o.finishRevoke(o.startRevoke([tp('a', 1)]));
    const split = o.splitCommit([
      { ...tp('a', 0), offset: 3n },
      { ...tp('a', 1), offset: 4n },
    ]);
    expect(split.accepted).toEqual([{ ...tp('a', 0), offset: 3n }]);
    expect(split.refused).toEqual([{ ...tp('a', 1), offset: 4n }]);
  });

  it('refuses a commit from an older assignment of a partition owned again (stale epoch)', () => {
    const o = new PartitionOwnership();
    const old = o.assign([tp('a', 0)]);
    o.finishRevoke(o.startRevoke([tp('a', 0)]));
    const current = o.assign([tp('a', 0)]);
    const split = o.splitCommit([{ ...tp('a', 0), offset: 9n, epoch: old }]);
    expect(split.refused).toEqual([{ ...tp('a', 0), offset: 9n }]);
    expect(o.splitCommit([{ ...tp('a', 0), offset: 9n, epoch: current }]).accepted).toHaveLength(1);
    expect(o.canDeliver('a', 0, old)).toBe(false);
  });

  it('loseAll refuses everything at once and reports only what no revoke is already handling', () => {
    const o = new PartitionOwnership();
    o.assign([tp('a', 0), tp('a', 1), tp('a', 2)]);
    o.startRevoke([tp('a', 2)]);
    expect(o.loseAll()).toEqual([tp('a', 0), tp('a', 1)]);
    expect(o.size).toBe(0);
    expect(o.splitCommit([{ ...tp('a', 2), offset: 1n }]).refused).toHaveLength(1);
  });

  it('sorts by topic then partition; keys do not collide', () => {
    expect(sortPartitions([tp('b', 0), tp('a', 10), tp('a', 2)])).toEqual([
      tp('a', 2),
      tp('a', 10),
      tp('b', 0),
    ]);
    expect(tpKey('a1', 0)).not.toBe(tpKey('a', 10));
  });
});

describe('notOwnedInTransaction', () => {
  it('is a non-retriable COMMIT_FAILED that names the refused offsets and asks for an abort', () => {
    const err = notOwnedInTransaction([{ topic: 't', partition: 2, offset: 41n }]);
    expect(isVigilError(err, 'COMMIT_FAILED')).toBe(true);
    expect(err.retriable).toBe(false);
    expect(err.details).toMatchObject({ refused: ['t[2]@41'], rebalance: true, abortTransaction: true });
  });
});
