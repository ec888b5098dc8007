import type { BatchScores } from '../../model/types.js';
import type { AnomalyEvent } from '../../schemas/types.js';

/**
 * The live view's input: what the running service tells it. The pipeline publishes scored batches and
 * acknowledged anomalies; the incident tracker (issue #13 item 1) publishes incident open / update / close;
 * the composition root publishes consumer lag. Every call is synchronous and cheap (the view only aggregates
 * into bounded buffers), so publishing costs the hot path one function call per batch.
 */
export interface LiveFeed {
  /** One scored micro-batch, once its outputs are acknowledged; `at` is the wall-clock time, ms. */
  onScores(scores: BatchScores, at: number): void;
  /** One anomaly event, once the broker has acknowledged it. */
  onAnomaly(event: AnomalyEvent): void;
  onIncident(change: IncidentChange, incident: LiveIncident): void;
  onLag(partitions: readonly PartitionLag[]): void;
}

export type IncidentChange = 'open' | 'update' | 'close';

/** What the view shows of an incident; the incident tracker's events carry at least this. */
export interface LiveIncident {
  /** Stable across the incident's open, updates and close. */
  readonly id: string;
  readonly entity: string;
  /** Event time of the first anomaly, ms. */
  readonly start: number;
  /** Event time of the last anomaly so far, ms. */
  readonly end: number;
  readonly peakSeverity: number;
  readonly peakScore: number;
  /** Anomalies in the incident so far. */
  readonly count: number;
  /** Feature names, most to the error first. */
  readonly topFeatures: readonly string[];
}

export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
}
