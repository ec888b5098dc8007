/**
 * Train a Detector from a row-major Float32Array of normal(ish) rows: split, fit the scaler on the training
 * part only, fit the network with early stopping, optionally drop the worst-reconstructed share of training and
 * held-out rows as suspected contamination and refit, then calibrate thresholds on the (kept) held-out rows.
 */
import * as tf from '@tensorflow/tfjs';
import { VigilError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { currentBackend } from './backend.js';
import { Detector, type DetectorOptions, type DetectorState, type TrainingReport } from './detector.js';
import type { FeatureMapping } from './feature-mapping.js';
import { createNetwork, type Network } from './networks/index.js';
import { type PostprocessSettings, postprocessSeries } from './postprocess.js';
import { fitRobustScaler, Scaler, type ScalerOptions } from './preprocess.js';
import { Rng } from './rng.js';
import { resolveSpec, type SpecOverrides } from './spec.js';
import { summarise } from './summary.js';
import { calibrate, type ThresholdOptions } from './threshold.js';
import {
  type EpochProgress,
  type FitOptions,
  fitNetwork,
  type SampleSet,
  scoreSamples,
  subset,
} from './train.js';
import { windowIndices } from './windows.js';

export interface TrainDetectorOptions {
  /** Names of the d features, in row order. Default f0…f{d−1}. */
  featureNames?: readonly string[];
  /** The feature mapping that produced the rows, recorded in the artifact and checked when it is served. */
  featureMapping?: FeatureMapping;
  /** Model line id and artifact version (identity). Defaults "vigil" and a UTC timestamp. */
  id?: string;
  version?: string;
  /** Variant and architecture overrides. Default: dense autoencoder with widths from defaultEncoderUnits(d). */
  model?: SpecOverrides;
  /**
   * Entity key per row. conv1d builds each record's window from its own entity's rows (rows of an entity in
   * time order); per-entity thresholds group calibration scores by it.
   */
  entities?: readonly string[];
  /** Seed for initial weights, shuffling, the validation split and noise. Default 42. */
  seed?: number;
  /** Most epochs. Default 200 (early stopping ends most runs far sooner). */
  epochs?: number;
  /** Default 256 (with the learning rate below: as good as 128 / 0.001 on the public sets, twice as fast). */
  batchSize?: number;
  /** Adam learning rate. Default 0.002. */
  learningRate?: number;
  /** Epochs without improvement before stopping. Default 10. */
  patience?: number;
  /** Relative improvement that counts as one. Default 0.001. */
  minDelta?: number;
  /**
   * Share of rows held out for early stopping and threshold calibration. Default 0.2. conv1d holds out the
   * last rows (time order); the dense family a seeded random sample.
   */
  validationFraction?: number;
  /**
   * Share of rows (training and validation together) with the highest first-fit error treated as suspected
   * contamination: dropped before a refit from fresh weights, and left out of its early stopping and of the
   * threshold calibration, for training data that may hold anomalies. Default 0 (no refit); 0.01–0.05 for raw
   * production data. The threshold then sits near the (1 − trimFraction) quantile of the history's scores, so
   * on clean data up to about that share is flagged: set it to the anomaly share the history may hold.
   */
  trimFraction?: number;
  scaler?: ScalerOptions;
  threshold?: ThresholdOptions;
  /**
   * Per-entity score post-processing (model/postprocess.ts) for ordered data: the calibration rows' scores are
   * post-processed in row order, every row's score feeding the entity's state, and the threshold is calibrated
   * on the result; the settings are stored with the calibration. Default none.
   */
  postprocess?: PostprocessSettings;
  detector?: DetectorOptions;
  onProgress?: (p: EpochProgress) => void;
  signal?: AbortSignal;
  /** Yield to the event loop at least this often while training. Default 50 ms. */
  yieldEveryMs?: number;
  logger?: Logger;
}

export const TRAIN_DEFAULTS = {
  seed: 42,
  epochs: 200,
  batchSize: 256,
  learningRate: 0.002,
  patience: 10,
  minDelta: 0.001,
  validationFraction: 0.2,
  trimFraction: 0,
  yieldEveryMs: 50,
} as const;

/** Minimum held-out rows for validation-based early stopping and calibration. */
const MIN_VALIDATION = 20;

function timestampVersion(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function checkRange(name: string, v: number, lo: number, hi: number, loOpen = false): void {
  if (!(loOpen ? v > lo : v >= lo) || !(v <= hi) || !Number.isFinite(v)) {
    throw new VigilError(
      'CONFIG_INVALID',
      `${name} must be in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${v}.`,
      {
        details: { [name]: v },
      },
    );
  }
}

export async function trainDetector(
  rows: Float32Array,
  n: number,
  d: number,
  options: TrainDetectorOptions = {},
): Promise<Detector> {
  const logger = options.logger ?? silentLogger();
  const o = { ...TRAIN_DEFAULTS, ...stripUndefined(options) };
  checkRange('epochs', o.epochs, 1, 1e6);
  checkRange('batchSize', o.batchSize, 1, 1 << 20);
  checkRange('learningRate', o.learningRate, 0, 10, true);
  checkRange('patience', o.patience, 1, 1e6);
  checkRange('validationFraction', o.validationFraction, 0, 0.9);
  checkRange('trimFraction', o.trimFraction, 0, 0.5);
  if (!Number.isInteger(n) || n < 2 || !Number.isInteger(d) || d < 1) {
    throw new VigilError(
      'INPUT_INVALID',
      `Training needs at least 2 rows of at least 1 feature, got n=${n}, d=${d}.`,
    );
  }
  if (rows.length < n * d) {
    throw new VigilError(
      'INPUT_INVALID',
      `Row buffer holds ${rows.length} values, fewer than n×d = ${n * d}.`,
    );
  }
  const featureNames = options.featureNames
    ? [...options.featureNames]
    : Array.from({ length: d }, (_, j) => `f${j}`);
  if (featureNames.length !== d) {
    throw new VigilError('INPUT_INVALID', `Got ${featureNames.length} feature names for ${d} features.`);
  }
  const entities = options.entities;
  if (entities !== undefined && entities.length < n) {
    throw new VigilError('INPUT_INVALID', `Got ${entities.length} entity keys for ${n} rows.`);
  }
  const spec = resolveSpec(d, options.model ?? { kind: 'dense' });
  const rng = new Rng(o.seed);
  const initSeed = rng.nextUint32();
  const trainRng = rng.fork();

  // Split. Time series keep their order (validation = the latest rows); tabular rows are sampled.
  let nVal = Math.floor(n * o.validationFraction);
  if (nVal < MIN_VALIDATION || n - nVal < 2) nVal = 0;
  let trainRows: Uint32Array;
  let valRows: Uint32Array;
  if (spec.kind === 'conv1d') {
    trainRows = Uint32Array.from({ length: n - nVal }, (_, i) => i);
    valRows = Uint32Array.from({ length: nVal }, (_, i) => n - nVal + i);
  } else {
    const perm = rng.permutation(n);
    trainRows = perm.slice(nVal).sort();
    valRows = perm.slice(0, nVal).sort();
  }
  const trainMatrix = new Float32Array(trainRows.length * d);
  for (let i = 0; i < trainRows.length; i++) {
    const r = trainRows[i]!;
    trainMatrix.set(rows.subarray(r * d, r * d + d), i * d);
  }
  const scalerParams = fitRobustScaler(trainMatrix, trainRows.length, d, options.scaler);
  const scaled = new Scaler(scalerParams).transform(rows, n);

  const group = spec.kind === 'conv1d' ? spec.window : 1;
  const all: SampleSet =
    group === 1
      ? { idx: Int32Array.from({ length: n }, (_, i) => i), count: n, group }
      : { idx: windowIndices(n, group, entities), count: n, group };
  let train = subset(all, trainRows);
  const val = subset(all, valRows);

  const fitOptions: FitOptions = {
    epochs: o.epochs,
    batchSize: o.batchSize,
    learningRate: o.learningRate,
    patience: o.patience,
    minDelta: o.minDelta,
    yieldEveryMs: o.yieldEveryMs,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const source = { data: scaled, d };
  let net: Network | undefined;
  try {
    net = createNetwork(spec, new Rng(initSeed));
    let fit = await fitNetwork(net, source, train, val, fitOptions, trainRng, 'train', options.onProgress);
    let trimmed = 0;
    let trimmedValidation = 0;
    // Validation positions (into valRows) the threshold is calibrated on: all of them unless trimmed.
    let calPositions: number[] | undefined;
    if (o.trimFraction > 0) {
      // One cut over training and validation scores of the first fit: the highest trimFraction share is
      // suspected contamination, left out of the refit, its early stopping and the calibration alike. Keeping
      // it in the calibration set would put the threshold above the very anomalies the history holds.
      const trainErrs = scoreSamples(net, source, train);
      const valErrs = val.count > 0 ? scoreSamples(net, source, val) : new Float32Array(0);
      const cutoff = upperQuantile([trainErrs, valErrs], o.trimFraction);
      const keep = below(trainErrs, cutoff);
      const keepVal = below(valErrs, cutoff);
      // A validation set trimmed below MIN_VALIDATION is kept whole rather than lost (see the split above).
      const valKept = keepVal.length >= MIN_VALIDATION ? keepVal : undefined;
      if (keep.length >= 2 && (keep.length < train.count || (valKept?.length ?? val.count) < val.count)) {
        trimmed = train.count - keep.length;
        train = subset(train, keep);
        if (valKept !== undefined) {
          trimmedValidation = val.count - valKept.length;
          calPositions = valKept;
        }
        net.dispose();
        net = undefined;
        net = createNetwork(spec, new Rng(initSeed));
        const refitVal = valKept === undefined ? val : subset(val, valKept);
        fit = await fitNetwork(
          net,
          source,
          train,
          refitVal,
          fitOptions,
          trainRng,
          'refit',
          options.onProgress,
        );
      }
    }
    const calibratedOn = val.count > 0 ? 'validation' : 'training';
    if (calibratedOn === 'training') {
      logger.warn(
        { n, validationFraction: o.validationFraction },
        'too few rows for a validation split: thresholds calibrated on training scores will be too tight',
      );
    }
    const calVal = calPositions === undefined ? val : subset(val, calPositions);
    const calRows =
      val.count === 0
        ? trainRows
        : calPositions === undefined
          ? valRows
          : Uint32Array.from(calPositions, (p) => valRows[p]!);
    let calScores: ArrayLike<number>;
    if (options.postprocess) {
      // Smoothing and likelihood run along each entity's rows in order, so every row's score feeds the state
      // (as in a stream) and the calibration rows' processed values are read from the result.
      const processed = postprocessSeries(scoreSamples(net, source, all), options.postprocess, entities);
      calScores = Float64Array.from(calRows, (r) => processed[r]!);
    } else {
      calScores = scoreSamples(net, source, val.count > 0 ? calVal : train);
    }
    const calEntities = entities ? Array.from(calRows, (r) => entities[r]!) : undefined;
    const calibrated = calibrate(calScores, options.threshold, calEntities);
    const calibration = options.postprocess
      ? { ...calibrated, postprocess: options.postprocess }
      : calibrated;

    const training: TrainingReport = {
      seed: o.seed,
      epochs: o.epochs,
      batchSize: o.batchSize,
      learningRate: o.learningRate,
      patience: o.patience,
      validationFraction: o.validationFraction,
      trimFraction: o.trimFraction,
      trainRows: trainRows.length,
      validationRows: valRows.length,
      trimmedRows: trimmed,
      trimmedValidationRows: trimmedValidation,
      epochsRun: fit.epochsRun,
      bestEpoch: fit.bestEpoch,
      bestLoss: fit.bestLoss,
      stoppedEarly: fit.stoppedEarly,
      durationMs: fit.durationMs,
      history: fit.history,
      calibratedOn,
      backend: currentBackend()?.name ?? tf.getBackend(),
    };
    const state: DetectorState = {
      identity: { id: options.id ?? 'vigil', version: options.version ?? timestampVersion(), featureNames },
      spec,
      scaler: scalerParams,
      calibration,
      trainingData: summarise(trainMatrix, trainRows.length, d, featureNames),
      training,
      evaluation: null,
      ...(options.featureMapping === undefined ? {} : { featureMapping: options.featureMapping }),
    };
    logger.info(
      {
        kind: spec.kind,
        epochs: fit.epochsRun,
        bestEpoch: fit.bestEpoch,
        valLoss: fit.bestLoss,
        threshold: calibration.threshold,
        trimmed,
        trimmedValidation,
      },
      'model trained',
    );
    const detector = new Detector(state, net, options.detector);
    net = undefined;
    return detector;
  } finally {
    net?.dispose();
  }
}

/** The score above which the top `share` of all the given scores lie (a cut shared by every part). */
function upperQuantile(parts: readonly Float32Array[], share: number): number {
  const all = new Float32Array(parts.reduce((k, p) => k + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  all.sort();
  return all[Math.min(all.length - 1, Math.floor(all.length * (1 - share)))]!;
}

function below(scores: Float32Array, cutoff: number): number[] {
  const keep: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i]! < cutoff) keep.push(i);
  return keep;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
