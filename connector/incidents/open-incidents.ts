import type { IncidentEvent } from '../../schemas/types.js';
import type { IncidentSnapshot } from './incident-tracker.js';

/**
 * The read-only face of the incident tracker, for views (the live web page) and other in-process readers:
 * what is open now, and each incident event once the broker has acknowledged it. Nothing here can change the
 * tracker's state.
 */
export interface OpenIncidents {
  /** Incidents open on this replica (its assigned partitions), least recently updated first. */
  openIncidents(): IncidentSnapshot[];
  /** Calls `listener` with every incident event once it is acknowledged; returns the unsubscribe function. */
  onIncident(listener: (event: IncidentEvent) => void): () => void;
}

export type { IncidentSnapshot };
