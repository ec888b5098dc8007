import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveDetector } from '../../../../model/artifact.js';
import { initBackend } from '../../../../model/backend.js';
import {
  createEvaluateCommand,
  createScoreCommand,
  createTrainCommand,
  numberOption,
} from '../../../../model/eval/cli.js';
import { loadCsvDataset } from '../../../../model/eval/datasets.js';
import { evaluateSplit } from '../../../../model/eval/evaluate.js';
import { postprocessSeries } from '../../../../model/postprocess.js';
import { Rng } from '../../../../model/rng.js';
import { trainDetector } from '../../../../model/trainer.js';

/** Two correlated features and a third tied to them; anomalies break the tie. */
function csv(n: number, seed: number, withSplit: boolean): string {
  const rng = new Rng(seed);
  const lines = [`a,b,c,label${withSplit ? ',split' : ''}`];
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    const test = i >= n * 0.7;
    const anomalous = test && i % 10 === 0;
    const c = anomalous ? -2 * z + 5 : 2 * z + 0.1 * rng.normal();
    lines.push(
      `${z},${z + 0.1 * rng.normal()},${c},${anomalous ? 1 : 0}${withSplit ? `,${test ? 'test' : 'train'}` : ''}`,
    );
  }
  return lines.join('\n');
}

describe('vigil train / vigil score', () => {
  it('trains on the train rows, saves an artifact, and scores a file with it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-cli-'));
    const data = path.join(dir, 'data.csv');
    writeFileSync(data, csv(600, 3, true));
    const model = path.join(dir, 'model');
    const printed: string[] = [];
    const deps = { stdout: (t: string) => printed.push(t) };
    await createTrainCommand(deps).parseAsync(['--data', data, '--out', model, '--epochs', '20'], {
      from: 'user',
    });
    expect(existsSync(path.join(model, 'manifest.json'))).toBe(true);
    expect(printed.join('')).toMatch(/trained dense on 420 rows × 3 features/);

    const out = path.join(dir, 'scores.csv');
    await createScoreCommand(deps).parseAsync(['--model', model, '--data', data, '--out', out], {
      from: 'user',
    });
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('row,score,severity,is_anomaly,threshold,top_feature');
    expect(lines).toHaveLength(601);
    // Anomalous rows break the a/b/c relation through c: it carries most of their error.
    const row420 = lines[1 + 420]!.split(',');
    expect(row420[5]).toBe('c');
    expect(printed.join('')).toMatch(/scored 600 rows .* AUC-ROC (9\d|100)\.\d\d %/);

    // Without --out the CSV is standard output, and the summary a readable line on standard error.
    const csvOut: string[] = [];
    const errOut: string[] = [];
    await createScoreCommand({ stdout: (t) => csvOut.push(t), stderr: (t) => errOut.push(t) }).parseAsync(
      ['--model', model, '--data', data],
      { from: 'user' },
    );
    expect(csvOut.join('').trim().split('\n')).toHaveLength(601);
    expect(csvOut.join('')).not.toContain('scored 600 rows');
    expect(errOut.join('')).toMatch(/^scored 600 rows with .*: \d+ flagged; AUC-ROC/);
  });

  it('evaluate on a single-split CSV reports that split, not a mean', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-cli-'));
    const data = path.join(dir, 'data.csv');
    writeFileSync(data, csv(400, 5, true));
    const printed: string[] = [];
    await createEvaluateCommand({ stdout: (t) => printed.push(t) }).parseAsync(
      ['--data', data, '--out', path.join(dir, 'r.html'), '--epochs', '3'],
      { from: 'user' },
    );
    const last = printed[printed.length - 1]!;
    expect(last).toMatch(/^data\.csv: AUC-ROC \d+\.\d\d %/);
    expect(printed.join('')).not.toContain('mean');
  });

  it('names the offending option', () => {
    expect(() => numberOption('epochs', '0', { int: true, min: 1 })).toThrow(
      /--epochs must be an integer ≥ 1, got "0"/,
    );
    expect(numberOption('trim', '0.05', { min: 0, max: 0.5 })).toBe(0.05);
    expect(numberOption('trim', undefined)).toBeUndefined();
  });
});

describe('experimental score post-processing', () => {
  it('smooths ordered test scores and takes its threshold from the processed training scores', async () => {
    await initBackend({ preference: 'wasm' });
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-post-'));
    const data = path.join(dir, 'series.csv');
    writeFileSync(data, csv(500, 4, false));
    const ds = loadCsvDataset(data, { trainRows: 350 });
    const raw = await evaluateSplit(ds, ds.splits[0]!, { seed: 1, train: { epochs: 10 } });
    const smooth = await evaluateSplit(ds, ds.splits[0]!, {
      seed: 1,
      train: { epochs: 10 },
      postprocess: { ewmaHalfLife: 5 },
    });
    // Smoothing spreads each isolated spike over its neighbours: the series varies less from row to row.
    const roughness = (s: Float32Array) => s.slice(1).reduce((a, v, i) => a + Math.abs(v - s[i]!), 0);
    expect(roughness(smooth.scores)).toBeLessThan(roughness(raw.scores) / 2);
    expect(smooth.result.calibrated.rule).toMatch(/post-processed scores/);
    expect(raw.result.calibrated.rule).toMatch(/calibrated threshold/);
  });
});

describe('a model calibrated on post-processed scores', () => {
  it('stores the settings, calibrates on processed held-out scores, and vigil score judges processed scores', async () => {
    await initBackend({ preference: 'wasm' });
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-pp-'));
    const data = path.join(dir, 'data.csv');
    const text = csv(600, 5, false);
    writeFileSync(data, text);
    const values = text
      .split('\n')
      .slice(1)
      .map((l) => l.split(',').slice(0, 3).map(Number));
    const rows = Float32Array.from(values.slice(0, 400).flat());
    const settings = { ewmaHalfLife: 3, maxEntities: 10 };
    const det = await trainDetector(rows, 400, 3, {
      featureNames: ['a', 'b', 'c'],
      epochs: 10,
      seed: 1,
      postprocess: settings,
    });
    // A smoother that barely moves: the calibration sees processed scores (almost no spread), not raw ones.
    const flat = await trainDetector(rows, 400, 3, {
      featureNames: ['a', 'b', 'c'],
      epochs: 10,
      seed: 1,
      postprocess: { ewmaHalfLife: 1e6, maxEntities: 10 },
    });
    const spread = (v: readonly number[]) => v.at(-1)! - v[0]!;
    expect(spread(flat.calibration.distribution.values)).toBeLessThan(
      0.1 * spread(det.calibration.distribution.values),
    );
    flat.dispose();
    const model = path.join(dir, 'model');
    try {
      expect(det.calibration.postprocess).toEqual(settings);
      await saveDetector(det, model);
    } finally {
      det.dispose();
    }
    const out = path.join(dir, 'scores.csv');
    await createScoreCommand({ stdout: () => {} }).parseAsync(
      ['--model', model, '--data', data, '--out', out, '--batch', '97'],
      { from: 'user' },
    );
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('row,score,severity,is_anomaly,threshold,top_feature,raw_score');
    const cols = lines.slice(1).map((l) => l.split(','));
    const raw = cols.map((c) => Number(c[6]));
    const expected = postprocessSeries(raw, settings);
    cols.forEach((c, i) => {
      const score = Number(c[1]);
      expect(score).toBeCloseTo(expected[i]!, 4);
      expect(c[3]).toBe(score > Number(c[4]) ? '1' : '0');
    });
    // Smoothing changes the scores: the score column is not the raw one.
    expect(cols.some((c) => c[1] !== c[6])).toBe(true);
  }, 120_000);
});
