import type { BatchScores, ModelIdentity } from '../../model/types.js';
import type { AnomalyEvent, FeatureContribution } from '../../schemas/types.js';
import { anomalyEventId } from './event-id.js';

/**
 * Builds the anomaly event (schemas/anomaly_event.avsc) for one row of a scored batch. Pure: the caller passes
 * the wall-clock time. Anomalies are rare, so this allocates freely; the hot path never calls it for normal rows.
 */

export interface SourceCoordinates {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface AnomalyEventInput {
  readonly source: SourceCoordinates;
  /** The scored record's Kafka key, byte for byte. */
  readonly key: Buffer | null;
  /** The record's event time (epoch ms): the mapped event-time field, else the Kafka timestamp. */
  readonly eventTime: number;
  readonly entity: string;
  readonly scores: BatchScores;
  /** Row of `scores` (and of `rows`) this event is about. */
  readonly row: number;
  /** The feature rows that were scored, row-major n×d, in the record's own units (the observed values). */
  readonly rows: Float32Array;
  /** The model that scored the batch; its featureNames name the columns. */
  readonly model: ModelIdentity;
  /** When Vigil scored the record (epoch ms). */
  readonly detectedAt: number;
  /** Most contributions listed, largest first. Default 10. */
  readonly maxContributions?: number;
  readonly attributes?: Readonly<Record<string, string>>;
}

export function buildAnomalyEvent(input: AnomalyEventInput): AnomalyEvent {
  const { scores, row, model, rows } = input;
  const d = scores.d;
  if (model.featureNames.length !== d) {
    throw new RangeError(`the model names ${model.featureNames.length} features but the scores have ${d}`);
  }
  if (!(Number.isInteger(row) && row >= 0 && row < scores.n))
    throw new RangeError(`row ${row} is outside a batch of ${scores.n}`);
  if (rows.length < (row + 1) * d)
    throw new RangeError(`rows holds ${rows.length} values, too few for row ${row} of width ${d}`);

  return {
    event_id: anomalyEventId({
      topic: input.source.topic,
      partition: input.source.partition,
      offset: input.source.offset,
      modelId: model.id,
      modelVersion: model.version,
    }),
    source: { topic: input.source.topic, partition: input.source.partition, offset: input.source.offset },
    key: input.key,
    event_time: input.eventTime,
    entity: input.entity,
    score: scores.scores[row]!,
    raw_score: (scores.rawScores ?? scores.scores)[row]!,
    threshold: scores.threshold[row]!,
    severity: scores.severity[row]!,
    contributions: topContributions(scores, rows, row, model.featureNames, input.maxContributions ?? 10),
    model: { id: model.id, version: model.version },
    detected_at: input.detectedAt,
    attributes: { ...(input.attributes ?? {}) },
  };
}

/**
 * The row's features by share of the error, largest first, at most `max`; features with no share are left out.
 * Ties keep column order, so the same scores always give the same list.
 */
export function topContributions(
  scores: BatchScores,
  rows: Float32Array,
  row: number,
  featureNames: readonly string[],
  max: number,
): FeatureContribution[] {
  const d = scores.d;
  const base = row * d;
  const order: number[] = [];
  for (let j = 0; j < d; j++) if (scores.contributions[base + j]! > 0) order.push(j);
  order.sort((a, b) => scores.contributions[base + b]! - scores.contributions[base + a]! || a - b);
  return order.slice(0, Math.max(0, max)).map((j) => ({
    feature: featureNames[j]!,
    contribution: scores.contributions[base + j]!,
    value: rows[base + j]!,
    expected: scores.expected[base + j]!,
  }));
}
