/**
 * The anomalies this replica raised recently, by event id: which entity and record each was, and its feature
 * row, so a feedback record that names only the event id can be applied, and a confirmed anomaly's row can
 * join the labelled set the promotion gate checks a challenger against. Bounded (oldest dropped). Pure.
 */
export interface FlaggedRecord {
  readonly entity: string;
  readonly key: string;
  readonly row: Float32Array;
}

export class RecentFlags {
  private readonly byId = new Map<string, FlaggedRecord>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.byId.size;
  }

  add(eventId: string, record: FlaggedRecord): void {
    this.byId.delete(eventId);
    this.byId.set(eventId, record);
    while (this.byId.size > this.capacity) this.byId.delete(this.byId.keys().next().value as string);
  }

  get(eventId: string): FlaggedRecord | undefined {
    return this.byId.get(eventId);
  }
}

/** Rows of confirmed anomalies, bounded, newest kept; keyed by source so a repeated label counts once. */
export class LabelledAnomalies {
  private readonly byKey = new Map<string, { entity: string; row: Float32Array }>();

  constructor(
    readonly capacity: number,
    readonly d: number,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  add(key: string, entity: string, row: Float32Array): void {
    this.byKey.delete(key);
    this.byKey.set(key, { entity, row });
    while (this.byKey.size > this.capacity) this.byKey.delete(this.byKey.keys().next().value as string);
  }

  snapshot(): { rows: Float32Array; n: number; entities: string[] } {
    const rows = new Float32Array(this.byKey.size * this.d);
    const entities: string[] = [];
    let i = 0;
    for (const v of this.byKey.values()) {
      rows.set(v.row, i * this.d);
      entities.push(v.entity);
      i++;
    }
    return { rows, n: i, entities };
  }
}
