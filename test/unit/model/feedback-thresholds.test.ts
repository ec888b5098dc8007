import { describe, expect, it } from 'vitest';
import { FeedbackThresholds, factorFor } from '../../../model/feedback-thresholds.js';

const o = { falseAlarmsPerStep: 3, stepFactor: 1.25, maxFactor: 2, maxEntities: 3 };
const at = new Date('2026-12-02T10:00:00Z');

describe('feedback thresholds', () => {
  it('raise an entity’s threshold one step per falseAlarmsPerStep false alarms, up to maxFactor', () => {
    expect([0, 2, 3, 5, 6, 9, 12, 100].map((k) => factorFor(k, o))).toEqual([
      1, 1, 1.25, 1.25, 1.5625, 1.953125, 2, 2,
    ]);
    const t = new FeedbackThresholds(o);
    for (let i = 0; i < 3; i++) t.record('pump-1', 'false_alarm', at);
    expect(t.factor('pump-1')).toBe(1.25);
    expect(t.factor('pump-2')).toBe(1);
  });

  it('a confirmed anomaly takes one step back; reset removes the adjustment', () => {
    const t = new FeedbackThresholds(o);
    for (let i = 0; i < 6; i++) t.record('e', 'false_alarm', at);
    expect(t.factor('e')).toBe(1.5625);
    expect(t.record('e', 'confirmed_anomaly', at)).toMatchObject({
      falseAlarms: 3,
      confirmed: 1,
      factor: 1.25,
    });
    expect(t.reset('e')).toBe(true);
    expect(t.factor('e')).toBe(1);
  });

  it('apply raises thresholds in place and clears only the decisions under the raised one', () => {
    const t = new FeedbackThresholds(o);
    for (let i = 0; i < 3; i++) t.record('noisy', 'false_alarm', at);
    const batch = {
      scores: Float32Array.of(1.1, 1.5, 1.1, 0.5),
      threshold: Float32Array.of(1, 1, 1, 1),
      isAnomaly: Uint8Array.of(1, 1, 1, 0),
    };
    const cleared = t.apply(batch, ['noisy', 'noisy', 'other', 'noisy'], 4);
    expect(cleared).toBe(1);
    expect(Array.from(batch.isAnomaly)).toEqual([0, 1, 1, 0]);
    expect(Array.from(batch.threshold)).toEqual([1.25, 1.25, 1, 1.25]);
  });

  it('restores persisted state under today’s bounds, and keeps at most maxEntities', () => {
    const t = new FeedbackThresholds({ ...o, maxFactor: 1.25 });
    t.restore({ entity: 'e', falseAlarms: 30, confirmed: 0, factor: 9, updatedAt: at.toISOString() });
    expect(t.factor('e')).toBe(1.25);
    for (const e of ['a', 'b', 'c']) t.record(e, 'false_alarm', at);
    expect(t.size).toBe(3);
    expect(t.get('e')).toBeUndefined();
    expect(t.maxFactor()).toBe(1);
  });
});
