import type { TemporalDerivation } from '../../core/config/features-schema.js';

/**
 * Per-entity temporal context for the features stage: from each entity's recent readings, derived columns
 * (change since the previous reading, rolling spread, deviation from the rolling mean) that let a model scoring
 * one row at a time see a value that stops changing, a drift, or channels that stop moving together.
 *
 * Bounded: at most `maxEntities` entities are held; the least recently seen goes first (a Map iterates in
 * insertion order, and a seen entity is re-inserted at the end). An evicted or forgotten entity starts cold:
 * its derived columns are NaN, which the model's scaler maps to the training median — the same as at the start
 * of training, so a cold start neither scores as an anomaly nor differs between training and serving.
 *
 * Deterministic: the columns depend only on the entity's own sequence of values, so `vigil train` (records in
 * order per entity) and `vigil run` (one partition per entity, in offset order) compute the same numbers.
 * Values are held as float32, as the row already holds them; sums are in double.
 */

/** The spread floor, relative to the level: ln(0) would be -Infinity, and a level of 0 must still have one. */
const SPREAD_FLOOR = 1e-6;

/** The derivations that add a column per numeric source (`novel` and `gap` add theirs once per record). */
export function perSourceDerivations(derive: readonly TemporalDerivation[]): TemporalDerivation[] {
  return derive.filter((d) => d !== 'gap' && d !== 'novel');
}

export interface TemporalColumns {
  /** Column of each followed numeric feature in the base row. */
  readonly sources: readonly number[];
  /** Derived columns per source, in this order; `gap` adds two columns per record, after them all. */
  readonly derive: readonly TemporalDerivation[];
  readonly window: number;
  readonly maxEntities: number;
  /** Categorical fields followed for `novel` (their values come to update() as hash codes). Default 0. */
  readonly categorical?: number;
}

interface EntityState {
  /** window × k ring of the last valid values, channel-major: ring[c * window + slot]. */
  readonly ring: Float32Array;
  /** Valid values held per channel (≤ window) and the next slot per channel. */
  readonly count: Uint16Array;
  readonly head: Uint16Array;
  /** The partition (or other stream) it was last read from, for forgetting a lost partition's entities. */
  stream: string;
  /** Ring of the event times (ms) of its last `window` records with a time, with their count and next slot. */
  readonly times: Float64Array;
  timeCount: number;
  timeHead: number;
  /** window × categorical ring of the last values' hash codes, field-major, with counts and heads per field. */
  readonly codes: Int32Array;
  readonly codeCount: Uint16Array;
  readonly codeHead: Uint16Array;
}

export class TemporalState {
  private readonly entities = new Map<string, EntityState>();
  private readonly k: number;
  private readonly w: number;
  private readonly sources: Int32Array;
  private readonly delta: number;
  private readonly spread: number;
  private readonly meanDev: number;
  private readonly per: number;
  private readonly gap: boolean;
  /** Categorical fields with a `novel` column (0 without the derivation). */
  private readonly kc: number;
  private evictedTotal = 0;

  constructor(readonly columns: TemporalColumns) {
    this.k = columns.sources.length;
    this.w = columns.window;
    this.sources = Int32Array.from(columns.sources);
    const perSource = perSourceDerivations(columns.derive);
    this.delta = perSource.indexOf('delta');
    this.spread = perSource.indexOf('spread');
    this.meanDev = perSource.indexOf('meanDev');
    this.per = perSource.length;
    this.gap = columns.derive.includes('gap');
    this.kc = columns.derive.includes('novel') ? (columns.categorical ?? 0) : 0;
  }

  /** Derived columns written per record. */
  get width(): number {
    return this.k * this.per + this.kc + (this.gap ? 2 : 0);
  }

  /** Entities held now (the gauge). */
  get size(): number {
    return this.entities.size;
  }

  /** Entities evicted for room since start (the counter). */
  get evicted(): number {
    return this.evictedTotal;
  }

  /**
   * Reads the entity's base features from `out[base …]`, writes its derived columns to `out[at … at + width)`,
   * then adds the reading to the entity's history. A missing (NaN) value gives NaN columns and is not added.
   * `time` (ms) is the record's event time, read only for the gap column; `codes[f]` the hash of categorical
   * field f's value, where `present[f]` is 1 (read only for the novel columns).
   */
  update(
    entity: string,
    stream: string,
    out: Float32Array,
    base: number,
    at: number,
    time = Number.NaN,
    codes?: Int32Array,
    present?: Uint8Array,
  ): void {
    let st = this.entities.get(entity);
    if (st === undefined) {
      st = this.admit(entity, stream);
    } else {
      // Re-insert: the Map's order is then least recently seen first.
      this.entities.delete(entity);
      this.entities.set(entity, st);
      st.stream = stream;
    }
    const { ring, count, head } = st;
    const w = this.w;
    for (let c = 0; c < this.k; c++) {
      const x = out[base + this.sources[c]!]!;
      const o = at + c * this.per;
      const n = count[c]!;
      const r = c * w;
      const h = head[c]!;
      if (Number.isNaN(x)) {
        for (let j = 0; j < this.per; j++) out[o + j] = Number.NaN;
        continue;
      }
      if (this.delta >= 0) out[o + this.delta] = n > 0 ? x - ring[r + ((h + w - 1) % w)]! : Number.NaN;
      if (this.meanDev >= 0) {
        // The previous `window` readings, before this one replaces the oldest.
        if (n === w) {
          let s = 0;
          for (let j = 0; j < w; j++) s += ring[r + j]!;
          out[o + this.meanDev] = x - s / w;
        } else out[o + this.meanDev] = Number.NaN;
      }
      ring[r + h] = x;
      head[c] = (h + 1) % w;
      const m = n < w ? n + 1 : w;
      count[c] = m;
      if (this.spread >= 0) {
        if (m === w) {
          let s = 0;
          for (let j = 0; j < w; j++) s += ring[r + j]!;
          const mean = s / w;
          let ss = 0;
          for (let j = 0; j < w; j++) {
            const e = ring[r + j]! - mean;
            ss += e * e;
          }
          out[o + this.spread] = Math.log(Math.sqrt(ss / w) + SPREAD_FLOOR * (1 + Math.abs(mean)));
        } else out[o + this.spread] = Number.NaN;
      }
    }
    const kw = this.k * this.per;
    for (let f = 0; f < this.kc; f++) {
      if (codes === undefined || present === undefined || present[f] !== 1) {
        out[at + kw + f] = Number.NaN;
        continue;
      }
      const code = codes[f]!;
      const n = st.codeCount[f]!;
      const r = f * w;
      let seen = false;
      for (let j = 0; j < n; j++) {
        if (st.codes[r + j] === code) {
          seen = true;
          break;
        }
      }
      out[at + kw + f] = n === 0 ? Number.NaN : seen ? 0 : 1;
      const h = st.codeHead[f]!;
      st.codes[r + h] = code;
      st.codeHead[f] = (h + 1) % w;
      st.codeCount[f] = n < w ? n + 1 : w;
    }
    if (this.gap) this.gapColumns(st, time, out, at + kw + this.kc);
  }

  /**
   * Log seconds (inter-arrival times span milliseconds in a burst to weeks for a dormant card): since the
   * entity's previous record, and spanned by its last `window` records, this one included, so that a run of
   * records much faster than the entity's usual rate stands out even where single short gaps are ordinary.
   */
  private gapColumns(st: EntityState, time: number, out: Float32Array, at: number): void {
    const w = this.w;
    const n = st.timeCount;
    if (!Number.isFinite(time)) {
      out[at] = Number.NaN;
      out[at + 1] = Number.NaN;
      return;
    }
    const previous = n > 0 ? st.times[(st.timeHead + w - 1) % w]! : Number.NaN;
    out[at] = n > 0 ? Math.log1p(Math.max(0, time - previous) / 1000) : Number.NaN;
    // With the window full, the slot about to be overwritten holds the oldest of the last w − 1 records.
    const oldest = n >= w - 1 ? st.times[n === w ? (st.timeHead + 1) % w : 0]! : Number.NaN;
    out[at + 1] = n >= w - 1 ? Math.log1p(Math.max(0, time - oldest) / 1000) : Number.NaN;
    st.times[st.timeHead] = time;
    st.timeHead = (st.timeHead + 1) % w;
    st.timeCount = n < w ? n + 1 : w;
  }

  /** Drops the entities last read from `stream` (a partition this replica lost); returns how many. */
  forgetStream(stream: string): number {
    let n = 0;
    for (const [entity, st] of this.entities) {
      if (st.stream === stream) {
        this.entities.delete(entity);
        n++;
      }
    }
    return n;
  }

  /** Drops every entity (a new training pass, a test). */
  clear(): void {
    this.entities.clear();
  }

  private admit(entity: string, stream: string): EntityState {
    if (this.entities.size >= this.columns.maxEntities) {
      const oldest = this.entities.keys().next();
      if (!oldest.done) {
        this.entities.delete(oldest.value);
        this.evictedTotal++;
      }
    }
    const st: EntityState = {
      ring: new Float32Array(this.k * this.w),
      count: new Uint16Array(this.k),
      head: new Uint16Array(this.k),
      stream,
      times: new Float64Array(this.gap ? this.w : 0),
      timeCount: 0,
      timeHead: 0,
      codes: new Int32Array(this.kc * this.w),
      codeCount: new Uint16Array(this.kc),
      codeHead: new Uint16Array(this.kc),
    };
    this.entities.set(entity, st);
    return st;
  }
}
