import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../model/backend.js';
import { createEvaluateCommand } from '../../../../model/eval/cli.js';
import { loadCsvDataset } from '../../../../model/eval/datasets.js';
import { evaluateSplit } from '../../../../model/eval/evaluate.js';
import { nabScore, windowsFromLabels } from '../../../../model/eval/nab.js';
import { Rng } from '../../../../model/rng.js';

/**
 * One sensor in time order: a noisy sine; anomalies are two level shifts in the second half (labelled
 * windows), so the file is ordered and NAB-like.
 */
function seriesCsv(n: number, seed: number, withSplit: boolean): string {
  const rng = new Rng(seed);
  const lines = [`timestamp,value,label${withSplit ? ',split' : ''}`];
  for (let i = 0; i < n; i++) {
    const anomalous = (i >= 700 && i < 740) || (i >= 900 && i < 930);
    const v = Math.sin(i / 8) + 0.05 * rng.normal() + (anomalous ? 3 : 0);
    lines.push(`${i},${v},${anomalous ? 1 : 0}${withSplit ? `,${i < 500 ? 'train' : 'test'}` : ''}`);
  }
  return lines.join('\n');
}

function writeTemp(name: string, text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'vigil-eval-')), name);
  writeFileSync(file, text);
  return file;
}

describe('vigil evaluate on any ordered CSV', () => {
  beforeAll(async () => {
    await initBackend({ preference: 'wasm' });
  });

  it('runs the conv1d model from a CSV with or without a split column', async () => {
    for (const [withSplit, options] of [
      [true, {}],
      [false, { trainRows: 500 }],
    ] as const) {
      const ds = loadCsvDataset(writeTemp('s.csv', seriesCsv(1_000, 1, withSplit)), {
        ...options,
        window: 8,
      });
      const split = ds.splits[0]!;
      expect(split.series?.nTrain).toBe(500);
      expect(split.series?.nTest).toBe(500);
      expect(split.series?.testFollowsTrain).toBe(true);
      const { result, scores } = await evaluateSplit(ds, split, {
        model: { kind: 'conv1d' },
        seed: 1,
        train: { epochs: 3 },
      });
      expect(scores).toHaveLength(500);
      expect(result.aucRoc).toBeGreaterThan(0.5);
    }
  }, 120_000);

  it('reports the share of normal test rows flagged beside the configured rate, and the NAB score of the detections', async () => {
    const text = seriesCsv(1_000, 2, false);
    const base = loadCsvDataset(writeTemp('n.csv', text), { trainRows: 500, window: 8 });
    const labels = text
      .split('\n')
      .slice(1)
      .map((l) => Number(l.split(',')[2]));
    const ds = loadCsvDataset(writeTemp('n.csv', text), { trainRows: 500, window: 8, nab: true });
    expect(ds.nab).toEqual({ rows: 1_000, windows: windowsFromLabels(labels) });
    expect(base.nab).toBeUndefined();
    const { result, scores } = await evaluateSplit(ds, ds.splits[0]!, { seed: 2, train: { epochs: 10 } });
    const nab = ds.nab!;
    const c = result.calibrated;
    // About 100 calibration rows cannot support 1e-4: the rate in force is raised to 1/n (model/threshold.ts).
    expect(c.requestedRate).toBe(1e-4);
    expect(c.targetRate).toBeGreaterThan(1e-4);
    expect(c.targetRate).toBeLessThanOrEqual(1 / 50);
    expect(c.rule).toMatch(new RegExp(`false-alarm rate of ${c.targetRate}`));
    let fp = 0;
    let normals = 0;
    const detections = new Uint8Array(1_000);
    for (let k = 0; k < scores.length; k++) {
      const label = ds.splits[0]!.testLabels[k]!;
      if (label === 0) {
        normals++;
        if (scores[k]! > c.threshold) fp++;
      }
      if (scores[k]! > c.threshold) detections[500 + k] = 1;
    }
    expect(normals).toBe(500 - 70);
    expect(c.normalFlaggedRate).toBe(fp / normals);
    // The level shifts are gross: both windows are caught.
    expect(result.nab).toEqual(nabScore(detections, nab.windows));
    expect(result.nab!.windows).toBe(2);
    expect(result.nab!.detectedWindows).toBe(2);
    expect(result.nab!.raw).toBeGreaterThan(0);
  }, 120_000);

  it('vigil evaluate prints the normal rows flagged beside the configured rate, and takes --false-alarm-rate', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-evalcli-'));
    const data = path.join(dir, 's.csv');
    writeFileSync(data, seriesCsv(1_000, 3, true));
    const printed: string[] = [];
    await createEvaluateCommand({ stdout: (t) => printed.push(t) }).parseAsync(
      [
        '--data',
        data,
        '--window',
        '8',
        '--epochs',
        '5',
        '--false-alarm-rate',
        '0.001',
        '--out',
        path.join(dir, 'r.html'),
        '--json',
        path.join(dir, 'r.json'),
      ],
      { from: 'user' },
    );
    const text = printed.join('');
    expect(text).toMatch(
      /normal rows flagged \d[\d.]* % \(configured 0\.100 %, in force \d[\d.]* %: 1\/n of the calibration rows\)/,
    );
    const run = JSON.parse(readFileSync(path.join(dir, 'r.json'), 'utf8'));
    expect(run.datasets[0].splits[0].calibrated.requestedRate).toBe(0.001);
  }, 120_000);
});
