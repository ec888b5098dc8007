/**
 * NAB scoring (Numenta Anomaly Benchmark, Lavin & Ahmad 2015), the standard profile, as numenta/NAB's
 * nab/sweeper.py computes it (`calcSweepScore` + `calcScoreByThreshold`), from per-record detections:
 *
 * - A window is a labelled anomaly range (rows, ends inclusive). Only the best (earliest) detection in a window
 *   counts: A_TP · σ(−(end − i + 1)/width) / σ(−1), where σ(x) = 2/(1 + e^{5x}) − 1 is NAB's scaled sigmoid, so
 *   a detection on the window's first row earns exactly A_TP and one on its last row about a quarter of it.
 * - A window with no detection costs A_FN.
 * - Every detection outside a window costs A_FP · σ(|i − prevEnd| / (prevWidth − 1)) measured from the end of the
 *   closest preceding window (a detection just after a window costs little, one far after costs A_FP), or the
 *   full A_FP where no window precedes it. σ is −1 from a relative position of 3 on.
 * - Rows in the probationary period (the first min(⌊0.15 n⌋, 750)) are not scored; a window counts when any of
 *   its rows lies after the probation.
 *
 * The raw score is the sum; the normalised score is 100 · (raw − null) / (perfect − null), where the null
 * detector (no detections) scores −A_FN per window and the perfect one detects each window's first scored row.
 * NAB normalises over its whole corpus; here one file is normalised on its own, so the figure to compare with
 * published per-file results is the raw score. Pure functions.
 */
import { VigilError } from '../../core/errors.js';

export interface NabProfile {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
}

/** NAB's `standard` application profile (config/profiles.json). */
export const NAB_STANDARD_PROFILE: NabProfile = { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 1.0 };

/** Rows, ends inclusive. */
export interface NabWindow {
  readonly start: number;
  readonly end: number;
}

export interface NabScore {
  readonly raw: number;
  /** 100 · (raw − null) / (perfect − null); 100 is perfect, 0 the null detector. */
  readonly normalised: number;
  readonly nullScore: number;
  readonly perfectScore: number;
  /** Windows scored (those reaching past the probationary period). */
  readonly windows: number;
  readonly detectedWindows: number;
  /** Sum of the windows' terms (detected windows' rewards, missed windows' −A_FN). */
  readonly windowScore: number;
  /** Detections outside every window after the probation, and their summed (negative) cost. */
  readonly falsePositives: number;
  readonly falsePositiveScore: number;
  readonly probationaryLength: number;
  readonly profile: NabProfile;
}

/** NAB's scaled sigmoid: 2·sigmoid(−5x) − 1, and −1 from x = 3 on (sweeper.py). */
export function scaledSigmoid(x: number): number {
  if (x >= 3) return -1;
  return 2 / (1 + Math.exp(5 * x)) - 1;
}

/** NAB's probationary period: min(⌊0.15 n⌋, 0.15 · 5000). */
export function nabProbationaryLength(n: number, probationPercent = 0.15): number {
  return Math.min(Math.floor(probationPercent * n), probationPercent * 5000);
}

/** The windows of a 0/1 label series: its maximal runs of 1s (two windows that touch read as one). */
export function windowsFromLabels(labels: ArrayLike<number>): NabWindow[] {
  const out: NabWindow[] = [];
  let start = -1;
  for (let i = 0; i < labels.length; i++) {
    const inside = labels[i] === 1;
    if (inside && start < 0) start = i;
    if (!inside && start >= 0) {
      out.push({ start, end: i - 1 });
      start = -1;
    }
  }
  if (start >= 0) out.push({ start, end: labels.length - 1 });
  return out;
}

export interface NabScoreOptions {
  profile?: NabProfile;
  /** Rows not scored at the start. Default NAB's: min(⌊0.15 n⌋, 750). */
  probationaryLength?: number;
}

/**
 * Score detections (1 = the detector raised an alarm on that row), one per row of the whole series, against
 * its windows.
 */
export function nabScore(
  detections: ArrayLike<number>,
  windows: readonly NabWindow[],
  options: NabScoreOptions = {},
): NabScore {
  const n = detections.length;
  const profile = options.profile ?? NAB_STANDARD_PROFILE;
  const probation = options.probationaryLength ?? nabProbationaryLength(n);
  let prevEnd = -1;
  for (const w of windows) {
    if (!(Number.isInteger(w.start) && Number.isInteger(w.end) && w.start <= w.end && w.start > prevEnd)) {
      throw new VigilError(
        'INPUT_INVALID',
        `NAB windows must be ordered, disjoint integer row ranges; got [${w.start}, ${w.end}] after a window ending at ${prevEnd}.`,
      );
    }
    if (w.end >= n) {
      throw new VigilError(
        'INPUT_INVALID',
        `NAB window [${w.start}, ${w.end}] ends past the ${n} rows scored.`,
      );
    }
    prevEnd = w.end;
  }
  const maxTp = scaledSigmoid(-1);
  const tpTerm = (w: NabWindow, i: number): number => {
    const width = w.end - w.start + 1;
    return (scaledSigmoid(-(w.end - i + 1) / width) * profile.tpWeight) / maxTp;
  };
  const counted = windows.map((w) => w.end >= probation);
  const best = windows.map(() => -profile.fnWeight);
  let perfect = 0;
  windows.forEach((w, j) => {
    if (counted[j]) perfect += tpTerm(w, Math.max(w.start, probation));
  });

  let fpCount = 0;
  let fpScore = 0;
  // Walk the rows once, tracking the window a row is in (k) or the closest one before it (k − 1), which may
  // lie in the probation: sweeper.py measures a false positive from it all the same.
  let k = 0;
  for (let i = Math.max(0, Math.ceil(probation)); i < n; i++) {
    while (k < windows.length && windows[k]!.end < i) k++;
    if (detections[i] !== 1) continue;
    const w = windows[k];
    if (w !== undefined && w.start <= i) {
      best[k] = Math.max(best[k]!, tpTerm(w, i));
      continue;
    }
    fpCount++;
    const prev = windows[k - 1];
    let position = 3;
    if (prev !== undefined) {
      const width = prev.end - prev.start + 1;
      // A one-row window has no width to measure by (sweeper.py divides by zero there): treat it as far.
      position = width > 1 ? Math.abs(i - prev.end) / (width - 1) : 3;
    }
    fpScore += scaledSigmoid(position) * profile.fpWeight;
  }
  const scoredBest = best.filter((_, j) => counted[j]);
  const windowScore = scoredBest.reduce((a, b) => a + b, 0);
  const raw = windowScore + fpScore;
  const nullScore = -profile.fnWeight * scoredBest.length;
  const span = perfect - nullScore;
  return {
    raw,
    normalised: span > 0 ? (100 * (raw - nullScore)) / span : Number.NaN,
    nullScore,
    perfectScore: perfect,
    windows: scoredBest.length,
    detectedWindows: scoredBest.filter((b) => b > -profile.fnWeight).length,
    windowScore,
    falsePositives: fpCount,
    falsePositiveScore: fpScore,
    probationaryLength: probation,
    profile,
  };
}
