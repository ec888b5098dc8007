import { describe, expect, it } from 'vitest';
import { buildAnomalyEvent, topContributions } from '../../../../connector/events/anomaly-event.js';
import { anomalyEventId } from '../../../../connector/events/event-id.js';
import type { BatchScores, ModelIdentity } from '../../../../model/types.js';
import { loadSchema } from '../../../../schemas/catalog.js';

const model: ModelIdentity = {
  id: 'sensor-dense',
  version: '7',
  featureNames: ['temp', 'pressure', 'vib', 'status=OK'],
};

/** Two rows of four features. */
function scores(): BatchScores {
  return {
    n: 2,
    d: 4,
    scores: Float32Array.of(0.1, 2.5),
    contributions: Float32Array.of(0.25, 0.25, 0.25, 0.25, 0.1, 0.6, 0, 0.3),
    expected: Float32Array.of(20, 3, 1, 1, 21, 3.1, 1.2, 1),
    severity: Float32Array.of(0.2, 0.999),
    isAnomaly: Uint8Array.of(0, 1),
    threshold: Float32Array.of(1, 1.5),
  };
}

const rows = Float32Array.of(20.5, 3, 1, 1, 35, 9.5, 1.2, 0);

function event(extra: Partial<Parameters<typeof buildAnomalyEvent>[0]> = {}) {
  return buildAnomalyEvent({
    source: { topic: 'sensor-readings', partition: 2, offset: 981 },
    key: Buffer.from('pump-7'),
    eventTime: 1_714_953_600_000,
    entity: 'pump-7',
    scores: scores(),
    row: 1,
    rows,
    model,
    detectedAt: 1_714_953_600_250,
    ...extra,
  });
}

describe('buildAnomalyEvent', () => {
  it('fills every field of the anomaly event from the row', () => {
    const e = event();
    expect(e.event_id).toBe(
      anomalyEventId({
        topic: 'sensor-readings',
        partition: 2,
        offset: 981,
        modelId: 'sensor-dense',
        modelVersion: '7',
      }),
    );
    expect(e.source).toEqual({ topic: 'sensor-readings', partition: 2, offset: 981 });
    expect(e.key?.toString()).toBe('pump-7');
    expect(e.event_time).toBe(1_714_953_600_000);
    expect(e.entity).toBe('pump-7');
    expect(e.score).toBe(2.5);
    expect(e.threshold).toBe(1.5);
    expect(e.severity).toBeCloseTo(0.999, 6);
    expect(e.model).toEqual({ id: 'sensor-dense', version: '7' });
    expect(e.detected_at).toBe(1_714_953_600_250);
    expect(e.attributes).toEqual({});
  });

  it('lists contributions largest first with observed and expected values, dropping zero shares', () => {
    const e = event();
    expect(e.contributions.map((c) => c.feature)).toEqual(['pressure', 'status=OK', 'temp']);
    expect(e.contributions[0]).toEqual({
      feature: 'pressure',
      contribution: Math.fround(0.6),
      value: 9.5,
      expected: Math.fround(3.1),
    });
    expect(e.contributions[1]).toMatchObject({ value: 0, expected: 1 });
  });

  it('truncates to maxContributions and breaks ties by column order', () => {
    expect(event({ maxContributions: 1 }).contributions.map((c) => c.feature)).toEqual(['pressure']);
    const tied = topContributions(scores(), rows, 0, model.featureNames, 10);
    expect(tied.map((c) => c.feature)).toEqual(['temp', 'pressure', 'vib', 'status=OK']);
  });

  it('is identical when the same row is rebuilt (replay after a crash)', () => {
    const a = event();
    const b = event({ detectedAt: 1_714_953_700_000 });
    expect(b.event_id).toBe(a.event_id);
    expect(b.contributions).toEqual(a.contributions);
  });

  it('is a valid record of schemas/anomaly_event.avsc', () => {
    const type = loadSchema('anomaly_event');
    const e = event({ attributes: { delivery: 'at-least-once' } });
    expect(type.isValid(e)).toBe(true);
    const back = type.fromBuffer(type.toBuffer(e)) as typeof e;
    expect(back.event_id).toBe(e.event_id);
    expect(back.contributions.map((c) => c.feature)).toEqual(e.contributions.map((c) => c.feature));
    expect(type.isValid(event({ key: null }))).toBe(true);
  });

  it('refuses inputs that do not fit together (programmer errors)', () => {
    expect(() => event({ row: 2 })).toThrow(RangeError);
    expect(() => event({ model: { ...model, featureNames: ['a'] } })).toThrow(RangeError);
    expect(() => event({ rows: new Float32Array(4) })).toThrow(RangeError);
  });
});
