import {
  type FeaturePreset,
  type FeaturesConfig,
  type FeaturesConfigInput,
  FeaturesSchema,
} from '../../core/config/features-schema.js';
import { OPTIONAL_SENSOR_CHANNELS, SENSOR_CHANNELS } from '../types.js';

/**
 * Default feature mappings for the two bundled schemas (schemas/sensor_reading.avsc,
 * schemas/card_transaction.avsc), selected with `features.preset` in vigil.yaml. They compile without a reader
 * schema (the registry format may have none); tests compile them against the real schema files too and run
 * them on records decoded by avsc.
 */

const optional = new Set<string>(OPTIONAL_SENSOR_CHANNELS);

/**
 * Every numeric channel as it is (the model scales robustly). The five optional channels are absent on units
 * without that sensor: the training median stands in, so a missing sensor neither scores as an anomaly nor
 * needs a record of its own. Status is one-hot over the Avro enum's symbols, listed here so the preset also
 * works with no reader schema (registry format); a test keeps them equal to the schema's. Hour of day, because ambient
 * temperature and load follow the day; not the weekday, which a continuously running pump does not feel.
 * site and firmware are left out: a firmware roll-out or a new site must not read as an anomaly.
 */
export const SENSOR_READING_FEATURES: FeaturesConfigInput = {
  entityKey: 'device_id',
  eventTime: { path: 'event_time', unit: 'millis' },
  fields: [
    ...SENSOR_CHANNELS.map((path) =>
      optional.has(path)
        ? { kind: 'numeric' as const, path, missing: 'median' as const }
        : { kind: 'numeric' as const, path },
    ),
    { kind: 'enum', path: 'status', categories: ['OK', 'WARN', 'FAULT', 'MAINTENANCE'], unknown: 'other' },
    { kind: 'cyclic', path: 'event_time', name: 'time', unit: 'millis', cycles: ['hourOfDay'] },
  ],
};

/**
 * Amount on a log scale (amounts are heavy-tailed). Currency, merchant category and country are open-ended
 * strings, so hashed; the merchant itself into more buckets. The channel is one-hot over the Avro enum's symbols (listed, as for status above).
 * Location is null for card-not-present channels and some terminals: the coordinates then take the training
 * median (0 would be a real place, and far from most), and the country's `country:missing` indicator carries
 * the fact itself — a POS payment without a location, or an online one with, is a signal. Hour of day and day
 * of week: card fraud keeps its own hours.
 */
export const CARD_TRANSACTION_FEATURES: FeaturesConfigInput = {
  entityKey: 'card_id',
  eventTime: { path: 'event_time', unit: 'millis' },
  // Per card: whether the merchant, country or currency is new to it, and how fast its payments come
  // (bench/RESULTS.md, "Demo detection quality, transactions").
  temporal: { derive: ['delta', 'spread', 'novel', 'gap'] },
  fields: [
    { kind: 'numeric', path: 'amount', transform: 'log1p' },
    { kind: 'hashed', path: 'currency', buckets: 8 },
    { kind: 'hashed', path: 'merchant_category', buckets: 16 },
    { kind: 'hashed', path: 'merchant_id', buckets: 32 },
    { kind: 'enum', path: 'channel', categories: ['POS', 'ECOM', 'ATM', 'MOTO'], unknown: 'other' },
    { kind: 'numeric', path: 'location.lat', name: 'lat', missing: 'median' },
    { kind: 'numeric', path: 'location.lon', name: 'lon', missing: 'median' },
    { kind: 'hashed', path: 'location.country', name: 'country', buckets: 16, missing: 'flag' },
    { kind: 'cyclic', path: 'event_time', name: 'time', unit: 'millis', cycles: ['hourOfDay', 'dayOfWeek'] },
  ],
};

const PRESETS: Record<FeaturePreset, FeaturesConfigInput> = {
  'sensor-reading': SENSOR_READING_FEATURES,
  'card-transaction': CARD_TRANSACTION_FEATURES,
};

/** A preset's mapping, validated and with defaults applied. */
export function presetFeatures(preset: FeaturePreset): FeaturesConfig {
  return FeaturesSchema.parse(PRESETS[preset]);
}
