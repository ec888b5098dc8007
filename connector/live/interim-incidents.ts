import type { AnomalyEvent } from '../../schemas/types.js';
import type { IncidentChange, LiveIncident } from './live-feed.js';

/**
 * INTERIM — to be replaced by the incident tracker (issue #13 item 1, branch wip/incidents), whose open /
 * update / close events go to `LiveFeed.onIncident` instead. Until it lands, this groups an entity's
 * anomalies into one incident so that the live view has incidents to show: an anomaly of an entity with an
 * open incident updates it; one with none opens one; an incident with no anomaly for `idleCloseMs` of wall-clock
 * time is closed. None of the tracker's guarantees (ordering under the worker pool, rebalance hand-over,
 * recovery after a restart, an incidents topic): it lives and dies with the page.
 */
export interface InterimIncidentOptions {
  /** Wall-clock ms without an anomaly of the entity after which its incident is closed. */
  readonly idleCloseMs: number;
  /** Open incidents kept; past it the least recently updated one is closed. */
  readonly maxOpen: number;
}

interface Open {
  incident: LiveIncident;
  lastSeenAt: number;
}

export class InterimIncidentGrouper {
  private readonly open = new Map<string, Open>();
  private seq = 0;

  constructor(
    private readonly publish: (change: IncidentChange, incident: LiveIncident) => void,
    private readonly options: InterimIncidentOptions,
  ) {}

  add(event: AnomalyEvent, now: number): void {
    this.sweep(now);
    const top = event.contributions.slice(0, 3).map((c) => c.feature);
    const current = this.open.get(event.entity);
    if (current === undefined) {
      const incident: LiveIncident = {
        id: `interim-${event.entity}-${event.event_time}-${++this.seq}`,
        entity: event.entity,
        start: event.event_time,
        end: event.event_time,
        peakSeverity: event.severity,
        peakScore: event.score,
        count: 1,
        topFeatures: top,
      };
      this.open.set(event.entity, { incident, lastSeenAt: now });
      this.publish('open', incident);
      while (this.open.size > this.options.maxOpen) {
        const [entity, oldest] = this.open.entries().next().value as [string, Open];
        this.open.delete(entity);
        this.publish('close', oldest.incident);
      }
      return;
    }
    const prev = current.incident;
    const incident: LiveIncident = {
      ...prev,
      start: Math.min(prev.start, event.event_time),
      end: Math.max(prev.end, event.event_time),
      peakSeverity: Math.max(prev.peakSeverity, event.severity),
      peakScore: Math.max(prev.peakScore, event.score),
      count: prev.count + 1,
      // The features that explain the incident's worst anomaly.
      topFeatures: event.score > prev.peakScore ? top : prev.topFeatures,
    };
    // Re-inserted so that Map order stays least recently updated first (what maxOpen evicts).
    this.open.delete(event.entity);
    this.open.set(event.entity, { incident, lastSeenAt: now });
    this.publish('update', incident);
  }

  /** Closes the incidents idle for longer than `idleCloseMs`. */
  sweep(now: number): void {
    for (const [entity, o] of this.open) {
      if (now - o.lastSeenAt <= this.options.idleCloseMs) break;
      this.open.delete(entity);
      this.publish('close', o.incident);
    }
  }
}
