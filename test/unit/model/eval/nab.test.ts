import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isVigilError } from '../../../../core/errors.js';
import { defaultDataDir } from '../../../../model/eval/datasets.js';
import {
  NAB_STANDARD_PROFILE,
  nabProbationaryLength,
  nabScore,
  scaledSigmoid,
  windowsFromLabels,
} from '../../../../model/eval/nab.js';

/*
 * Expected values are worked by hand from NAB's definitions (nab/sweeper.py), with the scaled sigmoid
 * σ(x) = 2·sigmoid(−5x) − 1 evaluated in Python:
 *   σ(−1) = 0.9866142981514305 (the documented 0.98661), σ(−0.1)/σ(−1) = 0.24824154977542992,
 *   σ(−0.6)/σ(−1) = 0.9174286804284079, 0.11·σ(10/9) = −0.10915277288169534, 0.11·σ(1/9) = −0.029793183036839352.
 */
const N = 200;
const WINDOW = { start: 50, end: 59 }; // 10 rows
const noProbation = { probationaryLength: 0 };

function detectionsAt(...rows: number[]): Uint8Array {
  const d = new Uint8Array(N);
  for (const r of rows) d[r] = 1;
  return d;
}

describe('scaledSigmoid', () => {
  it('matches NAB at the documented points', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.9866142981514305, 14);
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(1)).toBeCloseTo(-0.9866142981514305, 14);
    expect(scaledSigmoid(3)).toBe(-1);
  });
});

describe('nabScore, standard profile', () => {
  it('rewards a detection on the window start with exactly A_TP', () => {
    const s = nabScore(detectionsAt(50), [WINDOW], noProbation);
    expect(s.raw).toBeCloseTo(1, 12);
    expect(s.normalised).toBeCloseTo(100, 10);
    expect(s.detectedWindows).toBe(1);
    expect(s.falsePositives).toBe(0);
  });

  it('rewards a detection on the window end with about a quarter', () => {
    const s = nabScore(detectionsAt(59), [WINDOW], noProbation);
    expect(s.raw).toBeCloseTo(0.24824154977542992, 12);
    // (0.248 − (−1)) / (1 − (−1))
    expect(s.normalised).toBeCloseTo(62.4120774887715, 9);
  });

  it('counts only the earliest detection in a window', () => {
    const s = nabScore(detectionsAt(54, 55, 58, 59), [WINDOW], noProbation);
    expect(s.raw).toBeCloseTo(0.9174286804284079, 12);
    expect(s.falsePositives).toBe(0);
  });

  it('charges a missed window A_FN and a false positive before any window the full A_FP', () => {
    const s = nabScore(detectionsAt(10), [WINDOW], noProbation);
    expect(s.raw).toBeCloseTo(-1 - 0.11, 12);
    expect(s.falsePositives).toBe(1);
    expect(s.detectedWindows).toBe(0);
  });

  it('charges false positives after a window by their distance from its end', () => {
    const near = nabScore(detectionsAt(50, 60), [WINDOW], noProbation);
    expect(near.raw).toBeCloseTo(1 - 0.029793183036839352, 12);
    const mid = nabScore(detectionsAt(50, 69), [WINDOW], noProbation);
    expect(mid.raw).toBeCloseTo(1 - 0.10915277288169534, 12);
    // Three window widths past the end and more: the full A_FP.
    const far = nabScore(detectionsAt(50, 59 + 27, 150), [WINDOW], noProbation);
    expect(far.raw).toBeCloseTo(1 - 2 * 0.11, 12);
  });

  it('gives the null detector −(number of windows) and normalised 0', () => {
    const windows = [
      { start: 20, end: 29 },
      { start: 60, end: 79 },
      { start: 120, end: 121 },
      { start: 190, end: 199 },
    ];
    const s = nabScore(new Uint8Array(N), windows, noProbation);
    expect(s.raw).toBe(-4);
    expect(s.nullScore).toBe(-4);
    expect(s.perfectScore).toBeCloseTo(4, 12);
    expect(s.normalised).toBe(0);
  });

  it('ignores detections in the probationary period and windows that end inside it', () => {
    const windows = [
      { start: 5, end: 9 },
      { start: 50, end: 59 },
    ];
    const s = nabScore(detectionsAt(3, 7, 50), windows, { probationaryLength: 15 });
    expect(s.windows).toBe(1);
    expect(s.raw).toBeCloseTo(1, 12);
    expect(s.falsePositives).toBe(0);
    // A false positive after the probation is still measured from the window inside it: |20 − 9| / 4 ≥ 2.75.
    const fp = nabScore(detectionsAt(20, 50), windows, { probationaryLength: 15 });
    expect(fp.raw).toBeCloseTo(1 + 0.11 * scaledSigmoid(11 / 4), 12);
  });

  it('refuses overlapping or out-of-range windows', () => {
    for (const windows of [
      [
        { start: 10, end: 20 },
        { start: 20, end: 30 },
      ],
      [{ start: 190, end: 210 }],
      [{ start: 30, end: 20 }],
    ]) {
      let err: unknown;
      try {
        nabScore(new Uint8Array(N), windows, noProbation);
      } catch (e) {
        err = e;
      }
      expect(isVigilError(err, 'INPUT_INVALID')).toBe(true);
    }
  });

  it('uses the standard profile weights by default', () => {
    expect(NAB_STANDARD_PROFILE).toEqual({ tpWeight: 1, fpWeight: 0.11, fnWeight: 1 });
  });
});

describe('windowsFromLabels and the probation', () => {
  it('reads maximal runs of 1s, ends inclusive', () => {
    expect(windowsFromLabels([0, 1, 1, 0, 0, 1, 0, 1])).toEqual([
      { start: 1, end: 2 },
      { start: 5, end: 5 },
      { start: 7, end: 7 },
    ]);
    expect(nabProbationaryLength(22_695)).toBe(750);
    expect(nabProbationaryLength(1_000)).toBe(150);
  });

  // The shared data lives beside the repository (../shared/data); without it this check cannot run.
  const nabFile = path.join(defaultDataDir(), 'nab_machine_temperature_system_failure.csv');
  it.skipIf(!existsSync(nabFile))(
    'finds the four windows of NAB machine temperature, where the null detector scores −4.0',
    () => {
      const file = nabFile;
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      const header = lines[0]!.split(',');
      const col = header.indexOf('label');
      const labels = lines.slice(1).map((l) => Number(l.split(',')[col]));
      expect(labels).toHaveLength(22_695);
      const windows = windowsFromLabels(labels);
      expect(windows).toHaveLength(4);
      expect(windows.reduce((a, w) => a + w.end - w.start + 1, 0)).toBe(2_268);
      const none = nabScore(new Uint8Array(labels.length), windows);
      expect(none.probationaryLength).toBe(750);
      expect(none.raw).toBe(-4);
      // An alarm on every row: all four windows caught at their start, every other row a false positive.
      const all = nabScore(new Uint8Array(labels.length).fill(1), windows);
      expect(all.detectedWindows).toBe(4);
      expect(all.windowScore).toBeCloseTo(4, 12);
      expect(all.falsePositives).toBe(labels.length - 750 - 2_268);
    },
  );
});
