import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  defaultDataDir,
  loadBenchmark,
  loadCsvDataset,
  windowSeries,
} from '../../../../model/eval/datasets.js';

const sum = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);

// Counts as shared/data/README.md states them (rows, anomalies, features) and as its split codes imply.
// The shared data lives beside the repository (../shared/data); without it these checks cannot run.
describe.skipIf(!existsSync(defaultDataDir()))('shared/data loaders follow the README protocol', () => {
  it('resolves the shared data directory from the repository root', () => {
    expect(defaultDataDir()).toMatch(/shared[/\\]data$/);
  });

  it('shuttle: 49,097 rows, 3,511 anomalies, 9 features, three seeded splits', () => {
    const ds = loadBenchmark('shuttle');
    expect(ds.d).toBe(9);
    expect(ds.splits.map((s) => s.name)).toEqual(['seed0', 'seed1', 'seed2']);
    for (const s of ds.splits) {
      // 70/30 stratified: test holds 30 % of both classes; train the normal 70 %; the anomalous 70 % unused.
      expect(s.nTest).toBe(14_729);
      expect(sum(s.testLabels)).toBe(1_053);
      expect(s.nTrain).toBe(31_910);
      expect(s.nTrain + s.nTest + (3_511 - 1_053)).toBe(49_097);
      expect(s.train.length).toBe(s.nTrain * 9);
    }
    // Different seeds draw different test rows.
    expect(ds.splits[0]!.testRowIndex).not.toEqual(ds.splits[1]!.testRowIndex);
  });

  it('satellite: 6,435 rows, 2,036 anomalies, 36 features', () => {
    const ds = loadBenchmark('satellite');
    expect(ds.d).toBe(36);
    for (const s of ds.splits) {
      expect(s.nTrain).toBe(3_079);
      expect(s.nTest).toBe(1_931);
      expect(sum(s.testLabels)).toBe(611);
      expect(s.nTrain + s.nTest + (2_036 - 611)).toBe(6_435);
    }
  });

  it('SMAP P-1: 2,872 train + 8,505 test rows, 751 test anomalies, 25 features a row', () => {
    const one = loadBenchmark('smap-p1');
    const s = one.splits[0]!;
    expect([one.d, s.nTrain, s.nTest, sum(s.testLabels)]).toEqual([25, 2_872, 8_505, 751]);
    const w = loadBenchmark('smap-p1-w10');
    const sw = w.splits[0]!;
    expect([w.d, w.window, sw.nTrain, sw.nTest, sum(sw.testLabels)]).toEqual([250, 10, 2_872, 8_505, 751]);
    // The window's last row is the record's own row.
    expect(sw.test.subarray(100 * 250 + 225, 101 * 250)).toEqual(s.test.subarray(100 * 25, 101 * 25));
    expect(sw.test.subarray(100 * 250, 100 * 250 + 25)).toEqual(s.test.subarray(91 * 25, 92 * 25));
  });

  it('NAB machine temperature: window 12, first 750 rows train, the other 21,945 test, 2,268 anomalies', () => {
    const ds = loadBenchmark('nab-machine-temperature');
    const s = ds.splits[0]!;
    expect([ds.d, s.nTrain, s.nTest, sum(s.testLabels)]).toEqual([12, 750, 21_945, 2_268]);
    expect(s.testRowIndex[0]).toBe(750);
    // The first test window looks back into the probationary period: its oldest value is row 739's.
    expect(s.test[0]).toBe(s.train[749 * 12 + 1]);
    expect(s.test[11]).not.toBe(s.train[749 * 12 + 11]);
  });
});

describe('windowSeries', () => {
  it('puts the oldest row first and pads the start with the first row', () => {
    const series = Float32Array.from([1, 10, 2, 20, 3, 30]);
    expect([...windowSeries(series, 3, 2, 2)]).toEqual([1, 10, 1, 10, 1, 10, 2, 20, 2, 20, 3, 30]);
  });
});

describe('generic CSV loader', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-eval-'));

  it('uses the split column and leaves labelled anomalies out of training', () => {
    const file = path.join(dir, 'split.csv');
    writeFileSync(
      file,
      'timestamp,a,b,split,label\n1,1,2,train,0\n2,1,3,train,1\n3,2,2,train,0\n4,9,9,test,1\n5,1,2,test,0\n',
    );
    const ds = loadCsvDataset(file);
    const s = ds.splits[0]!;
    expect(ds.featureNames).toEqual(['a', 'b']);
    expect([s.nTrain, s.nTest, ds.droppedTrainAnomalies]).toEqual([2, 2, 1]);
    expect([...s.train]).toEqual([1, 2, 2, 2]);
    expect([...s.testLabels]).toEqual([1, 0]);
  });

  it('splits on leading rows when there is no split column, and refuses to guess', () => {
    const file = path.join(dir, 'head.csv');
    writeFileSync(file, 'x,label\n1,0\n2,0\n3,0\n4,1\n5,0\n');
    const s = loadCsvDataset(file, { trainRows: 3, window: 2 }).splits[0]!;
    expect([s.nTrain, s.nTest]).toEqual([3, 2]);
    expect([...s.test]).toEqual([3, 4, 4, 5]);
    expect(() => loadCsvDataset(file)).toThrow(/no split column/);
    expect(() => loadCsvDataset(file, { trainRows: 5 })).toThrow(/trainRows/);
  });

  it('refuses labels other than 0/1 and ragged lines', () => {
    const bad = path.join(dir, 'bad.csv');
    writeFileSync(bad, 'x,label\n1,0\n2,3\n');
    expect(() => loadCsvDataset(bad, { trainRows: 1 })).toThrow(/expected 0 or 1/);
    writeFileSync(bad, 'x,label\n1,0\n2\n');
    expect(() => loadCsvDataset(bad, { trainRows: 1 })).toThrow(/has 1 fields/);
  });
});
