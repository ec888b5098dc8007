import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVigilError } from '../../../core/errors.js';
import {
  ARTIFACT_FORMAT_VERSION,
  loadDetector,
  readManifest,
  saveDetector,
  updateEvaluation,
} from '../../../model/artifact.js';
import { initBackend } from '../../../model/backend.js';
import type { Detector } from '../../../model/detector.js';
import type { SpecOverrides } from '../../../model/spec.js';
import { trainDetector } from '../../../model/trainer.js';
import { mixing, normalRows, series } from './helpers.js';

const D = 6;
const M = mixing(D, 3);
let dir: string;

beforeAll(async () => {
  await initBackend({ preference: 'wasm' });
  dir = await mkdtemp(path.join(tmpdir(), 'vigil-artifact-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function train(model: SpecOverrides, entities?: string[]): Promise<Detector> {
  const data = model.kind === 'conv1d' ? series(600, D, 1) : normalRows(M, 600, 1);
  return trainDetector(data.rows, data.n, D, {
    model,
    epochs: 3,
    batchSize: 64,
    seed: 9,
    id: 'test-model',
    version: '7',
    featureNames: Array.from({ length: D }, (_, j) => `feature_${j}`),
    threshold: { perEntity: entities !== undefined, minEntitySamples: 20 },
    ...(entities ? { entities } : {}),
  });
}

async function expectRefused(target: string, pattern: RegExp): Promise<void> {
  let err: unknown;
  try {
    await loadDetector(target);
  } catch (e) {
    err = e;
  }
  expect(isVigilError(err, 'MODEL_INVALID')).toBe(true);
  expect((err as Error).message).toMatch(pattern);
}

describe('model artifact', () => {
  for (const model of [
    { kind: 'dense' },
    { kind: 'denoising', noise: 'mask' },
    { kind: 'vae', scoring: 'sampled', scoringSamples: 3 },
    { kind: 'conv1d', window: 8, filters: [8, 4] },
  ] as SpecOverrides[]) {
    it(`${model.kind}: round-trips bit-exactly (weights bytes, scores, explanations)`, async () => {
      const entities = Array.from({ length: 600 }, (_, i) => (i % 2 ? 'a' : 'b'));
      const det = await train(model, model.kind === 'dense' ? entities : undefined);
      const first = path.join(dir, `${model.kind}-1`);
      const second = path.join(dir, `${model.kind}-2`);
      const manifest = await saveDetector(det, first);
      expect(manifest.formatVersion).toBe(ARTIFACT_FORMAT_VERSION);
      expect(manifest.identity).toEqual({
        id: 'test-model',
        version: '7',
        featureNames: Array.from({ length: D }, (_, j) => `feature_${j}`),
      });
      expect(manifest.trainingData.features).toHaveLength(D);
      expect(manifest.runtime.backend).toBe('wasm');
      expect(Object.keys(manifest.files).sort()).toEqual(['model.json', 'weights.bin']);

      const loaded = await loadDetector(first);
      await saveDetector(loaded, second);
      const [w1, w2] = await Promise.all([first, second].map((p) => readFile(path.join(p, 'weights.bin'))));
      expect(Buffer.compare(w1!, w2!)).toBe(0);
      const [m1, m2] = await Promise.all(
        [first, second].map((p) => readFile(path.join(p, 'model.json'), 'utf8')),
      );
      expect(m2).toBe(m1);

      const rows = (model.kind === 'conv1d' ? series(200, D, 2) : normalRows(M, 200, 2)).rows;
      const ents = Array.from({ length: 200 }, (_, i) => (i % 2 ? 'a' : 'b'));
      const a = det.score(rows, 200, ents);
      const b = loaded.score(rows, 200, ents);
      for (const key of [
        'scores',
        'contributions',
        'expected',
        'severity',
        'threshold',
        'isAnomaly',
      ] as const) {
        expect(Buffer.compare(Buffer.from(a[key].buffer), Buffer.from(b[key].buffer))).toBe(0);
      }
      expect(loaded.calibration).toEqual(det.calibration);
      if (model.kind === 'dense')
        expect(Object.keys(loaded.calibration.perEntity).sort()).toEqual(['a', 'b']);
      det.dispose();
      loaded.dispose();
    });
  }

  it('refuses a weights file with one byte flipped', async () => {
    const det = await train({ kind: 'dense' });
    const target = path.join(dir, 'flipped');
    await saveDetector(det, target);
    det.dispose();
    const file = path.join(target, 'weights.bin');
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await writeFile(file, bytes);
    await expectRefused(target, /weights\.bin does not match its checksum/);
  });

  it('refuses an edited manifest (threshold changed by hand)', async () => {
    const det = await train({ kind: 'dense' });
    const target = path.join(dir, 'edited');
    await saveDetector(det, target);
    det.dispose();
    const file = path.join(target, 'manifest.json');
    const manifest = JSON.parse(await readFile(file, 'utf8'));
    manifest.threshold.threshold *= 10;
    await writeFile(file, JSON.stringify(manifest, null, 2));
    await expectRefused(target, /manifest\.json was modified/);
  });

  it('refuses a model.json whose shapes do not fit, even with checksums made to match', async () => {
    const det = await train({ kind: 'dense' });
    const target = path.join(dir, 'reshaped');
    await saveDetector(det, target);
    det.dispose();
    // Rewrite the spec to 7 inputs and re-seal everything: only the shape checks can catch it now.
    const { createHash } = await import('node:crypto');
    const { manifestDigest } = await import('../../../model/artifact.js');
    const modelPath = path.join(target, 'model.json');
    const model = JSON.parse(await readFile(modelPath, 'utf8'));
    model.modelTopology.vigil.inputDim = D + 1;
    const text = JSON.stringify(model);
    await writeFile(modelPath, text);
    const manifestPath = path.join(target, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.files['model.json'] = {
      sha256: createHash('sha256').update(text).digest('hex'),
      bytes: Buffer.byteLength(text),
    };
    manifest.digest = manifestDigest(manifest);
    await writeFile(manifestPath, JSON.stringify(manifest));
    await expectRefused(target, /takes 7 features but the manifest names 6/);
  });

  it('refuses an unknown format version and a directory that is not an artifact', async () => {
    const det = await train({ kind: 'dense' });
    const target = path.join(dir, 'future');
    await saveDetector(det, target);
    det.dispose();
    const { manifestDigest } = await import('../../../model/artifact.js');
    const manifestPath = path.join(target, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.formatVersion = ARTIFACT_FORMAT_VERSION + 1;
    manifest.digest = manifestDigest(manifest);
    await writeFile(manifestPath, JSON.stringify(manifest));
    await expectRefused(target, /format version 2 is not supported/);
    await expectRefused(path.join(dir, 'nothing-here'), /manifest\.json cannot be read/);
  });

  it('does not overwrite unless asked, and records evaluation metrics with a fresh digest', async () => {
    const det = await train({ kind: 'dense' });
    const target = path.join(dir, 'evaluated');
    await saveDetector(det, target);
    let err: unknown;
    try {
      await saveDetector(det, target);
    } catch (e) {
      err = e;
    }
    expect(isVigilError(err, 'INPUT_INVALID')).toBe(true);
    await saveDetector(det, target, { overwrite: true });
    det.dispose();
    await updateEvaluation(target, { aucRoc: 0.99 });
    expect((await readManifest(target)).evaluation).toEqual({ aucRoc: 0.99 });
    const loaded = await loadDetector(target);
    expect(loaded.state.evaluation).toEqual({ aucRoc: 0.99 });
    // Another operating point from the stored distribution, no retraining.
    const looser = await loadDetector(target, { threshold: { quantile: 0.5 } });
    expect(looser.activeCalibration.threshold).toBeLessThan(loaded.calibration.threshold);
    const rows = normalRows(M, 400, 5);
    const flagged = (d: Detector) => d.score(rows.rows, 400).isAnomaly.reduce((a, b) => a + b, 0);
    expect(flagged(looser)).toBeGreaterThan(flagged(loaded));
    loaded.dispose();
    looser.dispose();
  });
  it('stores the feature mapping and its fingerprint, and still loads an artifact written without one', async () => {
    const featureMapping = {
      fingerprint: 'ab'.repeat(32),
      spec: { entityKey: 'device_id', fields: [{ kind: 'numeric', path: 'feature_0' }] },
    };
    const data = normalRows(M, 600, 1);
    const det = await trainDetector(data.rows, data.n, D, {
      epochs: 3,
      batchSize: 64,
      seed: 9,
      featureNames: Array.from({ length: D }, (_, j) => `feature_${j}`),
      featureMapping,
    });
    const withMapping = path.join(dir, 'with-mapping');
    await saveDetector(det, withMapping);
    expect((await readManifest(withMapping)).featureMapping).toEqual(featureMapping);
    const loaded = await loadDetector(withMapping);
    expect(loaded.state.featureMapping).toEqual(featureMapping);
    loaded.dispose();

    // An artifact from before the mapping was stored: same manifest without the field, digest recomputed.
    const { featureMapping: _dropped, ...older } = det.state;
    const without = path.join(dir, 'without-mapping');
    await saveDetector(det, without, { state: older });
    // A mapping without its fingerprint is a damaged artifact, not an old one.
    const damaged = path.join(dir, 'damaged-mapping');
    await saveDetector(det, damaged, {
      state: { ...older, featureMapping: { spec: featureMapping.spec } as never },
    });
    det.dispose();
    const manifest = await readManifest(without);
    expect('featureMapping' in manifest).toBe(false);
    const old = await loadDetector(without);
    expect(old.state.featureMapping).toBeUndefined();
    old.dispose();
    await expectRefused(damaged, /featureMapping must hold a fingerprint/);
  });
});
