import { VigilError } from '../../core/errors.js';
import type { ConsumerOptions, FetchOptions, RebalanceHooks } from './types.js';

export interface ResolvedConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly startFrom: 'earliest' | 'latest';
  readonly isolation: 'read_committed' | 'read_uncommitted';
  readonly maxBatchRecords: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxPollIntervalMs: number;
  readonly maxBufferedRecordsPerPartition: number;
  readonly fetch: Readonly<Required<FetchOptions>>;
  readonly hooks: RebalanceHooks;
}

function invalid(key: string, value: unknown, allowed: string): VigilError {
  return new VigilError('CONFIG_INVALID', `consumer.${key} = ${JSON.stringify(value)}: ${allowed}`, {
    details: { key: `consumer.${key}`, value, allowed },
  });
}

function positiveInt(key: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v <= 0) throw invalid(key, value, 'a positive integer');
  return v;
}

/** Defaults and cross-field checks shared by both transports, so they refuse the same configs. */
export function resolveConsumerOptions(options: ConsumerOptions): ResolvedConsumerOptions {
  if (typeof options.groupId !== 'string' || options.groupId.length === 0) {
    throw invalid('groupId', options.groupId, 'a non-empty string');
  }
  if (!Array.isArray(options.topics) || options.topics.length === 0) {
    throw invalid('topics', options.topics, 'a non-empty list of topic names');
  }
  for (const t of options.topics) {
    if (typeof t !== 'string' || t.length === 0) throw invalid('topics', t, 'non-empty topic names');
  }
  const startFrom = options.startFrom ?? 'earliest';
  if (startFrom !== 'earliest' && startFrom !== 'latest')
    throw invalid('startFrom', startFrom, "'earliest' or 'latest'");
  const isolation = options.isolation ?? 'read_committed';
  if (isolation !== 'read_committed' && isolation !== 'read_uncommitted') {
    throw invalid('isolation', isolation, "'read_committed' or 'read_uncommitted'");
  }
  const maxBatchRecords = positiveInt('maxBatchRecords', options.maxBatchRecords, 500);
  const sessionTimeoutMs = positiveInt('sessionTimeoutMs', options.sessionTimeoutMs, 30_000);
  const heartbeatIntervalMs = positiveInt('heartbeatIntervalMs', options.heartbeatIntervalMs, 3_000);
  const maxPollIntervalMs = positiveInt('maxPollIntervalMs', options.maxPollIntervalMs, 300_000);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw invalid('heartbeatIntervalMs', heartbeatIntervalMs, `below sessionTimeoutMs (${sessionTimeoutMs})`);
  }
  if (maxPollIntervalMs < sessionTimeoutMs) {
    throw invalid('maxPollIntervalMs', maxPollIntervalMs, `at least sessionTimeoutMs (${sessionTimeoutMs})`);
  }
  const maxBufferedRecordsPerPartition = positiveInt(
    'maxBufferedRecordsPerPartition',
    options.maxBufferedRecordsPerPartition,
    4 * maxBatchRecords,
  );
  if (maxBufferedRecordsPerPartition < maxBatchRecords) {
    throw invalid(
      'maxBufferedRecordsPerPartition',
      maxBufferedRecordsPerPartition,
      `at least maxBatchRecords (${maxBatchRecords})`,
    );
  }
  const f = options.fetch ?? {};
  const fetch = Object.freeze({
    minBytes: positiveInt('fetch.minBytes', f.minBytes, 1),
    maxBytes: positiveInt('fetch.maxBytes', f.maxBytes, 52_428_800),
    maxBytesPerPartition: positiveInt('fetch.maxBytesPerPartition', f.maxBytesPerPartition, 1_048_576),
    maxWaitMs: positiveInt('fetch.maxWaitMs', f.maxWaitMs, 100),
  });
  return Object.freeze({
    groupId: options.groupId,
    topics: Object.freeze([...options.topics]),
    startFrom,
    isolation,
    maxBatchRecords,
    sessionTimeoutMs,
    heartbeatIntervalMs,
    maxPollIntervalMs,
    maxBufferedRecordsPerPartition,
    fetch,
    hooks: options.hooks ?? {},
  });
}
