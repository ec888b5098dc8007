import type { Logger } from '../../core/logger.js';
import type { VigilMetrics } from '../../core/metrics/vigil-metrics.js';
import type { AnomalyEvent, IncidentEvent, SeverityBand } from '../../schemas/types.js';
import type { Item, Outbound } from '../pipeline/outputs.js';
import type { TopicPartition } from '../transport/types.js';
import { IncidentTracker, type IncidentTrackerOptions, type Observation } from './incident-tracker.js';
import type { IncidentSnapshot, OpenIncidents } from './open-incidents.js';

/**
 * The incident tracker inside the pipeline: scored micro-batches in, incident outputs out (produced with the
 * batch's other outputs, so they share its delivery: the same transaction in exactly-once mode, acknowledged
 * before the batch's offsets may be committed otherwise), and the tracker's state following the assignment.
 *
 * On assignment the partitions' incidents are read back (`recover`) before their first record is delivered;
 * on revocation their state is dropped after the pipeline has drained and committed them: the last event of
 * each open incident is on the topic, and the partition's next owner picks it up from there (handed over,
 * not closed, so a rebalance in the middle of a failure does not page twice).
 */

export type IncidentMetricsSink = Pick<
  VigilMetrics,
  'incidentOpened' | 'incidentClosed' | 'incidentsRecoveredCount'
>;

export interface IncidentStageOptions extends IncidentTrackerOptions {
  readonly topic: string;
  readonly encode: (event: IncidentEvent) => Buffer;
  /** Reads back the latest event of each incident of these partitions; omitted: start empty. */
  readonly recover?: (partitions: readonly TopicPartition[]) => Promise<IncidentEvent[]>;
  readonly metrics?: IncidentMetricsSink;
  readonly logger?: Logger;
}

export interface IncidentBatch {
  readonly outbounds: Outbound[];
  readonly events: IncidentEvent[];
}

export class IncidentStage implements OpenIncidents {
  private readonly tracker: IncidentTracker;
  private readonly listeners = new Set<(event: IncidentEvent) => void>();

  constructor(private readonly options: IncidentStageOptions) {
    this.tracker = new IncidentTracker(options);
  }

  /** Open incidents per input topic and band of their peak severity, for the gauge. */
  openCounts(): Map<string, Map<SeverityBand, number>> {
    const out = new Map<string, Map<SeverityBand, number>>();
    for (const s of this.tracker.snapshot()) {
      const byBand = out.get(s.topic) ?? new Map<SeverityBand, number>();
      byBand.set(s.band, (byBand.get(s.band) ?? 0) + 1);
      out.set(s.topic, byBand);
    }
    return out;
  }

  openIncidents(): IncidentSnapshot[] {
    return this.tracker.snapshot();
  }

  onIncident(listener: (event: IncidentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * One scored batch, in the batch's record order (fetch order per partition); `anomalies` are its anomaly
   * events in the same order. Must be called in fetch order across batches (see connector/pipeline/ordered-turns.ts).
   */
  observe(scored: readonly Item[], anomalies: readonly AnomalyEvent[], now: number): IncidentBatch {
    const observations: Observation[] = [];
    let j = 0;
    for (const item of scored) {
      const a = anomalies[j];
      const isIt =
        a !== undefined &&
        a.source.offset === item.offset &&
        a.source.partition === item.record.partition &&
        a.source.topic === item.record.topic;
      if (isIt) j++;
      observations.push({
        topic: item.record.topic,
        partition: item.record.partition,
        offset: item.offset,
        entity: item.entity,
        eventTime: item.eventTime,
        anomaly: isIt ? a : null,
      });
    }
    const { events, counts } = this.tracker.observe(observations, now);
    const m = this.options.metrics;
    if (m !== undefined) {
      for (const o of counts.opened) m.incidentOpened(o.topic, o.band);
      for (const c of counts.closed) m.incidentClosed(c.topic, c.reason);
    }
    return {
      events,
      outbounds: events.map((event) => ({
        output: 'incidents' as const,
        message: {
          topic: this.options.topic,
          key: event.entity,
          value: this.options.encode(event),
          headers: [
            { key: 'vigil.incident_id', value: event.incident_id },
            { key: 'vigil.incident_kind', value: event.kind },
          ],
        },
        // Bounded by maxEventIds and maxFeatures, an incident event has no smaller form worth writing.
        fallback: () => null,
      })),
    };
  }

  /** The batch's incident events are acknowledged by the broker. */
  published(events: readonly IncidentEvent[]): void {
    for (const e of events) {
      for (const l of this.listeners) {
        try {
          l(e);
        } catch (err) {
          this.options.logger?.warn({ err }, 'incident listener failed');
        }
      }
    }
  }

  async assigned(partitions: readonly TopicPartition[]): Promise<void> {
    const recover = this.options.recover;
    if (recover === undefined || partitions.length === 0) return;
    const latest = await recover(partitions);
    this.tracker.restore(latest);
    const open = latest.filter((e) => e.kind !== 'CLOSE').length;
    this.options.metrics?.incidentsRecoveredCount(open);
    this.options.logger?.info(
      { incidents: latest.length, open, partitions: partitions.length },
      'incidents read back for the assigned partitions',
    );
  }

  revoked(partitions: readonly TopicPartition[]): void {
    this.tracker.forget(partitions);
  }
}
