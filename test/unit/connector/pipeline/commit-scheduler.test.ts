import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../../connector/batch/scheduler.js';
import { OffsetTracker } from '../../../../connector/offsets/offset-tracker.js';
import {
  CommitScheduler,
  commitFailureIsFatal,
  commitPending,
} from '../../../../connector/pipeline/commit-scheduler.js';
import {
  classifyKafkajsError,
  classifyRdkafkaError,
  RD,
  toVigilError,
} from '../../../../connector/transport/errors.js';
import type { CommitOffset } from '../../../../connector/transport/types.js';
import { VigilError } from '../../../../core/errors.js';

class FakeClock implements Clock {
  time = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()]
        .filter(([, t]) => t.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].fn();
    }
    this.time = until;
  }
}

const settle = () => new Promise((r) => setImmediate(r));

/** A commit the test completes by hand, counting calls. */
function manualCommit() {
  const calls: ((ok: boolean) => void)[] = [];
  return { calls, commit: () => new Promise<boolean>((resolve) => calls.push(resolve)) };
}

describe('CommitScheduler', () => {
  it('runs one commit at a time and folds requests made meanwhile into one more', async () => {
    const clock = new FakeClock();
    const c = manualCommit();
    const s = new CommitScheduler({ clock, intervalMs: 0, commit: c.commit });
    s.request();
    s.request();
    s.request();
    expect(c.calls).toHaveLength(1);
    c.calls[0]!(true);
    await settle();
    expect(c.calls).toHaveLength(2);
    c.calls[1]!(true);
    await settle();
    expect(c.calls).toHaveLength(2);
  });

  it('keeps at least the interval between commits', async () => {
    const clock = new FakeClock();
    const c = manualCommit();
    const s = new CommitScheduler({ clock, intervalMs: 100, commit: c.commit });
    s.request();
    c.calls[0]!(true);
    await settle();
    clock.advance(30);
    s.request();
    expect(c.calls).toHaveLength(1);
    clock.advance(69);
    expect(c.calls).toHaveLength(1);
    clock.advance(1);
    expect(c.calls).toHaveLength(2);
  });

  it('retries a failed commit after a backoff even when no new request comes', async () => {
    const clock = new FakeClock();
    const c = manualCommit();
    const s = new CommitScheduler({ clock, intervalMs: 100, commit: c.commit, maxRetryDelayMs: 300 });
    s.request();
    c.calls[0]!(false);
    await settle();
    clock.advance(99);
    expect(c.calls).toHaveLength(1);
    clock.advance(1);
    expect(c.calls).toHaveLength(2);
    c.calls[1]!(false);
    await settle();
    clock.advance(199);
    expect(c.calls).toHaveLength(2);
    clock.advance(1);
    expect(c.calls).toHaveLength(3);
    c.calls[2]!(true);
    await settle();
    clock.advance(10_000);
    expect(c.calls).toHaveLength(3);
  });

  it('flush commits at once, after the running one, whatever the interval; close stops the timers', async () => {
    const clock = new FakeClock();
    const c = manualCommit();
    const s = new CommitScheduler({ clock, intervalMs: 1_000, commit: c.commit });
    s.request();
    const flushed = s.flush();
    await settle();
    expect(c.calls).toHaveLength(1);
    c.calls[0]!(true);
    await settle();
    expect(c.calls).toHaveLength(2);
    c.calls[1]!(true);
    await flushed;
    s.request();
    expect(clock.pending).toBe(1);
    s.close();
    expect(clock.pending).toBe(0);
    s.request();
    expect(c.calls).toHaveLength(2);
  });
});

describe('commitPending', () => {
  function tracked(): OffsetTracker {
    const t = new OffsetTracker();
    const g = t.assign('in', 0);
    for (const o of [0, 1, 2]) t.track('in', 0, o);
    for (const o of [0, 1, 2]) t.ack('in', 0, o, g);
    return t;
  }

  it('commits the acknowledged prefix with its epoch and records what the broker accepted', async () => {
    const t = tracked();
    const sent: CommitOffset[][] = [];
    const outcome = await commitPending(
      {
        commit: async (offsets) => {
          sent.push([...offsets]);
          return {
            committed: offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
            refused: [],
          };
        },
      },
      t,
      new Map([['in:0', 7]]),
    );
    expect(outcome).toEqual({ kind: 'committed', committed: 1, refused: 0 });
    expect(sent).toEqual([[{ topic: 'in', partition: 0, offset: 3n, epoch: 7 }]]);
    expect(t.committed('in', 0)).toBe(3);
    expect(
      await commitPending({ commit: async () => ({ committed: [], refused: [] }) }, t, new Map()),
    ).toEqual({
      kind: 'none',
    });
  });

  it('tells a failure worth retrying from one that must stop the pipeline', async () => {
    const fail = (err: unknown) => ({
      commit: async () => {
        throw err;
      },
    });
    const outage = toVigilError('COMMIT_FAILED', 'x', {}, classifyRdkafkaError({ code: RD.ERR__TRANSPORT }));
    const rebalance = toVigilError(
      'COMMIT_FAILED',
      'x',
      {},
      classifyRdkafkaError({ code: RD.ERR_REBALANCE_IN_PROGRESS }),
    );
    const denied = { name: 'KafkaJSProtocolError', type: 'GROUP_AUTHORIZATION_FAILED', retriable: false };
    const auth = toVigilError('COMMIT_FAILED', 'x', denied, classifyKafkajsError(denied));
    const unknownTopic = new VigilError('COMMIT_FAILED', 'unknown topic', { retriable: false });
    expect((await commitPending(fail(outage), tracked(), new Map())).kind).toBe('failed');
    expect((await commitPending(fail(rebalance), tracked(), new Map())).kind).toBe('failed');
    expect((await commitPending(fail(auth), tracked(), new Map())).kind).toBe('fatal');
    expect((await commitPending(fail(unknownTopic), tracked(), new Map())).kind).toBe('fatal');
    const t = tracked();
    await commitPending(fail(auth), t, new Map());
    expect(t.committed('in', 0)).toBeUndefined();
    expect(t.pendingCommits()).toHaveLength(1);
    expect(commitFailureIsFatal(outage)).toBe(false);
    // librdkafka's local "erroneous state" while its group is rejoined is not the broker refusing the commit.
    const localState = toVigilError('COMMIT_FAILED', 'x', {}, classifyRdkafkaError({ code: RD.ERR__STATE }));
    expect(commitFailureIsFatal(localState)).toBe(false);
    const unknownPartition = toVigilError('COMMIT_FAILED', 'x', {}, classifyRdkafkaError({ code: 3 }));
    expect(commitFailureIsFatal(unknownPartition)).toBe(true);
  });
});
