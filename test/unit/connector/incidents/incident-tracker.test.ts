import { describe, expect, it } from 'vitest';
import {
  IncidentTracker,
  incidentId,
  type Observation,
  severityBand,
} from '../../../../connector/incidents/incident-tracker.js';
import { IncidentFold } from '../../../../connector/incidents/recovery.js';
import { loadSchema } from '../../../../schemas/catalog.js';
import type { AnomalyEvent, IncidentEvent } from '../../../../schemas/types.js';

const OPTIONS = { gapMs: 60_000, maxOpen: 100, maxEventIds: 3, maxFeatures: 2 };

function anomaly(offset: number, severity: number, features: [string, number][]): AnomalyEvent {
  return {
    event_id: `ev-${offset}`,
    source: { topic: 'in', partition: 0, offset },
    key: null,
    event_time: 0,
    entity: 'pump-1',
    score: 10 * severity,
    raw_score: null,
    threshold: 1,
    severity,
    contributions: features.map(([feature, contribution]) => ({
      feature,
      contribution,
      value: 0,
      expected: 0,
    })),
    model: { id: 'm', version: '1' },
    detected_at: 0,
    attributes: {},
  };
}

/** Readings of one entity every 10 s of event time from t=0; `bad` offsets are anomalous. */
function readings(entity: string, offsets: number[], bad: Set<number>, partition = 0): Observation[] {
  return offsets.map((offset) => ({
    topic: 'in',
    partition,
    offset,
    entity,
    eventTime: offset * 10_000,
    anomaly: bad.has(offset)
      ? anomaly(offset, offset === 12 ? 0.9 : 0.2, [
          ['vibration', 0.6],
          ['temp', offset % 2 === 0 ? 0.3 : 0.1],
          ['flow', 0.1],
        ])
      : null,
  }));
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

describe('IncidentTracker', () => {
  it('turns an entity’s consecutive anomalies into one incident: open, one update per batch, close after the gap', () => {
    const t = new IncidentTracker(OPTIONS);
    const bad = new Set(range(10, 20));
    const first = t.observe(readings('pump-1', range(0, 15), bad), 1000);
    expect(first.events.map((e) => e.kind)).toEqual(['OPEN']);
    expect(first.counts.opened).toEqual([{ topic: 'in', band: 'LOW' }]);
    const open = first.events[0]!;
    expect(open).toMatchObject({
      incident_id: incidentId('in', 0, 'pump-1', 10),
      sequence: 0,
      entity: 'pump-1',
      start: 100_000,
      end: 140_000,
      first_offset: 10,
      last_offset: 14,
      count: 5,
      peak_severity: 0.9,
      severity_band: 'HIGH',
      event_ids: ['ev-10', 'ev-11', 'ev-12'],
      close_reason: null,
      opened_at: 1000,
    });
    expect(open.top_features.map((f) => f.feature)).toEqual(['vibration', 'temp']);
    expect(open.top_features[0]!.contribution).toBeCloseTo(0.6);
    expect(t.snapshot()).toHaveLength(1);

    const second = t.observe(readings('pump-1', range(15, 22), bad), 2000);
    expect(second.events.map((e) => [e.kind, e.sequence, e.count])).toEqual([['UPDATE', 1, 10]]);
    // 21 is 20 s after the last anomaly (19): within the 60 s gap, still open.
    expect(t.size).toBe(1);

    const third = t.observe(readings('pump-1', range(22, 27), bad), 3000);
    expect(third.events).toHaveLength(1);
    expect(third.events[0]).toMatchObject({
      kind: 'CLOSE',
      sequence: 2,
      close_reason: 'GAP',
      end: 190_000,
      last_offset: 19,
      count: 10,
      incident_id: open.incident_id,
      updated_at: 3000,
    });
    expect(third.counts.closed).toEqual([{ topic: 'in', reason: 'GAP' }]);
    expect(t.size).toBe(0);
  });

  it('every event encodes with schemas/incident_event.avsc and reads back equal', () => {
    const t = new IncidentTracker(OPTIONS);
    const { events } = t.observe(readings('pump-1', range(0, 40), new Set([3, 4, 5])), 1);
    expect(events.map((e) => e.kind)).toEqual(['OPEN', 'CLOSE']);
    const type = loadSchema('incident_event');
    for (const e of events) expect(type.fromBuffer(type.toBuffer(e))).toEqual(e);
  });

  it('an anomaly further than the gap from the last one closes the incident and opens another', () => {
    const t = new IncidentTracker(OPTIONS);
    // No readings between 5 and 20 (the entity was silent for 150 s), both anomalous.
    const obs = readings('pump-1', [4, 5, 20, 21], new Set([4, 5, 20, 21]));
    const { events } = t.observe(obs, 0);
    expect(events.map((e) => [e.kind, e.first_offset])).toEqual([
      ['OPEN', 4],
      ['CLOSE', 4],
      ['OPEN', 20],
    ]);
    expect(events[2]!.incident_id).not.toBe(events[0]!.incident_id);
  });

  it('closes the incident of an entity that fell silent once its partition’s event time passes the gap', () => {
    const t = new IncidentTracker(OPTIONS);
    t.observe(readings('pump-1', [1, 2], new Set([1, 2])), 0);
    // Another entity on the same partition moves the partition's event time on.
    const quiet = t.observe(readings('pump-2', [5, 8], new Set()), 0);
    expect(quiet.events).toEqual([]);
    const later = t.observe(readings('pump-2', [9], new Set()), 0);
    expect(later.events.map((e) => [e.kind, e.entity, e.close_reason])).toEqual([['CLOSE', 'pump-1', 'GAP']]);
    // Another partition's event time does not close it.
    const t2 = new IncidentTracker(OPTIONS);
    t2.observe(readings('pump-1', [1, 2], new Set([1, 2])), 0);
    expect(t2.observe(readings('pump-2', [50], new Set(), 1), 0).events).toEqual([]);
  });

  it('holds at most maxOpen incidents: one more closes the least recently updated (EVICTED)', () => {
    const t = new IncidentTracker({ ...OPTIONS, maxOpen: 2 });
    const obs = [
      ...readings('a', [1], new Set([1])),
      ...readings('b', [2], new Set([2])),
      ...readings('a', [3], new Set([3])),
      ...readings('c', [4], new Set([4])),
    ];
    const { events, counts } = t.observe(obs, 0);
    expect(events.map((e) => [e.kind, e.entity, e.close_reason])).toEqual([
      ['OPEN', 'a', null],
      ['OPEN', 'b', null],
      ['CLOSE', 'b', 'EVICTED'],
      ['OPEN', 'c', null],
    ]);
    expect(counts.closed).toEqual([{ topic: 'in', reason: 'EVICTED' }]);
    expect(t.snapshot().map((s) => s.entity)).toEqual(['a', 'c']);
  });

  it('resumes a restored incident with its id and sequence, and skips the replayed records it already counted', () => {
    const bad = new Set(range(10, 30));
    const before = new IncidentTracker(OPTIONS);
    const published = [
      ...before.observe(readings('pump-1', range(0, 15), bad), 0).events,
      ...before.observe(readings('pump-1', range(15, 20), bad), 0).events,
    ];
    // A restart: offsets committed up to 15, so 15..19 are replayed; the fold of the topic is the UPDATE.
    const fold = new IncidentFold([{ topic: 'in', partition: 0 }]);
    for (const e of [...published].reverse()) fold.add(e);
    const latest = fold.result();
    expect(latest.map((e) => [e.kind, e.sequence, e.last_offset])).toEqual([['UPDATE', 1, 19]]);

    const after = new IncidentTracker(OPTIONS);
    after.restore(latest);
    const { events, counts } = after.observe(readings('pump-1', range(15, 25), bad), 0);
    expect(counts.opened).toEqual([]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      kind: 'UPDATE',
      sequence: 2,
      incident_id: published[0]!.incident_id,
      first_offset: 10,
      last_offset: 24,
      count: 15,
    });
    // Whatever ran without a restart says the same.
    const straight = new IncidentTracker(OPTIONS);
    const all = [0, 15, 20].flatMap(
      (from) =>
        straight.observe(readings('pump-1', range(from, from + (from === 0 ? 15 : 5)), bad), 0).events,
    );
    expect(all.at(-1)).toMatchObject({ count: 15, last_offset: 24, sequence: 2 });
  });

  it('a replay of a closed incident’s records opens nothing again; forget() drops a partition’s incidents', () => {
    const bad = new Set([3, 4]);
    const before = new IncidentTracker(OPTIONS);
    const events = before.observe(readings('pump-1', range(0, 20), bad), 0).events;
    expect(events.map((e) => e.kind)).toEqual(['OPEN', 'CLOSE']);
    const after = new IncidentTracker(OPTIONS);
    after.restore([events[1]!]);
    expect(after.observe(readings('pump-1', range(0, 20), bad), 0).events).toEqual([]);
    expect(after.observe(readings('pump-1', [30, 31], new Set([31])), 0).events.map((e) => e.kind)).toEqual([
      'OPEN',
    ]);

    after.forget([{ topic: 'in', partition: 0 }]);
    expect(after.size).toBe(0);
  });

  it('bands severities at 1/3 and 2/3', () => {
    expect([0, 0.33, 1 / 3, 0.66, 2 / 3, 1].map(severityBand)).toEqual([
      'LOW',
      'LOW',
      'MEDIUM',
      'MEDIUM',
      'HIGH',
      'HIGH',
    ]);
  });
});

describe('IncidentFold', () => {
  it('keeps the highest sequence of each incident of the wanted partitions', () => {
    const e = (id: string, sequence: number, partition = 0) =>
      ({ incident_id: id, sequence, source_topic: 'in', source_partition: partition }) as IncidentEvent;
    const fold = new IncidentFold([{ topic: 'in', partition: 0 }]);
    for (const x of [e('a', 0), e('a', 2), e('a', 1), e('a', 2), e('b', 0), e('c', 5, 1)]) fold.add(x);
    expect(fold.result().map((x) => [x.incident_id, x.sequence])).toEqual([
      ['a', 2],
      ['b', 0],
    ]);
  });
});
