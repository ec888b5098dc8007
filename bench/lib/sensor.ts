/**
 * The benchmark's workload: sensor readings (schemas/sensor_reading.avsc, ~35 features with the sensor-reading
 * preset) as plain Avro bodies, and a small dense autoencoder trained on normal readings, saved as an artifact
 * so every benchmark process scores with the same model.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { loadDetector, saveDetector } from '../../model/artifact.js';
import { initBackend } from '../../model/backend.js';
import type { Detector } from '../../model/detector.js';
import { DEFAULT_MAX_ENTITIES, type PostprocessSettings } from '../../model/postprocess.js';
import { trainDetector } from '../../model/trainer.js';
import { loadSchema } from '../../schemas/catalog.js';
import { compileFeatures, type FeatureExtractor } from '../../schemas/features/extractor.js';
import { SENSOR_READING_FEATURES } from '../../schemas/features/presets.js';
import { SensorGenerator } from '../../synth/sensor-generator.js';
import { arg } from './args.js';

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

/**
 * The post-processing the "with the stage" variant is trained with: the full stage (EWMA and likelihood, as
 * `vigil evaluate --ewma 30 --likelihood 200` sets it: warm-up = half-life / 10 = 20 records) and the
 * artifact's default entity limit. Post-processing is off unless an artifact carries it, so this is the stage as a
 * user switches it on. The warm-up is short on purpose: a keyed run of 18,000 records gives each of the fleet's
 * 200 devices 90, and a device in warm-up skips the likelihood (the costly part), so a longer warm-up would
 * measure less than the stage. The fleet stays far below the entity limit: no eviction is measured.
 */
export const BENCH_POSTPROCESS: PostprocessSettings = {
  ewmaHalfLife: 30,
  likelihood: { halfLife: 200, warmup: 20 },
  maxEntities: DEFAULT_MAX_ENTITIES,
};

export interface BenchModel {
  /** 'raw' (no post-processing) or 'post' (BENCH_POSTPROCESS). */
  readonly variant: 'raw' | 'post';
  readonly dir: string;
  readonly postprocess?: PostprocessSettings;
}

/**
 * The models `--postprocess off|on|ab` asks for (default off): ab gives both, to be run interleaved so load on
 * the machine falls on both alike. Each lives in a folder of its own under `work`.
 */
export function benchModels(work: string): BenchModel[] {
  const raw: BenchModel = { variant: 'raw', dir: `${work}/model` };
  // The folder is named after the settings, so changing them trains a new model instead of reusing a stale one.
  const tag = createHash('sha256').update(JSON.stringify(BENCH_POSTPROCESS)).digest('hex').slice(0, 8);
  const post: BenchModel = {
    variant: 'post',
    dir: `${work}/model-postprocess-${tag}`,
    postprocess: BENCH_POSTPROCESS,
  };
  const v = arg('postprocess', 'off');
  if (v === 'off') return [raw];
  if (v === 'on') return [post];
  if (v === 'ab') return [raw, post];
  throw new Error(`--postprocess must be off, on or ab, got ${v}`);
}

/**
 * Trains the small dense model once into `dir` (kept between runs: training is not what is measured). With
 * `postprocess`, each device's scores run through its own state in record order and the threshold is
 * calibrated on the processed scores, as for ordered data in the service.
 */
export async function ensureModel(dir: string, postprocess?: PostprocessSettings): Promise<void> {
  if (existsSync(`${dir}/manifest.json`)) return;
  await initBackend({ preference: 'wasm', allowFallback: true });
  const extractor = sensorExtractor();
  const d = extractor.width;
  const rows = POOL_SIZE;
  const gen = new SensorGenerator({ ...FLEET, anomalyRate: 0 });
  const matrix = new Float32Array(rows * d);
  const entities: string[] = [];
  let n = 0;
  for (let i = 0; i < rows; i++) {
    const { record } = gen.next();
    if (extractor.extractInto(record, matrix, n * d).ok) {
      entities.push(record.device_id);
      n++;
    }
  }
  const detector = await trainDetector(matrix.subarray(0, n * d), n, d, {
    featureNames: extractor.featureNames,
    id: 'bench-sensor',
    version: 'v1',
    epochs: 15,
    seed: 7,
    ...(postprocess ? { postprocess, entities } : {}),
  });
  await saveDetector(detector, dir, { overwrite: true });
  detector.dispose();
}

export async function openModel(dir: string): Promise<Detector> {
  await initBackend({ preference: 'wasm', allowFallback: true });
  return loadDetector(dir);
}
