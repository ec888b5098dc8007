import type { BatchScores } from '../../model/types.js';
import type { AnomalyEvent } from '../../schemas/types.js';

/**
 * The live view's input: what the running service tells it. The pipeline publishes scored batches and
 * acknowledged anomalies; the composition root publishes consumer lag. (Incidents are not pushed here: the view
 * follows the incident tracker's OpenIncidents itself, see LiveView.follow.) Every call is synchronous and cheap
 * (the view only aggregates into bounded buffers), so publishing costs the hot path one function call per batch.
 */
export interface LiveFeed {
  /** One scored micro-batch, once its outputs are acknowledged; `at` is the wall-clock time, ms. */
  onScores(scores: BatchScores, at: number): void;
  /** One anomaly event, once the broker has acknowledged it. */
  onAnomaly(event: AnomalyEvent): void;
  onLag(partitions: readonly PartitionLag[]): void;
}

export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
}
