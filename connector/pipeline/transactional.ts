import { isRetriable } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { type RetryOptions, retry } from '../../core/retry.js';
import type { OffsetTracker } from '../offsets/offset-tracker.js';
import type { Consumer, ProduceMessage, TransactionalProducer } from '../transport/types.js';
import { commitRequests } from './commit-scheduler.js';

/**
 * Exactly-once produce: one batch's outputs and the input offsets they make committable, in one transaction.
 *
 * A retriable failure before the commit (CONCURRENT_TRANSACTIONS while the coordinator is still completing the
 * previous transaction, a leader moving) aborts the transaction and runs it again: read_committed consumers
 * never see an aborted one. A failed commit is not retried: it may have gone through, and only a restart from
 * the committed offsets is safe then. A failed abort is logged and does not hide the error that caused it.
 */

export interface TransactionDeps {
  readonly producer: TransactionalProducer;
  readonly consumer: Consumer;
  readonly tracker: OffsetTracker;
  readonly epochs: ReadonlyMap<string, number>;
  readonly log: Logger;
  readonly retry: Partial<RetryOptions>;
  /** Marks the batch's records acknowledged in the tracker; called once, before the first offsets are sent. */
  readonly acknowledge: () => void;
  readonly onCommit?: (ok: boolean) => void;
}

export async function produceInTransaction(
  messages: readonly ProduceMessage[],
  deps: TransactionDeps,
): Promise<void> {
  let acknowledged = false;
  let commitFailed = false;
  await retry(
    async () => {
      const tx = await deps.producer.begin();
      try {
        if (messages.length > 0) await tx.send(messages);
        if (!acknowledged) {
          deps.acknowledge();
          acknowledged = true;
        }
        const pending = deps.tracker.pendingCommits();
        if (pending.length > 0) await tx.sendOffsets(deps.consumer, commitRequests(pending, deps.epochs));
        commitFailed = true;
        await tx.commit();
        commitFailed = false;
        for (const p of pending) deps.tracker.markCommitted(p);
        deps.onCommit?.(true);
      } catch (err) {
        try {
          await tx.abort();
        } catch (abortErr) {
          // The transaction times out on the coordinator if it stays open; the original error is the one to act on.
          deps.log.warn({ err: abortErr, cause: err }, 'transaction abort failed');
        }
        deps.onCommit?.(false);
        throw err;
      }
    },
    {
      ...deps.retry,
      shouldRetry: (err) => !commitFailed && isRetriable(err),
      onRetry: (err, attempt, delay) =>
        deps.log.warn({ err, attempt, delay }, 'transaction failed before its commit; aborted, retrying'),
    },
  );
}
