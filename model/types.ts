import type { ThresholdCalibration } from './threshold.js';

/**
 * The contract between the detection pipeline (connector/) and the models (model/). The pipeline hands a
 * micro-batch of feature rows, already in the record's own units, and gets back everything an anomaly event
 * needs. Everything is row-major typed arrays so a batch crosses the boundary (and worker threads) without
 * per-row objects.
 */
export interface BatchScores {
  /** Rows scored. */
  readonly n: number;
  /** Feature count (row width). */
  readonly d: number;
  /**
   * Anomaly score per row, the one judged against the threshold: the reconstruction error on the model's
   * scaled inputs, or its post-processed value where the calibration has post-processing (then `rawScores`
   * holds the reconstruction errors). Higher is more anomalous.
   */
  readonly scores: Float32Array;
  /** The reconstruction errors, when `scores` are post-processed (model/postprocess-stage.ts). */
  readonly rawScores?: Float32Array;
  /** Per-row, per-feature share of the error, row-major n×d; each row sums to 1 (all zeros where score is 0). */
  readonly contributions: Float32Array;
  /** Per-row, per-feature reconstruction (the decoder's output) in the input's own units, row-major n×d. */
  readonly expected: Float32Array;
  /** Severity in [0,1] per row: the calibrated tail probability of the score under normal data. */
  readonly severity: Float32Array;
  /** Per-row decision against the threshold in force (1 = anomaly). */
  readonly isAnomaly: Uint8Array;
  /** Threshold each row was judged against (per-entity thresholds make this vary by row). */
  readonly threshold: Float32Array;
}

export interface ModelIdentity {
  /** Stable name of the model line, e.g. "sensor-dense". */
  readonly id: string;
  /** Version of this trained artifact (monotonic within a model id). */
  readonly version: string;
  /** Feature names, in row order. */
  readonly featureNames: readonly string[];
}

export interface ScoreOptions {
  /**
   * Which rows get contributions and expected values: every row (default), or only the rows flagged as
   * anomalies, the rest left all zeros. Scores, thresholds and decisions are the same either way; the pipeline
   * asks for `anomalies`, since explaining every row of a mostly normal stream is most of the scoring cost.
   */
  readonly explain?: 'all' | 'anomalies';
}

/** What the pipeline scores with. Implementations are synchronous: the hot path never awaits per batch. */
export interface Scorer {
  readonly identity: ModelIdentity;
  /**
   * The calibration in force. When it carries `postprocess`, its thresholds are on the post-processed scale:
   * the caller post-processes the returned scores and judges them (model/postprocess-stage.ts).
   */
  readonly activeCalibration?: ThresholdCalibration;
  /** Score `n` rows held row-major in `rows` (length ≥ n × featureNames.length). */
  score(rows: Float32Array, n: number, entities?: readonly string[], options?: ScoreOptions): BatchScores;
}

/**
 * A scorer that works off the caller's thread (model/workers' pool): the same contract, answered later. The
 * pipeline keeps fetching, decoding and producing on its own thread while batches are scored elsewhere.
 */
export interface AsyncScorer {
  readonly identity: ModelIdentity;
  /** As Scorer.activeCalibration. */
  readonly activeCalibration?: ThresholdCalibration;
  scoreAsync(
    rows: Float32Array,
    n: number,
    entities?: readonly string[],
    options?: ScoreOptions,
  ): Promise<BatchScores>;
}
