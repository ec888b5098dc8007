/**
 * The score post-processing stage: between score and threshold, per entity. Takes a batch's raw scores (the
 * reconstruction errors a Detector returns, in-thread or from a worker), runs them through the per-entity
 * ScorePostprocessor of the calibration's settings, and judges the processed scores against that
 * calibration's thresholds (which were calibrated on processed scores: model/trainer.ts). Pure, no Kafka: the
 * pipeline (connector/pipeline) runs it on in-thread and worker-pool scores alike; `vigil score` runs the same
 * ScorePostprocessor and thresholds (Detector.judge), so a streamed record gets the score the offline path gives
 * it when its entity's records arrive in the same order (test/integration/pipeline/pipeline.test.ts).
 *
 * The state lives here, not in the model: a swap to a model with the same settings keeps every entity's
 * history (a new calibration only changes the thresholds); a model with other settings, or none, starts afresh.
 * State keys are chosen by the caller: the pipeline keys by partition and entity (Kafka orders records only
 * within a partition, and a partition this replica loses takes its entities' state with it, see forgetStream);
 * `vigil score` keys by entity.
 *
 * Adaptive thresholds (DetectorOptions.adaptive) do not apply to processed scores: the likelihood already
 * tracks each entity's own level, and the factor tracks raw scores.
 */
import type { PostprocessSettings } from './postprocess.js';
import { ScorePostprocessor } from './postprocess.js';
import { CompiledThresholds, type ThresholdCalibration } from './threshold.js';
import type { BatchScores } from './types.js';

/** Separates the stream (partition) from the entity in a state key; cannot occur in a topic name. */
export const STREAM_SEPARATOR = '\u0000';

/** The state key of an entity's records read from one stream (a partition key). */
export function streamEntityKey(stream: string, entity: string): string {
  return stream + STREAM_SEPARATOR + entity;
}

function sameSettings(a: PostprocessSettings, b: PostprocessSettings): boolean {
  return (
    (a.ewmaHalfLife ?? 0) === (b.ewmaHalfLife ?? 0) &&
    a.maxEntities === b.maxEntities &&
    a.likelihood?.halfLife === b.likelihood?.halfLife &&
    a.likelihood?.warmup === b.likelihood?.warmup
  );
}

export class PostprocessStage {
  private processor: ScorePostprocessor | undefined;
  private compiled: CompiledThresholds | undefined;
  private evictedBefore = 0;
  private resets = 0;

  /** Entities with state now (the gauge). */
  get size(): number {
    return this.processor?.entitiesHeld ?? 0;
  }

  /** Entities evicted as least recently seen, over the stage's life (the counter). */
  get evicted(): number {
    return this.evictedBefore + (this.processor?.evictions ?? 0);
  }

  /** Times the state was dropped because a model with other settings (or none) came in. */
  get settingsResets(): number {
    return this.resets;
  }

  /** The settings in force, or undefined when the last calibration had no post-processing. */
  get settings(): PostprocessSettings | undefined {
    return this.processor?.settings;
  }

  /**
   * Post-processing for a batch judged by `calibration`: undefined when the calibration has none (the raw
   * scores stand). Switching settings drops the state; the same settings keep it.
   */
  private prepare(calibration: ThresholdCalibration): ScorePostprocessor | undefined {
    const settings = calibration.postprocess;
    if (
      this.processor !== undefined &&
      (settings === undefined || !sameSettings(settings, this.processor.settings))
    ) {
      this.evictedBefore += this.processor.evictions;
      this.processor = undefined;
      this.resets++;
    }
    if (settings === undefined) return undefined;
    this.processor ??= new ScorePostprocessor(settings);
    if (this.compiled?.calibration !== calibration) this.compiled = new CompiledThresholds(calibration);
    return this.processor;
  }

  /**
   * The batch with post-processed scores judged against `calibration`, and the raw scores kept beside them;
   * the batch itself when the calibration has no post-processing. `keys[i]` is row i's state key. Rows must
   * come in each key's record order (the caller's ordering duty: see the pipeline's post-processing turn).
   * `entities` (the entity names) select per-entity thresholds where the calibration has them.
   */
  apply(
    raw: BatchScores,
    keys: readonly string[],
    entities: readonly string[] | undefined,
    calibration: ThresholdCalibration,
  ): BatchScores {
    const processor = this.prepare(calibration);
    if (processor === undefined) return raw;
    const n = raw.n;
    const scores = processor.process(raw.scores, n, keys) as Float32Array;
    const threshold = new Float32Array(n);
    const severity = new Float32Array(n);
    const isAnomaly = new Uint8Array(n);
    this.compiled!.apply(scores, n, entities, 1, threshold, severity, isAnomaly);
    return { ...raw, scores, rawScores: raw.scores, threshold, severity, isAnomaly };
  }

  /** Drop the state of every entity read from `stream` (a partition this replica no longer owns). */
  forgetStream(stream: string): number {
    return this.processor?.forgetPrefix(stream + STREAM_SEPARATOR) ?? 0;
  }

  /** Drop all state. */
  reset(): void {
    this.processor?.reset();
  }
}
