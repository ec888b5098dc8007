import type { BatchScores } from '../../model/types.js';
import type { AnomalyEvent, IncidentCloseReason, IncidentEvent } from '../../schemas/types.js';
import type { IncidentSnapshot, OpenIncidents } from '../incidents/open-incidents.js';
import type { LiveFeed, PartitionLag } from './live-feed.js';

/**
 * The live view's state: a LiveFeed that keeps bounded buffers and answers a JSON snapshot for the page.
 * Scores are aggregated into one bucket per wall-clock second (a ring of `historySeconds`), so memory and the
 * snapshot's size do not grow with the record rate; anomalies and closed incidents are rings too. Incidents are
 * the incident tracker's (follow): the view groups nothing itself, and without a tracker it shows none.
 */
export interface LiveViewOptions {
  /** Seconds of score history kept and shown. */
  readonly historySeconds: number;
  /** Latest anomalies kept and shown. */
  readonly maxAnomalies: number;
  /** Recently closed incidents kept and shown. */
  readonly maxClosedIncidents?: number;
  /** Open incidents shown (those with the most anomalies) and latest events kept for them. */
  readonly maxOpenIncidents?: number;
  readonly now?: () => number;
}

export interface ScoreBucket {
  /** Start of the second, ms. */
  readonly t: number;
  readonly n: number;
  readonly anomalies: number;
  readonly min: number;
  readonly max: number;
  /** Geometric mean of the scores (scores span decades; the page draws them on a log axis). */
  readonly typical: number;
  /** Mean threshold the second's records were judged against. */
  readonly threshold: number;
}

export interface LiveAnomaly {
  readonly eventId: string;
  readonly entity: string;
  readonly eventTime: number;
  readonly detectedAt: number;
  readonly score: number;
  readonly threshold: number;
  readonly severity: number;
  readonly source: string;
  readonly top: readonly { feature: string; share: number; value: number; expected: number }[];
}

/** An incident as the page shows it, from the tracker's latest event of it (or its state, see openShown). */
export interface ShownIncident<S extends 'open' | 'closed'> {
  readonly id: string;
  readonly state: S;
  readonly entity: string;
  /** Event time of its first and latest anomaly, ms. */
  readonly start: number;
  readonly end: number;
  readonly count: number;
  readonly peakSeverity: number;
  /** Null for an incident open before the view saw an event of it (read back after a restart). */
  readonly peakScore: number | null;
  /** Feature names, most to the error first. */
  readonly topFeatures: readonly string[];
  /** Wall-clock ms of its opening and of its latest event: where the page places it on the time-scored axis. */
  readonly openedAt: number;
  readonly updatedAt: number;
  readonly closeReason: IncidentCloseReason | null;
}

/** The model scoring, as the service reports it once loaded. */
export interface LiveModel {
  readonly id: string;
  readonly version: string;
  readonly backend: string;
}

export interface LiveSnapshot {
  readonly now: number;
  /** Null until the service reports its model. */
  readonly model: LiveModel | null;
  readonly historySeconds: number;
  /** The latest threshold in force, or null before anything was scored. */
  readonly threshold: number | null;
  readonly series: readonly ScoreBucket[];
  readonly throughput: {
    readonly recordsPerSecond: number;
    readonly scored: number;
    readonly anomalies: number;
  };
  readonly lag: { readonly total: number | null; readonly partitions: readonly PartitionLag[] };
  readonly anomalies: readonly LiveAnomaly[];
  readonly incidents: {
    /** False when the service tracks no incidents (output.incidents.enabled false): the page says so. */
    readonly tracking: boolean;
    readonly open: readonly ShownIncident<'open'>[];
    readonly closed: readonly ShownIncident<'closed'>[];
  };
}

/** Seconds over which the throughput figure is averaged (complete seconds only). */
const RATE_WINDOW_S = 5;

const MIN_SCORE = 1e-12;

export class LiveView implements LiveFeed {
  private readonly history: number;
  private readonly maxAnomalies: number;
  private readonly maxClosed: number;
  private readonly maxOpen: number;
  private readonly now: () => number;
  // One slot per second of history; `second[i]` says which second slot i holds (stale slots are skipped).
  private readonly second: Float64Array;
  private readonly n: Float64Array;
  private readonly anomalyCount: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private readonly logSum: Float64Array;
  private readonly thresholdSum: Float64Array;
  private latestThreshold: number | null = null;
  private scored = 0;
  private anomalyTotal = 0;
  private readonly recent: LiveAnomaly[] = [];
  private incidents: OpenIncidents | undefined;
  // The latest acknowledged event of each open incident, least recently updated first (maxOpen evicts).
  private readonly latest = new Map<string, IncidentEvent>();
  private readonly closed: ShownIncident<'closed'>[] = [];
  private model: LiveModel | null = null;
  private lag: readonly PartitionLag[] = [];

  constructor(options: LiveViewOptions) {
    this.history = options.historySeconds;
    this.maxAnomalies = options.maxAnomalies;
    this.maxClosed = options.maxClosedIncidents ?? 20;
    this.maxOpen = options.maxOpenIncidents ?? 200;
    this.now = options.now ?? Date.now;
    const size = this.history;
    this.second = new Float64Array(size).fill(-1);
    this.n = new Float64Array(size);
    this.anomalyCount = new Float64Array(size);
    this.min = new Float64Array(size);
    this.max = new Float64Array(size);
    this.logSum = new Float64Array(size);
    this.thresholdSum = new Float64Array(size);
  }

  /** Shows the tracker's incidents: open ones as it holds them, each change once its event is acknowledged. */
  follow(incidents: OpenIncidents): () => void {
    this.incidents = incidents;
    const unsubscribe = incidents.onIncident((e) => this.onIncidentEvent(e));
    return () => {
      unsubscribe();
      this.incidents = undefined;
      this.latest.clear();
    };
  }

  onScores(scores: BatchScores, at: number): void {
    const n = scores.n;
    if (n === 0) return;
    const s = Math.floor(at / 1000);
    const i = s % this.history;
    if (this.second[i] !== s) {
      this.second[i] = s;
      this.n[i] = 0;
      this.anomalyCount[i] = 0;
      this.min[i] = Number.POSITIVE_INFINITY;
      this.max[i] = 0;
      this.logSum[i] = 0;
      this.thresholdSum[i] = 0;
    }
    let min = this.min[i]!;
    let max = this.max[i]!;
    let logSum = 0;
    let thresholdSum = 0;
    let anomalies = 0;
    for (let k = 0; k < n; k++) {
      const v = Math.max(scores.scores[k]!, MIN_SCORE);
      if (v < min) min = v;
      if (v > max) max = v;
      logSum += Math.log(v);
      thresholdSum += scores.threshold[k]!;
      anomalies += scores.isAnomaly[k]!;
    }
    this.min[i] = min;
    this.max[i] = max;
    this.logSum[i]! += logSum;
    this.thresholdSum[i]! += thresholdSum;
    this.n[i]! += n;
    this.anomalyCount[i]! += anomalies;
    this.latestThreshold = thresholdSum / n;
    this.scored += n;
    this.anomalyTotal += anomalies;
  }

  onAnomaly(event: AnomalyEvent): void {
    this.recent.unshift({
      eventId: event.event_id,
      entity: event.entity,
      eventTime: event.event_time,
      detectedAt: event.detected_at,
      score: event.score,
      threshold: event.threshold,
      severity: event.severity,
      source: `${event.source.topic}:${event.source.partition}@${event.source.offset}`,
      top: event.contributions.slice(0, 3).map((c) => ({
        feature: c.feature,
        share: c.contribution,
        value: c.value,
        expected: c.expected,
      })),
    });
    if (this.recent.length > this.maxAnomalies) this.recent.length = this.maxAnomalies;
  }

  private onIncidentEvent(e: IncidentEvent): void {
    this.latest.delete(e.incident_id);
    if (e.kind === 'CLOSE') {
      this.closed.unshift(shownFromEvent(e, 'closed'));
      if (this.closed.length > this.maxClosed) this.closed.length = this.maxClosed;
      return;
    }
    // Re-inserted, so that Map order stays least recently updated first.
    this.latest.set(e.incident_id, e);
    if (this.latest.size > this.maxOpen) this.latest.delete(this.latest.keys().next().value as string);
  }

  /**
   * The open incidents with the most anomalies. The tracker says which are open (it also holds those read back
   * on assignment, which send no event until they change); each is shown from its latest acknowledged event, so
   * the page shows what is on the incidents topic, and from the tracker's state only when no event of it was
   * seen (read back, or opened in a batch whose outputs are still in flight).
   */
  private openShown(incidents: OpenIncidents): ShownIncident<'open'>[] {
    const open = incidents.openIncidents();
    const ids = new Set(open.map((s) => s.incidentId));
    // Events of incidents no longer open here (their partition was revoked, or their CLOSE is in flight).
    for (const id of this.latest.keys()) if (!ids.has(id)) this.latest.delete(id);
    return open
      .map((s) => {
        const e = this.latest.get(s.incidentId);
        return e === undefined ? shownFromState(s) : shownFromEvent(e, 'open');
      })
      .sort((a, b) => b.count - a.count)
      .slice(0, this.maxOpen);
  }

  onModel(model: LiveModel): void {
    this.model = { ...model };
  }

  onLag(partitions: readonly PartitionLag[]): void {
    this.lag = partitions.map((p) => ({ ...p }));
  }

  snapshot(): LiveSnapshot {
    const now = this.now();
    const current = Math.floor(now / 1000);
    const series: ScoreBucket[] = [];
    let windowRecords = 0;
    for (let s = current - this.history + 1; s <= current; s++) {
      const i = ((s % this.history) + this.history) % this.history;
      if (this.second[i] !== s || this.n[i] === 0) continue;
      const n = this.n[i]!;
      series.push({
        t: s * 1000,
        n,
        anomalies: this.anomalyCount[i]!,
        min: this.min[i]!,
        max: this.max[i]!,
        typical: Math.exp(this.logSum[i]! / n),
        threshold: this.thresholdSum[i]! / n,
      });
      if (s < current && s >= current - RATE_WINDOW_S) windowRecords += n;
    }
    const lagTotal = this.lag.length === 0 ? null : this.lag.reduce((sum, p) => sum + p.lag, 0);
    return {
      now,
      model: this.model,
      historySeconds: this.history,
      threshold: this.latestThreshold,
      series,
      throughput: {
        recordsPerSecond: windowRecords / RATE_WINDOW_S,
        scored: this.scored,
        anomalies: this.anomalyTotal,
      },
      lag: { total: lagTotal, partitions: this.lag },
      anomalies: this.recent,
      incidents:
        this.incidents === undefined
          ? { tracking: false, open: [], closed: [] }
          : { tracking: true, open: this.openShown(this.incidents), closed: this.closed },
    };
  }
}

function shownFromEvent<S extends 'open' | 'closed'>(e: IncidentEvent, state: S): ShownIncident<S> {
  return {
    id: e.incident_id,
    state,
    entity: e.entity,
    start: e.start,
    end: e.end,
    count: e.count,
    peakSeverity: e.peak_severity,
    peakScore: e.peak_score,
    topFeatures: e.top_features.map((f) => f.feature),
    openedAt: e.opened_at,
    updatedAt: e.updated_at,
    closeReason: e.close_reason,
  };
}

function shownFromState(s: IncidentSnapshot): ShownIncident<'open'> {
  return {
    id: s.incidentId,
    state: 'open',
    entity: s.entity,
    start: s.start,
    end: s.end,
    count: s.count,
    peakSeverity: s.peakSeverity,
    peakScore: null,
    topFeatures: s.topFeatures.map((f) => f.feature),
    openedAt: s.openedAt,
    updatedAt: s.openedAt,
    closeReason: null,
  };
}
