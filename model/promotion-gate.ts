/**
 * The promotion gate: judges a retrained challenger against the serving champion on data neither was trained
 * on: recent normal rows held out of the retrain, and the anomalies feedback confirmed (when there are enough
 * of them). Pure: scores and decisions in, a verdict with its reasons out.
 *
 * Rules, in order; every one that fails is a reason, and any reason rejects:
 * 1. The challenger's false-alarm rate on held-out normal rows is at most `maxFalseAlarmRate` (default 1 %,
 *    100 times the default calibrated rate of 1e-4: the held-out set is a few thousand rows, so the bound
 *    must allow for its noise, yet a model that flags one normal record in a hundred is not fit to serve).
 * 2. …and not worse than the champion's on the same rows by more than `falseAlarmTolerance` (0.2 points):
 *    a retrain must not make today's normal data look more anomalous than the model it replaces does.
 * 3. With at least `minLabelled` confirmed anomalies: its recall on them is at most `recallTolerance`
 *    (10 points) below the champion's, and its ranking of them over the held-out normal rows (AUC) at most
 *    `aucTolerance` (0.05) below. This is what rejects a model trained on contaminated data: it has learnt to
 *    reconstruct the anomalies, so it scores them as normal. Without labels the gate says it could not check
 *    this (`labelled: 0`) and judges on normal data alone.
 */

export interface GateOptions {
  readonly maxFalseAlarmRate: number;
  readonly falseAlarmTolerance: number;
  readonly minLabelled: number;
  readonly recallTolerance: number;
  readonly aucTolerance: number;
}

export const DEFAULT_GATE: GateOptions = {
  maxFalseAlarmRate: 0.01,
  falseAlarmTolerance: 0.002,
  minLabelled: 5,
  recallTolerance: 0.1,
  aucTolerance: 0.05,
};

export interface ModelEvaluation {
  /** Share of held-out normal rows flagged. */
  readonly falseAlarmRate: number;
  /** Share of labelled anomalies flagged; NaN without labels. */
  readonly recall: number;
  /** P(score of a labelled anomaly > score of a held-out normal row); NaN without labels. */
  readonly auc: number;
}

export interface GateVerdict {
  readonly passed: boolean;
  readonly reasons: readonly string[];
  readonly challenger: ModelEvaluation;
  readonly champion: ModelEvaluation;
  readonly heldOut: number;
  readonly labelled: number;
}

export interface GateInput {
  readonly heldOut: { readonly scores: ArrayLike<number>; readonly isAnomaly: ArrayLike<number> };
  readonly labelled: { readonly scores: ArrayLike<number>; readonly isAnomaly: ArrayLike<number> };
}

function share(flags: ArrayLike<number>): number {
  if (flags.length === 0) return Number.NaN;
  let k = 0;
  for (let i = 0; i < flags.length; i++) if (flags[i]) k++;
  return k / flags.length;
}

/** Mann–Whitney AUC: P(pos > neg) + ½ P(pos = neg), by sorting both together (ties get mid-ranks). */
export function auc(pos: ArrayLike<number>, neg: ArrayLike<number>): number {
  const n1 = pos.length;
  const n0 = neg.length;
  if (n1 === 0 || n0 === 0) return Number.NaN;
  const all: { v: number; p: boolean }[] = [];
  for (let i = 0; i < n1; i++) all.push({ v: pos[i]!, p: true });
  for (let i = 0; i < n0; i++) all.push({ v: neg[i]!, p: false });
  all.sort((a, b) => a.v - b.v);
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]!.v === all[i]!.v) j++;
    const mid = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]!.p) rankSum += mid;
    i = j;
  }
  return (rankSum - (n1 * (n1 + 1)) / 2) / (n1 * n0);
}

export function evaluateModel(input: GateInput): ModelEvaluation {
  return {
    falseAlarmRate: share(input.heldOut.isAnomaly),
    recall: share(input.labelled.isAnomaly),
    auc: auc(input.labelled.scores, input.heldOut.scores),
  };
}

const pct = (x: number) => `${(100 * x).toFixed(2)} %`;

export function judge(
  challenger: GateInput,
  champion: GateInput,
  options: GateOptions = DEFAULT_GATE,
): GateVerdict {
  const c = evaluateModel(challenger);
  const k = evaluateModel(champion);
  const heldOut = challenger.heldOut.isAnomaly.length;
  const labelled = challenger.labelled.isAnomaly.length;
  const reasons: string[] = [];
  if (heldOut === 0) reasons.push('no held-out normal rows to judge on');
  else {
    if (!(c.falseAlarmRate <= options.maxFalseAlarmRate)) {
      reasons.push(
        `false-alarm rate on ${heldOut} held-out normal rows ${pct(c.falseAlarmRate)} > ${pct(options.maxFalseAlarmRate)}`,
      );
    }
    if (!(c.falseAlarmRate <= k.falseAlarmRate + options.falseAlarmTolerance)) {
      reasons.push(
        `false-alarm rate ${pct(c.falseAlarmRate)} worse than the champion's ${pct(k.falseAlarmRate)} by more than ${pct(options.falseAlarmTolerance)}`,
      );
    }
  }
  if (labelled >= options.minLabelled) {
    if (!(c.recall >= k.recall - options.recallTolerance)) {
      reasons.push(
        `recall on ${labelled} confirmed anomalies ${pct(c.recall)} < the champion's ${pct(k.recall)} − ${pct(options.recallTolerance)}`,
      );
    }
    if (heldOut > 0 && !(c.auc >= k.auc - options.aucTolerance)) {
      reasons.push(
        `AUC on confirmed anomalies ${c.auc.toFixed(3)} < the champion's ${k.auc.toFixed(3)} − ${options.aucTolerance}`,
      );
    }
  }
  return { passed: reasons.length === 0, reasons, challenger: c, champion: k, heldOut, labelled };
}

/**
 * The shadow window (optional, after the gate passes): the challenger scores the live batches beside the
 * champion for a while, alerting nothing, and its would-be alert rate is compared with the champion's real one
 * on the same records. The gate's held-out rows were drawn before the retrain; the window is traffic neither
 * model has seen, at the time it would serve.
 *
 * The rule: the challenger's rate is at most the larger of `maxAlertRate` (1 %, the gate's bound on held-out
 * normal rows) and `maxRatio` (1.5) times the champion's. After drift the champion's rate is the stale one, so a
 * challenger may not alert more than it by half again; in a quiet stream the absolute bound keeps a handful of
 * alerts from failing it. A window with fewer than `minRows` records cannot tell, and fails.
 */
export interface ShadowOptions {
  /** How long the challenger shadows; 0: no shadow window. */
  readonly windowMs: number;
  readonly minRows: number;
  readonly maxAlertRate: number;
  readonly maxRatio: number;
}

export const DEFAULT_SHADOW: ShadowOptions = {
  windowMs: 0,
  minRows: 1_000,
  maxAlertRate: 0.01,
  maxRatio: 1.5,
};

export interface ShadowCounts {
  readonly rows: number;
  readonly championAlerts: number;
  readonly challengerAlerts: number;
}

export interface ShadowVerdict extends ShadowCounts {
  readonly passed: boolean;
  readonly reasons: readonly string[];
  readonly championRate: number;
  readonly challengerRate: number;
}

export function judgeShadow(c: ShadowCounts, o: ShadowOptions = DEFAULT_SHADOW): ShadowVerdict {
  const rate = (k: number) => (c.rows > 0 ? k / c.rows : Number.NaN);
  const championRate = rate(c.championAlerts);
  const challengerRate = rate(c.challengerAlerts);
  const reasons: string[] = [];
  if (c.rows < o.minRows) {
    reasons.push(`the shadow window saw ${c.rows} live records, fewer than ${o.minRows}`);
  } else {
    const bound = Math.max(o.maxAlertRate, o.maxRatio * championRate);
    if (!(challengerRate <= bound)) {
      reasons.push(
        `would-be alert rate on ${c.rows} live records ${pct(challengerRate)} > ${pct(bound)} (the larger of ${pct(o.maxAlertRate)} and ${o.maxRatio}× the champion's ${pct(championRate)})`,
      );
    }
  }
  return { ...c, passed: reasons.length === 0, reasons, championRate, challengerRate };
}
