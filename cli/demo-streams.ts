import type { FeaturesConfigInput } from '../core/config/features-schema.js';
import type { SchemaName } from '../schemas/catalog.js';
import { CARD_TRANSACTION_FEATURES, SENSOR_READING_FEATURES } from '../schemas/features/presets.js';
import { type AnomalyKind, SENSOR_ANOMALY_KINDS, TRANSACTION_ANOMALY_KINDS } from '../synth/ground-truth.js';
import { SensorGenerator } from '../synth/sensor-generator.js';
import { TransactionGenerator } from '../synth/transaction-generator.js';

/**
 * The two streams `vigil demo` can run: what differs between a sensor fleet and a card population (schema,
 * feature preset, generator, time step, sizes). Everything else (broker, training, the service, scoring against
 * the ground truth) is the same code for both, in cli/demo.ts.
 */
export const DEMO_STREAMS = ['sensors', 'transactions'] as const;
export type DemoStreamName = (typeof DEMO_STREAMS)[number];

export interface DemoStream {
  readonly name: DemoStreamName;
  readonly schema: SchemaName;
  readonly preset: 'sensor-reading' | 'card-transaction';
  readonly features: FeaturesConfigInput;
  /** `vigil generate`'s record kind. */
  readonly generatorKind: 'sensor' | 'transaction';
  readonly kinds: readonly AnomalyKind[];
  /** "readings", "transactions"; and what an entity is ("pumps", "cards"). */
  readonly noun: string;
  readonly entityNoun: string;
  /** Entities when `--devices` is not given. */
  readonly defaultEntities: number;
  /** `vigil generate --interval-ms` for this many entities. */
  intervalMs(entities: number): number;
  /** A seeded generator of normal records of the same entities as the live stream (seed), other records (streamSeed). */
  warmup(o: { seed: number; streamSeed: number; entities: number; startTime: number }): {
    next(): { record: unknown };
  };
}

/** Five minutes between readings of a unit: the warm-up window then spans more than a day of the daily cycle. */
const SENSOR_INTERVAL_MS = 300_000;
/**
 * About two transactions per card a day. With the demo's 500 cards and 20,000 warm-up transactions, each card
 * has about 40 in training: enough of its own history for the per-card temporal columns (window 8).
 */
const CARD_DAILY_TRANSACTIONS = 2;

export const STREAMS: Record<DemoStreamName, DemoStream> = {
  sensors: {
    name: 'sensors',
    schema: 'sensor_reading',
    preset: 'sensor-reading',
    features: SENSOR_READING_FEATURES,
    generatorKind: 'sensor',
    kinds: SENSOR_ANOMALY_KINDS,
    noun: 'readings',
    entityNoun: 'pumps',
    defaultEntities: 50,
    intervalMs: () => SENSOR_INTERVAL_MS,
    warmup: (o) =>
      new SensorGenerator({
        seed: o.seed,
        streamSeed: o.streamSeed,
        devices: o.entities,
        anomalyRate: 0,
        startTime: o.startTime,
        intervalMs: SENSOR_INTERVAL_MS,
      }),
  },
  transactions: {
    name: 'transactions',
    schema: 'card_transaction',
    preset: 'card-transaction',
    features: CARD_TRANSACTION_FEATURES,
    generatorKind: 'transaction',
    kinds: TRANSACTION_ANOMALY_KINDS,
    noun: 'transactions',
    entityNoun: 'cards',
    defaultEntities: 500,
    intervalMs: (entities) => Math.round(86_400_000 / (CARD_DAILY_TRANSACTIONS * entities)),
    warmup: (o) =>
      new TransactionGenerator({
        seed: o.seed,
        streamSeed: o.streamSeed,
        cards: o.entities,
        anomalyRate: 0,
        startTime: o.startTime,
        meanIntervalMs: Math.round(86_400_000 / (CARD_DAILY_TRANSACTIONS * o.entities)),
      }),
  },
};

/** Where the warm-up window starts so that it ends where the live stream begins. */
export function warmupStart(stream: DemoStream, entities: number, warmup: number, liveStart: number): number {
  return stream.name === 'sensors'
    ? liveStart - Math.ceil(warmup / entities) * stream.intervalMs(entities)
    : liveStart - warmup * stream.intervalMs(entities);
}
