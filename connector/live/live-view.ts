import type { BatchScores } from '../../model/types.js';
import type { AnomalyEvent } from '../../schemas/types.js';
import { InterimIncidentGrouper, type InterimIncidentOptions } from './interim-incidents.js';
import type { IncidentChange, LiveFeed, LiveIncident, PartitionLag } from './live-feed.js';

/**
 * The live view's state: a LiveFeed that keeps bounded buffers and answers a JSON snapshot for the page.
 * Scores are aggregated into one bucket per wall-clock second (a ring of `historySeconds`), so memory and the
 * snapshot's size do not grow with the record rate; anomalies and closed incidents are rings too.
 */
export interface LiveViewOptions {
  /** Seconds of score history kept and shown. */
  readonly historySeconds: number;
  /** Latest anomalies kept and shown. */
  readonly maxAnomalies: number;
  /** Recently closed incidents kept and shown. */
  readonly maxClosedIncidents?: number;
  /** Open incidents kept; an open beyond it drops the oldest from the view. */
  readonly maxOpenIncidents?: number;
  /** Group anomalies into incidents here (interim, until the incident tracker feeds onIncident). */
  readonly interimIncidents?: InterimIncidentOptions;
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

/** An incident as the page shows it: wall-clock times of its first and latest change place it on the chart. */
export type ShownIncident<S extends 'open' | 'closed'> = LiveIncident & {
  readonly state: S;
  readonly firstSeenAt: number;
  readonly lastSeenAt: number;
};

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
    readonly open: readonly ShownIncident<'open'>[];
    readonly closed: readonly ShownIncident<'closed'>[];
  };
}

/** Seconds over which the throughput figure is averaged (complete seconds only). */
const RATE_WINDOW_S = 5;

interface Seen {
  readonly incident: LiveIncident;
  readonly firstSeenAt: number;
  readonly lastSeenAt: number;
}
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
  private readonly open = new Map<string, Seen>();
  private readonly closed: Seen[] = [];
  private model: LiveModel | null = null;
  private lag: readonly PartitionLag[] = [];
  private readonly grouper: InterimIncidentGrouper | undefined;

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
    this.grouper =
      options.interimIncidents === undefined
        ? undefined
        : new InterimIncidentGrouper((c, i) => this.onIncident(c, i), options.interimIncidents);
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
    this.grouper?.sweep(this.now());
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
    this.grouper?.add(event, this.now());
  }

  onIncident(change: IncidentChange, incident: LiveIncident): void {
    const now = this.now();
    const firstSeenAt = this.open.get(incident.id)?.firstSeenAt ?? now;
    const seen = { incident, firstSeenAt, lastSeenAt: now };
    this.open.delete(incident.id);
    if (change === 'close') {
      this.closed.unshift(seen);
      if (this.closed.length > this.maxClosed) this.closed.length = this.maxClosed;
      return;
    }
    // An update for an incident not seen open (the view started after it opened) shows it as open.
    this.open.set(incident.id, seen);
    if (this.open.size > this.maxOpen) this.open.delete(this.open.keys().next().value as string);
  }

  onModel(model: LiveModel): void {
    this.model = { ...model };
  }

  onLag(partitions: readonly PartitionLag[]): void {
    this.lag = partitions.map((p) => ({ ...p }));
  }

  snapshot(): LiveSnapshot {
    const now = this.now();
    this.grouper?.sweep(now);
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
      incidents: {
        open: [...this.open.values()].reverse().map((s) => shown(s, 'open' as const)),
        closed: this.closed.map((s) => shown(s, 'closed' as const)),
      },
    };
  }
}

function shown<S extends 'open' | 'closed'>(s: Seen, state: S): ShownIncident<S> {
  return { ...s.incident, state, firstSeenAt: s.firstSeenAt, lastSeenAt: s.lastSeenAt };
}
