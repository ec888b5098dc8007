// The hot swap's holder without a broker: a swap hands the pipeline (here a recording target) the new scorer,
// keeps the old model alive until the batches that held it settle, and refuses a model of other features
// (counted by reason) while the current one keeps serving.
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelServer, type SwapTarget } from '../../../../connector/registry/model-server.js';
import { isVigilError } from '../../../../core/errors.js';
import { silentLogger } from '../../../../core/logger.js';
import { VigilMetrics } from '../../../../core/metrics/vigil-metrics.js';
import { initBackend } from '../../../../model/backend.js';
import type { Detector } from '../../../../model/detector.js';
import { trainDetector } from '../../../../model/trainer.js';
import type { AsyncScorer, Scorer } from '../../../../model/types.js';
import { mixing, normalRows } from '../../model/helpers.js';

const D = 5;
const names = Array.from({ length: D }, (_, j) => `f${j}`);
const mapping = { featureNames: names, fingerprint: 'fp', spec: { fields: names.map((path) => ({ path })) } };

async function train(seed: number, featureNames = names): Promise<Detector> {
  const data = normalRows(mixing(D, 3), 400, seed);
  return trainDetector(data.rows, data.n, D, { epochs: 3, seed, featureNames });
}

function disposed(d: Detector): boolean {
  try {
    d.score(new Float32Array(D), 1);
    return false;
  } catch (err) {
    return isVigilError(err, 'MODEL_NOT_TRAINED');
  }
}

class Target implements SwapTarget {
  readonly scorers: (Scorer | AsyncScorer)[] = [];
  release!: () => void;
  setScorer(scorer: Scorer | AsyncScorer): Promise<void> {
    this.scorers.push(scorer);
    return new Promise((resolve) => {
      this.release = resolve;
    });
  }
}

describe('ModelServer', () => {
  let registry: Registry;
  let metrics: VigilMetrics;
  beforeAll(async () => {
    await initBackend({ preference: 'wasm' });
  });
  afterAll(() => {});

  function server(): ModelServer {
    registry = new Registry();
    metrics = new VigilMetrics(registry);
    return new ModelServer({ mapping, backend: 'wasm', metrics, logger: silentLogger() });
  }

  it('swaps between batches and disposes the old model only after its batches settle', async () => {
    const s = server();
    const a = await train(1);
    const b = await train(2);
    expect(await s.swap(a, 'v1')).toMatchObject({ swapped: true, previous: undefined });
    expect((await s.whenServing()).version).toBe('v1');
    const target = new Target();
    s.attach(target);
    const swapping = s.swap(b, 'v2');
    // The pipeline has the new scorer at once; the old model is still usable by batches in flight.
    await new Promise((r) => setTimeout(r, 20));
    expect(target.scorers).toEqual([b]);
    expect(s.current?.version).toBe('v2');
    expect(disposed(a)).toBe(false);
    target.release();
    expect(await swapping).toMatchObject({ swapped: true, version: 'v2', previous: 'v1' });
    expect(disposed(a)).toBe(true);
    expect(disposed(b)).toBe(false);
    expect((await registry.getSingleMetric('vigil_model_swaps_total')!.get()).values[0]!.value).toBe(1);
    const info = await registry.getSingleMetric('vigil_model_registry_version_info')!.get();
    expect(info.values.map((v) => v.labels['version'])).toEqual(['v2']);
    await s.close();
    expect(disposed(b)).toBe(true);
  });

  it('refuses a model trained on other features and keeps serving the current one', async () => {
    const s = server();
    const a = await train(1);
    await s.swap(a, 'v1');
    const target = new Target();
    s.attach(target);
    const other = await train(
      3,
      names.map((n, j) => (j === 2 ? 'other' : n)),
    );
    const outcome = await s.swap(other, 'v-bad');
    expect(outcome).toMatchObject({ swapped: false, version: 'v-bad', reason: 'feature_mismatch' });
    expect(target.scorers).toEqual([]);
    expect(s.current?.version).toBe('v1');
    expect(disposed(other)).toBe(true);
    expect(disposed(a)).toBe(false);
    const refusals = await registry.getSingleMetric('vigil_model_refusals_total')!.get();
    const byReason = Object.fromEntries(refusals.values.map((v) => [v.labels['reason'], v.value]));
    expect(byReason).toMatchObject({ feature_mismatch: 1, digest: 0, load_failed: 0 });
    expect((await s.swapFromDir('/nonexistent/artifact', 'v-missing')).swapped).toBe(false);
    await s.close();
  });

  it('keeps the current model serving when the pipeline refuses the new scorer', async () => {
    const s = server();
    const a = await train(1);
    const b = await train(2);
    await s.swap(a, 'v1');
    s.attach({
      setScorer() {
        throw new Error('a replacement model must take the same features as the mapping');
      },
    });
    const outcome = await s.swap(b, 'v2');
    expect(outcome).toMatchObject({ swapped: false, version: 'v2', reason: 'load_failed' });
    expect(s.current?.version).toBe('v1');
    expect(disposed(b)).toBe(true);
    expect(disposed(a)).toBe(false);
    const info = await registry.getSingleMetric('vigil_model_registry_version_info')!.get();
    expect(info.values.map((v) => v.labels['version'])).toEqual(['v1']);
    await s.close();
  });
});
