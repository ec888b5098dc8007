// The model ↔ feature-mapping check (model/feature-mapping.ts) on real compiled mappings: the sensor preset
// against the shipped schema, and variations of it that a width-only check let through.
import { describe, expect, it } from 'vitest';
import { isVigilError, type VigilError } from '../../../core/errors.js';
import { checkFeatureMapping, type FeatureMapping } from '../../../model/feature-mapping.js';
import { loadSchema } from '../../../schemas/catalog.js';
import { compileFeatures, type FeatureExtractor } from '../../../schemas/features/extractor.js';
import { SENSOR_READING_FEATURES } from '../../../schemas/features/presets.js';

const reader = loadSchema('sensor_reading');
const preset = compileFeatures(SENSOR_READING_FEATURES, { readerSchema: reader });
const fields = SENSOR_READING_FEATURES.fields!;

function trainedWith(x: FeatureExtractor): {
  featureNames: readonly string[];
  featureMapping: FeatureMapping;
} {
  // Through JSON, as the artifact stores it.
  const featureMapping = JSON.parse(
    JSON.stringify({ fingerprint: x.fingerprint, spec: x.spec }),
  ) as FeatureMapping;
  return { featureNames: [...x.featureNames], featureMapping };
}

function refusal(f: () => unknown): VigilError {
  try {
    f();
  } catch (err) {
    if (isVigilError(err)) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('checkFeatureMapping', () => {
  it('accepts the mapping the model was trained with, after the artifact round trip', () => {
    expect(checkFeatureMapping(trainedWith(preset), preset)).toBe('verified');
  });

  it('refuses a reordered mapping of the same width, naming the first differing column', () => {
    const swapped = compileFeatures(
      { ...SENSOR_READING_FEATURES, fields: [fields[1]!, fields[0]!, ...fields.slice(2)] },
      { readerSchema: reader },
    );
    expect(swapped.width).toBe(preset.width);
    const err = refusal(() => checkFeatureMapping(trainedWith(preset), swapped));
    expect(err.code).toBe('MODEL_FEATURE_MISMATCH');
    const [a, b] = preset.featureNames;
    expect(err.message).toContain(`both have ${preset.width} features`);
    expect(err.message).toContain(`column 1 is "${a}" in the model but "${b}" in the feature mapping`);
    expect(err.details).toMatchObject({ column: 1, model: a, mapping: b });
  });

  it('refuses a mapping of another width, saying both widths and where they part', () => {
    const fewer = compileFeatures(
      { ...SENSOR_READING_FEATURES, fields: fields.slice(0, -1) },
      { readerSchema: reader },
    );
    const err = refusal(() => checkFeatureMapping(trainedWith(preset), fewer));
    expect(err.message).toContain(
      `the model expects ${preset.width} features, the feature mapping yields ${fewer.width}`,
    );
    // The temporal columns follow the row's own, so the first to part is where the dropped field's were.
    const i = preset.featureNames.findIndex((n, j) => n !== fewer.featureNames[j]);
    expect(i).toBeGreaterThan(0);
    expect(err.message).toContain(
      `column ${i + 1} is "${preset.featureNames[i]}" in the model but "${fewer.featureNames[i]}" in the feature mapping`,
    );
  });

  it('refuses a changed transform that keeps every column name, naming the feature', () => {
    const first = fields[0] as { path: string };
    const logged = compileFeatures(
      {
        ...SENSOR_READING_FEATURES,
        fields: [{ kind: 'numeric', path: first.path, transform: 'log1p' }, ...fields.slice(1)],
      },
      { readerSchema: reader },
    );
    expect(logged.featureNames).toEqual(preset.featureNames);
    const err = refusal(() => checkFeatureMapping(trainedWith(preset), logged));
    expect(err.code).toBe('MODEL_FEATURE_MISMATCH');
    expect(err.message).toContain(`feature "${first.path}" (fields[0])`);
    expect(err.message).toContain('"transform":"log1p"');
    expect(err.details).toMatchObject({ feature: first.path });
  });

  it('refuses a different entity key with the same columns', () => {
    const other = compileFeatures(
      { ...SENSOR_READING_FEATURES, entityKey: 'site' },
      { readerSchema: reader },
    );
    const err = refusal(() => checkFeatureMapping(trainedWith(preset), other));
    expect(err.message).toContain('entityKey is "device_id" in the model, "site" in the feature mapping');
  });

  it('matches a model that records no mapping (older artifact, bare columns) by names only', () => {
    expect(checkFeatureMapping({ featureNames: [...preset.featureNames] }, preset)).toBe('names-only');
    const csvColumns = preset.featureNames.slice(0, 25);
    expect(() => checkFeatureMapping({ featureNames: csvColumns }, preset)).toThrow(
      /the model expects 25 features, the feature mapping yields 97/,
    );
  });
});
