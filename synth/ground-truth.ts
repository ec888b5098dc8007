/**
 * Labels are kept apart from the records: the generator hands each record with a TruthRow, the record goes to
 * Kafka or a file, the row to a sidecar JSONL file, so a detector never sees labels and can be scored later by
 * joining on `id` (or `entity` + `event_time`).
 */

export type RecordKind = 'sensor_reading' | 'card_transaction';

export const SENSOR_ANOMALY_KINDS = [
  'spike',
  'level_shift',
  'slow_drift',
  'stuck_sensor',
  'broken_correlation',
] as const;
export type SensorAnomalyKind = (typeof SENSOR_ANOMALY_KINDS)[number];

export const TRANSACTION_ANOMALY_KINDS = ['unusual_amount', 'merchant_location_mismatch', 'burst'] as const;
export type TransactionAnomalyKind = (typeof TRANSACTION_ANOMALY_KINDS)[number];

export type AnomalyKind = SensorAnomalyKind | TransactionAnomalyKind;

export interface TruthRow {
  /** Position in the generated stream, from 0; the order records were handed to the output. */
  seq: number;
  kind: RecordKind;
  /** Device id or card id: also the Kafka key. */
  entity: string;
  /** Record id: transaction_id, or `<device_id>@<event_time>` for sensor readings. */
  id: string;
  event_time: number;
  label: 0 | 1;
  anomaly: AnomalyKind | null;
  /** Groups the records of one multi-record anomaly (e.g. a 40-reading drift); null for normal records. */
  episode: string | null;
  /** Fields the anomaly altered (channel names, `amount`, `location`, …); empty for normal records. */
  fields: string[];
}

export interface Labelled<T> {
  record: T;
  truth: TruthRow;
}

/** A pure, endless, seeded source of labelled records. */
export interface RecordGenerator<T> {
  readonly kind: RecordKind;
  next(): Labelled<T>;
  /** The Kafka key (entity id) of a record. */
  keyOf(record: T): string;
}

/**
 * Chance that a normal record starts an anomaly episode (becoming its first record), so that the long-run share
 * of labelled records is `rate`. Each entity alternates normal stretches (geometric, mean (1-p)/p records) and
 * episodes (mean length L): share = pL / (1 + p(L - 1)), solved for p.
 */
export function episodeStartProbability(rate: number, meanLength: number): number {
  if (rate <= 0) return 0;
  if (rate >= 1) return 1;
  return Math.min(1, rate / (meanLength - rate * (meanLength - 1)));
}
