import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { postprocessSeries } from '../../../model/postprocess.js';
import { PostprocessStage, streamEntityKey } from '../../../model/postprocess-stage.js';
import { Rng } from '../../../model/rng.js';
import { CompiledThresholds, calibrate, type ThresholdCalibration } from '../../../model/threshold.js';
import type { BatchScores } from '../../../model/types.js';

const SETTINGS = { ewmaHalfLife: 3, likelihood: { halfLife: 200, warmup: 20 }, maxEntities: 50 };

function rawBatch(scores: Float32Array, d = 2): BatchScores {
  const n = scores.length;
  return {
    n,
    d,
    scores,
    contributions: new Float32Array(n * d),
    expected: new Float32Array(n * d),
    severity: new Float32Array(n),
    isAnomaly: new Uint8Array(n),
    threshold: new Float32Array(n),
  };
}

function series(n: number, seed: number, entities: number, shift = 30) {
  const rng = new Rng(seed);
  const scores = Float32Array.from(
    { length: n },
    (_, i) => Math.exp(rng.normal()) + (i > n - 40 ? shift : 0),
  );
  const names = Array.from({ length: n }, () => `e${Math.floor(rng.next() * entities)}`);
  return { scores, names };
}

/** A calibration on processed scores, as trainDetector({ postprocess }) makes one. */
function calibrationFor(settings = SETTINGS): ThresholdCalibration {
  const { scores, names } = series(4_000, 99, 5, 0);
  const processed = postprocessSeries(scores, settings, names);
  return { ...calibrate(processed, { falseAlarmRate: 1e-3 }), postprocess: settings };
}

describe('PostprocessStage', () => {
  it('equals the offline series record for record, judged against the calibration, raw scores kept', () => {
    const cal = calibrationFor();
    const { scores, names } = series(3_000, 1, 7);
    const offline = postprocessSeries(scores, SETTINGS, names);
    const stage = new PostprocessStage();
    const streamed: number[] = [];
    const raw: number[] = [];
    const flags: number[] = [];
    // Uneven batches, as micro-batches close on size or time.
    for (let s = 0, k = 1; s < scores.length; s += k, k = (k * 7) % 211 || 1) {
      const m = Math.min(k, scores.length - s);
      const part = scores.slice(s, s + m);
      const ents = names.slice(s, s + m);
      const out = stage.apply(rawBatch(part), ents, ents, cal);
      expect(out.rawScores).toEqual(part);
      streamed.push(...out.scores);
      raw.push(...out.rawScores!);
      flags.push(...out.isAnomaly);
      for (let i = 0; i < m; i++) expect(out.threshold[i]).toBeCloseTo(cal.threshold, 5);
    }
    expect(streamed).toEqual(Array.from(Float32Array.from(offline)));
    expect(raw).toEqual(Array.from(scores));
    // The decision is the calibration's, on the processed scores; the late shift is caught, early rows not.
    const expected = new Uint8Array(scores.length);
    new CompiledThresholds(cal).apply(
      Float32Array.from(offline),
      scores.length,
      undefined,
      1,
      new Float32Array(scores.length),
      new Float32Array(scores.length),
      expected,
    );
    expect(flags).toEqual(Array.from(expected));
    expect(flags.slice(-20).some((f) => f === 1)).toBe(true);
  });

  it('passes batches through untouched when the calibration has no post-processing', () => {
    const stage = new PostprocessStage();
    const batch = rawBatch(Float32Array.of(1, 2, 3));
    const { postprocess: _none, ...plain } = calibrationFor();
    expect(stage.apply(batch, ['a', 'b', 'c'], undefined, plain)).toBe(batch);
    expect(stage.size).toBe(0);
  });

  it('keeps entity state across a swap to a model with the same settings, drops it for other settings', () => {
    const cal = calibrationFor();
    const { scores, names } = series(400, 3, 4);
    const offline = postprocessSeries(scores, SETTINGS, names);
    const stage = new PostprocessStage();
    stage.apply(rawBatch(scores.slice(0, 200)), names.slice(0, 200), undefined, cal);
    // A retrained model: a new calibration object, the same settings.
    const swapped = { ...calibrationFor(), threshold: cal.threshold * 2 };
    const after = stage.apply(rawBatch(scores.slice(200)), names.slice(200), undefined, swapped);
    expect(Array.from(after.scores)).toEqual(Array.from(Float32Array.from(offline.subarray(200))));
    expect(after.threshold[0]).toBeCloseTo(cal.threshold * 2, 5);
    expect(stage.settingsResets).toBe(0);
    // Other settings: the state means something else, so every entity starts afresh.
    const other = { ...SETTINGS, ewmaHalfLife: 10 };
    const fresh = stage.apply(rawBatch(scores.slice(0, 50)), names.slice(0, 50), undefined, {
      ...cal,
      postprocess: other,
    });
    expect(stage.settingsResets).toBe(1);
    expect(Array.from(fresh.scores)).toEqual(
      Array.from(Float32Array.from(postprocessSeries(scores.subarray(0, 50), other, names.slice(0, 50)))),
    );
  });

  it('forgets the entities of one stream only (a revoked partition)', () => {
    const cal = calibrationFor();
    const stage = new PostprocessStage();
    const keys = ['in:0', 'in:1', 'in:10'].flatMap((p) => ['a', 'b'].map((e) => streamEntityKey(p, e)));
    stage.apply(rawBatch(new Float32Array(keys.length).fill(1)), keys, undefined, cal);
    expect(stage.size).toBe(6);
    // 'in:1' must not take 'in:10' with it.
    expect(stage.forgetStream('in:1')).toBe(2);
    expect(stage.size).toBe(4);
  });

  it('holds at most maxEntities, evicting the least recently seen, and counts the evictions', () => {
    const settings = { ...SETTINGS, maxEntities: 3 };
    const cal = calibrationFor(settings);
    const stage = new PostprocessStage();
    const names = Array.from({ length: 10 }, (_, i) => `e${i}`);
    stage.apply(rawBatch(new Float32Array(10).fill(1)), names, undefined, cal);
    expect(stage.size).toBe(3);
    expect(stage.evicted).toBe(7);
    // Settings change: the count survives the new processor (a counter never goes down).
    stage.apply(rawBatch(Float32Array.of(1)), ['x'], undefined, { ...cal, postprocess: SETTINGS });
    expect(stage.evicted).toBe(7);
    expect(stage.size).toBe(1);
  });

  it('judges against per-entity thresholds by entity name, not by state key', () => {
    const { scores, names } = series(6_000, 5, 2);
    const processed = postprocessSeries(scores, SETTINGS, names);
    const cal: ThresholdCalibration = {
      ...calibrate(processed, { falseAlarmRate: 1e-2, perEntity: true, minEntitySamples: 200 }, names),
      postprocess: SETTINGS,
    };
    expect(Object.keys(cal.perEntity).sort()).toEqual(['e0', 'e1']);
    const stage = new PostprocessStage();
    const keys = names.slice(0, 10).map((e) => streamEntityKey('in:0', e));
    const out = stage.apply(rawBatch(scores.slice(0, 10)), keys, names.slice(0, 10), cal);
    for (let i = 0; i < 10; i++) expect(out.threshold[i]).toBeCloseTo(cal.perEntity[names[i]!]!.threshold, 5);
  });

  it('does not grow with the number of entities seen: the map stays at the limit and the heap levels off', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const settings = { ...SETTINGS, maxEntities: 1_000 };
    const cal = calibrationFor(settings);
    const stage = new PostprocessStage();
    const batch = 1_000;
    const raw = new Float32Array(batch).fill(1);
    const heapAt: number[] = [];
    // 300,000 entities, each seen once: 299,000 evictions. Unbounded, the map would hold 300 times the limit.
    for (let b = 0; b < 300; b++) {
      const keys = Array.from({ length: batch }, (_, i) => streamEntityKey('in:0', `e${b * batch + i}`));
      stage.apply(rawBatch(raw), keys, undefined, cal);
      expect(stage.size).toBeLessThanOrEqual(1_000);
      if (b % 100 === 99) {
        gc();
        heapAt.push(process.memoryUsage().heapUsed);
      }
    }
    expect(stage.size).toBe(1_000);
    expect(stage.evicted).toBe(299_000);
    // Measured, not timed: from 100k to 300k entities seen the heap grows by less than the 200k entries an
    // unbounded map would add (about 100 bytes each, 20 MB) would take. Printed for the record.
    const growth = heapAt[2]! - heapAt[0]!;
    console.log(
      `heap after 100k/200k/300k entities: ${heapAt.map((h) => (h / 2 ** 20).toFixed(1)).join(' / ')} MiB`,
    );
    expect(growth).toBeLessThan(5 * 2 ** 20);
  });
});
