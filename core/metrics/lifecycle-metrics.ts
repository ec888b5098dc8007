import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The model lifecycle's metrics (training reservoir, drift checks, retraining, feedback), part of VigilMetrics
 * (`metrics.lifecycle`). Labels are fixed sets: a drift statistic, a check or retrain result, a feedback label.
 * Per-feature drift is exported as its maximum and the count of features over the threshold, never a series
 * per feature: a mapping with temporal features has a hundred columns.
 */
export const DRIFT_CHECK_RESULTS = ['drift', 'stable', 'insufficient'] as const;
export type DriftCheckResult = (typeof DRIFT_CHECK_RESULTS)[number];
export const RETRAIN_RESULTS = ['promoted', 'candidate', 'rejected', 'failed'] as const;
export type RetrainResult = (typeof RETRAIN_RESULTS)[number];
export const FEEDBACK_OUTCOMES = ['false_alarm', 'confirmed_anomaly', 'unknown_event', 'invalid'] as const;
export type FeedbackOutcome = (typeof FEEDBACK_OUTCOMES)[number];

// To two hours: a 100k-row reservoir on two CPU cores takes tens of minutes (bench/RESULTS.md, "retrain").
export const RETRAIN_DURATION_BUCKETS = [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

export class LifecycleMetrics {
  readonly reservoirRows: Gauge;
  readonly reservoirCapacity: Gauge;
  readonly reservoirExcluded: Counter;
  readonly driftChecks: Counter<'result'>;
  readonly driftMax: Gauge<'statistic'>;
  readonly driftFeaturesOver: Gauge<'statistic'>;
  readonly driftScoreKs: Gauge;
  readonly retrains: Counter<'result'>;
  readonly retrainRunning: Gauge;
  readonly retrainDuration: Histogram;
  readonly feedback: Counter<'label'>;
  readonly adjustedEntities: Gauge;
  readonly adjustmentMaxFactor: Gauge;
  readonly suppressedAlerts: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.reservoirRows = new Gauge({
      name: 'vigil_reservoir_rows',
      help: 'Rows held in the training reservoir (recent records scored as normal).',
      registers,
    });
    this.reservoirCapacity = new Gauge({
      name: 'vigil_reservoir_capacity_rows',
      help: 'Most rows the training reservoir holds (model.lifecycle.reservoir.capacity).',
      registers,
    });
    this.reservoirExcluded = new Counter({
      name: 'vigil_reservoir_excluded_total',
      help: 'Records kept out of (or taken out of) the training reservoir because feedback confirmed them as anomalies.',
      registers,
    });
    this.driftChecks = new Counter({
      name: 'vigil_drift_checks_total',
      help: 'Drift checks run, by result: drift, stable, or insufficient (too few reservoir rows to judge).',
      labelNames: ['result'],
      registers,
    });
    this.driftMax = new Gauge({
      name: 'vigil_drift_max',
      help: 'Largest per-feature drift statistic of the last check (psi, ks, wasserstein in reference σ), training reference against the reservoir.',
      labelNames: ['statistic'],
      registers,
    });
    this.driftFeaturesOver = new Gauge({
      name: 'vigil_drift_features_over_threshold',
      help: 'Features whose drift statistic crossed its threshold in the last check, by statistic.',
      labelNames: ['statistic'],
      registers,
    });
    this.driftScoreKs = new Gauge({
      name: 'vigil_drift_score_ks',
      help: 'Kolmogorov–Smirnov D between recent anomaly scores and the model’s calibration score distribution (last check).',
      registers,
    });
    this.retrains = new Counter({
      name: 'vigil_retrains_total',
      help: 'Retrains finished, by result: promoted (passed the gate), candidate (passed, left for a person to promote), rejected (failed it, reason in the registry), failed (training error).',
      labelNames: ['result'],
      registers,
    });
    this.retrainRunning = new Gauge({
      name: 'vigil_retrain_running',
      help: '1 while a retrain runs on its worker thread (one at a time), else 0.',
      registers,
    });
    this.retrainDuration = new Histogram({
      name: 'vigil_retrain_duration_seconds',
      help: 'Wall time of one retrain: training, saving, and scoring the held-out sets with both models, in seconds.',
      buckets: RETRAIN_DURATION_BUCKETS,
      registers,
    });
    this.feedback = new Counter({
      name: 'vigil_feedback_total',
      help: 'Feedback records read, by label: false_alarm, confirmed_anomaly, unknown_event (no entity to apply it to), invalid.',
      labelNames: ['label'],
      registers,
    });
    this.adjustedEntities = new Gauge({
      name: 'vigil_threshold_adjusted_entities',
      help: 'Entities whose threshold feedback has raised (repeated false alarms).',
      registers,
    });
    this.adjustmentMaxFactor = new Gauge({
      name: 'vigil_threshold_adjustment_max_factor',
      help: 'Largest factor feedback has raised an entity’s threshold by (1 when none; bounded by model.lifecycle.feedback.maxFactor).',
      registers,
    });
    this.suppressedAlerts = new Counter({
      name: 'vigil_feedback_suppressed_total',
      help: 'Records over the model’s threshold but under their entity’s feedback-raised one: not reported as anomalies.',
      registers,
    });
    // Known label values start at 0 (as in vigil-metrics.ts), so the first failed retrain or drifted check is an
    // increase from 0, which VigilRetrainFailed and VigilDriftDetected see, rather than a new series at 1, which
    // increase() does not.
    for (const result of DRIFT_CHECK_RESULTS) this.driftChecks.inc({ result }, 0);
    for (const result of RETRAIN_RESULTS) this.retrains.inc({ result }, 0);
    for (const label of FEEDBACK_OUTCOMES) this.feedback.inc({ label }, 0);
  }
}
