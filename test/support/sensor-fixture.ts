import { initBackend } from '../../model/backend.js';
import type { Detector } from '../../model/detector.js';
import type { PostprocessSettings } from '../../model/postprocess.js';
import { trainDetector } from '../../model/trainer.js';
import { loadSchema } from '../../schemas/catalog.js';
import { compileFeatures, type FeatureExtractor } from '../../schemas/features/extractor.js';
import { SENSOR_READING_FEATURES } from '../../schemas/features/presets.js';
import type { SensorReading } from '../../schemas/types.js';
import type { Labelled } from '../../synth/ground-truth.js';
import { SensorGenerator } from '../../synth/sensor-generator.js';

/**
 * The sensor preset compiled against the real schema, as the service compiles it, row-wise: the delivery,
 * crash and group tests that use it compare streamed against offline decisions record by record, which
 * per-entity temporal state would tie to partition interleaving (temporal features have tests of their own).
 * The integration configs that load this fixture's artifact say `temporal: { enabled: false }` to match.
 */
export function sensorExtractor(): FeatureExtractor {
  return compileFeatures(
    { ...SENSOR_READING_FEATURES, temporal: { enabled: false } },
    { readerSchema: loadSchema('sensor_reading') },
  );
}

export function sensorRecords(count: number, seed: number, anomalyRate: number): Labelled<SensorReading>[] {
  const gen = new SensorGenerator({ seed, devices: 20, anomalyRate });
  const out: Labelled<SensorReading>[] = [];
  for (let i = 0; i < count; i++) out.push(gen.next());
  return out;
}

/**
 * A small dense autoencoder trained on normal sensor readings: enough to score, fast enough for a test. With
 * `postprocess`, its threshold is calibrated on the post-processed scores, as `vigil train` does for ordered data.
 */
export async function trainSensorDetector(
  rows = 4000,
  seed = 7,
  postprocess?: PostprocessSettings,
  version = 'v1',
): Promise<Detector> {
  await initBackend();
  const extractor = sensorExtractor();
  const d = extractor.width;
  const records = sensorRecords(rows, seed, 0);
  const matrix = new Float32Array(rows * d);
  const entities: string[] = [];
  let n = 0;
  for (const { record } of records) {
    if (extractor.extractInto(record, matrix, n * d).ok) {
      entities.push(record.device_id);
      n++;
    }
  }
  return trainDetector(matrix.subarray(0, n * d), n, d, {
    featureNames: extractor.featureNames,
    id: 'sensor-test',
    version,
    epochs: 15,
    seed,
    // Each device's scores run through its own post-processing state, in record order.
    ...(postprocess ? { postprocess, entities } : {}),
    // A small, briefly trained model: its 800 held-out scores cannot support 1e-4 (the 1/n rule of
    // model/threshold.ts would put it at 1/800), and the crash, group and incident tests need anomalies to count
    // (more than 5 sure ones in 4,000 records). The 0.99 quantile keeps their expectations meaningful.
    threshold: { quantile: 0.99 },
  });
}
