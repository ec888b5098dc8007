// The composition root refuses, before it connects to anything, a model trained on other features than the
// configured mapping yields: a reordered mapping of the same width (which a width check let through) and a
// model trained on bare columns. Real artifacts on disk, the real config parser and startService.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService } from '../../../cli/compose.js';
import { parseConfig } from '../../../core/config/load.js';
import { isVigilError } from '../../../core/errors.js';
import { silentLogger } from '../../../core/logger.js';
import { saveDetector } from '../../../model/artifact.js';
import { initBackend } from '../../../model/backend.js';
import { trainDetector } from '../../../model/trainer.js';
import { loadSchema, schemaPath } from '../../../schemas/catalog.js';
import { compileFeatures, type FeatureExtractor } from '../../../schemas/features/extractor.js';
import { SENSOR_READING_FEATURES } from '../../../schemas/features/presets.js';
import { SensorGenerator } from '../../../synth/sensor-generator.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-compose-mapping-'));
const reader = loadSchema('sensor_reading');
const fields = SENSOR_READING_FEATURES.fields!;

async function artifactFor(name: string, x: FeatureExtractor, withMapping: boolean): Promise<string> {
  const gen = new SensorGenerator({ seed: 3, devices: 5, anomalyRate: 0 });
  const n = 300;
  const rows = new Float32Array(n * x.width);
  for (let i = 0; i < n; i++) x.extractInto(gen.next().record, rows, i * x.width);
  const det = await trainDetector(rows, n, x.width, {
    featureNames: x.featureNames,
    epochs: 2,
    seed: 1,
    ...(withMapping ? { featureMapping: { fingerprint: x.fingerprint, spec: x.spec } } : {}),
  });
  const target = path.join(dir, name);
  await saveDetector(det, target);
  det.dispose();
  return target;
}

function config(artifact: string) {
  return parseConfig(
    [
      'kafka: { brokers: ["127.0.0.1:1"], groupId: g }',
      'input:',
      '  topics: [t]',
      '  format: avro',
      `  schema: ${JSON.stringify(schemaPath('sensor_reading'))}`,
      'features: { preset: sensor-reading }',
      `model: { artifact: ${JSON.stringify(artifact)} }`,
      'output: { anomaliesTopic: a, deadLetterTopic: d }',
      'metrics: { enabled: false }',
    ].join('\n'),
  );
}

async function refusal(artifact: string): Promise<Error> {
  try {
    const service = await startService(config(artifact), silentLogger());
    await service.stop();
  } catch (err) {
    return err as Error;
  }
  throw new Error('startService did not refuse the model');
}

beforeAll(async () => {
  await initBackend({ preference: 'wasm' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vigil run with a model trained on other features', () => {
  it('refuses a reordered mapping of the same width, naming the first differing column', async () => {
    const swapped = compileFeatures(
      { ...SENSOR_READING_FEATURES, fields: [fields[1]!, fields[0]!, ...fields.slice(2)] },
      { readerSchema: reader },
    );
    const err = await refusal(await artifactFor('swapped', swapped, true));
    expect(isVigilError(err, 'MODEL_FEATURE_MISMATCH')).toBe(true);
    expect(err.message).toContain(
      `column 1 is "${swapped.featureNames[0]}" in the model but "${swapped.featureNames[1]}" in the feature mapping`,
    );
  });

  it('refuses a model of bare columns of another width', async () => {
    const fewer = compileFeatures(
      { ...SENSOR_READING_FEATURES, fields: fields.slice(0, 25) },
      { readerSchema: reader },
    );
    const err = await refusal(await artifactFor('bare', fewer, false));
    expect(isVigilError(err, 'MODEL_FEATURE_MISMATCH')).toBe(true);
    expect(err.message).toMatch(/the model expects 75 features, the feature mapping yields 97/);
  });
});
