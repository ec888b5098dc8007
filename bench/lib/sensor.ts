/**
 * The benchmark's workload: sensor readings (schemas/sensor_reading.avsc, ~35 features with the sensor-reading
 * preset) as plain Avro bodies, and a small dense autoencoder trained on normal readings, saved as an artifact
 * so every benchmark process scores with the same model.
 */
import { existsSync } from 'node:fs';
import { loadDetector, saveDetector } from '../../model/artifact.js';
import { initBackend } from '../../model/backend.js';
import type { Detector } from '../../model/detector.js';
import { trainDetector } from '../../model/trainer.js';
import { loadSchema } from '../../schemas/catalog.js';
import { compileFeatures, type FeatureExtractor } from '../../schemas/features/extractor.js';
import { SENSOR_READING_FEATURES } from '../../schemas/features/presets.js';
import { SensorGenerator } from '../../synth/sensor-generator.js';

export function sensorExtractor(): FeatureExtractor {
  return compileFeatures(SENSOR_READING_FEATURES, { readerSchema: loadSchema('sensor_reading') });
}

export interface EncodedRecord {
  readonly key: Buffer;
  readonly value: Buffer;
}

/** The generator's seed fixes the fleet: the model is trained on, and the benchmark streams, the same units. */
const FLEET = { seed: 7, devices: 200 } as const;
/**
 * Readings per pool and per training set: 100 rounds of the fleet, about 17 minutes of simulated time. The
 * pool (cycled by the fill) covers the same stretch of time as the training data, as a deployed model's
 * training window covers what it scores; slow channels drift, and a pool reaching past the training window
 * would be flagged as anomalous wholesale.
 */
export const POOL_SIZE = 20_000;

/**
 * `count` distinct encoded readings from the fleet with 1% labelled anomalies (the generator's default rate),
 * cycled by the fill to any backlog size. Distinct enough that decode and scoring do real work on each.
 */
export function sensorPool(count = POOL_SIZE, streamSeed = 11): EncodedRecord[] {
  const type = loadSchema('sensor_reading');
  const gen = new SensorGenerator({ ...FLEET, streamSeed, anomalyRate: 0.01 });
  const out: EncodedRecord[] = [];
  for (let i = 0; i < count; i++) {
    const { record } = gen.next();
    out.push({ key: Buffer.from(record.device_id), value: type.toBuffer(record) });
  }
  return out;
}

/** Trains the small dense model once into `dir` (kept between runs: training is not what is measured). */
export async function ensureModel(dir: string): Promise<void> {
  if (existsSync(`${dir}/manifest.json`)) return;
  await initBackend({ preference: 'wasm', allowFallback: true });
  const extractor = sensorExtractor();
  const d = extractor.width;
  const rows = POOL_SIZE;
  const gen = new SensorGenerator({ ...FLEET, anomalyRate: 0 });
  const matrix = new Float32Array(rows * d);
  let n = 0;
  for (let i = 0; i < rows; i++) {
    if (extractor.extractInto(gen.next().record, matrix, n * d).ok) n++;
  }
  const detector = await trainDetector(matrix.subarray(0, n * d), n, d, {
    featureNames: extractor.featureNames,
    id: 'bench-sensor',
    version: 'v1',
    epochs: 15,
    seed: 7,
  });
  await saveDetector(detector, dir, { overwrite: true });
  detector.dispose();
}

export async function openModel(dir: string): Promise<Detector> {
  await initBackend({ preference: 'wasm', allowFallback: true });
  return loadDetector(dir);
}
