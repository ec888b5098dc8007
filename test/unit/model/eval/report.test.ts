import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEvaluateCli } from '../../../../model/eval/cli.js';
import { writeReport } from '../../../../model/eval/evaluate.js';
import { prCurve, rankingReport, rocCurve } from '../../../../model/eval/metrics.js';
import { escapeHtml, renderReportHtml } from '../../../../model/eval/report.js';
import {
  type EvaluationRun,
  meanOfSplits,
  plotCurves,
  type SplitResult,
  scoreHistogram,
} from '../../../../model/eval/results.js';
import { Rng } from '../../../../model/rng.js';

function fakeSplit(name: string, seed: number): SplitResult {
  const rng = new Rng(seed);
  const n = 2000;
  const labels = new Uint8Array(n);
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 10 === 0 ? 1 : 0;
    scores[i] = Math.exp(rng.normal() + (labels[i] ? 2 : 0));
  }
  const r = rankingReport(scores, labels);
  return {
    split: name,
    nTrain: 5000,
    nTest: n,
    positives: r.positives,
    aucRoc: r.aucRoc,
    aucPr: r.aucPr,
    calibrated: {
      threshold: 10,
      rule: 'test rule <b>',
      precision: 0.5,
      recall: 0.4,
      f1: 0.44,
      flaggedRate: 0.08,
      normalFlaggedRate: 0.0123,
      targetRate: 1e-4,
    },
    bestF1: r.bestF1,
    ...plotCurves(rocCurve(scores, labels), prCurve(scores, labels)),
    histogram: scoreHistogram(scores, labels, 30, 10),
    trainSeconds: 1.5,
    scoreSeconds: 0.1,
  };
}

const splits = [fakeSplit('seed0', 1), fakeSplit('seed1', 2)];
const run: EvaluationRun = {
  createdAt: '2026-11-24T00:00:00Z',
  model: 'dense',
  modelConfig: { model: { kind: 'dense' } },
  seed: 42,
  backend: 'wasm',
  datasets: [
    {
      dataset: 'shuttle',
      title: 'Shuttle',
      protocol: 'p',
      source: 's',
      d: 9,
      splits,
      mean: meanOfSplits(splits),
    },
  ],
};

describe('HTML report', () => {
  const html = renderReportHtml(run);

  it('holds the ROC, PR and score-distribution plots as inline SVG with the threshold marked', () => {
    expect(html.match(/<svg /g)?.length).toBe(3);
    expect(html).toContain('aria-label="ROC curve"');
    expect(html).toContain('aria-label="Precision-recall curve"');
    expect(html).toContain('aria-label="Test scores (seed0)"');
    expect(html).toContain('>threshold</text>');
    // One curve path per split in each of the ROC and PR plots.
    expect(html.match(/<path d="M/g)!.length).toBeGreaterThanOrEqual(4);
  });

  it('is self-contained: no scripts, no external resources', () => {
    expect(html).not.toMatch(/<script|<link|@import|src=/i);
    const urls = html.match(/https?:\/\/[^\s"')]+/g) ?? [];
    expect(urls.every((u) => u === 'http://www.w3.org/2000/svg')).toBe(true);
  });

  it('prints the mean over splits, the peer bar, and escapes text', () => {
    expect(html).toContain(`${(100 * run.datasets[0]!.mean.aucRoc).toFixed(2)}`);
    expect(html).toContain('99.88 (VAE)');
    expect(html).toContain('test rule &lt;b&gt;');
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('is written to the path given, creating directories', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'vigil-report-')), 'a', 'b', 'report.html');
    expect(writeReport(run, file)).toBe(file);
    expect(readFileSync(file, 'utf8')).toBe(html);
  });
});

describe('vigil evaluate on a CSV', () => {
  it('trains, scores and writes a report with the curves', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-evaluate-'));
    const rng = new Rng(5);
    const lines = ['a,b,c,label'];
    for (let i = 0; i < 800; i++) {
      const z = rng.normal();
      const anomalous = i >= 600 && i % 8 === 0;
      const c = anomalous ? -2 * z + 4 : 2 * z + 0.1 * rng.normal();
      lines.push(`${z},${z + 0.1 * rng.normal()},${c},${anomalous ? 1 : 0}`);
    }
    const data = path.join(dir, 'data.csv');
    writeFileSync(data, lines.join('\n'));
    const out = path.join(dir, 'report.html');
    const json = path.join(dir, 'results.json');
    const printed: string[] = [];
    await runEvaluateCli(
      [
        '--data',
        data,
        '--train-rows',
        '600',
        '--epochs',
        '30',
        '--out',
        out,
        '--json',
        json,
        '--backend',
        'wasm',
      ],
      { stdout: (t) => printed.push(t) },
    );
    expect(existsSync(out)).toBe(true);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('aria-label="ROC curve"');
    expect(html).toContain('aria-label="Precision-recall curve"');
    const results = JSON.parse(readFileSync(json, 'utf8')) as EvaluationRun;
    const s = results.datasets[0]!.splits[0]!;
    expect([s.nTrain, s.nTest, s.positives]).toEqual([600, 200, 25]);
    // The latent map: every test row's bottleneck code on the PCA plane, the two classes in two colours.
    const map = s.latentMap!;
    expect(html).toContain('aria-label="Latent map (head): PCA of the codes"');
    expect(html).toContain('projected with PCA (principal component analysis), fitted on the codes of');
    expect([map.normalRows, map.anomalousRows, map.x.length, map.y.length]).toEqual([175, 25, 200, 200]);
    expect(map.codes).toMatch(/bottleneck layer \(width \d+\)/);
    expect(map.explained[0]).toBeGreaterThan(0);
    expect(map.explained[0]! + map.explained[1]!).toBeLessThanOrEqual(1 + 1e-9);
    const circles = (cls: string) =>
      (html.match(new RegExp(`<g class="${cls}"[^>]*>(.*?)</g>`))?.[1]?.match(/<circle/g) ?? []).length;
    expect([circles('normal'), circles('anomalous')]).toEqual([175, 25]);
    // The broken correlation is what the model learned; it ranks those rows first.
    expect(s.aucRoc).toBeGreaterThan(0.9);
    // One split: its figures are the result, with no "mean" in front of them.
    expect(printed.join('')).toMatch(/: AUC-ROC \d+\.\d\d %.*; report /);
    expect(printed.join('')).not.toContain('mean');
  });

  it('names the bad option', async () => {
    await expect(runEvaluateCli(['--data', 'shuttle', '--seed', 'x'])).rejects.toThrow(
      /--seed must be an integer/,
    );
  });
});
