import { describe, expect, it } from 'vitest';
import { loadSchema } from '../../../schemas/catalog.js';
import { AvroCodec } from '../../../schemas/codec.js';
import {
  OPTIONAL_SENSOR_CHANNELS,
  SENSOR_CHANNELS,
  type SensorChannel,
  type SensorReading,
} from '../../../schemas/types.js';
import { SENSOR_ANOMALY_KINDS, type TruthRow } from '../../../synth/ground-truth.js';
import { SensorGenerator, type SensorGeneratorOptions } from '../../../synth/sensor-generator.js';

type Opts = Partial<SensorGeneratorOptions> & { seed: number };

function generate(opts: Opts, n: number) {
  const g = new SensorGenerator(opts);
  const records: SensorReading[] = [];
  const truth: TruthRow[] = [];
  for (let i = 0; i < n; i++) {
    const { record, truth: row } = g.next();
    records.push(record);
    truth.push(row);
  }
  return { g, records, truth };
}

const codec = new AvroCodec<SensorReading>(loadSchema('sensor_reading'));
const bytesOf = (records: SensorReading[]) => Buffer.concat(records.map((r) => codec.encode(r)));

function mean(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}
function sd(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}
function corr(a: number[], b: number[]): number {
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}
const channel = (rs: SensorReading[], c: SensorChannel) => rs.map((r) => r[c] as number);

/** Groups the labelled rows by episode id. */
function episodes(truth: TruthRow[]): Map<string, TruthRow[]> {
  const out = new Map<string, TruthRow[]>();
  for (const row of truth) {
    if (row.episode === null) continue;
    const list = out.get(row.episode) ?? [];
    list.push(row);
    out.set(row.episode, list);
  }
  return out;
}

const BASE: Opts = { seed: 5, devices: 20, anomalyRate: 0.05, episodeLength: [5, 15] };
const N = 30_000;

describe('SensorGenerator', () => {
  const run = generate(BASE, N);
  // Same seed, no anomalies: what every record would have been.
  const baseline = generate({ ...BASE, anomalyRate: 0 }, N);

  it('the same seed gives byte-identical records and identical ground truth', () => {
    const again = generate(BASE, 3000);
    expect(bytesOf(again.records)).toEqual(bytesOf(run.records.slice(0, 3000)));
    expect(again.truth).toEqual(run.truth.slice(0, 3000));
  });

  it('a different seed gives different records and different units', () => {
    const other = generate({ ...BASE, seed: 6 }, 3000);
    expect(bytesOf(other.records).equals(bytesOf(run.records.slice(0, 3000)))).toBe(false);
    expect(other.records[0]!.temp_bearing_front_c).not.toBe(run.records[0]!.temp_bearing_front_c);
  });

  it('every record is valid against the SensorReading schema and round-trips', () => {
    const type = loadSchema('sensor_reading');
    for (const r of run.records.slice(0, 2000)) {
      expect(type.isValid(r, { noUndeclaredFields: true })).toBe(true);
      expect(codec.decode(codec.encode(r))).toEqual(r);
    }
  });

  it('optional channels are null for units without that sensor, present otherwise', () => {
    for (const c of OPTIONAL_SENSOR_CHANNELS) {
      const nulls = run.records.filter((r) => r[c] === null).length / N;
      expect(nulls).toBeGreaterThan(0.02);
      expect(nulls).toBeLessThan(0.6);
    }
    for (const c of SENSOR_CHANNELS.filter(
      (c) => !(OPTIONAL_SENSOR_CHANNELS as readonly string[]).includes(c),
    )) {
      expect(run.records.every((r) => typeof r[c] === 'number' && Number.isFinite(r[c]))).toBe(true);
    }
  });

  it('each unit reports once per interval, in event-time order; ground truth keys the record', () => {
    const last = new Map<string, number>();
    for (let i = 0; i < N; i++) {
      const r = run.records[i]!;
      const t = run.truth[i]!;
      expect(t).toMatchObject({
        seq: i,
        entity: r.device_id,
        event_time: r.event_time,
        id: `${r.device_id}@${r.event_time}`,
      });
      const prev = last.get(r.device_id);
      if (prev !== undefined) {
        expect(r.event_time - prev).toBeGreaterThan(10_000 - 500);
        expect(r.event_time - prev).toBeLessThan(10_000 + 500);
      }
      last.set(r.device_id, r.event_time);
      if (i > 0) expect(r.event_time).toBeGreaterThan(run.records[i - 1]!.event_time - 500);
    }
    expect(last.size).toBe(20);
  });

  it('injects every anomaly kind, labelled, at about the configured rate', () => {
    const labelled = run.truth.filter((t) => t.label === 1);
    expect(labelled.length / N).toBeGreaterThan(0.05 * 0.8);
    expect(labelled.length / N).toBeLessThan(0.05 * 1.2);
    const eps = episodes(run.truth);
    expect(eps.size).toBe(run.g.episodeCount);
    for (const kind of SENSOR_ANOMALY_KINDS) {
      const ofKind = [...eps.values()].filter((rows) => rows[0]!.anomaly === kind).length;
      // Kinds are picked uniformly: about 1/5 of episodes each.
      expect(ofKind / eps.size, kind).toBeGreaterThan(0.1);
      expect(ofKind / eps.size, kind).toBeLessThan(0.3);
    }
    for (const row of labelled) {
      expect(row.anomaly).not.toBeNull();
      expect(row.fields.length).toBeGreaterThan(0);
    }
    for (const row of run.truth.filter((t) => t.label === 0)) {
      expect([row.anomaly, row.episode, row.fields]).toEqual([null, null, []]);
    }
  });

  it('an episode is consecutive readings of one unit, as long as configured (a spike is one reading)', () => {
    for (const rows of episodes(run.truth).values()) {
      expect(new Set(rows.map((r) => r.entity)).size).toBe(1);
      const len = rows.length;
      if (rows[0]!.anomaly === 'spike') expect(len).toBe(1);
      else if (rows.at(-1)!.seq < N - 20 * 15) {
        expect(len).toBeGreaterThanOrEqual(5);
        expect(len).toBeLessThanOrEqual(15);
      }
      // Consecutive for that unit: one round (20 readings) apart.
      for (let k = 1; k < rows.length; k++) expect(rows[k]!.seq - rows[k - 1]!.seq).toBeGreaterThan(0);
      for (let k = 1; k < rows.length; k++) expect(rows[k]!.seq - rows[k - 1]!.seq).toBeLessThan(40);
    }
  });

  it('anomaly injection leaves normal records untouched: label-0 records equal the no-anomaly run', () => {
    let compared = 0;
    for (let i = 0; i < N; i++) {
      if (run.truth[i]!.label === 0) {
        expect(run.records[i]).toEqual(baseline.records[i]);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(N * 0.9);
  });

  it('changes only the channels the ground truth names', () => {
    for (let i = 0; i < N; i++) {
      const t = run.truth[i]!;
      if (t.label === 0) continue;
      for (const c of SENSOR_CHANNELS) {
        if (t.fields.includes(c)) continue;
        expect(run.records[i]![c], `${t.anomaly} ${c}`).toBe(baseline.records[i]![c]);
      }
    }
  });

  describe('anomalies differ measurably from normal', () => {
    /** Per unit and channel, the sd of its normal readings. */
    const normalSd = new Map<string, number>();
    const sdOf = (device: string, c: SensorChannel) => {
      const key = `${device}/${c}`;
      let v = normalSd.get(key);
      if (v === undefined) {
        v = sd(
          channel(
            baseline.records.filter((r) => r.device_id === device),
            c,
          ),
        );
        normalSd.set(key, v);
      }
      return v;
    };
    const rowsOf = (kind: string) =>
      [...episodes(run.truth).values()].filter((rows) => rows[0]!.anomaly === kind);
    const delta = (row: TruthRow, c: string) =>
      (run.records[row.seq]![c as SensorChannel] as number) -
      (baseline.records[row.seq]![c as SensorChannel] as number);

    it('spike: the altered channels jump more than 4 sd of that unit’s normal readings', () => {
      const spikes = rowsOf('spike');
      expect(spikes.length).toBeGreaterThan(5);
      for (const [row] of spikes) {
        for (const c of row!.fields)
          expect(Math.abs(delta(row!, c)) / sdOf(row!.entity, c as SensorChannel)).toBeGreaterThan(4);
      }
    });

    it('level_shift: a constant offset of more than 2 sd over the whole episode', () => {
      for (const rows of rowsOf('level_shift')) {
        for (const c of rows[0]!.fields) {
          const deltas = rows.map((r) => delta(r, c));
          for (const d of deltas) expect(d).toBeCloseTo(deltas[0]!, 2);
          expect(Math.abs(deltas[0]!) / sdOf(rows[0]!.entity, c as SensorChannel)).toBeGreaterThan(2);
        }
      }
    });

    it('slow_drift: the offset grows steadily, ending beyond 4 sd', () => {
      for (const rows of rowsOf('slow_drift')) {
        for (const c of rows[0]!.fields) {
          const deltas = rows.map((r) => Math.abs(delta(r, c)));
          for (let k = 1; k < deltas.length; k++) expect(deltas[k]!).toBeGreaterThan(deltas[k - 1]! - 1e-3);
          if (rows.length >= 5) {
            expect(deltas.at(-1)! / sdOf(rows[0]!.entity, c as SensorChannel)).toBeGreaterThan(4);
          }
        }
      }
    });

    it('stuck_sensor: the channel repeats one value while the true signal keeps moving', () => {
      let moving = 0;
      for (const rows of rowsOf('stuck_sensor')) {
        for (const c of rows[0]!.fields) {
          const values = rows.map((r) => run.records[r.seq]![c as SensorChannel]);
          expect(new Set(values).size).toBe(1);
          if (new Set(rows.map((r) => baseline.records[r.seq]![c as SensorChannel])).size > 1) moving++;
        }
      }
      expect(moving).toBeGreaterThan(3);
    });
  });

  it('broken_correlation: decoupled channels stay in their usual range but move against load', () => {
    const opts: Opts = {
      seed: 8,
      devices: 4,
      sites: 1,
      intervalMs: 5 * 60_000,
      jitterMs: 0,
      anomalyRate: 0.15,
      anomalyKinds: ['broken_correlation'],
      episodeLength: [40, 60],
    };
    const { records, truth } = generate(opts, 8000);
    const base = generate({ ...opts, anomalyRate: 0 }, 8000);
    let negative = 0;
    let total = 0;
    let inRange = 0;
    let values = 0;
    for (const rows of episodes(truth).values()) {
      if (rows.length < 40) continue;
      const device = rows[0]!.entity;
      const normal = base.records.filter((r) => r.device_id === device);
      for (const c of rows[0]!.fields as SensorChannel[]) {
        const ep = rows.map((r) => records[r.seq]!);
        total++;
        if (corr(channel(ep, c), channel(ep, 'load_pct')) < 0) negative++;
        // Normally the same channel follows load closely.
        expect(corr(channel(normal, c), channel(normal, 'load_pct'))).toBeGreaterThan(0.8);
        const lo = Math.min(...channel(normal, c));
        const hi = Math.max(...channel(normal, c));
        for (const v of channel(ep, c)) {
          values++;
          if (v >= lo && v <= hi) inRange++;
        }
      }
    }
    expect(total).toBeGreaterThan(5);
    expect(negative / total).toBeGreaterThan(0.8);
    expect(inRange / values).toBeGreaterThan(0.9);
  });

  it('normal data is correlated across channels driven by the same factor', () => {
    const device = baseline.records.filter((r) => r.device_id === 'pump-00003');
    const c = (a: SensorChannel, b: SensorChannel) => corr(channel(device, a), channel(device, b));
    expect(c('current_phase_a_a', 'current_phase_b_a')).toBeGreaterThan(0.95);
    expect(c('flow_rate_m3h', 'shaft_speed_rpm')).toBeGreaterThan(0.9);
    expect(c('power_kw', 'load_pct')).toBeGreaterThan(0.9);
    expect(c('temp_ambient_c', 'temp_coolant_in_c')).toBeGreaterThan(0.8);
    expect(c('temp_bearing_front_c', 'temp_bearing_rear_c')).toBeGreaterThan(0.8);
  });

  it('normal data has a daily cycle in local time (ambient temperature and load)', () => {
    // One site (Rotterdam, UTC+1), one reading per unit every 5 minutes for a week.
    const { records } = generate(
      { seed: 2, devices: 3, sites: 1, intervalMs: 5 * 60_000, anomalyRate: 0 },
      3 * 12 * 24 * 7,
    );
    const byHour = (c: SensorChannel) => {
      const sums = new Array(24).fill(0);
      const counts = new Array(24).fill(0);
      for (const r of records) {
        const h = Math.floor((((r.event_time / 3_600_000 + 1) % 24) + 24) % 24);
        sums[h] += r[c] as number;
        counts[h]++;
      }
      return sums.map((s, h) => s / counts[h]);
    };
    const ambient = byHour('temp_ambient_c');
    const afternoon = mean(ambient.slice(13, 18));
    const night = mean(ambient.slice(1, 6));
    expect(afternoon - night).toBeGreaterThan(4);
    const load = byHour('load_pct');
    expect(mean(load.slice(11, 16)) - mean([...load.slice(0, 3), ...load.slice(23)])).toBeGreaterThan(10);
  });

  it('refuses impossible options', () => {
    expect(() => new SensorGenerator({ seed: 1, devices: 0 })).toThrow(RangeError);
    expect(() => new SensorGenerator({ seed: 1, anomalyRate: 1 })).toThrow(RangeError);
    expect(() => new SensorGenerator({ seed: 1, episodeLength: [5, 2] })).toThrow(RangeError);
    expect(() => new SensorGenerator({ seed: 1, anomalyKinds: ['nope' as never] })).toThrow(RangeError);
    expect(() => new SensorGenerator({ seed: 1, jitterMs: 20_000 })).toThrow(RangeError);
  });
});
