/**
 * Run the evaluation protocol (shared/data/README.md) with a Vigil model: per split, train a Detector on the
 * training records only (the Detector fits its scaler on them), score every test record, and report AUC-ROC,
 * AUC-PR (average precision), and F1 at the Detector's own calibrated threshold — which it chose from held-out
 * training rows, never from test labels. Best-F1 is computed too and always reported as such, beside.
 *
 * Library code: no argv, no environment, no files except through writeReport.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { VigilError } from '../../core/errors.js';
import { type BackendPreference, currentBackend, initBackend } from '../backend.js';
import type { Detector } from '../detector.js';
import {
  DEFAULT_MAX_ENTITIES,
  type LikelihoodSettings,
  type PostprocessSettings,
  ScorePostprocessor,
} from '../postprocess.js';
import { MODEL_KINDS, type ModelKind, type SpecOverrides } from '../spec.js';
import { falseAlarmRateOf } from '../threshold.js';
import { type TrainDetectorOptions, trainDetector } from '../trainer.js';
import type { BatchScores } from '../types.js';
import type { EvalDataset, EvalSplit } from './datasets.js';
import { describeCodes, type LatentMap, latentMap } from './latent-map.js';
import { confusionAt, prCurve, quantile, rankingReport, rocCurve, thresholdCounts } from './metrics.js';
import { nabScore } from './nab.js';
import { renderReportHtml } from './report.js';
import {
  type DatasetResult,
  type EvaluationRun,
  meanOfSplits,
  plotCurves,
  type SplitResult,
  scoreHistogram,
} from './results.js';

/** Model names accepted on the command line; `conv` is short for conv1d. */
export const EVAL_MODEL_NAMES = ['dense', 'denoising', 'vae', 'conv'] as const;
export type EvalModelName = (typeof EVAL_MODEL_NAMES)[number];

export function modelKindOf(name: string): ModelKind {
  const kind = name === 'conv' ? 'conv1d' : name;
  if (!(MODEL_KINDS as readonly string[]).includes(kind)) {
    throw new VigilError(
      'CONFIG_INVALID',
      `Unknown model "${name}"; expected one of ${EVAL_MODEL_NAMES.join(', ')}.`,
      {
        details: { model: name },
      },
    );
  }
  return kind as ModelKind;
}

/** Training options the evaluation passes through (everything but what the protocol fixes per split). */
export type EvalTrainOptions = Omit<
  TrainDetectorOptions,
  'featureNames' | 'entities' | 'model' | 'seed' | 'signal'
>;

export interface EvaluateOptions {
  /** Variant and architecture overrides. Default the dense autoencoder with its defaults. */
  model?: SpecOverrides;
  /** Seed for the model (weights, shuffling, validation split). Default 42. */
  seed?: number;
  train?: EvalTrainOptions;
  /** Histogram bins in the report. Default 40. */
  histogramBins?: number;
  /** Most points per plotted curve. Default 200. */
  curvePoints?: number;
  signal?: AbortSignal;
  /**
   * Score post-processing to evaluate before proposing it for the Detector (off by default). When set, the
   * threshold for "F1 at threshold" is the 0.99 quantile of the training records' post-processed scores.
   */
  postprocess?: ScorePostprocess;
  /** Draw the latent map (bottleneck codes projected with PCA) in the report. Default true. */
  latentMap?: boolean;
  /** Called when a split starts and ends (for progress output). */
  onSplit?: (event: {
    dataset: string;
    split: string;
    phase: 'start' | 'done';
    result?: SplitResult;
  }) => void;
}

export interface ScorePostprocess {
  /**
   * Divide each feature's squared error by its mean over the training records before averaging, so a feature
   * the model reconstructs poorly even on normal data (a rare binary flag, a noisy sensor) does not dominate.
   */
  featureNormalise?: boolean;
  /**
   * Ordered data: a causal exponentially weighted moving average of the scores with this half-life in records
   * (telemanom smooths its errors the same way). Train and test continue one series where the data set says so.
   */
  ewmaHalfLife?: number;
  /**
   * Ordered data: the anomaly likelihood of the (smoothed) scores (model/postprocess.ts). With smoothing or
   * likelihood and no featureNormalise, the Detector is trained with these settings (its threshold calibrated
   * on post-processed held-out scores, as the artifact would store it) and the test scores run through the
   * same ScorePostprocessor, continuing from the training rows where the test follows them.
   */
  likelihood?: LikelihoodSettings;
}

/** The settings the artifact path takes, or undefined when the experiment needs the harness's own path. */
function artifactPostprocess(
  post: ScorePostprocess | undefined,
  ordered: boolean,
): PostprocessSettings | undefined {
  if (post === undefined || post.featureNormalise || !ordered) return undefined;
  const ewmaHalfLife = post.ewmaHalfLife ?? 0;
  if (ewmaHalfLife <= 0 && post.likelihood === undefined) return undefined;
  return {
    ewmaHalfLife,
    ...(post.likelihood ? { likelihood: post.likelihood } : {}),
    maxEntities: DEFAULT_MAX_ENTITIES,
  };
}

/** Per-record squared error per feature, recovered from BatchScores (contributions × score × d). */
function featureErrors(r: BatchScores): Float32Array {
  const out = new Float32Array(r.n * r.d);
  for (let i = 0; i < r.n; i++) {
    const total = r.scores[i]! * r.d;
    for (let j = 0; j < r.d; j++) out[i * r.d + j] = r.contributions[i * r.d + j]! * total;
  }
  return out;
}

/**
 * Test scores through the post-processing the Detector was calibrated with: one processor, fed the training
 * rows first where the test rows continue them (as a live stream would have), fresh otherwise.
 */
function processTestScores(
  settings: PostprocessSettings,
  trainScores: Float32Array | undefined,
  testScores: Float32Array,
): Float32Array {
  const p = new ScorePostprocessor(settings);
  if (trainScores) p.process(trainScores, trainScores.length);
  return p.process(
    testScores,
    testScores.length,
    undefined,
    new Float32Array(testScores.length),
  ) as Float32Array;
}

/** One split's result plus the raw test scores (kept out of the report, handy for experiments). */
export interface SplitEvaluation {
  readonly result: SplitResult;
  readonly scores: Float32Array;
  readonly labels: Uint8Array;
}

/**
 * The conv1d window for a data set: its own record window when it fits the network's pooling levels, else
 * the nearest larger one that does (2^levels must divide it), else the model's default.
 */
function convOverrides(ds: EvalDataset, model: SpecOverrides & { kind: 'conv1d' }): SpecOverrides {
  if (model.window !== undefined || ds.window <= 1) return model;
  const levels = model.filters?.length ?? 2;
  const step = 2 ** levels;
  return { ...model, window: Math.ceil(ds.window / step) * step };
}

/** Train on the split's training records and score its test records. */
async function trainAndScore(
  ds: EvalDataset,
  split: EvalSplit,
  options: EvaluateOptions,
): Promise<{
  detector: Detector;
  scores: Float32Array;
  trainSeconds: number;
  scoreSeconds: number;
  postThreshold?: number;
}> {
  const model = options.model ?? { kind: 'dense' };
  const settings = artifactPostprocess(options.postprocess, ds.ordered);
  const common = {
    ...options.train,
    seed: options.seed ?? 42,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const t0 = performance.now();
  if (model.kind === 'conv1d') {
    // conv1d builds its own windows from plain rows (one entity, in time order), so it is given the series.
    const s = split.series;
    if (s === undefined) {
      throw new VigilError(
        'INPUT_INVALID',
        `The conv1d model needs ordered data; ${ds.name} is tabular (rows in no time order).`,
      );
    }
    const names = ds.featureNames.slice(ds.d - ds.rowWidth);
    const detector = await trainDetector(s.train, s.nTrain, ds.rowWidth, {
      ...common,
      featureNames: names,
      model: convOverrides(ds, model),
      ...(settings ? { postprocess: settings } : {}),
    });
    const t1 = performance.now();
    // One series cut in two: the first test windows look back into the training rows, as a live stream would.
    // A separate recording starts with an empty history.
    detector.resetHistory();
    if (settings) {
      const trainScores = s.testFollowsTrain ? detector.scoreOnly(s.train, s.nTrain) : undefined;
      const scores = processTestScores(settings, trainScores, detector.scoreOnly(s.test, s.nTest));
      return {
        detector,
        scores,
        trainSeconds: (t1 - t0) / 1000,
        scoreSeconds: (performance.now() - t1) / 1000,
      };
    }
    if (options.postprocess) {
      const trainScores = detector.score(s.train, s.nTrain);
      if (!s.testFollowsTrain) detector.resetHistory();
      const post = postprocessScores(
        trainScores,
        detector.score(s.test, s.nTest),
        options.postprocess,
        s.testFollowsTrain,
      );
      return {
        detector,
        ...post,
        trainSeconds: (t1 - t0) / 1000,
        scoreSeconds: (performance.now() - t1) / 1000,
      };
    }
    if (s.testFollowsTrain) detector.scoreOnly(s.train, s.nTrain);
    const scores = detector.scoreOnly(s.test, s.nTest);
    return {
      detector,
      scores,
      trainSeconds: (t1 - t0) / 1000,
      scoreSeconds: (performance.now() - t1) / 1000,
    };
  }
  const detector = await trainDetector(split.train, split.nTrain, ds.d, {
    ...common,
    featureNames: ds.featureNames,
    model,
    ...(settings ? { postprocess: settings } : {}),
  });
  const t1 = performance.now();
  if (settings) {
    const follows = split.series?.testFollowsTrain ?? false;
    const trainScores = follows ? detector.scoreOnly(split.train, split.nTrain) : undefined;
    const scores = processTestScores(settings, trainScores, detector.scoreOnly(split.test, split.nTest));
    return {
      detector,
      scores,
      trainSeconds: (t1 - t0) / 1000,
      scoreSeconds: (performance.now() - t1) / 1000,
    };
  }
  if (options.postprocess) {
    const post = postprocessScores(
      detector.score(split.train, split.nTrain),
      detector.score(split.test, split.nTest),
      // Smoothing across rows only means something where rows are in time order.
      ds.ordered ? options.postprocess : { ...options.postprocess, ewmaHalfLife: 0 },
      split.series?.testFollowsTrain ?? false,
    );
    return {
      detector,
      ...post,
      trainSeconds: (t1 - t0) / 1000,
      scoreSeconds: (performance.now() - t1) / 1000,
    };
  }
  const scores = detector.scoreOnly(split.test, split.nTest);
  return { detector, scores, trainSeconds: (t1 - t0) / 1000, scoreSeconds: (performance.now() - t1) / 1000 };
}

/** Apply the experimental post-processing; the threshold comes from the training records' processed scores. */
function postprocessScores(
  train: BatchScores,
  test: BatchScores,
  post: ScorePostprocess,
  testFollowsTrain: boolean,
): { scores: Float32Array; postThreshold: number } {
  let trainScores = train.scores;
  let testScores = test.scores;
  if (post.featureNormalise) {
    const d = train.d;
    const trainSq = featureErrors(train);
    const mean = new Float64Array(d);
    for (let i = 0; i < train.n; i++) for (let j = 0; j < d; j++) mean[j] = mean[j]! + trainSq[i * d + j]!;
    const w = Float64Array.from(mean, (m) => (m > 0 ? train.n / m : 0));
    const norm = (sq: Float32Array, n: number) => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let j = 0; j < d; j++) acc += sq[i * d + j]! * w[j]!;
        out[i] = acc / d;
      }
      return out;
    };
    trainScores = norm(trainSq, train.n);
    testScores = norm(featureErrors(test), test.n);
  }
  if (post.ewmaHalfLife !== undefined && post.ewmaHalfLife > 0) {
    const p = new ScorePostprocessor({ ewmaHalfLife: post.ewmaHalfLife, maxEntities: 1 });
    trainScores = p.process(trainScores, train.n) as Float32Array;
    if (!testFollowsTrain) p.reset();
    testScores = p.process(testScores, test.n) as Float32Array;
  }
  return { scores: testScores, postThreshold: quantile(trainScores, 0.99) };
}

/**
 * NAB score of the detections the threshold makes on the test rows (score > threshold, the Detector's rule);
 * rows outside the test set (the probationary period) carry no detection, as NAB ignores them anyway.
 */
function nabOfSplit(
  nab: NonNullable<EvalDataset['nab']>,
  split: EvalSplit,
  scores: Float32Array,
  threshold: number,
) {
  const detections = new Uint8Array(nab.rows);
  for (let k = 0; k < split.nTest; k++) if (scores[k]! > threshold) detections[split.testRowIndex[k]!] = 1;
  return nabScore(detections, nab.windows);
}

/**
 * The bottleneck codes of the split's training and test rows, on a PCA plane of the training codes. conv1d
 * reads windows, so its history is replayed as scoring did: the training series from empty, then the test
 * series continuing it where the data set says it follows, else from empty.
 */
function latentMapOf(detector: Detector, ds: EvalDataset, split: EvalSplit): LatentMap {
  const s = detector.spec.kind === 'conv1d' ? split.series : undefined;
  if (detector.spec.kind === 'conv1d' && s === undefined)
    throw new VigilError('INPUT_INVALID', `The conv1d model needs ordered data; ${ds.name} has none.`);
  detector.resetHistory();
  const train = s ? detector.latentCodes(s.train, s.nTrain) : detector.latentCodes(split.train, split.nTrain);
  if (s && !s.testFollowsTrain) detector.resetHistory();
  const test = s ? detector.latentCodes(s.test, s.nTest) : detector.latentCodes(split.test, split.nTest);
  detector.resetHistory();
  return latentMap(
    { codes: train.codes, n: s ? s.nTrain : split.nTrain },
    { codes: test.codes, n: s ? s.nTest : split.nTest },
    train.k,
    split.testLabels,
    describeCodes(detector.spec, train.k),
  );
}

export async function evaluateSplit(
  ds: EvalDataset,
  split: EvalSplit,
  options: EvaluateOptions = {},
): Promise<SplitEvaluation> {
  const { detector, scores, trainSeconds, scoreSeconds, postThreshold } = await trainAndScore(
    ds,
    split,
    options,
  );
  try {
    const labels = split.testLabels;
    const counts = thresholdCounts(scores, labels);
    const ranking = rankingReport(scores, labels);
    const cal = detector.calibration;
    const threshold = postThreshold ?? cal.threshold;
    // The Detector flags score > threshold (CompiledThresholds.apply); the same rule here.
    const atThreshold = confusionAt(scores, labels, threshold);
    const training = detector.state.training;
    const targetRate = postThreshold === undefined ? falseAlarmRateOf(cal) : undefined;
    const calibratedOn =
      training.calibratedOn === 'validation'
        ? `${training.validationRows} held-out training rows`
        : 'training rows';
    const tail = cal.distribution.tail;
    const fitted =
      cal.falseAlarmRate !== undefined
        ? `a per-record false-alarm rate of ${cal.falseAlarmRate} from the ${
            tail.fit === 'gpd'
              ? `generalised Pareto tail (ξ = ${tail.xi.toFixed(3)})`
              : tail.fit === 'constant'
                ? 'fallback tail (no spread above its start)'
                : 'exponential tail'
          } fitted over the top ${(100 * tail.pU).toPrecision(2)} % of ${cal.distribution.n} scores of ${calibratedOn}`
        : `the ${cal.quantile} quantile of ${cal.distribution.n} scores of ${calibratedOn}`;
    const result: SplitResult = {
      split: split.name,
      nTrain: split.nTrain,
      nTest: split.nTest,
      positives: ranking.positives,
      aucRoc: ranking.aucRoc,
      aucPr: ranking.aucPr,
      calibrated: {
        threshold,
        rule:
          postThreshold !== undefined
            ? `post-processed scores (${JSON.stringify(options.postprocess)}): the 0.99 quantile of the training records' processed scores`
            : cal.postprocess
              ? `the model's calibrated threshold on post-processed scores (${JSON.stringify(cal.postprocess)}): ${fitted}`
              : `the model's calibrated threshold: ${fitted}`,
        precision: atThreshold.precision,
        recall: atThreshold.recall,
        f1: atThreshold.f1,
        flaggedRate: (atThreshold.tp + atThreshold.fp) / split.nTest,
        normalFlaggedRate:
          atThreshold.fp + atThreshold.tn > 0
            ? atThreshold.fp / (atThreshold.fp + atThreshold.tn)
            : Number.NaN,
        ...(targetRate !== undefined ? { targetRate } : {}),
        ...(targetRate !== undefined && cal.requestedFalseAlarmRate !== undefined
          ? { requestedRate: cal.requestedFalseAlarmRate }
          : {}),
      },
      bestF1: ranking.bestF1,
      ...plotCurves(rocCurve(scores, labels, counts), prCurve(scores, labels, counts), options.curvePoints),
      histogram: scoreHistogram(scores, labels, options.histogramBins, threshold),
      trainSeconds,
      scoreSeconds,
      epochs: training.epochsRun,
      ...(ds.nab ? { nab: nabOfSplit(ds.nab, split, scores, threshold) } : {}),
      ...(options.latentMap === false ? {} : { latentMap: latentMapOf(detector, ds, split) }),
    };
    return { result, scores, labels };
  } finally {
    detector.dispose();
  }
}

export async function evaluateDataset(
  ds: EvalDataset,
  options: EvaluateOptions = {},
): Promise<DatasetResult> {
  const splits: SplitResult[] = [];
  for (const split of ds.splits) {
    options.onSplit?.({ dataset: ds.name, split: split.name, phase: 'start' });
    const { result } = await evaluateSplit(ds, split, options);
    options.onSplit?.({ dataset: ds.name, split: split.name, phase: 'done', result });
    splits.push(result);
  }
  let protocol = ds.protocol;
  const model = options.model ?? { kind: 'dense' };
  if (model.kind === 'conv1d' && ds.window > 1) {
    const w = (convOverrides(ds, model) as { window?: number }).window;
    if (w !== ds.window)
      protocol += ` The conv1d model reads windows of ${w} rows (its pooling needs a multiple of 2^levels).`;
  }
  return {
    dataset: ds.name,
    title: ds.title,
    protocol,
    source: ds.source,
    d: ds.d,
    splits,
    mean: meanOfSplits(splits),
  };
}

export interface RunEvaluationOptions extends EvaluateOptions {
  /** tfjs backend. Default auto (wasm here). */
  backend?: BackendPreference;
  /** Label for the report; default the model kind. */
  modelLabel?: string;
}

export async function runEvaluation(
  datasets: readonly EvalDataset[],
  options: RunEvaluationOptions = {},
): Promise<EvaluationRun> {
  const backend = currentBackend() ?? (await initBackend({ preference: options.backend ?? 'auto' }));
  const model = options.model ?? { kind: 'dense' };
  const results: DatasetResult[] = [];
  for (const ds of datasets) results.push(await evaluateDataset(ds, options));
  return {
    createdAt: new Date().toISOString(),
    model: options.modelLabel ?? model.kind,
    modelConfig: { model, seed: options.seed ?? 42, train: options.train ?? {} },
    seed: options.seed ?? 42,
    backend: `${backend.name}${backend.simd !== undefined ? (backend.simd ? ' (SIMD)' : ' (no SIMD)') : ''} / tfjs ${backend.tfjsVersion}`,
    datasets: results,
  };
}

/** Write the HTML report (creating its directory) and return its path. */
export function writeReport(run: EvaluationRun, file: string): string {
  const out = path.resolve(file);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, renderReportHtml(run));
  return out;
}
