/**
 * Per-entity threshold adjustments from analyst feedback. Pure.
 *
 * Every `falseAlarmsPerStep` false alarms reported for an entity raise its threshold by `stepFactor`, up to
 * `maxFactor` × the calibrated one (the bound: feedback can quiet a noisy entity, never silence it). A confirmed
 * anomaly for the entity takes one step's worth of false alarms back (its raised threshold may now hide real
 * ones). `reset` removes an entity's adjustment altogether (reversible). The state per entity is small and
 * serialisable: the caller persists it (a compacted topic keyed by entity) and restores it with `restore`.
 *
 * Raising only: applied after scoring, an adjustment can clear a decision, never create one, so it cannot add
 * alerts the model did not raise, and the explanation of every remaining alert is still the model's.
 */

export interface FeedbackThresholdOptions {
  readonly falseAlarmsPerStep: number;
  readonly stepFactor: number;
  readonly maxFactor: number;
  /** Most entities with an adjustment; the least recently updated one is dropped beyond it. */
  readonly maxEntities: number;
}

export const DEFAULT_FEEDBACK_THRESHOLDS: FeedbackThresholdOptions = {
  falseAlarmsPerStep: 3,
  stepFactor: 1.25,
  maxFactor: 2,
  maxEntities: 10_000,
};

export interface EntityAdjustment {
  readonly entity: string;
  readonly falseAlarms: number;
  readonly confirmed: number;
  /** Multiplier on the model's threshold for this entity, in [1, maxFactor]. */
  readonly factor: number;
  readonly updatedAt: string;
}

export type FeedbackLabel = 'false_alarm' | 'confirmed_anomaly';

export function factorFor(falseAlarms: number, o: FeedbackThresholdOptions): number {
  const steps = Math.floor(Math.max(0, falseAlarms) / o.falseAlarmsPerStep);
  return Math.min(o.maxFactor, o.stepFactor ** steps);
}

export class FeedbackThresholds {
  private readonly byEntity = new Map<string, EntityAdjustment>();

  constructor(readonly options: FeedbackThresholdOptions = DEFAULT_FEEDBACK_THRESHOLDS) {}

  get size(): number {
    return this.byEntity.size;
  }

  /** Entities with a factor above 1. */
  adjustedCount(): number {
    let k = 0;
    for (const a of this.byEntity.values()) if (a.factor > 1) k++;
    return k;
  }

  maxFactor(): number {
    let m = 1;
    for (const a of this.byEntity.values()) m = Math.max(m, a.factor);
    return m;
  }

  get(entity: string): EntityAdjustment | undefined {
    return this.byEntity.get(entity);
  }

  factor(entity: string): number {
    return this.byEntity.get(entity)?.factor ?? 1;
  }

  /** Applies one feedback label; returns the entity's new adjustment (to persist). */
  record(entity: string, label: FeedbackLabel, at: Date): EntityAdjustment {
    const o = this.options;
    const prev = this.byEntity.get(entity);
    let falseAlarms = prev?.falseAlarms ?? 0;
    let confirmed = prev?.confirmed ?? 0;
    if (label === 'false_alarm') falseAlarms++;
    else {
      confirmed++;
      falseAlarms = Math.max(0, falseAlarms - o.falseAlarmsPerStep);
    }
    const next: EntityAdjustment = {
      entity,
      falseAlarms,
      confirmed,
      factor: factorFor(falseAlarms, o),
      updatedAt: at.toISOString(),
    };
    this.put(next);
    return next;
  }

  /** Restores a persisted adjustment; its factor is recomputed under today's bounds. */
  restore(a: EntityAdjustment): void {
    this.put({ ...a, factor: factorFor(a.falseAlarms, this.options) });
  }

  reset(entity: string): boolean {
    return this.byEntity.delete(entity);
  }

  /**
   * Raises the thresholds of adjusted entities in a scored batch, in place, and clears the decisions that no
   * longer cross them. Returns how many decisions it cleared.
   */
  apply(
    batch: {
      readonly scores: Float32Array;
      readonly threshold: Float32Array;
      readonly isAnomaly: Uint8Array;
    },
    entities: readonly string[],
    n: number,
  ): number {
    if (this.byEntity.size === 0) return 0;
    let cleared = 0;
    for (let i = 0; i < n; i++) {
      const a = this.byEntity.get(entities[i]!);
      if (a === undefined || a.factor <= 1) continue;
      const t = batch.threshold[i]! * a.factor;
      batch.threshold[i] = t;
      if (batch.isAnomaly[i] && !(batch.scores[i]! > t)) {
        batch.isAnomaly[i] = 0;
        cleared++;
      }
    }
    return cleared;
  }

  entries(): EntityAdjustment[] {
    return [...this.byEntity.values()];
  }

  private put(a: EntityAdjustment): void {
    // Map order is insertion order: re-inserting moves the entity to the newest end.
    this.byEntity.delete(a.entity);
    this.byEntity.set(a.entity, a);
    while (this.byEntity.size > this.options.maxEntities) {
      this.byEntity.delete(this.byEntity.keys().next().value as string);
    }
  }
}
