import { describe, expect, it } from 'vitest';
import { LiveView } from '../../../../connector/live/live-view.js';
import { anomaly, batch } from './fixtures.js';

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

  it('shows incidents from onIncident: open and updated ones as open, closed ones as recently closed', () => {
    const v = view({ t: 0 }, { maxClosedIncidents: 2 });
    const inc = (id: string, count: number) => ({
      id,
      entity: id,
      start: 0,
      end: count,
      peakSeverity: 0.9,
      peakScore: 3,
      count,
      topFeatures: ['a'],
    });
    v.onIncident('open', inc('x', 1));
    v.onIncident('update', inc('x', 4));
    v.onIncident('update', inc('y', 2)); // opened before the view started
    for (const id of ['c1', 'c2', 'c3']) {
      v.onIncident('open', inc(id, 1));
      v.onIncident('close', inc(id, 1));
    }
    const { open, closed } = v.snapshot().incidents;
    expect(open.map((i) => [i.id, i.count, i.state])).toEqual([
      ['y', 2, 'open'],
      ['x', 4, 'open'],
    ]);
    expect(closed.map((i) => i.id)).toEqual(['c3', 'c2']);
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

  it('with interim grouping, turns one entity’s anomalies into one incident that closes when idle', () => {
    const clock = { t: 0 };
    const v = view(clock, { interimIncidents: { idleCloseMs: 1_000, maxOpen: 10 } });
    v.onAnomaly(anomaly('pump-1', 1, 2, ['temp']));
    clock.t = 500;
    v.onAnomaly(anomaly('pump-1', 2, 8, ['vib', 'temp']));
    v.onAnomaly(anomaly('pump-2', 2, 3, ['pressure']));
    let s = v.snapshot();
    expect(s.incidents.open.map((i) => [i.entity, i.count])).toEqual([
      ['pump-2', 1],
      ['pump-1', 2],
    ]);
    clock.t = 1_600;
    s = v.snapshot();
    expect(s.incidents.open).toEqual([]);
    expect(s.incidents.closed.map((i) => i.entity).sort()).toEqual(['pump-1', 'pump-2']);
    // Wall-clock span from its open to its last change: where the page draws the incident's band.
    const pump1 = s.incidents.closed.find((i) => i.entity === 'pump-1')!;
    expect([pump1.firstSeenAt, pump1.lastSeenAt]).toEqual([0, 1_600]);
  });

  it('reports the model the service said it scores with, null before', () => {
    const v = view({ t: 0 });
    expect(v.snapshot().model).toBeNull();
    v.onModel({ id: 'sensor-dense', version: '3', backend: 'wasm' });
    expect(v.snapshot().model).toEqual({ id: 'sensor-dense', version: '3', backend: 'wasm' });
  });
});
