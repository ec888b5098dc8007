/**
 * The Detector: a trained autoencoder with its preprocessing and threshold calibration, implementing the
 * pipeline's Scorer contract. Scoring is synchronous and batch-at-a-time: the rows are scaled in JavaScript
 * into a reused buffer, one tf.tidy runs the network and computes, on the backend, the per-feature squared
 * errors and their row sums; each of the three outputs (row sums, squared errors, reconstruction) is read
 * back with one dataSync. Shares, inverse scaling, thresholds and severities are then plain loops over those
 * arrays, in place.
 */
import * as tf from '@tensorflow/tfjs';
import { VigilError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { currentBackend } from './backend.js';
import type { FeatureMapping } from './feature-mapping.js';
import type { Network } from './networks/index.js';
import { Scaler, type ScalerParams } from './preprocess.js';
import type { ModelSpec } from './spec.js';
import type { TrainingDataSummary } from './summary.js';
import {
  type AdaptiveOptions,
  AdaptiveThreshold,
  atFalseAlarmRate,
  atFixedThreshold,
  atQuantile,
  CompiledThresholds,
  type ThresholdCalibration,
} from './threshold.js';
import type { BatchScores, ModelIdentity, ScoreOptions, Scorer } from './types.js';
import { WindowHistory } from './windows.js';

/**
 * Fixed-point passes of the missing-value imputation (the missing inputs take the model's reconstruction,
 * then the row runs again); both scoring paths use it, so they agree. Measured on the unit tests' 8-feature
 * data with one value missing per row, normal rows flagged of 1000 (complete rows: 8): dense AE 747 / 398 / 85
 * / 11 after 0 / 1 / 2 / 3 passes; a mask-denoising AE 141 / 15 / 11 after 0 / 1 / 2. Each pass is a network
 * run over the holed rows.
 */
const IMPUTE_PASSES = 2;

/** What training recorded about itself, stored in the artifact manifest. */
export interface TrainingReport {
  readonly seed: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly patience: number;
  readonly validationFraction: number;
  readonly trimFraction: number;
  readonly trainRows: number;
  readonly validationRows: number;
  /** Training samples dropped as suspected contamination before the refit. */
  readonly trimmedRows: number;
  /**
   * Validation rows dropped by the same cut, so the threshold is calibrated on the kept ones only. Absent in
   * artifacts from before validation rows were trimmed.
   */
  readonly trimmedValidationRows?: number;
  readonly epochsRun: number;
  readonly bestEpoch: number;
  readonly bestLoss: number;
  readonly stoppedEarly: boolean;
  readonly durationMs: number;
  readonly history: readonly { epoch: number; trainLoss: number; valLoss: number }[];
  /** Where the calibration scores came from. */
  readonly calibratedOn: 'validation' | 'training';
  readonly backend: string;
}

export interface DetectorState {
  readonly identity: ModelIdentity;
  readonly spec: ModelSpec;
  readonly scaler: ScalerParams;
  readonly calibration: ThresholdCalibration;
  readonly trainingData: TrainingDataSummary;
  readonly training: TrainingReport;
  /** Filled by `vigil evaluate`; null until then. */
  readonly evaluation: Record<string, unknown> | null;
  /** The feature mapping the model was trained with; absent for a model trained from bare columns. */
  readonly featureMapping?: FeatureMapping;
}

export interface DetectorOptions {
  /** Rows per backend call; larger batches are split. Default 4096. */
  maxBatch?: number;
  /**
   * Operating point: the artifact's calibrated threshold (default), another per-record false-alarm rate or
   * quantile of the stored normal score distribution (its fitted tail beyond the data), or a fixed value.
   */
  threshold?: { quantile: number } | { falseAlarmRate: number } | { value: number };
  /** Track slow drift in normal scores (see AdaptiveThreshold). Default off. */
  adaptive?: AdaptiveOptions | false;
  /** conv1d: most entities whose recent rows are kept between batches. Default 100,000. */
  maxEntities?: number;
  logger?: Logger;
}

export class Detector implements Scorer {
  readonly identity: ModelIdentity;
  readonly d: number;
  private readonly scaler: Scaler;
  private readonly thresholds: CompiledThresholds;
  /** The calibration in force: the artifact's, or moved by options.threshold. */
  readonly activeCalibration: ThresholdCalibration;
  private readonly adaptive: AdaptiveThreshold | undefined;
  private readonly history: WindowHistory | undefined;
  private readonly maxBatch: number;
  private scaledBuf: Float32Array;
  private inputBuf: Float32Array;
  private disposed = false;

  constructor(
    readonly state: DetectorState,
    private readonly network: Network,
    options: DetectorOptions = {},
  ) {
    this.identity = state.identity;
    this.d = state.identity.featureNames.length;
    this.scaler = new Scaler(state.scaler);
    if (this.scaler.d !== this.d || state.spec.inputDim !== this.d) {
      throw new VigilError(
        'MODEL_INVALID',
        `Feature count mismatch: ${this.d} feature names, ${this.scaler.d} scaler columns, model input ${state.spec.inputDim}.`,
      );
    }
    const t = options.threshold;
    this.activeCalibration =
      t === undefined
        ? state.calibration
        : 'value' in t
          ? atFixedThreshold(state.calibration, t.value)
          : 'falseAlarmRate' in t
            ? atFalseAlarmRate(state.calibration, t.falseAlarmRate)
            : atQuantile(state.calibration, t.quantile);
    this.thresholds = new CompiledThresholds(this.activeCalibration);
    this.adaptive = options.adaptive
      ? new AdaptiveThreshold(this.activeCalibration, options.adaptive)
      : undefined;
    options.logger?.debug(
      {
        model: this.identity.id,
        version: this.identity.version,
        kind: state.spec.kind,
        threshold: this.activeCalibration.threshold,
        perEntityThresholds: this.thresholds.entityCount,
      },
      'detector ready',
    );
    this.history =
      state.spec.kind === 'conv1d'
        ? new WindowHistory(this.d, state.spec.window, options.maxEntities ?? 100_000)
        : undefined;
    this.maxBatch = options.maxBatch ?? 4096;
    this.scaledBuf = new Float32Array(0);
    this.inputBuf = new Float32Array(0);
  }

  get spec(): ModelSpec {
    return this.state.spec;
  }

  get calibration(): ThresholdCalibration {
    return this.state.calibration;
  }

  /** The adaptive threshold factor in force (1 when adaptive thresholds are off). */
  get thresholdFactor(): number {
    return this.adaptive?.factor ?? 1;
  }

  /** The network's parameters, for persistence. */
  get params(): Network['params'] {
    return this.network.params;
  }

  private check(rows: Float32Array, n: number, entities: readonly string[] | undefined): void {
    if (this.disposed) throw new VigilError('MODEL_NOT_TRAINED', 'This detector has been disposed.');
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
    if (rows.length < n * this.d) {
      throw new VigilError(
        'INPUT_INVALID',
        `Row buffer holds ${rows.length} values, fewer than n×d = ${n}×${this.d}.`,
        { details: { n, d: this.d, length: rows.length } },
      );
    }
    if (entities !== undefined && entities.length < n) {
      throw new VigilError('INPUT_INVALID', `Got ${entities.length} entity keys for ${n} rows.`);
    }
  }

  /** Scale rows [offset, offset+m) and, for conv1d, expand them to windows; returns the model input. */
  private prepare(
    rows: Float32Array,
    offset: number,
    m: number,
    entities: readonly string[] | undefined,
  ): Float32Array {
    const d = this.d;
    if (this.scaledBuf.length < m * d)
      this.scaledBuf = new Float32Array(Math.min(this.maxBatch, Math.max(m, 64)) * d);
    const scaled = this.scaler.transformInto(rows, m, this.scaledBuf, offset);
    if (this.history === undefined) return scaled.subarray(0, m * d);
    const width = this.network.inputWidth;
    if (this.inputBuf.length < m * width)
      this.inputBuf = new Float32Array(Math.min(this.maxBatch, Math.max(m, 64)) * width);
    const ents = entities === undefined ? undefined : entities.slice(offset, offset + m);
    return this.history.windowsInto(scaled, m, ents, this.inputBuf).subarray(0, m * width);
  }

  score(rows: Float32Array, n: number, entities?: readonly string[], options?: ScoreOptions): BatchScores {
    this.check(rows, n, entities);
    // conv1d advances per-entity window history as it prepares rows, so its rows cannot be run twice.
    if (options?.explain === 'anomalies' && this.history === undefined)
      return this.scoreLean(rows, n, entities);
    const d = this.d;
    let scores: Float32Array;
    let contributions: Float32Array;
    let expected: Float32Array;
    if (n <= this.maxBatch) {
      [scores, contributions, expected] = this.runFull(rows, 0, n, entities);
    } else {
      scores = new Float32Array(n);
      contributions = new Float32Array(n * d);
      expected = new Float32Array(n * d);
      for (let s = 0; s < n; s += this.maxBatch) {
        const m = Math.min(this.maxBatch, n - s);
        const [sc, co, ex] = this.runFull(rows, s, m, entities);
        scores.set(sc, s);
        contributions.set(co, s * d);
        expected.set(ex, s * d);
      }
    }
    const threshold = new Float32Array(n);
    const sev = new Float32Array(n);
    const isAnomaly = new Uint8Array(n);
    const factor = this.adaptive?.factor ?? 1;
    this.thresholds.apply(scores, n, entities, factor, threshold, sev, isAnomaly);
    this.adaptive?.update(scores, isAnomaly, n);
    return { n, d, scores, contributions, expected, severity: sev, isAnomaly, threshold };
  }

  /**
   * Judge scores made elsewhere (post-processed ones, with `calibration.postprocess`) against this model's
   * thresholds: threshold, severity and decision per row, as score() fills them. No adaptive update.
   */
  judge(
    scores: Float32Array,
    n: number,
    entities?: readonly string[],
  ): Pick<BatchScores, 'threshold' | 'severity' | 'isAnomaly'> {
    const threshold = new Float32Array(n);
    const severity = new Float32Array(n);
    const isAnomaly = new Uint8Array(n);
    this.thresholds.apply(scores, n, entities, this.adaptive?.factor ?? 1, threshold, severity, isAnomaly);
    return { threshold, severity, isAnomaly };
  }

  /**
   * Scores every row but explains only the rows over their threshold. The network's per-row error is
   * reduced on the backend and only n floats come back; rows with missing values get the same fixed-point
   * imputation as the full path, in-graph. The few flagged rows then go through the full path again for their
   * contributions and expected values: a stream is mostly normal, so this saves reading back and finishing
   * two n×d arrays per batch.
   */
  private scoreLean(rows: Float32Array, n: number, entities: readonly string[] | undefined): BatchScores {
    const d = this.d;
    const scores = new Float32Array(n);
    const complete: number[] = [];
    const holed: number[] = [];
    for (let i = 0; i < n; i++) (hasMissing(rows, i * d, d) ? holed : complete).push(i);
    if (holed.length === 0) {
      for (let s = 0; s < n; s += this.maxBatch)
        this.meanErrors(rows, s, Math.min(this.maxBatch, n - s), undefined, scores, s);
    } else {
      for (let s = 0; s < complete.length; s += this.maxBatch) {
        const idx = complete.slice(s, s + this.maxBatch);
        const out = this.meanErrors(gatherRows(rows, d, idx), 0, idx.length, undefined);
        for (let h = 0; h < idx.length; h++) scores[idx[h]!] = out[h]!;
      }
      this.rescoreHoled(rows, holed, scores);
    }

    const threshold = new Float32Array(n);
    const severity = new Float32Array(n);
    const isAnomaly = new Uint8Array(n);
    this.thresholds.apply(scores, n, entities, this.adaptive?.factor ?? 1, threshold, severity, isAnomaly);
    this.adaptive?.update(scores, isAnomaly, n);

    const contributions = new Float32Array(n * d);
    const expected = new Float32Array(n * d);
    const flagged: number[] = [];
    for (let i = 0; i < n; i++) if (isAnomaly[i] === 1) flagged.push(i);
    for (let s = 0; s < flagged.length; s += this.maxBatch) {
      const idx = flagged.slice(s, s + this.maxBatch);
      const sub = gatherRows(rows, d, idx);
      const [, co, ex] = this.runFull(sub, 0, idx.length, undefined);
      for (let h = 0; h < idx.length; h++) {
        contributions.set(co.subarray(h * d, h * d + d), idx[h]! * d);
        expected.set(ex.subarray(h * d, h * d + d), idx[h]! * d);
      }
    }
    return { n, d, scores, contributions, expected, severity, isAnomaly, threshold };
  }

  /** Mean squared error of rows [offset, offset+m) of `rows` (m ≤ maxBatch), reduced on the backend. */
  private meanErrors(
    rows: Float32Array,
    offset: number,
    m: number,
    entities: readonly string[] | undefined,
    out: Float32Array = new Float32Array(m),
    at = 0,
  ): Float32Array {
    const input = this.prepare(rows, offset, m, entities);
    const t = tf.tidy(() =>
      tf.mean(this.network.recordView(tf.tensor2d(input, [m, this.network.inputWidth])).sq, 1),
    );
    out.set(t.dataSync() as Float32Array, at);
    t.dispose();
    return out;
  }

  /**
   * The lean path's imputation for rows with missing values, equal to imputeMissing's: the missing inputs
   * take the model's reconstruction twice over, and the last pass's error is summed over observed features only.
   */
  private rescoreHoled(rows: Float32Array, holed: readonly number[], scores: Float32Array): void {
    const d = this.d;
    for (let s = 0; s < holed.length; s += this.maxBatch) {
      const idx = holed.slice(s, s + this.maxBatch);
      const k = idx.length;
      const raw = gatherRows(rows, d, idx);
      const observed = new Float32Array(k * d);
      for (let i = 0; i < k * d; i++) observed[i] = Number.isNaN(raw[i]!) ? 0 : 1;
      const input = this.prepare(raw, 0, k, undefined);
      const t = tf.tidy(() => {
        const x0 = tf.tensor2d(input, [k, d]);
        const keep = tf.tensor2d(observed, [k, d]);
        const fill = tf.sub(1, keep);
        let x = x0;
        for (let pass = 0; pass < IMPUTE_PASSES; pass++) {
          const { recon } = this.network.recordView(x);
          x = tf.add(tf.mul(x0, keep), tf.mul(recon, fill));
        }
        return tf.div(tf.sum(tf.mul(this.network.recordView(x).sq, keep), 1), d);
      });
      const out = t.dataSync() as Float32Array;
      t.dispose();
      for (let h = 0; h < k; h++) scores[idx[h]!] = out[h]!;
    }
  }

  private runFull(
    rows: Float32Array,
    offset: number,
    m: number,
    entities: readonly string[] | undefined,
  ): [Float32Array, Float32Array, Float32Array] {
    const d = this.d;
    if (m === 0) return [new Float32Array(0), new Float32Array(0), new Float32Array(0)];
    const input = this.prepare(rows, offset, m, entities);
    const outs = tf.tidy(() => {
      const x = tf.tensor2d(input, [m, this.network.inputWidth]);
      const { sq, recon } = this.network.recordView(x);
      return [tf.sum(sq, 1), sq, recon];
    });
    const [rowSum, sq, recon] = outs.map((t) => t.dataSync() as Float32Array) as [
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    for (const t of outs) t.dispose();
    if (this.history === undefined) this.imputeMissing(rows, offset, m, input, rowSum, sq, recon);
    // The O(n·d) finishing touches run here rather than as broadcast ops on the backend, where wasm's
    // broadcasting binary kernels cost more than this loop. They rewrite the read-back arrays in place.
    const scores = rowSum;
    const { scale, center } = this.scaler;
    const invD = 1 / d;
    for (let i = 0; i < m; i++) {
      let total = rowSum[i]!;
      const o = i * d;
      const r = (offset + i) * d;
      // A missing value (NaN, imputed with the training median on the way in) carries no evidence: its
      // reconstruction error is dropped, so a sensor that skips a reading is not itself an anomaly.
      for (let j = 0; j < d; j++) {
        const v = rows[r + j]!;
        if (Number.isNaN(v)) {
          total -= sq[o + j]!;
          sq[o + j] = 0;
        }
      }
      if (total < 0) total = 0;
      const inv = total > 0 ? 1 / total : 0;
      for (let j = 0; j < d; j++) {
        sq[o + j] = sq[o + j]! * inv;
        recon[o + j] = recon[o + j]! * scale[j]! + center[j]!;
      }
      scores[i] = total * invD;
    }
    return [scores, sq, recon];
  }

  /**
   * Rows with missing values (NaN) went in with the training median in their place, which pulls the
   * reconstruction of the other, correlated features off and inflates their error. For those rows only, the
   * missing inputs are replaced by the model's own reconstruction and the rows run again (twice: a fixed-point
   * imputation), so the score reflects the values that were observed. Dense family only: a conv1d window mixes
   * rows, so its inputs are not one record's.
   */
  private imputeMissing(
    rows: Float32Array,
    offset: number,
    m: number,
    input: Float32Array,
    rowSum: Float32Array,
    sq: Float32Array,
    recon: Float32Array,
  ): void {
    const d = this.d;
    const holed: number[] = [];
    for (let i = 0; i < m; i++) if (hasMissing(rows, (offset + i) * d, d)) holed.push(i);
    if (holed.length === 0) return;
    const k = holed.length;
    const sub = new Float32Array(k * d);
    for (let h = 0; h < k; h++) sub.set(input.subarray(holed[h]! * d, holed[h]! * d + d), h * d);
    let subSq: Float32Array = sq;
    let subRecon: Float32Array = recon;
    let fromFull = true;
    for (let pass = 0; pass < IMPUTE_PASSES; pass++) {
      for (let h = 0; h < k; h++) {
        const i = holed[h]!;
        const src = fromFull ? i : h;
        for (let j = 0; j < d; j++) {
          const v = rows[(offset + i) * d + j]!;
          if (Number.isNaN(v)) sub[h * d + j] = subRecon[src * d + j]!;
        }
      }
      const outs = tf.tidy(() => {
        const { sq: e, recon: y } = this.network.recordView(tf.tensor2d(sub, [k, d]));
        return [e, y];
      });
      [subSq, subRecon] = outs.map((t) => t.dataSync() as Float32Array) as [Float32Array, Float32Array];
      for (const t of outs) t.dispose();
      fromFull = false;
    }
    for (let h = 0; h < k; h++) {
      const i = holed[h]!;
      let total = 0;
      for (let j = 0; j < d; j++) {
        sq[i * d + j] = subSq[h * d + j]!;
        recon[i * d + j] = subRecon[h * d + j]!;
        total += subSq[h * d + j]!;
      }
      rowSum[i] = total;
    }
  }

  /**
   * Anomaly scores only (no explanations, thresholds or adaptive update): the lean path for evaluation and
   * benchmarks. conv1d still advances its per-entity window history.
   */
  scoreOnly(rows: Float32Array, n: number, entities?: readonly string[], out?: Float32Array): Float32Array {
    this.check(rows, n, entities);
    const result = out ?? new Float32Array(n);
    if (result.length < n) throw new RangeError(`out holds ${result.length} values, fewer than n = ${n}`);
    for (let s = 0; s < n; s += this.maxBatch)
      this.meanErrors(rows, s, Math.min(this.maxBatch, n - s), entities, result, s);
    return result;
  }

  /**
   * The bottleneck codes of rows (scaled as for scoring): n × k values, k the code width. For conv1d this
   * advances the window history as scoring does.
   */
  latentCodes(
    rows: Float32Array,
    n: number,
    entities?: readonly string[],
  ): { codes: Float32Array; k: number } {
    this.check(rows, n, entities);
    const parts: Float32Array[] = [];
    let k = 0;
    for (let s = 0; s < n; s += this.maxBatch) {
      const m = Math.min(this.maxBatch, n - s);
      const input = this.prepare(rows, s, m, entities);
      const t = tf.tidy(() => this.network.codes(tf.tensor2d(input, [m, this.network.inputWidth])));
      k = t.shape[1]!;
      parts.push(t.dataSync() as Float32Array);
      t.dispose();
    }
    const codes = new Float32Array(n * k);
    let at = 0;
    for (const p of parts) {
      codes.set(p, at);
      at += p.length;
    }
    return { codes, k };
  }

  /** conv1d: forget every entity's window history (e.g. before scoring an unrelated series). */
  resetHistory(): void {
    this.history?.clear();
  }

  /** Entities whose recent rows are held for conv1d windows. */
  get trackedEntities(): number {
    return this.history?.size ?? 0;
  }

  /** A copy of the state with evaluation metrics attached (persist with saveDetector). */
  withEvaluation(evaluation: Record<string, unknown>): DetectorState {
    return { ...this.state, evaluation };
  }

  get backend(): string {
    return currentBackend()?.name ?? tf.getBackend();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.network.dispose();
  }
}

/** Rows `idx` of a row-major matrix, packed. */
function gatherRows(rows: Float32Array, d: number, idx: readonly number[]): Float32Array {
  const out = new Float32Array(idx.length * d);
  for (let h = 0; h < idx.length; h++) {
    const r = idx[h]! * d;
    for (let j = 0; j < d; j++) out[h * d + j] = rows[r + j]!;
  }
  return out;
}

/** Whether the row of width d at `start` has a missing value (NaN). */
function hasMissing(rows: Float32Array, start: number, d: number): boolean {
  for (let j = start; j < start + d; j++) if (Number.isNaN(rows[j]!)) return true;
  return false;
}
