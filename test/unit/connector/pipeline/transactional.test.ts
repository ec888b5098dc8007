import { describe, expect, it } from 'vitest';
import { OffsetTracker } from '../../../../connector/offsets/offset-tracker.js';
import { produceInTransaction } from '../../../../connector/pipeline/transactional.js';
import { classifyRdkafkaError, RD, toVigilError } from '../../../../connector/transport/errors.js';
import type {
  CommitOffset,
  Consumer,
  ProduceMessage,
  Transaction,
  TransactionalProducer,
} from '../../../../connector/transport/types.js';
import { silentLogger } from '../../../../core/logger.js';

const concurrent = () =>
  toVigilError('PRODUCE_FAILED', 'send failed', {}, classifyRdkafkaError({ code: RD.ERR_NOT_COORDINATOR }));

interface Script {
  failSend?: number;
  failCommit?: boolean;
  failAbort?: boolean;
}

/** A transactional producer that records what each transaction did and fails where the script says. */
function producer(script: Script) {
  const log: string[] = [];
  let sends = 0;
  const p = {
    begin: async (): Promise<Transaction> => {
      log.push('begin');
      return {
        send: async (messages: readonly ProduceMessage[]) => {
          if (sends++ < (script.failSend ?? 0)) throw concurrent();
          log.push(`send ${messages.length}`);
        },
        sendOffsets: async (_c: Consumer, offsets: readonly CommitOffset[]) => {
          log.push(`offsets ${offsets.map((o) => `${o.partition}@${o.offset}`).join(',')}`);
        },
        commit: async () => {
          if (script.failCommit) throw concurrent();
          log.push('commit');
        },
        abort: async () => {
          log.push('abort');
          if (script.failAbort) throw new Error('abort failed');
        },
      } as unknown as Transaction;
    },
  } as unknown as TransactionalProducer;
  return { p, log };
}

function setUp(script: Script) {
  const tracker = new OffsetTracker();
  const g = tracker.assign('in', 0);
  for (const o of [0, 1]) tracker.track('in', 0, o);
  const { p, log } = producer(script);
  let acks = 0;
  const commits: boolean[] = [];
  const warnings: string[] = [];
  const logger = silentLogger();
  logger.warn = ((_o: unknown, msg: string) => warnings.push(msg)) as never;
  const run = () =>
    produceInTransaction([{ topic: 'out', key: null, value: 'x' }], {
      producer: p,
      consumer: {} as Consumer,
      tracker,
      epochs: new Map([['in:0', 3]]),
      log: logger,
      retry: { maxAttempts: 4, initialDelayMs: 1 },
      acknowledge: () => {
        acks++;
        for (const o of [0, 1]) tracker.ack('in', 0, o, g);
      },
      onCommit: (ok) => commits.push(ok),
    });
  return { run, log, tracker, commits, warnings, acks: () => acks };
}

describe('produceInTransaction', () => {
  it('sends the outputs and the offsets they make committable in one transaction', async () => {
    const s = setUp({});
    await s.run();
    expect(s.log).toEqual(['begin', 'send 1', 'offsets 0@2', 'commit']);
    expect(s.tracker.committed('in', 0)).toBe(2);
    expect(s.commits).toEqual([true]);
  });

  it('aborts and runs again after a retriable failure before the commit, acknowledging once', async () => {
    const s = setUp({ failSend: 2 });
    await s.run();
    expect(s.log).toEqual(['begin', 'abort', 'begin', 'abort', 'begin', 'send 1', 'offsets 0@2', 'commit']);
    expect(s.acks()).toBe(1);
    expect(s.commits).toEqual([false, false, true]);
  });

  it('never retries a failed commit: it may have gone through', async () => {
    const s = setUp({ failCommit: true });
    await expect(s.run()).rejects.toThrow(/send failed/);
    expect(s.log.filter((l) => l === 'begin')).toHaveLength(1);
    expect(s.tracker.committed('in', 0)).toBeUndefined();
  });

  it('reports a failed abort and still fails with the error that caused it', async () => {
    const s = setUp({ failCommit: true, failAbort: true });
    await expect(s.run()).rejects.toThrow(/send failed/);
    expect(s.warnings).toContain('transaction abort failed');
  });
});
