import type {
  AnomalyEvent,
  IncidentCloseReason,
  IncidentEvent,
  IncidentEventKind,
  SeverityBand,
} from '../../schemas/types.js';
import { uuidV5 } from '../events/event-id.js';

/**
 * Incidents: an entity's consecutive anomalies become one incident, so a failure that lasts many records pages
 * once. Pure logic, no I/O: scored records go in (in offset order per partition), incident events come out.
 *
 * The gap is measured in event time (`gapMs`), not in records: "quiet for five minutes" means the same for an
 * entity that reports every second and one that reports every minute, and it survives a replay unchanged
 * (record counts between two anomalies of an entity depend on how the other entities interleave). An incident
 * closes with reason GAP when
 *   - the entity's next record (normal or not) is more than `gapMs` after the incident's last anomaly, or
 *   - its partition's event-time watermark (the latest event time seen on that partition) passes that point,
 *     so an entity that falls silent still has its incident closed while its partition keeps flowing.
 * Both are checked record by record, so the incidents depend only on each partition's record order, not on
 * how the records were cut into micro-batches.
 * An anomaly more than `gapMs` after the last one closes the old incident and opens a new one.
 *
 * Scope: incidents are tracked per input partition and entity. Records of one entity that arrive on several
 * partitions (input not keyed by entity) have no order between them, so they make separate incidents.
 *
 * Bounded state: at most `maxOpen` open incidents; opening one more closes the least recently updated with
 * reason EVICTED (counted). Replays: `restore` takes the open incidents read back from the incidents topic and,
 * per entity, the last input offset already folded in; records at or below it are skipped, so the records a
 * restart replays are not counted twice.
 *
 * Output: at most one event per incident per `observe` call (a micro-batch), carrying the incident's state at
 * the end of the call: OPEN for a new incident, UPDATE for one that gained anomalies, CLOSE for one that closed
 * (a new incident that also closed within the call gets its OPEN and then its CLOSE).
 */

/** Incident ids are UUIDv5 in their own namespace (see event-id.ts for the scheme). */
export const VIGIL_INCIDENT_NAMESPACE = '9d3f6a3e-3b0c-4a51-9f7e-5c1d2b8e7a40';

export interface IncidentTrackerOptions {
  /** Longest event-time gap between two anomalies of one incident, ms. */
  readonly gapMs: number;
  /** Most open incidents held at once. */
  readonly maxOpen: number;
  /** Most anomaly event ids listed in an incident (the first ones). */
  readonly maxEventIds: number;
  /** Most features listed in `top_features`. */
  readonly maxFeatures: number;
  /** Most entities whose replay floor (the last offset of a recovered incident) is remembered. Default maxOpen. */
  readonly maxFloors?: number;
}

/** One scored record, in offset order within its partition. */
export interface Observation {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly entity: string;
  readonly eventTime: number;
  /** Its anomaly event when the record was judged anomalous. */
  readonly anomaly: AnomalyEvent | null;
}

/** What the live view and other readers see of an open incident. */
export interface IncidentSnapshot {
  readonly incidentId: string;
  readonly entity: string;
  readonly topic: string;
  readonly partition: number;
  readonly start: number;
  readonly end: number;
  readonly count: number;
  readonly peakSeverity: number;
  readonly band: SeverityBand;
  readonly topFeatures: readonly { readonly feature: string; readonly contribution: number }[];
  readonly openedAt: number;
}

export interface TrackerCounts {
  /** Incidents opened, by input topic and the band of the anomaly that opened them. */
  readonly opened: readonly { topic: string; band: SeverityBand }[];
  readonly closed: readonly { topic: string; reason: IncidentCloseReason }[];
}

export interface ObserveResult {
  readonly events: IncidentEvent[];
  readonly counts: TrackerCounts;
}

interface State {
  readonly id: string;
  readonly entity: string;
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  readonly start: number;
  end: number;
  readonly firstOffset: number;
  lastOffset: number;
  count: number;
  peakSeverity: number;
  peakScore: number;
  /** Sum of each feature's share over the anomalies. */
  readonly shares: Map<string, number>;
  readonly eventIds: string[];
  model: { id: string; version: string };
  readonly openedAt: number;
  /** Sequence of the next event written. */
  sequence: number;
  closeReason: IncidentCloseReason | null;
}

type Touch = { readonly state: State; opened: boolean; updated: boolean; closed: boolean };

export function severityBand(severity: number): SeverityBand {
  if (severity >= 2 / 3) return 'HIGH';
  if (severity >= 1 / 3) return 'MEDIUM';
  return 'LOW';
}

export function incidentId(topic: string, partition: number, entity: string, firstOffset: number): string {
  return uuidV5(JSON.stringify([topic, partition, entity, firstOffset]), VIGIL_INCIDENT_NAMESPACE);
}

const entityKey = (topic: string, partition: number, entity: string) =>
  JSON.stringify([topic, partition, entity]);
const partitionOf = (topic: string, partition: number) => `${topic}:${partition}`;

export class IncidentTracker {
  /** Open incidents by entity key, least recently updated first (Map order; updates re-insert). */
  private readonly open = new Map<string, State>();
  /** The same, per partition: the sweep looks at a partition's least recently updated incidents first. */
  private readonly byPartition = new Map<string, Map<string, State>>();
  /** Event-time watermark per partition. */
  private readonly watermarks = new Map<string, number>();
  /** Per entity key: records at or below this offset were folded in before a restart (replay floor). */
  private readonly floors = new Map<string, number>();
  private readonly maxFloors: number;
  private touched = new Map<string, Touch>();
  private opened: { topic: string; band: SeverityBand }[] = [];
  private closed: { topic: string; reason: IncidentCloseReason }[] = [];

  constructor(readonly options: IncidentTrackerOptions) {
    for (const k of ['gapMs', 'maxOpen', 'maxEventIds', 'maxFeatures'] as const) {
      const v = options[k];
      if (!(Number.isInteger(v) && v >= (k === 'gapMs' || k === 'maxEventIds' ? 0 : 1))) {
        throw new RangeError(`incident tracker ${k} ${v}: a non-negative integer`);
      }
    }
    this.maxFloors = options.maxFloors ?? options.maxOpen;
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * Folds one micro-batch's scored records in. `observations` must be in offset order per partition, and
   * successive calls must continue that order (the pipeline makes calls in fetch order); `now` is the wall clock.
   */
  observe(observations: readonly Observation[], now: number): ObserveResult {
    const gap = this.options.gapMs;
    for (const o of observations) {
      const key = entityKey(o.topic, o.partition, o.entity);
      const floor = this.floors.get(key);
      if (floor !== undefined) {
        if (o.offset <= floor) continue;
        this.floors.delete(key);
      }
      const p = partitionOf(o.topic, o.partition);
      const wm = this.watermarks.get(p);
      if (wm === undefined || o.eventTime > wm) this.watermarks.set(p, o.eventTime);

      let state = this.open.get(key);
      if (state !== undefined && o.eventTime - state.end > gap) {
        this.close(state, 'GAP');
        state = undefined;
      }
      if (o.anomaly !== null) {
        if (state === undefined) this.openWith(key, o, now);
        else this.fold(state, o);
      }
      this.sweep(p, gap);
    }
    return this.flush(now);
  }

  /** Drops the state of partitions this replica no longer owns: their next owner reads it back. */
  forget(partitions: readonly { topic: string; partition: number }[]): void {
    const gone = new Set(partitions.map((p) => partitionOf(p.topic, p.partition)));
    for (const [key, state] of this.open) {
      if (gone.has(partitionOf(state.topic, state.partition))) this.open.delete(key);
    }
    for (const p of gone) {
      this.watermarks.delete(p);
      this.byPartition.delete(p);
    }
    for (const key of this.floors.keys()) {
      const [topic, partition] = JSON.parse(key) as [string, number];
      if (gone.has(partitionOf(topic, partition))) this.floors.delete(key);
    }
  }

  /**
   * Takes back incidents read from the incidents topic (the latest event of each, see recovery.ts): open ones
   * become open again, and for every one the entity's replay floor is its last folded offset.
   */
  restore(latest: readonly IncidentEvent[]): void {
    for (const e of latest) {
      const key = entityKey(e.source_topic, e.source_partition, e.entity);
      const floor = this.floors.get(key);
      if (floor === undefined || e.last_offset > floor) this.setFloor(key, e.last_offset);
      if (e.kind === 'CLOSE') continue;
      const current = this.open.get(key);
      if (current !== undefined && current.lastOffset >= e.last_offset) continue;
      const shares = new Map<string, number>();
      // The listed top features are averages; a restored incident keeps them as sums over its count.
      for (const f of e.top_features) shares.set(f.feature, f.contribution * e.count);
      if (current !== undefined) this.remove(current);
      this.insert({
        id: e.incident_id,
        entity: e.entity,
        topic: e.source_topic,
        partition: e.source_partition,
        key,
        start: e.start,
        end: e.end,
        firstOffset: e.first_offset,
        lastOffset: e.last_offset,
        count: e.count,
        peakSeverity: e.peak_severity,
        peakScore: e.peak_score,
        shares,
        eventIds: [...e.event_ids],
        model: { ...e.model },
        openedAt: e.opened_at,
        sequence: e.sequence + 1,
        closeReason: null,
      });
    }
    this.evictOverLimit();
  }

  /** The open incidents, least recently updated first. */
  snapshot(): IncidentSnapshot[] {
    return [...this.open.values()].map((s) => ({
      incidentId: s.id,
      entity: s.entity,
      topic: s.topic,
      partition: s.partition,
      start: s.start,
      end: s.end,
      count: s.count,
      peakSeverity: s.peakSeverity,
      band: severityBand(s.peakSeverity),
      topFeatures: this.topFeatures(s),
      openedAt: s.openedAt,
    }));
  }

  // ------------------------------------------------------------------ internals

  private openWith(key: string, o: Observation, now: number): void {
    const a = o.anomaly!;
    const state: State = {
      id: incidentId(o.topic, o.partition, o.entity, o.offset),
      entity: o.entity,
      topic: o.topic,
      partition: o.partition,
      key,
      start: o.eventTime,
      end: o.eventTime,
      firstOffset: o.offset,
      lastOffset: o.offset,
      count: 0,
      peakSeverity: a.severity,
      peakScore: a.score,
      shares: new Map(),
      eventIds: [],
      model: a.model,
      openedAt: now,
      sequence: 0,
      closeReason: null,
    };
    this.insert(state);
    this.touch(state).opened = true;
    this.opened.push({ topic: o.topic, band: severityBand(a.severity) });
    this.fold(state, o);
    this.evictOverLimit();
  }

  private fold(state: State, o: Observation): void {
    const a = o.anomaly!;
    state.count++;
    if (o.eventTime > state.end) state.end = o.eventTime;
    state.lastOffset = o.offset;
    if (a.severity > state.peakSeverity) state.peakSeverity = a.severity;
    if (a.score > state.peakScore) state.peakScore = a.score;
    for (const c of a.contributions)
      state.shares.set(c.feature, (state.shares.get(c.feature) ?? 0) + c.contribution);
    if (state.eventIds.length < this.options.maxEventIds) state.eventIds.push(a.event_id);
    state.model = a.model;
    // Most recently updated goes last: eviction and the sweep take the first.
    this.insert(state);
    this.touch(state).updated = true;
  }

  /**
   * An entity that fell silent: its partition's event time has moved on past its gap. Run after every record,
   * so what closes depends on the records' order only, never on where micro-batches happened to be cut. Stops
   * at the first incident still within its gap (the least recently updated go first, whose ends are the
   * oldest but for event-time jitter; a later one past its gap is closed when those before it are).
   */
  private sweep(partition: string, gap: number): void {
    const q = this.byPartition.get(partition);
    if (q === undefined) return;
    const wm = this.watermarks.get(partition)!;
    for (const state of q.values()) {
      if (wm - state.end <= gap) break;
      this.close(state, 'GAP');
    }
  }

  private insert(state: State): void {
    this.open.delete(state.key);
    this.open.set(state.key, state);
    const p = partitionOf(state.topic, state.partition);
    let q = this.byPartition.get(p);
    if (q === undefined) {
      q = new Map();
      this.byPartition.set(p, q);
    }
    q.delete(state.key);
    q.set(state.key, state);
  }

  private remove(state: State): void {
    this.open.delete(state.key);
    this.byPartition.get(partitionOf(state.topic, state.partition))?.delete(state.key);
  }

  private close(state: State, reason: IncidentCloseReason): void {
    this.remove(state);
    state.closeReason = reason;
    this.touch(state).closed = true;
    this.closed.push({ topic: state.topic, reason });
  }

  private evictOverLimit(): void {
    while (this.open.size > this.options.maxOpen) {
      this.close(this.open.values().next().value as State, 'EVICTED');
    }
  }

  private setFloor(key: string, offset: number): void {
    this.floors.delete(key);
    this.floors.set(key, offset);
    while (this.floors.size > this.maxFloors) this.floors.delete(this.floors.keys().next().value as string);
  }

  private touch(state: State): Touch {
    let t = this.touched.get(state.id);
    if (t === undefined) {
      t = { state, opened: false, updated: false, closed: false };
      this.touched.set(state.id, t);
    }
    return t;
  }

  private flush(now: number): ObserveResult {
    const events: IncidentEvent[] = [];
    for (const t of this.touched.values()) {
      if (t.opened) events.push(this.event(t.state, 'OPEN', now));
      if (t.closed) events.push(this.event(t.state, 'CLOSE', now));
      else if (!t.opened && t.updated) events.push(this.event(t.state, 'UPDATE', now));
    }
    const counts = { opened: this.opened, closed: this.closed };
    this.touched = new Map();
    this.opened = [];
    this.closed = [];
    return { events, counts };
  }

  private event(s: State, kind: IncidentEventKind, now: number): IncidentEvent {
    return {
      incident_id: s.id,
      kind,
      sequence: s.sequence++,
      entity: s.entity,
      source_topic: s.topic,
      source_partition: s.partition,
      start: s.start,
      end: s.end,
      first_offset: s.firstOffset,
      last_offset: s.lastOffset,
      count: s.count,
      peak_severity: s.peakSeverity,
      severity_band: severityBand(s.peakSeverity),
      peak_score: s.peakScore,
      top_features: this.topFeatures(s),
      event_ids: [...s.eventIds],
      model: { ...s.model },
      close_reason: kind === 'CLOSE' ? s.closeReason : null,
      opened_at: s.openedAt,
      updated_at: now,
    };
  }

  private topFeatures(s: State): { feature: string; contribution: number }[] {
    return [...s.shares.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, this.options.maxFeatures)
      .map(([feature, sum]) => ({ feature, contribution: sum / Math.max(1, s.count) }));
  }
}
