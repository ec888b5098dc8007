/**
 * Loaders for the labelled public data sets in shared/data, implementing its README's protocol exactly, and a
 * generic loader for any labelled CSV with a train/test split.
 *
 * Features are returned in their own units: scaling is the model's job (model/preprocess.ts fits a robust
 * scaler on the training rows it is given, i.e. on train rows only), so scaling here too would scale twice.
 *
 * Windows: a record at row t is the window of rows t−w+1 … t, oldest first, flattened row-major (so a record is
 * w × rowWidth values, which is also the [time, channel] layout a 1-D convolution reads). The first w−1 rows of
 * a series have too little history; their windows repeat the series' first row (edge padding), so every row of
 * the protocol is scored and the counts match the README. Where train and test are separate recordings (SMAP)
 * each is windowed on its own; where they are one series cut in two (NAB), the series is windowed as a whole, so
 * the first test windows look back into the probationary period, as they would in a live stream.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VigilError } from '../../core/errors.js';
import { splitRoles } from '../split.js';
import { type CsvTable, parseCsv } from './csv.js';
import { type NabWindow, windowsFromLabels } from './nab.js';

export const BENCHMARK_NAMES = [
  'shuttle',
  'satellite',
  'smap-p1',
  'smap-p1-w10',
  'nab-machine-temperature',
] as const;
export type BenchmarkName = (typeof BENCHMARK_NAMES)[number];

export interface EvalSplit {
  /** e.g. seed0; "series" for a single fixed split. */
  readonly name: string;
  /** Training records (all normal), row-major nTrain × d, in their own units. */
  readonly train: Float32Array;
  readonly nTrain: number;
  /** Test records, row-major nTest × d, in file (time) order. */
  readonly test: Float32Array;
  readonly nTest: number;
  readonly testLabels: Uint8Array;
  /** Row index in the source file of each test record (the window's last row). */
  readonly testRowIndex: Uint32Array;
  /**
   * Ordered data only: the same split as plain rows (rowWidth values each, not windows), for models that build
   * their own windows (conv1d). Test row k is test record k.
   */
  readonly series?: RowSeries;
}

export interface RowSeries {
  readonly train: Float32Array;
  readonly nTrain: number;
  readonly test: Float32Array;
  readonly nTest: number;
  /** The test rows continue the training rows in time (one series cut in two), rather than a new recording. */
  readonly testFollowsTrain: boolean;
}

export interface EvalDataset {
  readonly name: string;
  readonly title: string;
  /** Record width: window × rowWidth. */
  readonly d: number;
  /** Feature count of one source row. */
  readonly rowWidth: number;
  /** Rows per record (1 = one row a record). */
  readonly window: number;
  readonly featureNames: readonly string[];
  /** Test records are in time order (a per-entity smoother may be applied to their scores). */
  readonly ordered: boolean;
  readonly splits: readonly EvalSplit[];
  /** Human-readable statement of the protocol applied. */
  readonly protocol: string;
  /** Training rows left out because they were labelled anomalous (generic CSV only). */
  readonly droppedTrainAnomalies: number;
  readonly source: string;
  /**
   * NAB files: the whole series' length and its labelled windows (runs of label 1), for NAB scoring of the
   * test rows (which are the rows after the probationary period, testRowIndex).
   */
  readonly nab?: { readonly rows: number; readonly windows: readonly NabWindow[] };
}

export interface DataDirOptions {
  /** Directory holding the shared data files. Default: ../shared/data relative to the repository root. */
  dataDir?: string;
}

/** The repository root: the nearest ancestor of this file holding package.json (works from src and dist). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

export function defaultDataDir(): string {
  return path.resolve(repoRoot(), '..', 'shared', 'data');
}

const FILES: Record<BenchmarkName, string> = {
  shuttle: 'adbench_shuttle.csv',
  satellite: 'adbench_satellite.csv',
  'smap-p1': 'telemanom_smap_P-1.csv',
  'smap-p1-w10': 'telemanom_smap_P-1.csv',
  'nab-machine-temperature': 'nab_machine_temperature_system_failure.csv',
};

export const NON_FEATURE_COLUMNS = ['label', 'timestamp', 'split'] as const;

function readTable(file: string, textColumns: string[]): CsvTable {
  if (!existsSync(file)) {
    throw new VigilError('INPUT_INVALID', `Data file ${file} does not exist.`, { details: { file } });
  }
  return parseCsv(readFileSync(file, 'utf8'), { textColumns, source: file });
}

function featureColumns(table: CsvTable, labelColumn = 'label'): string[] {
  const skip = new Set<string>([...NON_FEATURE_COLUMNS, labelColumn]);
  return table.header.filter((h) => !skip.has(h));
}

function labelsOf(table: CsvTable, source: string, labelColumn = 'label'): Uint8Array {
  const col = table.numeric.get(labelColumn);
  if (col === undefined) {
    throw new VigilError('INPUT_INVALID', `${source} has no "${labelColumn}" column.`, {
      details: { source },
    });
  }
  const out = new Uint8Array(col.length);
  for (let i = 0; i < col.length; i++) {
    const v = col[i]!;
    if (v !== 0 && v !== 1) {
      throw new VigilError(
        'INPUT_INVALID',
        `${source} row ${i + 2}: ${labelColumn} is ${v}; expected 0 or 1.`,
        {
          details: { source, row: i + 2 },
        },
      );
    }
    out[i] = v;
  }
  return out;
}

/** Row-major n × d float32 matrix of the named columns. */
export function matrixOf(table: CsvTable, columns: readonly string[]): Float32Array {
  const d = columns.length;
  const out = new Float32Array(table.rows * d);
  columns.forEach((name, j) => {
    const col = table.numeric.get(name);
    if (col === undefined) throw new VigilError('INPUT_INVALID', `Column "${name}" is not numeric.`);
    for (let i = 0; i < table.rows; i++) out[i * d + j] = col[i]!;
  });
  return out;
}

/** Copy the given rows (by index) of a row-major matrix. */
function gather(rows: Float32Array, d: number, index: ArrayLike<number>): Float32Array {
  const out = new Float32Array(index.length * d);
  for (let k = 0; k < index.length; k++) {
    const i = index[k]!;
    out.set(rows.subarray(i * d, (i + 1) * d), k * d);
  }
  return out;
}

/**
 * Windows of `w` consecutive rows of a series held row-major (n × rowWidth): record t holds rows t−w+1 … t,
 * oldest first; rows before the start repeat row 0.
 */
export function windowSeries(series: Float32Array, n: number, rowWidth: number, w: number): Float32Array {
  if (w === 1) return series.slice(0, n * rowWidth);
  const d = w * rowWidth;
  const out = new Float32Array(n * d);
  for (let t = 0; t < n; t++) {
    for (let k = 0; k < w; k++) {
      const src = Math.max(0, t - w + 1 + k);
      out.set(series.subarray(src * rowWidth, (src + 1) * rowWidth), t * d + k * rowWidth);
    }
  }
  return out;
}

function windowNames(names: readonly string[], w: number): string[] {
  if (w === 1) return [...names];
  const out: string[] = [];
  for (let k = 0; k < w; k++) {
    const lag = w - 1 - k;
    for (const n of names) out.push(lag === 0 ? n : `${n}[t-${lag}]`);
  }
  return out;
}

function indicesWhere(n: number, pred: (i: number) => boolean): Uint32Array {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (pred(i)) out.push(i);
  return Uint32Array.from(out);
}

function splitFrom(
  name: string,
  records: Float32Array,
  d: number,
  labels: Uint8Array,
  trainIdx: Uint32Array,
  testIdx: Uint32Array,
): EvalSplit {
  return {
    name,
    train: gather(records, d, trainIdx),
    nTrain: trainIdx.length,
    test: gather(records, d, testIdx),
    nTest: testIdx.length,
    testLabels: Uint8Array.from(testIdx, (i) => labels[i]!),
    testRowIndex: testIdx,
  };
}

/** ADBench (shuttle, satellite): the three seeded splits; code 0 = train, 1 = test, 2 = unused. */
function loadAdbench(name: 'shuttle' | 'satellite', dir: string): EvalDataset {
  const file = path.join(dir, FILES[name]);
  const table = readTable(file, []);
  const splitsFile = path.join(dir, 'splits', FILES[name]);
  const codes = readTable(splitsFile, []);
  if (codes.rows !== table.rows) {
    throw new VigilError('INPUT_INVALID', `${splitsFile} has ${codes.rows} rows; ${file} has ${table.rows}.`);
  }
  const features = featureColumns(table);
  const d = features.length;
  const rows = matrixOf(table, features);
  const labels = labelsOf(table, file);
  const splits = codes.header.map((seed) => {
    const code = codes.numeric.get(seed)!;
    const trainIdx = indicesWhere(table.rows, (i) => code[i] === 0);
    for (const i of trainIdx) {
      if (labels[i] !== 0) {
        throw new VigilError(
          'INPUT_INVALID',
          `${splitsFile} ${seed}: row ${i} is coded train but labelled 1.`,
        );
      }
    }
    return splitFrom(
      seed,
      rows,
      d,
      labels,
      trainIdx,
      indicesWhere(table.rows, (i) => code[i] === 1),
    );
  });
  return {
    name,
    title: `ADBench ${name} (mean of ${splits.length} seeded splits)`,
    d,
    rowWidth: d,
    window: 1,
    featureNames: features,
    ordered: false,
    splits,
    protocol:
      'shared/data splits/*: code 0 = train (normal rows of the 70 % pool), 1 = test (stratified 30 %), ' +
      '2 = unused (anomalies of the 70 % pool); one row a record.',
    droppedTrainAnomalies: 0,
    source: file,
  };
}

/** NASA SMAP P-1: the file's split column; train and test are separate recordings, windowed separately. */
function loadSmap(dir: string, window: number): EvalDataset {
  const file = path.join(dir, FILES['smap-p1']);
  const table = readTable(file, ['split', 'timestamp']);
  const features = featureColumns(table);
  const rowWidth = features.length;
  const rows = matrixOf(table, features);
  const labels = labelsOf(table, file);
  const split = table.text.get('split');
  if (split === undefined) throw new VigilError('INPUT_INVALID', `${file} has no split column.`);
  const part = (which: string) => {
    const idx = indicesWhere(table.rows, (i) => split[i] === which);
    const series = gather(rows, rowWidth, idx);
    return { idx, series, records: windowSeries(series, idx.length, rowWidth, window) };
  };
  const tr = part('train');
  const te = part('test');
  for (const i of tr.idx) {
    if (labels[i] !== 0) throw new VigilError('INPUT_INVALID', `${file}: training row ${i} is labelled 1.`);
  }
  const single: EvalSplit = {
    name: 'series',
    train: tr.records,
    nTrain: tr.idx.length,
    test: te.records,
    nTest: te.idx.length,
    testLabels: Uint8Array.from(te.idx, (i) => labels[i]!),
    testRowIndex: te.idx,
    series: {
      train: tr.series,
      nTrain: tr.idx.length,
      test: te.series,
      nTest: te.idx.length,
      testFollowsTrain: false,
    },
  };
  return {
    name: window === 1 ? 'smap-p1' : `smap-p1-w${window}`,
    title: window === 1 ? 'SMAP P-1, one row a record' : `SMAP P-1, window of ${window} rows`,
    d: rowWidth * window,
    rowWidth,
    window,
    featureNames: windowNames(features, window),
    ordered: true,
    splits: [single],
    protocol:
      `split column (train ${tr.idx.length} rows, test ${te.idx.length} rows)` +
      (window === 1
        ? '; one row a record.'
        : `; window of ${window} rows, train and test windowed separately.`),
    droppedTrainAnomalies: 0,
    source: file,
  };
}

export const NAB_WINDOW = 12;
export const NAB_PROBATION = 750;

/** NAB machine temperature: window of the last 12 values; train = first 750 rows, test = the rest, in order. */
function loadNab(dir: string): EvalDataset {
  const file = path.join(dir, FILES['nab-machine-temperature']);
  const table = readTable(file, ['timestamp']);
  const features = featureColumns(table);
  const labels = labelsOf(table, file);
  const n = table.rows;
  // NAB's probationary period: min(floor(0.15 n), 750).
  const probation = Math.min(Math.floor(0.15 * n), NAB_PROBATION);
  const series = matrixOf(table, features);
  const records = windowSeries(series, n, features.length, NAB_WINDOW);
  const d = NAB_WINDOW * features.length;
  const trainIdx = indicesWhere(n, (i) => i < probation);
  for (const i of trainIdx) {
    if (labels[i] !== 0)
      throw new VigilError('INPUT_INVALID', `${file}: probationary row ${i} is labelled 1.`);
  }
  const testIdx = indicesWhere(n, (i) => i >= probation);
  const rw = features.length;
  const split: EvalSplit = {
    ...splitFrom('series', records, d, labels, trainIdx, testIdx),
    series: {
      train: series.slice(0, probation * rw),
      nTrain: probation,
      test: series.slice(probation * rw),
      nTest: n - probation,
      testFollowsTrain: true,
    },
  };
  return {
    name: 'nab-machine-temperature',
    title: `NAB machine temperature, window ${NAB_WINDOW}`,
    d,
    rowWidth: features.length,
    window: NAB_WINDOW,
    featureNames: windowNames(features, NAB_WINDOW),
    ordered: true,
    splits: [split],
    protocol: `window of the last ${NAB_WINDOW} values; train = first ${probation} rows (probationary period), test = the rest in order.`,
    droppedTrainAnomalies: 0,
    source: file,
    nab: { rows: n, windows: windowsFromLabels(labels) },
  };
}

export function loadBenchmark(name: BenchmarkName, options: DataDirOptions = {}): EvalDataset {
  const dir = options.dataDir ?? defaultDataDir();
  switch (name) {
    case 'shuttle':
    case 'satellite':
      return loadAdbench(name, dir);
    case 'smap-p1':
      return loadSmap(dir, 1);
    case 'smap-p1-w10':
      return loadSmap(dir, 10);
    case 'nab-machine-temperature':
      return loadNab(dir);
    default:
      throw new VigilError(
        'INPUT_INVALID',
        `Unknown data set "${name as string}"; expected a CSV path or one of ${BENCHMARK_NAMES.join(', ')}.`,
      );
  }
}

export function isBenchmarkName(x: string): x is BenchmarkName {
  return (BENCHMARK_NAMES as readonly string[]).includes(x);
}

export interface CsvDatasetOptions {
  /** Column holding 0/1 labels. Default `label`. */
  labelColumn?: string;
  /**
   * How rows are split when the file has no `split` column: the first `trainRows` rows (or `trainFraction` of
   * them) train, the rest test, in order. A `split` column (train/test, or 0/1) wins when present.
   */
  trainRows?: number;
  trainFraction?: number;
  /** Rows per record (default 1). */
  window?: number;
  /**
   * Score the test rows' detections with NAB too: the file is one NAB series in time order and its windows are
   * the runs of label 1 (NAB's combined_windows, ends inclusive).
   */
  nab?: boolean;
}

/**
 * Any labelled CSV: features are all columns but label, timestamp and split. Training rows labelled 1 are left
 * out (the protocol trains on normal rows only) and counted in `droppedTrainAnomalies`.
 */
export function loadCsvDataset(file: string, options: CsvDatasetOptions = {}): EvalDataset {
  const labelColumn = options.labelColumn ?? 'label';
  const window = options.window ?? 1;
  if (!Number.isInteger(window) || window < 1) {
    throw new VigilError('CONFIG_INVALID', `window must be a positive integer, got ${window}.`);
  }
  const table = readTable(file, ['split', 'timestamp']);
  const features = featureColumns(table, labelColumn);
  if (features.length === 0) throw new VigilError('INPUT_INVALID', `${file} has no feature columns.`);
  const labels = labelsOf(table, file, labelColumn);
  const rowWidth = features.length;
  const rows = matrixOf(table, features);
  const n = table.rows;
  const splitCol = table.text.get('split');
  let protocol: string;
  if (splitCol !== undefined) {
    const roles = splitRoles(splitCol, file);
    const trainAll = indicesWhere(n, (i) => roles[i] === 'train');
    const testAll = indicesWhere(n, (i) => roles[i] === 'test');
    // Train and test may be separate recordings: window each part on its own, then index into the result.
    const trainSeries = windowSeries(gather(rows, rowWidth, trainAll), trainAll.length, rowWidth, window);
    const testSeries = windowSeries(gather(rows, rowWidth, testAll), testAll.length, rowWidth, window);
    const d = rowWidth * window;
    const keep = indicesWhere(trainAll.length, (k) => labels[trainAll[k]!] === 0);
    const dropped = trainAll.length - keep.length;
    const trainNormal = Uint32Array.from(keep, (k) => trainAll[k]!);
    const split: EvalSplit = {
      name: 'split-column',
      train: gather(trainSeries, d, keep),
      nTrain: keep.length,
      test: testSeries,
      nTest: testAll.length,
      testLabels: Uint8Array.from(testAll, (i) => labels[i]!),
      testRowIndex: testAll,
      // The rows are in file order, so any model that builds its own windows (conv1d) can read them.
      series: {
        train: gather(rows, rowWidth, trainNormal),
        nTrain: trainNormal.length,
        test: gather(rows, rowWidth, testAll),
        nTest: testAll.length,
        testFollowsTrain:
          isContiguous(trainAll) && isContiguous(testAll) && trainAll.at(-1)! + 1 === testAll[0],
      },
    };
    protocol = `split column: ${trainAll.length} train rows (${dropped} labelled anomalies left out), ${testAll.length} test rows`;
    return finish(split, dropped);
  }
  const trainRows =
    options.trainRows ??
    (options.trainFraction !== undefined ? Math.floor(options.trainFraction * n) : undefined);
  if (trainRows === undefined) {
    throw new VigilError(
      'INPUT_INVALID',
      `${file} has no split column: give the number (trainRows) or share (trainFraction) of leading rows to train on.`,
    );
  }
  if (!Number.isInteger(trainRows) || trainRows < 1 || trainRows >= n) {
    throw new VigilError(
      'CONFIG_INVALID',
      `trainRows must be an integer in [1, ${n - 1}], got ${trainRows}.`,
    );
  }
  const records = windowSeries(rows, n, rowWidth, window);
  const trainAll = indicesWhere(n, (i) => i < trainRows);
  const trainIdx = indicesWhere(n, (i) => i < trainRows && labels[i] === 0);
  const testIdx = indicesWhere(n, (i) => i >= trainRows);
  const dropped = trainAll.length - trainIdx.length;
  protocol = `first ${trainRows} rows train (${dropped} labelled anomalies left out), the remaining ${n - trainRows} test, in order`;
  const head: EvalSplit = {
    ...splitFrom('head', records, rowWidth * window, labels, trainIdx, testIdx),
    series: {
      train: gather(rows, rowWidth, trainIdx),
      nTrain: trainIdx.length,
      test: gather(rows, rowWidth, testIdx),
      nTest: testIdx.length,
      testFollowsTrain: true,
    },
  };
  return finish(head, dropped);

  function finish(split: EvalSplit, dropped: number): EvalDataset {
    if (split.nTrain === 0) throw new VigilError('INPUT_INVALID', `${file}: no normal training rows.`);
    if (split.nTest === 0) throw new VigilError('INPUT_INVALID', `${file}: no test rows.`);
    return {
      name: path.basename(file, path.extname(file)),
      title: path.basename(file),
      d: rowWidth * window,
      rowWidth,
      window,
      featureNames: windowNames(features, window),
      ordered: true,
      splits: [split],
      protocol: protocol + (window > 1 ? `; window of ${window} rows.` : '; one row a record.'),
      droppedTrainAnomalies: dropped,
      source: file,
      ...(options.nab ? { nab: { rows: n, windows: windowsFromLabels(labels) } } : {}),
    };
  }
}

function isContiguous(index: Uint32Array): boolean {
  for (let k = 1; k < index.length; k++) if (index[k] !== index[k - 1]! + 1) return false;
  return index.length > 0;
}

/** A benchmark by name, or a CSV path with the generic loader. */
export function loadDataset(spec: string, options: DataDirOptions & CsvDatasetOptions = {}): EvalDataset {
  return isBenchmarkName(spec) ? loadBenchmark(spec, options) : loadCsvDataset(spec, options);
}
