import { describe, expect, it } from 'vitest';
import { InterimIncidentGrouper } from '../../../../connector/live/interim-incidents.js';
import type { IncidentChange, LiveIncident } from '../../../../connector/live/live-feed.js';
import { anomaly } from './fixtures.js';

function grouper(maxOpen = 10) {
  const events: [IncidentChange, LiveIncident][] = [];
  const g = new InterimIncidentGrouper((c, i) => events.push([c, i]), { idleCloseMs: 1_000, maxOpen });
  return { g, events };
}

describe('InterimIncidentGrouper', () => {
  it('opens once per entity, updates with count, span, peak and the peak’s features, closes when idle', () => {
    const { g, events } = grouper();
    g.add(anomaly('pump-1', 1_000, 2, ['temp']), 0);
    g.add(anomaly('pump-1', 2_000, 9, ['vib']), 100);
    g.add(anomaly('pump-1', 3_000, 4, ['pressure']), 200);
    g.sweep(1_000);
    expect(events.map(([c]) => c)).toEqual(['open', 'update', 'update']);
    g.sweep(1_201);
    expect(events.map(([c]) => c)).toEqual(['open', 'update', 'update', 'close']);
    const closed = events[3]![1];
    expect(closed).toMatchObject({ entity: 'pump-1', start: 1_000, end: 3_000, count: 3, peakScore: 9 });
    expect(closed.topFeatures).toEqual(['vib']);
    expect(new Set(events.map(([, i]) => i.id)).size).toBe(1);
  });

  it('after a close, the entity’s next anomaly opens a new incident with a new id', () => {
    const { g, events } = grouper();
    g.add(anomaly('pump-1', 1, 2, ['temp']), 0);
    g.add(anomaly('pump-1', 2, 2, ['temp']), 5_000);
    expect(events.map(([c]) => c)).toEqual(['open', 'close', 'open']);
    expect(events[2]![1].id).not.toBe(events[0]![1].id);
  });

  it('keeps at most maxOpen incidents open, closing the least recently updated', () => {
    const { g, events } = grouper(2);
    g.add(anomaly('a', 1, 2, ['x']), 0);
    g.add(anomaly('b', 1, 2, ['x']), 1);
    g.add(anomaly('a', 2, 2, ['x']), 2);
    g.add(anomaly('c', 1, 2, ['x']), 3);
    const closes = events.filter(([c]) => c === 'close').map(([, i]) => i.entity);
    expect(closes).toEqual(['b']);
  });
});
