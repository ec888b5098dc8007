/**
 * The serving model and its hot swap. One ModelServer per service holds the model the pipeline scores with;
 * swap() puts a new one in between batches and disposes the old one only once the batches that held it have
 * settled (Pipeline.setScorer says when). Anything that decides a model should serve — the registry watcher
 * here, a retraining gate elsewhere — calls swap() or swapFromDir(); the checks are the same for all:
 *
 * - the model must have been trained on the feature mapping in use (MODEL_FEATURE_MISMATCH otherwise), and
 * - it must load;
 *
 * a model that fails either is refused, counted by reason (vigil_model_refusals_total) and logged, and the
 * current one keeps serving. Swaps run one at a time, in the order asked.
 *
 * Per-entity state is not the model's: temporal features live in the extractor and post-processing state in
 * the pipeline, so both carry over a swap untouched.
 */
import { isVigilError, VigilError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ModelRefusalReason, VigilMetrics } from '../../core/metrics/vigil-metrics.js';
import { loadDetector } from '../../model/artifact.js';
import type { Detector, DetectorOptions } from '../../model/detector.js';
import { checkFeatureMapping, type MappingInUse } from '../../model/feature-mapping.js';
import type { AsyncScorer, Scorer } from '../../model/types.js';
import { detectorSource, type ScoringPool } from '../../model/workers/pool.js';

export interface ServedModel {
  readonly detector: Detector;
  /** What the pipeline scores with: the detector itself, or the worker pool's scorer for it. */
  readonly scorer: Scorer | AsyncScorer;
  /** The registry version (or, for a model from a directory, the label it was served under). */
  readonly version: string;
  /** The worker pool's generation of this model, when scoring is off-thread. */
  readonly generation?: number;
}

/** What a swap replaces the scorer of: the pipeline. The promise settles when no batch holds the old one. */
export interface SwapTarget {
  setScorer(scorer: Scorer | AsyncScorer): Promise<void>;
}

export type SwapOutcome =
  | { readonly swapped: true; readonly version: string; readonly previous: string | undefined }
  | {
      readonly swapped: false;
      readonly version: string;
      readonly reason: ModelRefusalReason;
      readonly error: Error;
    };

export interface ModelServerOptions {
  /** The feature mapping the service extracts with; every model served must have been trained on it. */
  readonly mapping: MappingInUse;
  /** Options for every model loaded (the operating point of model.threshold). */
  readonly detectorOptions?: DetectorOptions;
  /** Builds the worker pool from the first model served (model.workers); absent: in-thread scoring. */
  readonly createPool?: (first: Detector) => Promise<ScoringPool | undefined>;
  /** TensorFlow.js backend in use, for vigil_model_info. */
  readonly backend: string;
  readonly metrics?: VigilMetrics;
  readonly logger: Logger;
}

/** The refusal reason of an error met while fetching, checking or loading a model. */
export function refusalReason(err: unknown): ModelRefusalReason {
  if (isVigilError(err, 'MODEL_FEATURE_MISMATCH')) return 'feature_mismatch';
  if (isVigilError(err, 'MODEL_INVALID')) {
    const r = (err as VigilError).details['reason'];
    if (r === 'digest' || r === 'truncated' || r === 'size' || r === 'unknown') return r;
  }
  return 'load_failed';
}

export class ModelServer {
  private served: ServedModel | undefined;
  private target: SwapTarget | undefined;
  private pool: ScoringPool | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly log: Logger;
  private readonly firstServed: Promise<ServedModel>;
  private resolveFirst!: (m: ServedModel) => void;
  private readonly listeners: ((model: ServedModel) => void)[] = [];

  constructor(private readonly options: ModelServerOptions) {
    this.log = options.logger.child({ component: 'model-server' });
    this.firstServed = new Promise((resolve) => {
      this.resolveFirst = resolve;
    });
  }

  /** The model serving now; undefined until the first one. */
  get current(): ServedModel | undefined {
    return this.served;
  }

  /** Resolves with the first model served (at once when there is one). */
  whenServing(): Promise<ServedModel> {
    return this.firstServed;
  }

  /** Called after each model is installed (the first too), with its registry version (the model lifecycle follows it). */
  onServed(listener: (model: ServedModel) => void): void {
    this.listeners.push(listener);
  }

  /** From now on swaps replace the target's scorer (the pipeline, once it exists). */
  attach(target: SwapTarget): void {
    this.target = target;
  }

  /** loadDetector(dir), then swap(): a model that does not load is refused like one that does not fit. */
  swapFromDir(dir: string, version: string): Promise<SwapOutcome> {
    return this.serial(async () => {
      let detector: Detector;
      try {
        detector = await loadDetector(dir, this.options.detectorOptions ?? {});
      } catch (err) {
        return this.refused(version, err);
      }
      return this.install(detector, version);
    });
  }

  /** Serves `detector` (taking ownership: it is disposed when replaced or refused) as `version`. */
  swap(detector: Detector, version: string): Promise<SwapOutcome> {
    return this.serial(() => this.install(detector, version));
  }

  /** Counts and logs a version refused before it reached swap() (the registry's own checks). */
  refuse(version: string, err: unknown): SwapOutcome {
    return this.refused(version, err);
  }

  /** Waits for a swap in progress, then disposes the model and the worker pool. */
  async close(): Promise<void> {
    this.closed = true;
    await this.tail.catch(() => {});
    await this.pool?.close();
    this.served?.detector.dispose();
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.tail.then(work);
    this.tail = next.catch(() => {});
    return next;
  }

  private async install(detector: Detector, version: string): Promise<SwapOutcome> {
    if (this.closed) {
      detector.dispose();
      return this.refused(version, new VigilError('SHUTDOWN', 'the service is stopping'));
    }
    try {
      const check = checkFeatureMapping(
        { featureNames: detector.identity.featureNames, featureMapping: detector.state.featureMapping },
        this.options.mapping,
      );
      if (check === 'names-only') {
        this.log.warn(
          { version },
          'model records no feature mapping: matched by feature names only; retrain with vigil train --config to have the mapping checked',
        );
      }
    } catch (err) {
      detector.dispose();
      return this.refused(version, err);
    }
    const previous = this.served;
    let next: ServedModel;
    try {
      next = await this.scorerFor(detector, version);
    } catch (err) {
      detector.dispose();
      return this.refused(version, err);
    }
    let settled: Promise<void> | undefined;
    try {
      // Before `served` moves: a pipeline that refuses the scorer leaves the current model serving everywhere.
      settled = this.target?.setScorer(next.scorer);
    } catch (err) {
      if (next.generation !== undefined && next.generation !== 0) this.pool?.unload(next.generation);
      detector.dispose();
      return this.refused(version, err);
    }
    this.served = next;
    const m = this.options.metrics;
    m?.setModel(
      detector.identity.id,
      detector.identity.version,
      this.options.backend,
      detector.activeCalibration.threshold,
    );
    m?.setRegistryVersion(version);
    for (const l of this.listeners) {
      try {
        l(next);
      } catch (err) {
        this.log.warn({ err, version }, 'a listener of model swaps failed');
      }
    }
    if (previous === undefined) {
      this.resolveFirst(next);
      this.log.info({ version, model: detector.identity }, 'serving model');
    } else {
      m?.modelSwaps.inc();
      this.log.info(
        { version, previous: previous.version, model: detector.identity },
        'model swapped: batches from now on score with the new model',
      );
      // The old model stays until every batch that read it has settled, then goes.
      await settled;
      if (previous.generation !== undefined) this.pool?.unload(previous.generation);
      previous.detector.dispose();
      this.log.info({ version: previous.version }, 'previous model disposed');
    }
    return { swapped: true, version, previous: previous?.version };
  }

  private async scorerFor(detector: Detector, version: string): Promise<ServedModel> {
    if (this.served === undefined && this.options.createPool !== undefined) {
      this.pool = await this.options.createPool(detector);
      if (this.pool !== undefined) {
        return {
          detector,
          version,
          generation: 0,
          scorer: this.pool.asScorer(detector.identity, 0, detector.activeCalibration),
        };
      }
    }
    if (this.pool !== undefined) {
      // The scoring workers' load message: each builds the new model beside the old one.
      const generation = await this.pool.load(detectorSource(detector));
      return {
        detector,
        version,
        generation,
        scorer: this.pool.asScorer(detector.identity, generation, detector.activeCalibration),
      };
    }
    return { detector, version, scorer: detector };
  }

  private refused(version: string, err: unknown): SwapOutcome {
    const reason = refusalReason(err);
    this.options.metrics?.modelRefusals.inc({ reason });
    this.log.error(
      { version, reason, err, serving: this.served?.version ?? null },
      this.served === undefined
        ? 'model version refused: no model is serving yet'
        : 'model version refused: the current model keeps serving',
    );
    return { swapped: false, version, reason, error: err instanceof Error ? err : new Error(String(err)) };
  }
}
