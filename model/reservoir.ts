/**
 * The training reservoir: a bounded store of the most recent records the serving model scored as normal,
 * as feature rows, for drift checks and retraining. Pure (no I/O, no tensors).
 *
 * What never enters: rows the model flagged (the caller passes only normal ones), and rows whose source
 * coordinates were confirmed as anomalies by feedback (`exclude` removes one already held and remembers its
 * key, bounded, so a replay of it is refused too).
 *
 * Recency, not a uniform sample of all history: a retrain should learn today's normal. With `perEntity` set
 * (stratified), no entity holds more than that many rows: a new row of an entity at its cap replaces that
 * entity's oldest one instead of the reservoir's oldest, so one chatty entity cannot crowd out the others.
 * Memory: capacity × d float32 plus a key and an entity string per slot.
 */

export interface ReservoirOptions {
  readonly capacity: number;
  readonly d: number;
  /** Most rows per entity; unset: no per-entity limit. */
  readonly perEntity?: number;
  /** Most confirmed-anomaly keys remembered for refusing replays. Default 10,000. */
  readonly maxExcludedKeys?: number;
}

export interface ReservoirSnapshot {
  /** Row-major n × d, oldest first. */
  readonly rows: Float32Array;
  readonly n: number;
  readonly d: number;
  readonly entities: string[];
  readonly keys: string[];
}

export interface ReservoirCounts {
  readonly size: number;
  readonly added: number;
  /** Rows refused or removed because feedback confirmed them as anomalies. */
  readonly excluded: number;
  /** Rows that replaced an older one (the reservoir or the entity was full). */
  readonly replaced: number;
  readonly entities: number;
}

export class Reservoir {
  readonly capacity: number;
  readonly d: number;
  private readonly perEntity: number;
  private readonly maxExcluded: number;
  private readonly data: Float32Array;
  private readonly seq: Float64Array;
  private readonly keyOf: (string | undefined)[];
  private readonly entityOf: (string | undefined)[];
  private readonly slotByKey = new Map<string, number>();
  /** Per entity, its slots oldest first; kept only when stratified (each list is then at most perEntity long). */
  private readonly byEntity = new Map<string, number[]>();
  private readonly entityCount = new Map<string, number>();
  private readonly stratified: boolean;
  /** Slots in insertion order; entries whose slot was reused since are skipped lazily (seq differs). */
  private log: { slot: number; seq: number }[] = [];
  private logHead = 0;
  private readonly free: number[] = [];
  private readonly excludedKeys = new Set<string>();
  private next = 0;
  private nextSeq = 1;
  private count = 0;
  private addedCount = 0;
  private excludedCount = 0;
  private replacedCount = 0;

  constructor(options: ReservoirOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(`reservoir capacity must be a positive integer, got ${options.capacity}`);
    }
    this.capacity = options.capacity;
    this.d = options.d;
    this.perEntity = options.perEntity ?? Number.POSITIVE_INFINITY;
    this.stratified = Number.isFinite(this.perEntity);
    if (this.stratified && !(Number.isInteger(this.perEntity) && this.perEntity >= 1)) {
      throw new RangeError(`reservoir perEntity must be a positive integer, got ${options.perEntity}`);
    }
    this.maxExcluded = options.maxExcludedKeys ?? 10_000;
    this.data = new Float32Array(this.capacity * this.d);
    this.seq = new Float64Array(this.capacity);
    this.keyOf = new Array(this.capacity);
    this.entityOf = new Array(this.capacity);
  }

  get size(): number {
    return this.count;
  }

  counts(): ReservoirCounts {
    return {
      size: this.count,
      added: this.addedCount,
      excluded: this.excludedCount,
      replaced: this.replacedCount,
      entities: this.entityCount.size,
    };
  }

  /**
   * Adds row `row` of `rows` (row-major, width d). `key` identifies the source record (topic/partition/offset)
   * so feedback can take it out again. Returns false when the key is a confirmed anomaly or already held.
   */
  add(rows: Float32Array, row: number, entity: string, key: string): boolean {
    if (this.excludedKeys.has(key)) {
      this.excludedCount++;
      return false;
    }
    if (this.slotByKey.has(key)) return false;
    let slot: number;
    const mine = this.stratified ? this.byEntity.get(entity) : undefined;
    if (mine !== undefined && mine.length >= this.perEntity) {
      slot = mine.shift()!;
      this.release(slot, false);
      this.replacedCount++;
    } else if (this.free.length > 0) {
      slot = this.free.pop()!;
    } else if (this.next < this.capacity) {
      slot = this.next++;
    } else {
      slot = this.oldestSlot();
      this.release(slot, true);
      this.replacedCount++;
    }
    const d = this.d;
    const from = row * d;
    const to = slot * d;
    for (let j = 0; j < d; j++) this.data[to + j] = rows[from + j]!;
    const s = this.nextSeq++;
    this.seq[slot] = s;
    this.keyOf[slot] = key;
    this.entityOf[slot] = entity;
    this.slotByKey.set(key, slot);
    this.entityCount.set(entity, (this.entityCount.get(entity) ?? 0) + 1);
    if (this.stratified) {
      const list = this.byEntity.get(entity);
      if (list === undefined) this.byEntity.set(entity, [slot]);
      else list.push(slot);
    }
    this.log.push({ slot, seq: s });
    this.count++;
    this.addedCount++;
    if (this.log.length - this.logHead > 2 * this.capacity + 16) this.compactLog();
    return true;
  }

  /** Feedback confirmed this record as an anomaly: drop it if held, and refuse it from now on. */
  exclude(key: string): boolean {
    if (!this.excludedKeys.has(key)) {
      this.excludedKeys.add(key);
      if (this.excludedKeys.size > this.maxExcluded) {
        const first = this.excludedKeys.values().next().value as string;
        this.excludedKeys.delete(first);
      }
    }
    const slot = this.slotByKey.get(key);
    if (slot === undefined) return false;
    this.release(slot, true);
    this.free.push(slot);
    this.excludedCount++;
    return true;
  }

  has(key: string): boolean {
    return this.slotByKey.has(key);
  }

  /** A copy of the held rows, oldest first (per entity that is time order, as conv1d training needs). */
  snapshot(): ReservoirSnapshot {
    const slots: number[] = [];
    for (let i = this.logHead; i < this.log.length; i++) {
      const e = this.log[i]!;
      if (this.seq[e.slot] === e.seq && this.keyOf[e.slot] !== undefined) slots.push(e.slot);
    }
    const d = this.d;
    const rows = new Float32Array(slots.length * d);
    const entities: string[] = [];
    const keys: string[] = [];
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      rows.set(this.data.subarray(s * d, s * d + d), i * d);
      entities.push(this.entityOf[s]!);
      keys.push(this.keyOf[s]!);
    }
    return { rows, n: slots.length, d, entities, keys };
  }

  clear(): void {
    this.slotByKey.clear();
    this.byEntity.clear();
    this.entityCount.clear();
    this.keyOf.fill(undefined);
    this.entityOf.fill(undefined);
    this.seq.fill(0);
    this.log = [];
    this.logHead = 0;
    this.free.length = 0;
    this.next = 0;
    this.count = 0;
  }

  private oldestSlot(): number {
    for (;;) {
      const e = this.log[this.logHead++]!;
      if (this.seq[e.slot] === e.seq && this.keyOf[e.slot] !== undefined) return e.slot;
    }
  }

  /** Forget what a slot holds; `fromEntity` also takes it off its entity's list. */
  private release(slot: number, fromEntity: boolean): void {
    const key = this.keyOf[slot]!;
    const entity = this.entityOf[slot]!;
    this.slotByKey.delete(key);
    const list = this.byEntity.get(entity);
    if (fromEntity && list !== undefined) {
      const i = list.indexOf(slot);
      if (i >= 0) list.splice(i, 1);
    }
    if (list?.length === 0) this.byEntity.delete(entity);
    const c = (this.entityCount.get(entity) ?? 1) - 1;
    if (c > 0) this.entityCount.set(entity, c);
    else this.entityCount.delete(entity);
    this.keyOf[slot] = undefined;
    this.entityOf[slot] = undefined;
    this.seq[slot] = 0;
    this.count--;
  }

  private compactLog(): void {
    const live: { slot: number; seq: number }[] = [];
    for (let i = this.logHead; i < this.log.length; i++) {
      const e = this.log[i]!;
      if (this.seq[e.slot] === e.seq && this.keyOf[e.slot] !== undefined) live.push(e);
    }
    this.log = live;
    this.logHead = 0;
  }
}
