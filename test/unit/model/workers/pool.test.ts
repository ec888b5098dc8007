import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveDetector } from '../../../../model/artifact.js';
import { initBackend } from '../../../../model/backend.js';
import type { Detector } from '../../../../model/detector.js';
import { Rng } from '../../../../model/rng.js';
import { trainDetector } from '../../../../model/trainer.js';
import { detectorSource, ScoringPool } from '../../../../model/workers/pool.js';

const D = 6;

/** Correlated rows (two latent factors) so the autoencoder has structure to learn; a few rows broken. */
function rows(n: number, seed: number, broken = 0): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    const a = rng.normal();
    const b = rng.normal();
    for (let j = 0; j < D; j++) out[i * D + j] = (j % 2 ? a : b) * (j + 1) + 0.05 * rng.normal();
    if (i < broken) out[i * D + 3] = out[i * D + 3]! + 100;
  }
  return out;
}

describe('ScoringPool', () => {
  let detector: Detector;
  const batch = rows(300, 7, 10);

  beforeAll(async () => {
    await initBackend({ preference: 'wasm' });
    detector = await trainDetector(rows(600, 1), 600, D, { epochs: 20, seed: 3 });
  });

  afterAll(() => detector?.dispose());

  it('returns the same BatchScores as scoring in this thread, from weights sent over', async () => {
    const local = detector.score(batch, 300);
    const pool = await ScoringPool.create(detectorSource(detector), { size: 2 });
    try {
      expect(pool.backends).toEqual(['wasm', 'wasm']);
      // Two batches at once: both workers busy, results matched to their own requests.
      const [a, b] = await Promise.all([
        pool.score(batch.slice(), 300),
        pool.score(batch.slice(0, 50 * D), 50),
      ]);
      for (const r of [a, b]) {
        const n = r.n;
        expect(r.d).toBe(D);
        expect(r.scores).toEqual(local.scores.subarray(0, n));
        expect(r.contributions).toEqual(local.contributions.subarray(0, n * D));
        expect(r.expected).toEqual(local.expected.subarray(0, n * D));
        expect(r.severity).toEqual(local.severity.subarray(0, n));
        expect(r.isAnomaly).toEqual(local.isAnomaly.subarray(0, n));
        expect(r.threshold).toEqual(local.threshold.subarray(0, n));
      }
      // The broken rows are the ones flagged: the model in the worker is the trained one, not a fresh one.
      expect(a.isAnomaly.subarray(0, 10).every((v) => v === 1)).toBe(true);
      const only = await pool.scoreOnly(batch.slice(), 300);
      expect(only).toEqual(local.scores);
    } finally {
      await pool.close();
    }
  });

  it('queues calls beyond the workers’ slots instead of refusing them; explains flagged rows only when asked', async () => {
    const local = detector.score(batch, 300, undefined, { explain: 'anomalies' });
    const pool = await ScoringPool.create(detectorSource(detector), { size: 1, maxInFlight: 1 });
    try {
      const scorer = pool.asScorer(detector.identity);
      expect(scorer.identity).toEqual(detector.identity);
      const results = await Promise.all(
        Array.from({ length: 6 }, () => scorer.scoreAsync(batch, 300, undefined, { explain: 'anomalies' })),
      );
      for (const r of results) {
        expect(r.scores).toEqual(local.scores);
        expect(r.isAnomaly).toEqual(local.isAnomaly);
        expect(r.contributions).toEqual(local.contributions);
      }
      // asScorer copies: the caller's rows are still readable (the pipeline reads flagged records' values).
      expect(batch.length).toBe(300 * D);
      const normalRow = local.isAnomaly.indexOf(0);
      expect(results[0]!.contributions.subarray(normalRow * D, normalRow * D + D).every((v) => v === 0)).toBe(
        true,
      );
    } finally {
      await pool.close();
    }
  });

  it('moves the caller’s buffer by default and copies a view or when asked to', async () => {
    const pool = await ScoringPool.create(detectorSource(detector), { size: 1 });
    try {
      const owned = batch.slice();
      await pool.scoreOnly(owned, 300);
      expect(owned.byteLength).toBe(0); // detached: ownership passed to the worker
      const kept = batch.slice();
      await pool.scoreOnly(kept, 300, undefined, { transfer: false });
      expect(kept.length).toBe(300 * D);
      const view = batch.slice().subarray(D, 11 * D);
      const s = await pool.scoreOnly(view, 10);
      expect(view.length).toBe(10 * D);
      expect(s).toEqual(detector.scoreOnly(batch.subarray(D), 10));
    } finally {
      await pool.close();
    }
  });

  it('loads from an artifact directory and shuts down cleanly', async () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'vigil-pool-')), 'model');
    await saveDetector(detector, dir);
    const pool = await ScoringPool.create({ kind: 'artifact', dir }, { size: 2 });
    const pending = pool.scoreOnly(batch.slice(), 300);
    await pool.close(); // lets the batch in flight finish
    expect(await pending).toEqual(detector.scoreOnly(batch, 300));
    await expect(pool.scoreOnly(batch.slice(), 300)).rejects.toMatchObject({ code: 'SHUTDOWN' });
    await pool.close(); // idempotent
  });

  it('refuses a short buffer and reports a model that cannot load', async () => {
    const pool = await ScoringPool.create(detectorSource(detector), { size: 1 });
    try {
      await expect(pool.scoreOnly(new Float32Array(5), 1)).rejects.toMatchObject({ code: 'INPUT_INVALID' });
    } finally {
      await pool.close();
    }
    await expect(
      ScoringPool.create({ kind: 'artifact', dir: path.join(tmpdir(), 'no-such-vigil-model') }, { size: 1 }),
    ).rejects.toMatchObject({ code: 'MODEL_INVALID' });
  });

  it('keeps a conv1d window history consistent when batches share an affinity key', async () => {
    const n = 400;
    const series = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      series[i * 2] = Math.sin(i / 5);
      series[i * 2 + 1] = Math.cos(i / 7);
    }
    const conv = await trainDetector(series, n, 2, {
      model: { kind: 'conv1d', window: 8 },
      epochs: 3,
      seed: 2,
    });
    try {
      const chunks = [0, 1, 2, 3].map((k) => series.slice(k * 100 * 2, (k + 1) * 100 * 2));
      conv.resetHistory();
      const local = chunks.map((c) => conv.scoreOnly(c, 100));
      const pool = await ScoringPool.create(detectorSource(conv), { size: 2 });
      try {
        // All four batches in flight at once; the same key sends them to one worker, which keeps their order.
        const remote = await Promise.all(
          chunks.map((c) => pool.scoreOnly(c.slice(), 100, undefined, { affinity: 7 })),
        );
        remote.forEach((r, k) => {
          expect(r).toEqual(local[k]);
        });
      } finally {
        await pool.close();
      }
    } finally {
      conv.dispose();
    }
  });
});

describe('ScoringPool load message (hot swap)', () => {
  it('scores each batch with the generation it names, and unloads the old one', async () => {
    await initBackend({ preference: 'wasm' });
    const first = await trainDetector(rows(600, 1), 600, D, { epochs: 5, seed: 3 });
    const second = await trainDetector(rows(600, 2), 600, D, { epochs: 5, seed: 9 });
    const batch = rows(50, 11);
    const pool = await ScoringPool.create(detectorSource(first), { size: 2 });
    try {
      const generation = await pool.load(detectorSource(second));
      expect(generation).toBe(1);
      const [old, fresh] = await Promise.all([
        pool.asScorer(first.identity, 0).scoreAsync(batch, 50),
        pool.asScorer(second.identity, generation).scoreAsync(batch, 50),
      ]);
      expect(old.scores).toEqual(first.score(batch, 50).scores);
      expect(fresh.scores).toEqual(second.score(batch, 50).scores);
      expect(fresh.scores).not.toEqual(old.scores);
      pool.unload(0);
      await expect(pool.asScorer(first.identity, 0).scoreAsync(batch, 50)).rejects.toThrow(/not loaded/);
      expect((await pool.asScorer(second.identity, generation).scoreAsync(batch, 50)).scores).toEqual(
        fresh.scores,
      );
    } finally {
      await pool.close();
      first.dispose();
      second.dispose();
    }
  }, 120_000);
});
