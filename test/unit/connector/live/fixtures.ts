import type { Item } from '../../../../connector/pipeline/outputs.js';
import type { BatchScores } from '../../../../model/types.js';
import type { AnomalyEvent } from '../../../../schemas/types.js';

/** A scored batch with the given scores, each judged against `threshold`. */
export function batch(scores: readonly number[], threshold: number): BatchScores {
  const n = scores.length;
  return {
    n,
    d: 1,
    scores: Float32Array.from(scores),
    contributions: new Float32Array(n).fill(1),
    expected: new Float32Array(n),
    severity: Float32Array.from(scores, (s) => (s > threshold ? 0.99 : 0.1)),
    isAnomaly: Uint8Array.from(scores, (s) => (s > threshold ? 1 : 0)),
    threshold: new Float32Array(n).fill(threshold),
  };
}

let offset = 0;

export function anomaly(entity: string, eventTime: number, score: number, features: string[]): AnomalyEvent {
  return {
    event_id: `ev-${++offset}`,
    source: { topic: 'readings', partition: 0, offset },
    key: null,
    event_time: eventTime,
    entity,
    score,
    raw_score: score,
    threshold: 1,
    severity: Math.min(0.999, score / 10),
    contributions: features.map((feature, i) => ({
      feature,
      contribution: 1 / (i + 2),
      value: 10 + i,
      expected: 5 + i,
    })),
    model: { id: 'm', version: '1' },
    detected_at: eventTime + 5,
    attributes: {},
  };
}

/** The scored record an anomaly event was made from, as the incident stage sees it. */
export function itemOf(event: AnomalyEvent): Item {
  return scored(event.entity, event.event_time, event.source.offset);
}

/** A scored record that was not anomalous, after every record made so far (offsets grow per partition). */
export function normal(entity: string, eventTime: number): Item {
  return scored(entity, eventTime, ++offset);
}

function scored(entity: string, eventTime: number, at: number): Item {
  return {
    record: { topic: 'readings', partition: 0 },
    offset: at,
    entity,
    eventTime,
  } as unknown as Item;
}
