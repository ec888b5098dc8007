import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../model/backend.js';
import { trainDetector } from '../../../../model/trainer.js';
import { compileFeatures } from '../../../../schemas/features/extractor.js';
import { mixing, normalRows } from '../../model/helpers.js';

/**
 * Regression (issue #10, item 10): a finite reading beyond float32's range (1e39, 1e308) used to be
 * dead-lettered as NON_FINITE. It is the clearest anomaly a sensor can report, so it must reach the model and
 * score as one, with a finite score that names the feature.
 */

beforeAll(async () => {
  await initBackend({ preference: 'wasm' });
});

const D = 6;
const NAMES = Array.from({ length: D }, (_, j) => `f${j}`);

describe('a value beyond float32 through extractor and model', () => {
  it('is scored, flagged as an anomaly with a finite score, and blamed on its feature', async () => {
    const m = mixing(D, 11);
    const train = normalRows(m, 2000, 1);
    const det = await trainDetector(train.rows, train.n, D, {
      epochs: 40,
      batchSize: 64,
      learningRate: 0.003,
      patience: 6,
      seed: 3,
    });
    const x = compileFeatures({ fields: NAMES.map((path) => ({ kind: 'numeric' as const, path })) });
    const normal = normalRows(m, 3, 2);
    const extremes = [1e39, 1e308, -1e308];
    const rows = new Float32Array(extremes.length * D);
    extremes.forEach((value, i) => {
      const record: Record<string, number> = {};
      NAMES.forEach((n, j) => {
        record[n] = normal.rows[i * D + j]!;
      });
      record[NAMES[i]!] = value;
      const r = x.extractInto(record, rows, i * D);
      expect(r.ok).toBe(true);
    });

    const out = det.score(rows, extremes.length);
    for (let i = 0; i < extremes.length; i++) {
      expect(Number.isFinite(out.scores[i])).toBe(true);
      expect(out.scores[i]).toBeGreaterThan(out.threshold[i]!);
      expect(out.isAnomaly[i]).toBe(1);
      const c = [...out.contributions.subarray(i * D, i * D + D)];
      expect(c.indexOf(Math.max(...c))).toBe(i);
    }
    det.dispose();
  }, 120_000);
});
