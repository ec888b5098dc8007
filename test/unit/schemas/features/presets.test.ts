import { describe, expect, it } from 'vitest';
import { loadSchema, schemaJson } from '../../../../schemas/catalog.js';
import { AvroCodec } from '../../../../schemas/codec.js';
import {
  compileFeatures,
  EXTRACT_OK,
  type FeatureExtractor,
} from '../../../../schemas/features/extractor.js';
import { presetFeatures } from '../../../../schemas/features/presets.js';
import {
  type CardTransaction,
  OPTIONAL_SENSOR_CHANNELS,
  SENSOR_CHANNELS,
  type SensorReading,
} from '../../../../schemas/types.js';

/** mulberry32: a seeded generator, so the records below are the same every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const T0 = Date.parse('2024-05-06T00:00:00Z');

function sensorReading(r: () => number, i: number): SensorReading {
  const rec: Record<string, unknown> = {
    device_id: `pump-${i % 7}`,
    event_time: T0 + Math.floor(r() * 7 * 86_400_000),
    site: r() < 0.5 ? null : 'plant-a',
    firmware: r() < 0.5 ? null : '1.2.3',
    status: (['OK', 'WARN', 'FAULT', 'MAINTENANCE'] as const)[Math.floor(r() * 4)],
  };
  for (const c of SENSOR_CHANNELS)
    rec[c] = (OPTIONAL_SENSOR_CHANNELS as readonly string[]).includes(c) && r() < 0.3 ? null : r() * 100;
  return rec as SensorReading;
}

function cardTransaction(r: () => number, i: number): CardTransaction {
  const channel = (['POS', 'ECOM', 'ATM', 'MOTO'] as const)[Math.floor(r() * 4)]!;
  const present = channel === 'POS' || channel === 'ATM';
  return {
    transaction_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    card_id: `card-${i % 11}`,
    merchant_id: `m-${Math.floor(r() * 500)}`,
    amount: Math.round(r() * 50_000) / 100,
    currency: (['EUR', 'USD', 'GBP'] as const)[Math.floor(r() * 3)]!,
    merchant_category: String(5000 + Math.floor(r() * 1000)),
    location: present ? { country: 'DE', city: 'Berlin', lat: 52.52, lon: 13.405 } : null,
    channel,
    event_time: T0 + Math.floor(r() * 7 * 86_400_000),
  };
}

/** Encodes and decodes with avsc, so the extractor sees exactly what the pipeline's decoder produces. */
function roundTrip<T>(codec: AvroCodec<T>, value: T): T {
  return codec.decode(codec.encode(value));
}

function extractAll(x: FeatureExtractor, records: unknown[]): Float32Array {
  const rows = new Float32Array(records.length * x.width);
  records.forEach((rec, i) => {
    const res = x.extractInto(rec, rows, i * x.width);
    if (res !== EXTRACT_OK) throw new Error(`record ${i}: ${JSON.stringify(res)}`);
  });
  return rows;
}

describe('sensor-reading preset', () => {
  const x = compileFeatures({ preset: 'sensor-reading' }, { readerSchema: schemaJson('sensor_reading') });
  const codec = new AvroCodec<SensorReading>(loadSchema('sensor_reading'));

  it('compiles against schemas/sensor_reading.avsc', () => {
    expect(x.spec.entityKey).toBe('device_id');
    expect(x.featureNames).toEqual([
      ...SENSOR_CHANNELS,
      'status=OK',
      'status=WARN',
      'status=FAULT',
      'status=MAINTENANCE',
      'status=__other__',
      'time:hour_sin',
      'time:hour_cos',
      // An entity key and an event time: temporal columns per numeric channel, by default.
      ...SENSOR_CHANNELS.flatMap((c) => [`${c}:delta`, `${c}:log_spread`]),
    ]);
  });

  it('extracts every decoded record, the training median standing in for absent optional sensors', () => {
    const r = rng(1);
    const records = Array.from({ length: 300 }, (_, i) => roundTrip(codec, sensorReading(r, i)));
    const rows = extractAll(x, records);
    records.forEach((rec, i) => {
      const base = i * x.width;
      SENSOR_CHANNELS.forEach((c, j) => {
        const v = rec[c];
        if (v === null) expect(rows[base + j]).toBeNaN();
        else expect(rows[base + j]).toBeCloseTo(v, 3);
      });
      const status = rows.subarray(base + 30, base + 35);
      expect(status.reduce((s, v) => s + v, 0)).toBe(1);
      expect(status[['OK', 'WARN', 'FAULT', 'MAINTENANCE'].indexOf(rec.status)]).toBe(1);
      expect(x.entityOf(rec)).toBe(rec.device_id);
      expect(x.eventTimeOf(rec)).toBe(rec.event_time);
    });
    // Required channels are never NaN.
    const required = SENSOR_CHANNELS.map((c, j) => [c, j] as const).filter(
      ([c]) => !(OPTIONAL_SENSOR_CHANNELS as readonly string[]).includes(c),
    );
    for (let i = 0; i < records.length; i++)
      for (const [, j] of required) expect(Number.isFinite(rows[i * x.width + j]!)).toBe(true);
  });

  it('uses training medians when the model supplies them', () => {
    const withMedians = compileFeatures({ preset: 'sensor-reading' }, { medians: { acoustic_db: 61.5 } });
    const rec = roundTrip(codec, { ...sensorReading(rng(2), 0), acoustic_db: null });
    const row = withMedians.extract(rec) as Float32Array;
    expect(row[SENSOR_CHANNELS.indexOf('acoustic_db')]).toBe(61.5);
  });

  it('dead-letters a reading with a NaN channel', () => {
    const rec = roundTrip(codec, { ...sensorReading(rng(3), 0), power_kw: Number.NaN });
    expect(x.extract(rec)).toMatchObject({ ok: false, reason: 'NON_FINITE', path: 'power_kw' });
  });
});

describe('card-transaction preset', () => {
  const x = compileFeatures({ preset: 'card-transaction' }, { readerSchema: schemaJson('card_transaction') });
  const codec = new AvroCodec<CardTransaction>(loadSchema('card_transaction'));
  const col = (name: string) => x.featureNames.indexOf(name);

  it('compiles against schemas/card_transaction.avsc, channel categories from the Avro enum', () => {
    expect(x.spec.entityKey).toBe('card_id');
    expect(x.featureNames.filter((n) => n.startsWith('channel='))).toEqual([
      'channel=POS',
      'channel=ECOM',
      'channel=ATM',
      'channel=MOTO',
      'channel=__other__',
    ]);
    // amount, lat and lon each add a delta and a spread column (temporal features, on by default); the five
    // categorical fields a novel column each; the event time a gap and a span.
    expect(x.width).toBe(1 + 8 + 16 + 32 + 5 + 2 + 17 + 4 + 3 * 2 + 5 + 2);
    expect(x.spec.temporal?.derive).toEqual(['delta', 'spread', 'novel', 'gap']);
    expect(x.featureNames.slice(-7)).toEqual([
      'currency:novel',
      'merchant_category:novel',
      'merchant_id:novel',
      'channel:novel',
      'country:novel',
      'event_time:log_gap',
      'event_time:log_span',
    ]);
  });

  it('a config that gives its own derivations overrides the preset’s', () => {
    const x = compileFeatures({ preset: 'card-transaction', temporal: { derive: ['delta'] } });
    expect(x.spec.temporal?.derive).toEqual(['delta']);
    expect(compileFeatures({ preset: 'sensor-reading' }).spec.temporal?.derive).toEqual(['delta', 'spread']);
  });

  it('extracts every decoded transaction; location missing for card-not-present is flagged', () => {
    const r = rng(4);
    const records = Array.from({ length: 300 }, (_, i) => roundTrip(codec, cardTransaction(r, i)));
    const rows = extractAll(x, records);
    records.forEach((rec, i) => {
      const at = (name: string) => rows[i * x.width + col(name)]!;
      expect(at('amount')).toBeCloseTo(Math.log1p(rec.amount), 5);
      expect(at(`channel=${rec.channel}`)).toBe(1);
      if (rec.location === null) {
        expect(at('country:missing')).toBe(1);
        expect(at('lat')).toBeNaN();
      } else {
        expect(at('country:missing')).toBe(0);
        expect(at('lat')).toBeCloseTo(rec.location.lat, 4);
      }
      const merchant = rows.subarray(
        i * x.width + col('merchant_id#0'),
        i * x.width + col('merchant_id#0') + 32,
      );
      expect(merchant.reduce((s, v) => s + v, 0)).toBe(1);
      const hour = at('time:hour_sin') ** 2 + at('time:hour_cos') ** 2;
      expect(hour).toBeCloseTo(1, 5);
    });
  });

  it('gives the same merchant the same bucket in every record', () => {
    const r = rng(5);
    const a = x.extract(roundTrip(codec, { ...cardTransaction(r, 1), merchant_id: 'm-42' })) as Float32Array;
    const b = x.extract(roundTrip(codec, { ...cardTransaction(r, 2), merchant_id: 'm-42' })) as Float32Array;
    const span = (row: Float32Array) => [...row.subarray(col('merchant_id#0'), col('merchant_id#0') + 32)];
    expect(span(a)).toEqual(span(b));
  });
});

describe('presetFeatures', () => {
  it("lists enum categories equal to the schemas' symbols, in order", () => {
    const symbols = (name: 'sensor_reading' | 'card_transaction', field: string) => {
      const f = (schemaJson(name) as { fields: { name: string; type: { symbols: string[] } }[] }).fields.find(
        (x) => x.name === field,
      );
      return f!.type.symbols;
    };
    const categories = (preset: 'sensor-reading' | 'card-transaction', path: string) => {
      const f = presetFeatures(preset).fields.find((x) => x.path === path);
      return f?.kind === 'enum' ? f.categories : undefined;
    };
    expect(categories('sensor-reading', 'status')).toEqual(symbols('sensor_reading', 'status'));
    expect(categories('card-transaction', 'channel')).toEqual(symbols('card_transaction', 'channel'));
  });

  it('compiles without a reader schema (registry format)', () => {
    expect(compileFeatures({ preset: 'sensor-reading' }).width).toBe(37 + 30 * 2);
    expect(compileFeatures({ preset: 'card-transaction' }).width).toBe(85 + 3 * 2 + 5 + 2);
  });

  it('returns validated mappings with defaults applied', () => {
    const sensor = presetFeatures('sensor-reading');
    expect(sensor.fields.every((f) => f.missing !== undefined)).toBe(true);
    expect(presetFeatures('card-transaction').fields[0]).toMatchObject({
      kind: 'numeric',
      path: 'amount',
      transform: 'log1p',
    });
  });

  it('lets the config override the entity key of a preset', () => {
    const x = compileFeatures({ preset: 'card-transaction', entityKey: 'merchant_id' });
    expect(x.spec.entityKey).toBe('merchant_id');
  });
});
