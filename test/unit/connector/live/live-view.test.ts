import { describe, expect, it } from 'vitest';
import { IncidentStage } from '../../../../connector/incidents/incident-stage.js';
import { LiveView } from '../../../../connector/live/live-view.js';
import { anomaly, batch, itemOf, normal } from './fixtures.js';

const GAP_MS = 60_000;

/** The real incident stage, its events not encoded (the view reads them in memory). */
function tracker(): IncidentStage {
  return new IncidentStage({
    topic: 'incidents',
    gapMs: GAP_MS,
    maxOpen: 100,
    maxEventIds: 10,
    maxFeatures: 3,
    encode: () => Buffer.alloc(0),
  });
}

function view(clock: { t: number }, extra: Partial<ConstructorParameters<typeof LiveView>[0]> = {}) {
  return new LiveView({ historySeconds: 10, maxAnomalies: 3, now: () => clock.t, ...extra });
}

describe('LiveView', () => {
  it('aggregates scores per second: count, anomalies, min, max, geometric mean, threshold', () => {
    const clock = { t: 100_000 };
    const v = view(clock);
    v.onScores(batch([0.1, 1, 10], 2), 100_100);
    v.onScores(batch([1], 2), 100_900);
    v.onScores(batch([0.5, 0.5], 3), 101_200);
    clock.t = 101_500;
    const s = v.snapshot();
    expect(s.series).toHaveLength(2);
    const [first, second] = s.series;
    expect(first).toMatchObject({ t: 100_000, n: 4, anomalies: 1, max: 10, threshold: 2 });
    expect(first!.min).toBeCloseTo(0.1, 6);
    expect(first!.typical).toBeCloseTo(1, 5); // (0.1 · 1 · 10 · 1)^(1/4)
    expect(second).toMatchObject({ t: 101_000, n: 2, anomalies: 0, min: 0.5, max: 0.5, threshold: 3 });
    expect(s.threshold).toBe(3);
    expect(s.throughput).toMatchObject({ scored: 6, anomalies: 1 });
  });

  it('keeps only historySeconds of buckets, reusing slots of seconds that went out of the window', () => {
    const clock = { t: 0 };
    const v = view(clock);
    for (let sec = 0; sec < 25; sec++) v.onScores(batch([1, 2], 5), sec * 1000 + 10);
    clock.t = 24_500;
    const s = v.snapshot();
    expect(s.series.map((b) => b.t / 1000)).toEqual([15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    expect(s.series.every((b) => b.n === 2)).toBe(true);
    // A second seen again after its slot was reused starts from zero, not from the old slot's sums.
    clock.t = 40_000;
    expect(v.snapshot().series).toEqual([]);
  });

  it('reports records per second over the last complete seconds', () => {
    const clock = { t: 0 };
    const v = view(clock);
    for (let sec = 0; sec < 8; sec++) v.onScores(batch(new Array(100).fill(1), 5), sec * 1000);
    clock.t = 7_400; // second 7 is still filling: seconds 2..6 count
    expect(v.snapshot().throughput.recordsPerSecond).toBe(100);
  });

  it('keeps the latest maxAnomalies anomalies, newest first, with their top three features', () => {
    const v = view({ t: 0 });
    for (let i = 0; i < 5; i++) v.onAnomaly(anomaly(`pump-${i}`, i, 5, ['a', 'b', 'c', 'd']));
    const a = v.snapshot().anomalies;
    expect(a.map((x) => x.entity)).toEqual(['pump-4', 'pump-3', 'pump-2']);
    expect(a[0]!.top.map((t) => t.feature)).toEqual(['a', 'b', 'c']);
    expect(a[0]!.source).toMatch(/^readings:0@\d+$/);
  });

  it('shows the incident tracker’s incidents: open from its state, then from each acknowledged event', () => {
    const v = view({ t: 0 });
    const stage = tracker();
    v.follow(stage);
    const a1 = anomaly('pump-1', 1_000, 4, ['temp', 'vib']);
    const a2 = anomaly('pump-1', 2_000, 9, ['vib', 'temp']);
    const first = stage.observe([itemOf(a1), itemOf(a2)], [a1, a2], 50_000);
    // Opened, its OPEN not yet acknowledged: shown from the tracker's state, which carries no peak score.
    let open = v.snapshot().incidents.open;
    expect(open.map((i) => [i.entity, i.count, i.peakScore])).toEqual([['pump-1', 2, null]]);

    stage.published(first.events);
    const opened = first.events[0]!;
    expect(opened.kind).toBe('OPEN');
    open = v.snapshot().incidents.open;
    expect(open).toEqual([
      {
        id: opened.incident_id,
        state: 'open',
        entity: 'pump-1',
        start: 1_000,
        end: 2_000,
        count: 2,
        peakSeverity: opened.peak_severity,
        peakScore: 9,
        topFeatures: opened.top_features.map((f) => f.feature),
        openedAt: 50_000,
        updatedAt: 50_000,
        closeReason: null,
      },
    ]);

    const a3 = anomaly('pump-1', 3_000, 5, ['temp']);
    const second = stage.observe([itemOf(a3)], [a3], 51_000);
    stage.published(second.events);
    expect(v.snapshot().incidents.open.map((i) => [i.id, i.count, i.end, i.updatedAt])).toEqual([
      [opened.incident_id, 3, 3_000, 51_000],
    ]);

    // A normal reading of the unit past the gap closes it (event time, not wall clock).
    const third = stage.observe([normal('pump-1', 3_000 + GAP_MS + 1)], [], 52_000);
    expect(third.events.map((e) => e.kind)).toEqual(['CLOSE']);
    stage.published(third.events);
    const { open: after, closed } = v.snapshot().incidents;
    expect(after).toEqual([]);
    expect(closed.map((i) => [i.id, i.state, i.count, i.start, i.end, i.closeReason])).toEqual([
      [opened.incident_id, 'closed', 3, 1_000, 3_000, 'GAP'],
    ]);
  });

  it('says incidents are off when it follows no tracker, and groups no anomalies itself', () => {
    const v = view({ t: 0 });
    v.onAnomaly(anomaly('pump-1', 1, 9, ['temp']));
    v.onAnomaly(anomaly('pump-1', 2, 9, ['temp']));
    expect(v.snapshot().incidents).toEqual({ tracking: false, open: [], closed: [] });
    const stop = v.follow(tracker());
    expect(v.snapshot().incidents).toEqual({ tracking: true, open: [], closed: [] });
    stop();
    expect(v.snapshot().incidents.tracking).toBe(false);
  });

  it('drops incidents of revoked partitions and shows the maxOpenIncidents with the most anomalies', () => {
    const v = view({ t: 0 }, { maxOpenIncidents: 2 });
    const stage = tracker();
    v.follow(stage);
    const items = [];
    const events = [];
    for (const [entity, n] of [
      ['pump-a', 1],
      ['pump-b', 3],
      ['pump-c', 2],
    ] as const) {
      for (let k = 0; k < n; k++) {
        const e = anomaly(entity, 1_000 + k, 5, ['temp']);
        items.push(itemOf(e));
        events.push(e);
      }
    }
    stage.published(stage.observe(items, events, 10).events);
    expect(v.snapshot().incidents.open.map((i) => [i.entity, i.count])).toEqual([
      ['pump-b', 3],
      ['pump-c', 2],
    ]);
    // Handed over to another replica: no CLOSE comes, and the view stops showing them.
    stage.revoked([{ topic: 'readings', partition: 0 }]);
    expect(v.snapshot().incidents).toMatchObject({ tracking: true, open: [], closed: [] });
  });

  it('reports the consumer lag it was last given, summed', () => {
    const v = view({ t: 0 });
    expect(v.snapshot().lag.total).toBeNull();
    v.onLag([
      { topic: 't', partition: 0, lag: 5 },
      { topic: 't', partition: 1, lag: 7 },
    ]);
    expect(v.snapshot().lag).toMatchObject({ total: 12 });
  });

  it('reports the model the service said it scores with, null before', () => {
    const v = view({ t: 0 });
    expect(v.snapshot().model).toBeNull();
    v.onModel({ id: 'sensor-dense', version: '3', backend: 'wasm' });
    expect(v.snapshot().model).toEqual({ id: 'sensor-dense', version: '3', backend: 'wasm' });
  });
});
