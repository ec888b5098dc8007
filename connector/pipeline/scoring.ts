import type { BatchScores, ScoreOptions, Scorer } from '../../model/types.js';
import { yieldToEventLoop } from '../batch/yield.js';

/**
 * In-thread scoring that shares the event loop: a batch of up to `batching.maxRecords` (100 000) rows is
 * scored in chunks with a yield between them, so consumer heartbeats (kafkajs runs them on this thread),
 * produce callbacks and timers wait for one chunk, not for the whole batch. The pipeline runs one such scoring
 * at a time (see Pipeline.process): concurrent batches interleave their I/O, not their CPU.
 */

export interface ChunkedScoringOptions extends ScoreOptions {
  /** Rows per synchronous call to the scorer. */
  readonly chunkRows: number;
  readonly yieldFn?: () => Promise<void>;
}

export async function scoreInChunks(
  scorer: Scorer,
  rows: Float32Array,
  n: number,
  d: number,
  entities: readonly string[],
  options: ChunkedScoringOptions,
): Promise<BatchScores> {
  const { chunkRows, yieldFn = yieldToEventLoop, ...scoreOptions } = options;
  if (!(chunkRows >= 1) || !Number.isInteger(chunkRows))
    throw new RangeError(`chunkRows must be a positive integer, got ${chunkRows}`);
  if (n <= chunkRows) return scorer.score(rows, n, entities, scoreOptions);
  const scores = new Float32Array(n);
  const contributions = new Float32Array(n * d);
  const expected = new Float32Array(n * d);
  const severity = new Float32Array(n);
  const isAnomaly = new Uint8Array(n);
  const threshold = new Float32Array(n);
  for (let s = 0; s < n; s += chunkRows) {
    if (s > 0) await yieldFn();
    const m = Math.min(chunkRows, n - s);
    // Views, not copies: the scorer reads rows [s, s + m) in place.
    const part = scorer.score(rows.subarray(s * d, (s + m) * d), m, entities.slice(s, s + m), scoreOptions);
    scores.set(part.scores.subarray(0, m), s);
    contributions.set(part.contributions.subarray(0, m * d), s * d);
    expected.set(part.expected.subarray(0, m * d), s * d);
    severity.set(part.severity.subarray(0, m), s);
    isAnomaly.set(part.isAnomaly.subarray(0, m), s);
    threshold.set(part.threshold.subarray(0, m), s);
  }
  return { n, d, scores, contributions, expected, severity, isAnomaly, threshold };
}
