/**
 * Record formats of the model lifecycle's topics, and the pure parsing of them. No I/O.
 *
 * Feedback topic (written by users or their tooling), key = the anomaly event's `event_id`, value JSON:
 *   { "label": "false_alarm" | "confirmed_anomaly", "entity"?: string,
 *     "source"?: { "topic": string, "partition": number, "offset": number }, "note"?: string }
 * `entity` and `source` are optional when the event is recent (this replica remembers the events it raised);
 * tooling that copies them from the anomaly event makes feedback work for any event, on any replica.
 *
 * Adjustments topic (compacted; written by Vigil), key = `entity/<entity>`, value JSON EntityAdjustment, a
 * tombstone to reset an entity. Lifecycle topic (drift checks, retrains), key = model id, value JSON
 * LifecycleEvent.
 */
import type { DriftReport, FeatureDrift } from '../../model/drift/drift-check.js';
import type { EntityAdjustment, FeedbackLabel } from '../../model/feedback-thresholds.js';

export interface SourceCoordinates {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** The key a record is known by in the reservoir and in feedback: topic/partition/offset. */
export function sourceKey(s: SourceCoordinates): string {
  return `${s.topic}/${s.partition}/${s.offset}`;
}

export interface FeedbackRecord {
  readonly eventId: string;
  readonly label: FeedbackLabel;
  readonly entity?: string;
  readonly source?: SourceCoordinates;
}

export type ParsedFeedback =
  | { readonly ok: true; readonly feedback: FeedbackRecord }
  | { readonly ok: false; readonly why: string };

const LABELS: readonly string[] = ['false_alarm', 'confirmed_anomaly'];

export function parseFeedback(key: Buffer | null, value: Buffer | null): ParsedFeedback {
  const eventId = key?.toString('utf8') ?? '';
  if (eventId === '') return { ok: false, why: 'no key (the anomaly event id)' };
  if (value === null) return { ok: false, why: 'tombstone' };
  let v: unknown;
  try {
    v = JSON.parse(value.toString('utf8'));
  } catch {
    return { ok: false, why: 'value is not JSON' };
  }
  if (v === null || typeof v !== 'object') return { ok: false, why: 'value is not an object' };
  const o = v as Record<string, unknown>;
  if (typeof o.label !== 'string' || !LABELS.includes(o.label)) {
    return { ok: false, why: `label must be one of ${LABELS.join(', ')}` };
  }
  let source: SourceCoordinates | undefined;
  if (o.source !== undefined) {
    const s = o.source as Record<string, unknown> | null;
    if (
      s === null ||
      typeof s.topic !== 'string' ||
      !Number.isInteger(s.partition) ||
      !(typeof s.offset === 'number' || typeof s.offset === 'string')
    ) {
      return { ok: false, why: 'source must hold topic, partition and offset' };
    }
    source = { topic: s.topic, partition: s.partition as number, offset: Number(s.offset) };
  }
  if (o.entity !== undefined && typeof o.entity !== 'string')
    return { ok: false, why: 'entity must be a string' };
  return {
    ok: true,
    feedback: {
      eventId,
      label: o.label as FeedbackLabel,
      ...(typeof o.entity === 'string' ? { entity: o.entity } : {}),
      ...(source ? { source } : {}),
    },
  };
}

export const ADJUSTMENT_KEY_PREFIX = 'entity/';

export function adjustmentKey(entity: string): string {
  return `${ADJUSTMENT_KEY_PREFIX}${entity}`;
}

/** An adjustments-topic record: the entity's adjustment, or null for a reset (tombstone). Undefined if foreign. */
export function parseAdjustment(
  key: Buffer | null,
  value: Buffer | null,
): { entity: string; adjustment: EntityAdjustment | null } | undefined {
  const k = key?.toString('utf8') ?? '';
  if (!k.startsWith(ADJUSTMENT_KEY_PREFIX)) return undefined;
  const entity = k.slice(ADJUSTMENT_KEY_PREFIX.length);
  if (value === null) return { entity, adjustment: null };
  try {
    const a = JSON.parse(value.toString('utf8')) as EntityAdjustment;
    if (typeof a.falseAlarms !== 'number' || typeof a.confirmed !== 'number') return undefined;
    return { entity, adjustment: { ...a, entity } };
  } catch {
    return undefined;
  }
}

export type LifecycleEvent =
  | (Pick<
      DriftReport,
      'drifted' | 'insufficient' | 'rows' | 'reasons' | 'max' | 'over' | 'worst' | 'score'
    > & {
      readonly type: 'drift_check';
      readonly at: string;
      readonly model: {
        readonly id: string;
        readonly version: string;
        readonly registryVersion: string | null;
      };
      /** The ten features with the highest PSI. */
      readonly topFeatures: readonly FeatureDrift[];
    })
  | {
      readonly type: 'retrain';
      readonly at: string;
      readonly trigger: 'drift' | 'schedule' | 'manual';
      readonly parentVersion: string | null;
      readonly version: string | null;
      readonly result: 'promoted' | 'rejected' | 'failed' | 'candidate';
      readonly reasons: readonly string[];
      readonly trainRows: number;
      readonly heldOutRows: number;
      readonly labelledRows: number;
      readonly durationMs: number;
      readonly gate: unknown;
      readonly shadow: unknown;
    };
