import type { RecordGenerator, TruthRow } from './ground-truth.js';
import type { RecordSink } from './sinks/types.js';
import { pacedBatchSize, TokenBucket } from './token-bucket.js';
import type { TruthSink } from './truth-writer.js';

export interface GenerateRunOptions<T> {
  generator: RecordGenerator<T>;
  sink: RecordSink<T>;
  truth?: TruthSink;
  /** Records to produce; 0 = until `signal` aborts. */
  count: number;
  /** Largest batch handed to the sink. */
  batchSize: number;
  /** Target records per second; 0 or absent = as fast as possible. */
  rate?: number;
  signal?: AbortSignal;
  /** Monotonic clock in ms (injectable for tests). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface GenerateReport {
  kind: string;
  records: number;
  anomalies: number;
  /** Value bytes handed to the sink (for files: bytes on disk). */
  bytes: number;
  /** From the first batch to the last acknowledgement (Kafka) or the file being closed. */
  elapsedMs: number;
  recordsPerSecond: number;
  /** Event-time range covered, ms since the epoch; null when nothing was produced. */
  firstEventTime: number | null;
  lastEventTime: number | null;
  /** True when stopped by the signal before `count`. */
  aborted: boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Drives a generator into a sink: batches, pacing (token bucket), ground truth, and the final report. Generation
 * is synchronous and pure; this is the only place that waits. The sink is closed on the way out (also on error),
 * so the records reported have been acknowledged or written.
 */
export async function runGenerate<T>(options: GenerateRunOptions<T>): Promise<GenerateReport> {
  const { generator, sink, truth, count, signal } = options;
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? defaultSleep;
  if (!Number.isInteger(count) || count < 0)
    throw new RangeError(`count must be an integer ≥ 0, got ${count}`);
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
    throw new RangeError(`batchSize must be an integer ≥ 1, got ${options.batchSize}`);
  }
  const rate = options.rate ?? 0;
  const batchSize = rate > 0 ? pacedBatchSize(rate, options.batchSize) : options.batchSize;
  const start = now();
  const bucket = rate > 0 ? new TokenBucket(rate, batchSize, start) : undefined;

  let produced = 0;
  let anomalies = 0;
  let firstEventTime: number | null = null;
  let lastEventTime: number | null = null;
  const records: T[] = [];
  const keys: string[] = [];
  const rows: TruthRow[] = [];
  try {
    while ((count === 0 || produced < count) && !signal?.aborted) {
      const n = count === 0 ? batchSize : Math.min(batchSize, count - produced);
      records.length = 0;
      keys.length = 0;
      rows.length = 0;
      for (let i = 0; i < n; i++) {
        const { record, truth: row } = generator.next();
        records.push(record);
        keys.push(generator.keyOf(record));
        rows.push(row);
        anomalies += row.label;
        firstEventTime ??= row.event_time;
        lastEventTime = row.event_time;
      }
      if (bucket !== undefined) {
        const wait = bucket.take(n, now());
        if (wait > 0) await sleep(wait);
      }
      await sink.write(records, keys);
      if (truth !== undefined) await truth.write(rows);
      produced += n;
      // A sink that never waits (fast disk, memory) would otherwise hold the event loop for the whole run.
      if (bucket === undefined) await yieldToLoop();
    }
    await sink.flush();
  } catch (err) {
    // Release resources, but report the original error rather than a close error.
    await Promise.allSettled([sink.close(), truth?.close()]);
    throw err;
  }
  await sink.close();
  await truth?.close();
  const elapsedMs = now() - start;
  return {
    kind: generator.kind,
    records: produced,
    anomalies,
    bytes: sink.bytesWritten,
    elapsedMs,
    recordsPerSecond: elapsedMs > 0 ? (produced * 1000) / elapsedMs : 0,
    firstEventTime,
    lastEventTime,
    aborted: signal?.aborted === true,
  };
}
