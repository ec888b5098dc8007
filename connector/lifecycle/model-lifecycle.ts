/**
 * The model lifecycle beside the detection pipeline: it keeps the training reservoir, runs drift checks on a
 * schedule, retrains (on a schedule and when drift crosses its threshold) on a worker thread, judges the
 * challenger against the champion with the promotion gate, publishes it to the model registry as promoted or
 * rejected with the reason, and applies analyst feedback (feedback-topic.ts reads it).
 *
 * It touches the pipeline at one point only: `onScored`, the pipeline's synchronous per-batch hook, which
 * (1) raises the thresholds of entities with repeated false alarms, (2) keeps a window of recent scores,
 * (3) adds the records still judged normal to the reservoir, (4) remembers the flagged ones for feedback.
 * The model that serves is swapped by whoever watches the registry (`onPromoted` here, or the registry
 * watcher of `vigil run`); `setChampion` tells this controller which model it now compares against.
 *
 * Invariants: one retrain at a time (a second request while one runs is refused, not queued); the serving
 * model is never fitted (the worker trains a fresh network in its own tfjs); nothing here blocks the event
 * loop for more than a drift check over the reservoir (sorting d columns of at most `capacity` rows).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fnv1a } from '../../core/hash.js';
import type { Logger } from '../../core/logger.js';
import type { LifecycleMetrics } from '../../core/metrics/lifecycle-metrics.js';
import { sleep } from '../../core/retry.js';
import type { ArtifactManifest } from '../../model/artifact.js';
import { loadDetector, readManifest } from '../../model/artifact.js';
import type { BackendPreference } from '../../model/backend.js';
import type { Detector } from '../../model/detector.js';
import {
  checkDrift,
  DEFAULT_DRIFT_THRESHOLDS,
  type DriftReport,
  type DriftThresholds,
} from '../../model/drift/drift-check.js';
import {
  DEFAULT_FEEDBACK_THRESHOLDS,
  type EntityAdjustment,
  type FeedbackThresholdOptions,
  FeedbackThresholds,
} from '../../model/feedback-thresholds.js';
import {
  DEFAULT_GATE,
  DEFAULT_SHADOW,
  type GateOptions,
  type GateVerdict,
  judge,
  judgeShadow,
  type ShadowOptions,
  type ShadowVerdict,
} from '../../model/promotion-gate.js';
import { Reservoir } from '../../model/reservoir.js';
import type { RetrainJob, RowSet } from '../../model/retrain/protocol.js';
import { type RetrainResult, runRetrain } from '../../model/retrain/run-retrain.js';
import { anomalyEventId } from '../events/event-id.js';
import type { ScoredBatch } from '../pipeline/pipeline.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import type { Producer, Transport } from '../transport/types.js';
import { adjustmentKey, type FeedbackRecord, type LifecycleEvent, sourceKey } from './lifecycle-records.js';
import { LabelledAnomalies, RecentFlags } from './recent-flags.js';

/** The model serving now: its artifact (the worker loads it to score the held-out sets) and registry version. */
export interface Champion {
  readonly dir: string;
  readonly manifest: ArtifactManifest;
  readonly registryVersion: string | null;
}

export interface ModelLifecycleOptions {
  /** Drift checks and retrain outcomes are written here as JSON, keyed by model id. */
  readonly eventsTopic: string;
  /** Compacted topic of per-entity threshold adjustments (and the feedback offsets applied); none: not persisted. */
  readonly adjustmentsTopic?: string;
  readonly reservoir: { readonly capacity: number; readonly perEntity?: number };
  /** Recent scores (flagged ones too) kept for the score-shift statistic. */
  readonly recentScores: number;
  readonly drift: {
    readonly intervalMs: number;
    readonly thresholds: DriftThresholds;
    /**
     * Consecutive drifted checks before a retrain: a blip (one odd window) does not retrain, and by the last
     * check the reservoir holds more of the new regime to learn.
     */
    readonly consecutive: number;
  };
  readonly retrain: {
    /** Scheduled retrain period; 0: only on drift (or on request). */
    readonly intervalMs: number;
    readonly onDrift: boolean;
    /** Least time from the end of one retrain to the start of the next, whatever triggers it. */
    readonly cooldownMs: number;
    /** Fewest reservoir rows to retrain on. */
    readonly minRows: number;
    /** Share of the reservoir held out for the gate (every k-th row, so it spans the whole window). */
    readonly heldOutFraction: number;
    /** Where challengers' artifacts are written. */
    readonly workDir: string;
    readonly backend: BackendPreference;
    readonly seed: number;
    /** Most epochs; the trainer's default when unset. */
    readonly epochs?: number;
    /** Trim the worst-reconstructed share before a refit (trainDetector's trimFraction). */
    readonly trimFraction: number;
    /** Publish a challenger that passes as promoted (false: as a candidate, for `vigil models promote`). */
    readonly promote: boolean;
  };
  readonly gate: GateOptions;
  /** After the gate passes: the challenger shadows live traffic for a window before it is published. */
  readonly shadow: ShadowOptions;
  readonly feedback: FeedbackThresholdOptions;
  /** Recently flagged records remembered for feedback that names only an event id. */
  readonly recentFlags: number;
  /** Most confirmed-anomaly rows kept for the gate. */
  readonly labelledCapacity: number;
}

export const DEFAULT_LIFECYCLE: Omit<ModelLifecycleOptions, 'eventsTopic' | 'retrain'> & {
  retrain: Omit<ModelLifecycleOptions['retrain'], 'workDir'>;
} = {
  reservoir: { capacity: 100_000 },
  recentScores: 20_000,
  drift: { intervalMs: 300_000, thresholds: DEFAULT_DRIFT_THRESHOLDS, consecutive: 2 },
  retrain: {
    intervalMs: 0,
    onDrift: true,
    cooldownMs: 600_000,
    minRows: 2_000,
    heldOutFraction: 0.2,
    backend: 'wasm',
    seed: 42,
    trimFraction: 0.01,
    promote: true,
  },
  gate: DEFAULT_GATE,
  shadow: DEFAULT_SHADOW,
  feedback: DEFAULT_FEEDBACK_THRESHOLDS,
  recentFlags: 10_000,
  labelledCapacity: 2_000,
};

export interface ModelLifecycleDeps {
  readonly transport: Transport;
  readonly registry: ModelRegistry;
  readonly logger: Logger;
  readonly metrics?: LifecycleMetrics;
  readonly now?: () => Date;
  /**
   * Whether this replica may retrain on drift or schedule now (`vigil run`: it owns partition 0 of the first
   * input topic, so one replica of a group retrains). Absent: always. Manual retrains ignore it.
   */
  readonly mayRetrain?: () => boolean;
  /** A challenger was promoted: swap the serving model (the registry watcher may do it instead). */
  readonly onPromoted?: (version: string, dir: string) => void | Promise<void>;
}

export type RetrainTrigger = 'drift' | 'schedule' | 'manual';

export interface RetrainOutcome {
  readonly trigger: RetrainTrigger;
  readonly result: 'promoted' | 'rejected' | 'failed' | 'candidate';
  readonly version: string | null;
  readonly reasons: readonly string[];
  readonly verdict: GateVerdict | null;
  /** The shadow window's comparison; null when there was none (off, or the gate already failed). */
  readonly shadow: ShadowVerdict | null;
  readonly trainRows: number;
  readonly heldOutRows: number;
  readonly labelledRows: number;
  readonly durationMs: number;
  readonly dir: string | null;
}

export class ModelLifecycle {
  readonly reservoir: Reservoir;
  /**
   * The gate's held-out normal rows: 1 in k records by a hash of its source coordinates, taken before the
   * champion's flag is looked at. Drawn from the reservoir instead, they would be rows the champion already
   * passed (its false-alarm rate on them 0 by construction) and every challenger would look worse.
   */
  readonly holdout: Reservoir;
  private readonly holdoutEvery: number;
  readonly thresholds: FeedbackThresholds;
  readonly labelled: LabelledAnomalies;
  private readonly recent: RecentFlags;
  private readonly scoreRing: Float32Array;
  private scoreCount = 0;
  private scoreNext = 0;
  private readonly log: Logger;
  private readonly now: () => Date;
  private producer: Producer | undefined;
  private timers: NodeJS.Timeout[] = [];
  private running: Promise<RetrainOutcome> | undefined;
  /** The challenger in its shadow window, and what it and the champion flagged of the live batches since. */
  private shadowing:
    | { detector: Detector; rows: number; championAlerts: number; challengerAlerts: number; error?: string }
    | undefined;
  private checking = false;
  private driftStreak = 0;
  private lastRetrainEnd = Number.NEGATIVE_INFINITY;
  private readonly abort = new AbortController();
  private entitiesBuf: string[] = [];
  /** Retrains started, and the last drift report: for tests and `/status`-style introspection. */
  readonly history: RetrainOutcome[] = [];
  lastDrift: DriftReport | undefined;

  constructor(
    private readonly opts: ModelLifecycleOptions,
    private readonly deps: ModelLifecycleDeps,
    private champion: Champion,
  ) {
    const d = champion.manifest.identity.featureNames.length;
    this.reservoir = new Reservoir({
      capacity: opts.reservoir.capacity,
      d,
      ...(opts.reservoir.perEntity === undefined ? {} : { perEntity: opts.reservoir.perEntity }),
    });
    this.holdoutEvery = Math.max(2, Math.round(1 / Math.max(1e-3, opts.retrain.heldOutFraction)));
    this.holdout = new Reservoir({
      capacity: Math.max(100, Math.ceil(opts.reservoir.capacity / (this.holdoutEvery - 1))),
      d,
    });
    this.thresholds = new FeedbackThresholds(opts.feedback);
    this.labelled = new LabelledAnomalies(opts.labelledCapacity, d);
    this.recent = new RecentFlags(opts.recentFlags);
    this.scoreRing = new Float32Array(opts.recentScores);
    this.log = deps.logger.child({ component: 'model-lifecycle' });
    this.now = deps.now ?? (() => new Date());
    deps.metrics?.reservoirCapacity.set(opts.reservoir.capacity);
    deps.metrics?.adjustmentMaxFactor.set(1);
  }

  get currentChampion(): Champion {
    return this.champion;
  }

  /** The registry watcher swapped the serving model: compare against it from now on. */
  setChampion(champion: Champion): void {
    if (champion.manifest.identity.featureNames.length !== this.reservoir.d) {
      throw new RangeError('a champion with another feature width cannot share this reservoir');
    }
    this.champion = champion;
    this.driftStreak = 0;
    this.clearScores();
  }

  /**
   * Forgets the recent scores: they were given by the model before, and the score-shift statistic compares
   * them with the calibration of the model now serving (another model's scores would read as drift of their
   * own, and retrain again at once).
   */
  private clearScores(): void {
    this.scoreCount = 0;
    this.scoreNext = 0;
  }

  async start(): Promise<void> {
    this.producer = this.deps.transport.producer();
    await this.producer.connect();
    const { drift, retrain } = this.opts;
    if (drift.intervalMs > 0) {
      this.timers.push(
        setInterval(
          () => void this.checkDrift().catch((err) => this.log.error({ err }, 'drift check failed')),
          drift.intervalMs,
        ),
      );
    }
    if (retrain.intervalMs > 0) {
      this.timers.push(setInterval(() => void this.retrain('schedule'), retrain.intervalMs));
    }
    for (const t of this.timers) t.unref();
  }

  /** Stops the timers, aborts a running retrain, closes the producer. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.abort.abort();
    await this.running?.catch(() => {});
    const p = this.producer;
    this.producer = undefined;
    await p?.close();
  }

  /** The pipeline's onScored hook. Synchronous; copies the rows it keeps. */
  readonly onScored = (b: ScoredBatch): void => {
    const s = b.scores;
    const n = b.items.length;
    const entities = this.entitiesBuf;
    entities.length = n;
    for (let i = 0; i < n; i++) entities[i] = b.items[i]!.entity;
    // Flags before feedback: a record over the model's own threshold stays out of the reservoir even where an
    // entity's raised threshold clears its alert (the model found it unusual; learning it is feedback's call).
    const flagged = Uint8Array.from(s.isAnomaly.subarray(0, n));
    const cleared = this.thresholds.apply(s, entities, n);
    if (cleared > 0) this.deps.metrics?.suppressedAlerts.inc(cleared);
    const ring = this.scoreRing;
    // Only the champion's own scores: batches scored just before or after a swap reaches this controller (the
    // watcher swaps the pipeline and the champion one after the other) are by the other model.
    const id = this.champion.manifest.identity;
    const ownScores = ring.length > 0 && b.model.id === id.id && b.model.version === id.version;
    for (let i = 0; i < n; i++) {
      if (ownScores) {
        ring[this.scoreNext] = s.scores[i]!;
        this.scoreNext = (this.scoreNext + 1) % ring.length;
        if (this.scoreCount < ring.length) this.scoreCount++;
      }
      const item = b.items[i]!;
      const key = sourceKey({
        topic: item.record.topic,
        partition: item.record.partition,
        offset: item.offset,
      });
      if (fnv1a(key) % this.holdoutEvery === 0) this.holdout.add(b.rows, i, item.entity, key);
      else if (flagged[i] === 0) this.reservoir.add(b.rows, i, item.entity, key);
      if (s.isAnomaly[i] === 1) {
        const eventId = anomalyEventId({
          topic: item.record.topic,
          partition: item.record.partition,
          offset: item.offset,
          modelId: b.model.id,
          modelVersion: b.model.version,
        });
        this.recent.add(eventId, { entity: item.entity, key, row: b.rows.slice(i * b.d, (i + 1) * b.d) });
      }
    }
    this.deps.metrics?.reservoirRows.set(this.reservoir.size);
    if (this.shadowing !== undefined) this.shadowBatch(b, entities, flagged, n);
  };

  /** Scores a live batch with the shadowing challenger (on this thread, synchronously: it doubles scoring). */
  private shadowBatch(b: ScoredBatch, entities: readonly string[], flagged: Uint8Array, n: number): void {
    const sh = this.shadowing!;
    if (sh.error !== undefined) return;
    try {
      const r = sh.detector.score(b.rows.subarray(0, n * b.d), n, entities, { explain: 'anomalies' });
      let k = 0;
      for (let i = 0; i < n; i++) if (r.isAnomaly[i] === 1) k++;
      let c = 0;
      for (let i = 0; i < n; i++) if (flagged[i] === 1) c++;
      sh.rows += n;
      sh.challengerAlerts += k;
      sh.championAlerts += c;
    } catch (err) {
      sh.error = (err as Error).message;
      this.log.error({ err }, 'the shadowing challenger failed to score a batch');
    }
  }

  recentScores(): Float32Array {
    const ring = this.scoreRing;
    if (this.scoreCount < ring.length) return ring.slice(0, this.scoreCount);
    const out = new Float32Array(ring.length);
    out.set(ring.subarray(this.scoreNext), 0);
    out.set(ring.subarray(0, this.scoreNext), ring.length - this.scoreNext);
    return out;
  }

  /** One drift check now: metrics, an event on the lifecycle topic, and a retrain when it says drift. */
  async checkDrift(): Promise<DriftReport | undefined> {
    if (this.checking) return undefined;
    this.checking = true;
    try {
      const m = this.champion.manifest;
      const snap = this.reservoir.snapshot();
      const report = checkDrift(
        { summary: m.trainingData, scores: m.threshold.distribution, threshold: m.threshold.threshold },
        { rows: snap.rows, n: snap.n, d: snap.d, scores: this.recentScores() },
        this.opts.drift.thresholds,
      );
      this.lastDrift = report;
      const metrics = this.deps.metrics;
      if (metrics) {
        metrics.driftChecks.inc({
          result: report.insufficient ? 'insufficient' : report.drifted ? 'drift' : 'stable',
        });
        if (!report.insufficient) {
          for (const st of ['psi', 'ks', 'wasserstein'] as const) {
            metrics.driftMax.set({ statistic: st }, report.max[st]);
            metrics.driftFeaturesOver.set({ statistic: st }, report.over[st]);
          }
        }
        if (Number.isFinite(report.score.ks)) metrics.driftScoreKs.set(report.score.ks);
      }
      const top = [...report.features].sort((a, b) => b.psi - a.psi).slice(0, 10);
      await this.emit({
        type: 'drift_check',
        at: this.now().toISOString(),
        model: {
          id: m.identity.id,
          version: m.identity.version,
          registryVersion: this.champion.registryVersion,
        },
        drifted: report.drifted,
        insufficient: report.insufficient,
        rows: report.rows,
        reasons: report.reasons,
        max: report.max,
        over: report.over,
        worst: report.worst,
        score: report.score,
        topFeatures: top,
      });
      this.log.info(
        {
          drifted: report.drifted,
          rows: report.rows,
          max: report.max,
          score: report.score,
          reasons: report.reasons,
        },
        'drift check',
      );
      this.driftStreak = report.drifted ? this.driftStreak + 1 : 0;
      if (report.drifted && this.opts.retrain.onDrift && this.driftStreak >= this.opts.drift.consecutive) {
        void this.retrain('drift');
      }
      return report;
    } finally {
      this.checking = false;
    }
  }

  /**
   * Retrains now unless one is running or the cooldown has not passed (then resolves undefined). The returned
   * promise settles with the outcome once the challenger is published; it never rejects.
   */
  retrain(trigger: RetrainTrigger): Promise<RetrainOutcome | undefined> {
    if (this.running !== undefined) return Promise.resolve(undefined);
    if (trigger !== 'manual' && this.deps.mayRetrain !== undefined && !this.deps.mayRetrain()) {
      this.log.debug({ trigger }, 'retrain left to the replica that owns the first partition');
      return Promise.resolve(undefined);
    }
    const since = performance.now() - this.lastRetrainEnd;
    if (trigger !== 'manual' && since < this.opts.retrain.cooldownMs) return Promise.resolve(undefined);
    if (this.reservoir.size < this.opts.retrain.minRows) {
      this.log.info(
        { rows: this.reservoir.size, minRows: this.opts.retrain.minRows, trigger },
        'retrain skipped: too few reservoir rows',
      );
      return Promise.resolve(undefined);
    }
    const run = this.runRetrain(trigger).finally(() => {
      this.running = undefined;
      this.lastRetrainEnd = performance.now();
    });
    this.running = run;
    return run;
  }

  /** The retrain in progress, if any. */
  get retraining(): Promise<RetrainOutcome> | undefined {
    return this.running;
  }

  /** Applies one feedback record (feedback-topic.ts calls this for each record it reads). */
  async applyFeedback(f: FeedbackRecord): Promise<EntityAdjustment | undefined> {
    const metrics = this.deps.metrics;
    const recent = this.recent.get(f.eventId);
    const entity = f.entity ?? recent?.entity;
    if (entity === undefined) {
      metrics?.feedback.inc({ label: 'unknown_event' });
      this.log.warn(
        { eventId: f.eventId },
        'feedback for an event this replica does not know and that names no entity: ignored',
      );
      return undefined;
    }
    metrics?.feedback.inc({ label: f.label });
    const adjustment = this.thresholds.record(entity, f.label, this.now());
    if (f.label === 'confirmed_anomaly') {
      const key = f.source ? sourceKey(f.source) : recent?.key;
      if (key !== undefined) {
        this.reservoir.exclude(key);
        this.holdout.exclude(key);
        metrics?.reservoirExcluded.inc();
        if (recent !== undefined) this.labelled.add(key, entity, recent.row);
      }
    }
    await this.persist(entity, adjustment);
    this.updateAdjustmentGauges();
    return adjustment;
  }

  /** Undoes an entity's threshold adjustment (and persists the reset). */
  async resetEntity(entity: string): Promise<void> {
    this.thresholds.reset(entity);
    await this.persist(entity, null);
    this.updateAdjustmentGauges();
  }

  /** A persisted adjustment read back at start (feedback-topic.ts). */
  restoreAdjustment(entity: string, a: EntityAdjustment | null): void {
    if (a === null) this.thresholds.reset(entity);
    else this.thresholds.restore(a);
    this.updateAdjustmentGauges();
  }

  private updateAdjustmentGauges(): void {
    this.deps.metrics?.adjustedEntities.set(this.thresholds.adjustedCount());
    this.deps.metrics?.adjustmentMaxFactor.set(this.thresholds.maxFactor());
  }

  private async persist(entity: string, a: EntityAdjustment | null): Promise<void> {
    const topic = this.opts.adjustmentsTopic;
    if (topic === undefined || this.producer === undefined) return;
    await this.producer.send([
      { topic, key: adjustmentKey(entity), value: a === null ? null : Buffer.from(JSON.stringify(a)) },
    ]);
  }

  private async emit(event: LifecycleEvent): Promise<void> {
    if (this.producer === undefined) return;
    try {
      await this.producer.send([
        {
          topic: this.opts.eventsTopic,
          key: this.champion.manifest.identity.id,
          value: Buffer.from(JSON.stringify(event)),
        },
      ]);
    } catch (err) {
      // Events are for people and dashboards; losing one must not stop a retrain or the checks.
      this.log.warn({ err, type: event.type }, 'lifecycle event not written');
    }
  }

  /** The reservoir to train on, the held-out sample to judge on. */
  private split(): { train: RowSet; heldOut: RowSet } {
    const t = this.reservoir.snapshot();
    const h = this.holdout.snapshot();
    return {
      train: { rows: t.rows, n: t.n, entities: t.entities },
      heldOut: { rows: h.rows, n: h.n, entities: h.entities },
    };
  }

  private async runRetrain(trigger: RetrainTrigger): Promise<RetrainOutcome> {
    const t0 = performance.now();
    const champion = this.champion;
    const m = champion.manifest;
    const metrics = this.deps.metrics;
    metrics?.retrainRunning.set(1);
    const { train, heldOut } = this.split();
    const lab = this.labelled.snapshot();
    const labelled: RowSet = { rows: lab.rows, n: lab.n, entities: lab.entities };
    const counts = { trainRows: train.n, heldOutRows: heldOut.n, labelledRows: labelled.n };
    const dir = path.join(
      this.opts.retrain.workDir,
      `challenger-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
    );
    const r = this.opts.retrain;
    const cal = m.threshold;
    const job: RetrainJob = {
      d: this.reservoir.d,
      train,
      heldOut,
      labelled,
      championDir: champion.dir,
      outDir: dir,
      backend: r.backend,
      options: {
        featureNames: m.identity.featureNames,
        ...(m.featureMapping === undefined ? {} : { featureMapping: m.featureMapping }),
        id: m.identity.id,
        model: { kind: m.kind },
        seed: r.seed,
        ...(r.epochs === undefined ? {} : { epochs: r.epochs }),
        trimFraction: r.trimFraction,
        // The champion's operating point, so the gate compares like with like.
        threshold: {
          ...(cal.falseAlarmRate !== undefined
            ? { falseAlarmRate: cal.falseAlarmRate }
            : { quantile: cal.quantile }),
          ...(Object.keys(cal.perEntity ?? {}).length > 0
            ? { perEntity: true, minEntitySamples: cal.minEntitySamples }
            : {}),
        },
        ...(cal.postprocess === undefined ? {} : { postprocess: cal.postprocess }),
      },
    };
    this.log.info({ trigger, ...counts, parent: champion.registryVersion }, 'retrain started');
    let outcome: RetrainOutcome;
    try {
      let result: RetrainResult;
      try {
        result = await runRetrain(job, this.abort.signal);
      } catch (err) {
        this.log.error({ err, trigger }, 'retrain failed');
        outcome = {
          trigger,
          result: 'failed',
          version: null,
          reasons: [(err as Error).message],
          verdict: null,
          shadow: null,
          ...counts,
          durationMs: performance.now() - t0,
          dir: null,
        };
        metrics?.retrains.inc({ result: 'failed' });
        await rm(dir, { recursive: true, force: true });
        return this.finish(outcome, champion);
      }
      const verdict = judge(result.challenger, result.champion, this.opts.gate);
      const shadow = verdict.passed && this.opts.shadow.windowMs > 0 ? await this.shadowWindow(dir) : null;
      const passed = verdict.passed && (shadow?.passed ?? true);
      const evaluation = {
        gate: {
          passed: verdict.passed,
          reasons: verdict.reasons,
          challenger: verdict.challenger,
          champion: verdict.champion,
          heldOutRows: verdict.heldOut,
          labelledRows: verdict.labelled,
        },
        shadow,
        trigger,
        trainRows: train.n,
        trainMs: result.trainMs,
        epochsRun: result.epochsRun,
        drift: this.lastDrift
          ? { max: this.lastDrift.max, score: this.lastDrift.score, reasons: this.lastDrift.reasons }
          : null,
      };
      const version = await this.deps.registry.publish(dir, {
        ...(champion.registryVersion === null ? {} : { parentVersion: champion.registryVersion }),
        evaluation,
      });
      let result2: RetrainOutcome['result'];
      const reasons = passed ? [] : [...verdict.reasons, ...(shadow?.reasons ?? [])];
      if (!passed) {
        result2 = 'rejected';
        const why = verdict.passed
          ? `shadow: ${shadow!.reasons.join('; ')}`
          : `gate: ${verdict.reasons.join('; ')}`;
        await this.deps.registry.setStatus(version, 'rejected', why);
      } else if (r.promote) {
        result2 = 'promoted';
        await this.deps.registry.setStatus(
          version,
          'promoted',
          `gate passed (${trigger}): false-alarm rate ${(100 * verdict.challenger.falseAlarmRate).toFixed(2)} % vs champion ${(100 * verdict.champion.falseAlarmRate).toFixed(2)} % on ${verdict.heldOut} held-out rows` +
            (verdict.labelled > 0
              ? `, recall ${(100 * verdict.challenger.recall).toFixed(1)} % on ${verdict.labelled} confirmed anomalies`
              : ', no confirmed anomalies to check recall on') +
            (shadow === null
              ? ''
              : `; shadow: would-be alert rate ${(100 * shadow.challengerRate).toFixed(2)} % vs champion ${(100 * shadow.championRate).toFixed(2)} % on ${shadow.rows} live records`),
        );
      } else {
        result2 = 'candidate';
      }
      metrics?.retrains.inc({ result: result2 });
      outcome = {
        trigger,
        result: result2,
        version,
        reasons,
        verdict,
        shadow,
        ...counts,
        durationMs: performance.now() - t0,
        dir,
      };
      if (result2 === 'rejected') await rm(dir, { recursive: true, force: true });
      if (result2 === 'promoted') {
        this.setChampion({ dir, manifest: await readManifest(dir), registryVersion: version });
        await this.deps.onPromoted?.(version, dir);
      }
      return this.finish(outcome, champion);
    } finally {
      metrics?.retrainRunning.set(0);
      metrics?.retrainDuration.observe((performance.now() - t0) / 1000);
    }
  }

  /**
   * The challenger scores every live batch beside the champion for `shadow.windowMs`; then the counts are
   * judged. Stopping the lifecycle ends the window early, and a window cut short fails.
   */
  private async shadowWindow(dir: string): Promise<ShadowVerdict> {
    const o = this.opts.shadow;
    let detector: Detector;
    try {
      detector = await loadDetector(dir);
    } catch (err) {
      const none = judgeShadow({ rows: 0, championAlerts: 0, challengerAlerts: 0 }, o);
      return { ...none, passed: false, reasons: [`the challenger did not load: ${(err as Error).message}`] };
    }
    this.shadowing = { detector, rows: 0, championAlerts: 0, challengerAlerts: 0 };
    this.log.info({ windowMs: o.windowMs }, 'challenger shadowing live traffic');
    await sleep(o.windowMs, this.abort.signal);
    const stopped = this.abort.signal.aborted;
    const { rows, championAlerts, challengerAlerts, error } = this.shadowing;
    this.shadowing = undefined;
    detector.dispose();
    const v = judgeShadow({ rows, championAlerts, challengerAlerts }, o);
    const extra = [
      ...(stopped ? ['the lifecycle stopped during the shadow window'] : []),
      ...(error === undefined ? [] : [`the challenger failed to score live records: ${error}`]),
    ];
    return extra.length === 0 ? v : { ...v, passed: false, reasons: [...v.reasons, ...extra] };
  }

  private async finish(outcome: RetrainOutcome, parent: Champion): Promise<RetrainOutcome> {
    this.history.push(outcome);
    this.log.info(
      {
        trigger: outcome.trigger,
        result: outcome.result,
        version: outcome.version,
        reasons: outcome.reasons,
        ms: Math.round(outcome.durationMs),
      },
      'retrain finished',
    );
    await this.emit({
      type: 'retrain',
      at: this.now().toISOString(),
      trigger: outcome.trigger,
      parentVersion: parent.registryVersion,
      version: outcome.version,
      result: outcome.result,
      reasons: outcome.reasons,
      trainRows: outcome.trainRows,
      heldOutRows: outcome.heldOutRows,
      labelledRows: outcome.labelledRows,
      durationMs: outcome.durationMs,
      gate: outcome.verdict,
      shadow: outcome.shadow,
    });
    return outcome;
  }
}
