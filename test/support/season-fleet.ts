// The sensor fleet of the lifecycle tests, and the champion they start from. One reading per pump every 30
// simulated minutes, so a few thousand readings span days and every hour of the daily cycle (the hour features
// of a shorter stretch would drift by themselves). The champion trains on four readings of every seven of the
// first 7,000; the other three are fresh normal data of the same period (no drift). Later readings continue the
// clock; `shifted` ones are 10 °C warmer outside and 6 °C warmer in the coolant loop (a season change: the new
// normal that a stale model mistakes for anomalies).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { saveDetector } from '../../model/artifact.js';
import { initBackend } from '../../model/backend.js';
import type { Detector } from '../../model/detector.js';
import { trainDetector } from '../../model/trainer.js';
import type { SensorReading } from '../../schemas/types.js';
import { SensorGenerator } from '../../synth/sensor-generator.js';
import { sensorExtractor } from './sensor-fixture.js';

export interface SeasonFleet {
  /** What the champion trains on. */
  readonly trainRecords: readonly SensorReading[];
  /** Fresh normal readings of the training period. */
  readonly sameRecords: readonly SensorReading[];
  /** The next `n` readings of the fleet (the clock goes on). */
  later(n: number): SensorReading[];
}

export function seasonFleet(): SeasonFleet {
  const fleet = new SensorGenerator({ seed: 7, devices: 20, anomalyRate: 0, intervalMs: 1_800_000 });
  const early: SensorReading[] = Array.from({ length: 7000 }, () => fleet.next().record);
  return {
    trainRecords: early.filter((_, i) => i % 7 < 4),
    sameRecords: early.filter((_, i) => i % 7 >= 4),
    later: (n) => Array.from({ length: n }, () => fleet.next().record),
  };
}

/** The season change: the same reading in a warmer season. */
export const shifted = (r: SensorReading): SensorReading => ({
  ...r,
  temp_ambient_c: r.temp_ambient_c + 10,
  temp_coolant_in_c: r.temp_coolant_in_c + 6,
  temp_coolant_out_c: r.temp_coolant_out_c + 6,
});

/** A bearing fault: hot and shaking. */
export const spike = (r: SensorReading): SensorReading => ({
  ...r,
  temp_bearing_front_c: r.temp_bearing_front_c + 45,
  vibration_x_mm_s: r.vibration_x_mm_s * 6,
  vibration_rms_mm_s: r.vibration_rms_mm_s * 5,
});

/**
 * The champion (model version v1), trained on `trainRecords` and saved under a new temp dir (the caller removes
 * `base`). A briefly trained test model: its few hundred held-out scores cannot carry a 1e-4 tail (see
 * sensor-fixture.ts), so it runs at the 0.99 quantile, and the tests' gates allow for that.
 */
export async function trainSeasonChampion(
  trainRecords: readonly SensorReading[],
): Promise<{ detector: Detector; dir: string; base: string }> {
  await initBackend();
  const ex = sensorExtractor();
  const d = ex.width;
  const rows = new Float32Array(trainRecords.length * d);
  let n = 0;
  for (const r of trainRecords) if (ex.extractInto(r, rows, n * d).ok) n++;
  const detector = await trainDetector(rows.subarray(0, n * d), n, d, {
    featureNames: ex.featureNames,
    id: 'sensor-lifecycle',
    version: 'v1',
    epochs: 15,
    seed: 7,
    threshold: { quantile: 0.99 },
  });
  const base = await mkdtemp(path.join(tmpdir(), 'vigil-lifecycle-'));
  const dir = path.join(base, 'champion');
  await saveDetector(detector, dir);
  return { detector, dir, base };
}
