import * as z from 'zod';

/**
 * The declarative feature mapping (the `features` section of vigil.yaml). It lives in core/ because the config
 * schema must validate it and core/ imports nothing of ours; schemas/features compiles it into an extractor.
 */

/** A dotted path into a decoded Avro record; segments are Avro names (`[A-Za-z_][A-Za-z0-9_]*`). */
export const FieldPathSchema = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/,
    'a dotted path of Avro names, e.g. location.lat',
  )
  .meta({ description: 'Dotted path to a field of the decoded record.', examples: ['location.lat'] });

const FeatureNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . and -')
  .meta({
    description:
      'Feature name used in anomaly events and model artifacts; defaults to the path. Derived columns add a suffix (`=CATEGORY`, `#bucket`, `:hour_sin`, `:missing`).',
    examples: ['amount'],
  });

export const MISSING_POLICIES = ['fail', 'constant', 'median', 'flag'] as const;
export type MissingPolicy = (typeof MISSING_POLICIES)[number];

const MISSING_TEXT: Record<MissingPolicy, string> = {
  fail: '`fail`: dead-letter the record (reason MISSING_VALUE).',
  constant: '`constant`: use `fill`.',
  median: '`median`: use the training median of the column (supplied with the model artifact).',
  flag: '`flag`: write `fill` (or zeros) and add a `<name>:missing` indicator column, 1 when missing.',
};

const missing = (allowed: readonly MissingPolicy[]) =>
  z
    .enum(allowed as [MissingPolicy, ...MissingPolicy[]])
    .default('fail')
    .meta({
      description: `What to do when the field is absent or null. ${allowed.map((p) => MISSING_TEXT[p]).join(' ')}`,
      examples: ['flag'],
    });

const common = {
  path: FieldPathSchema,
  name: FeatureNameSchema.optional(),
};

export const NumericFeatureSchema = z
  .strictObject({
    kind: z.literal('numeric').meta({ description: 'A number (int, long, float or double).' }),
    ...common,
    transform: z
      .enum(['none', 'log1p'])
      .default('none')
      .meta({
        description: '`log1p` maps x to ln(1+x), for heavy-tailed non-negative values such as amounts.',
        examples: ['log1p'],
      }),
    missing: missing(MISSING_POLICIES),
    fill: z
      .number()
      .optional()
      .meta({ description: 'Value used by the `constant` and `flag` missing policies.', examples: [0] }),
    nonFinite: z
      .enum(['reject', 'missing'])
      .default('reject')
      .meta({
        description:
          'NaN or ±Infinity (in the record, or after the transform). `reject`: dead-letter (reason NON_FINITE). `missing`: treat as missing and apply the missing policy. A finite value beyond float32 (1e39, 1e308) is not refused: it is written as ±3.4e38 (float32 max), which the model clips like any outlier, so it scores as an anomaly.',
        examples: ['missing'],
      }),
  })
  .meta({ description: 'One column holding the (optionally transformed) number.' });

export const BooleanFeatureSchema = z
  .strictObject({
    kind: z.literal('boolean').meta({ description: 'A boolean, written as 0 or 1.' }),
    ...common,
    missing: missing(['fail', 'constant', 'median', 'flag']),
    fill: z
      .boolean()
      .optional()
      .meta({ description: 'Value used by the `constant` and `flag` missing policies.', examples: [false] }),
  })
  .meta({ description: 'One column, 0 or 1.' });

export const EnumFeatureSchema = z
  .strictObject({
    kind: z
      .literal('enum')
      .meta({ description: 'An Avro enum or a low-cardinality string, one-hot encoded.' }),
    ...common,
    categories: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .meta({
        description:
          'Categories, one column each, in this order. Omit to take the symbols of the Avro enum at `path` from the reader schema.',
        examples: [['CHIP', 'SWIPE', 'ONLINE']],
      }),
    unknown: z
      .enum(['other', 'ignore', 'fail'])
      .default('other')
      .meta({
        description:
          'A value not among the categories. `other`: set an extra `<name>=__other__` column (an unseen category is itself a signal). `ignore`: all zeros. `fail`: dead-letter (reason UNKNOWN_CATEGORY).',
        examples: ['fail'],
      }),
    missing: missing(['fail', 'constant', 'flag']),
    fill: z
      .string()
      .optional()
      .meta({
        description: 'Category used by the `constant` missing policy; omitted, a missing value is all zeros.',
        examples: ['ONLINE'],
      }),
  })
  .meta({
    description:
      'One column per category (`<name>=<category>`), plus `<name>=__other__` if `unknown: other`.',
  });

export const HashedFeatureSchema = z
  .strictObject({
    kind: z.literal('hashed').meta({ description: 'A high-cardinality string (or long), feature-hashed.' }),
    ...common,
    buckets: z
      .int()
      .min(2)
      .max(1 << 16)
      .default(32)
      .meta({ description: 'Number of hash buckets (columns `<name>#0` … `<name>#k-1`).', examples: [64] }),
    signed: z
      .boolean()
      .default(false)
      .meta({
        description:
          'Write ±1 by the hash sign bit instead of 1, as scikit-learn FeatureHasher(alternate_sign=True) does, so collisions cancel in expectation.',
        examples: [true],
      }),
    seed: z
      .int()
      .min(0)
      .max(0xffffffff)
      .default(0)
      .meta({
        description: 'MurmurHash3 (x86, 32-bit) seed over the UTF-8 bytes of the value.',
        examples: [42],
      }),
    missing: missing(['fail', 'constant', 'flag']),
    fill: z
      .string()
      .optional()
      .meta({
        description: 'Value hashed by the `constant` missing policy; omitted, a missing value is all zeros.',
        examples: ['unknown'],
      }),
  })
  .meta({ description: 'k columns; the value’s bucket is set to 1 (or ±1 when `signed`).' });

export const CYCLES = ['hourOfDay', 'dayOfWeek'] as const;
export type Cycle = (typeof CYCLES)[number];

export const TimeUnitSchema = z
  .enum(['millis', 'micros', 'seconds'])
  .default('millis')
  .meta({
    description: 'Unit of the epoch timestamp (Avro timestamp-millis / timestamp-micros, or seconds).',
    examples: ['micros'],
  });

export const CyclicFeatureSchema = z
  .strictObject({
    kind: z.literal('cyclic').meta({ description: 'An event-time timestamp, encoded as points on circles.' }),
    ...common,
    unit: TimeUnitSchema,
    cycles: z
      .array(z.enum(CYCLES))
      .min(1)
      .default(['hourOfDay', 'dayOfWeek'])
      .meta({
        description:
          'Cycles to encode, two columns each: `hourOfDay` (`<name>:hour_sin`, `<name>:hour_cos`, fractional hours) and `dayOfWeek` (`<name>:dow_sin`, `<name>:dow_cos`, Monday = 0).',
        examples: [['hourOfDay']],
      }),
    utcOffsetMinutes: z
      .int()
      .min(-14 * 60)
      .max(14 * 60)
      .default(0)
      .meta({
        description: 'Fixed offset from UTC for the local time of day (no daylight-saving rules).',
        examples: [60],
      }),
    missing: missing(['fail', 'constant', 'flag']),
  })
  .meta({ description: 'Two columns (sin, cos) per cycle; `constant` and `flag` write zeros (the centre).' });

export const FeatureFieldSchema = z.discriminatedUnion('kind', [
  NumericFeatureSchema,
  BooleanFeatureSchema,
  EnumFeatureSchema,
  HashedFeatureSchema,
  CyclicFeatureSchema,
]);

export const FEATURE_PRESETS = ['sensor-reading', 'card-transaction'] as const;
export type FeaturePreset = (typeof FEATURE_PRESETS)[number];

export const EventTimeSchema = z
  .strictObject({
    path: FieldPathSchema.meta({
      description: 'Path to the event-time timestamp in the record.',
      examples: ['timestamp'],
    }),
    unit: TimeUnitSchema,
  })
  .meta({
    description:
      "Where the record's event time is (for anomaly events and end-to-end latency). Omitted: the Kafka record timestamp.",
  });

export const TEMPORAL_DERIVATIONS = ['delta', 'spread', 'meanDev', 'novel', 'gap'] as const;
export type TemporalDerivation = (typeof TEMPORAL_DERIVATIONS)[number];
/** `features.temporal.derive` when neither the config nor its preset gives one. */
export const DEFAULT_TEMPORAL_DERIVATIONS: readonly TemporalDerivation[] = ['delta', 'spread'];

export const TemporalSchema = z
  .strictObject({
    enabled: z
      .union([z.boolean(), z.literal('auto')])
      .default('auto')
      .meta({
        description:
          '`auto`: on when the mapping has both an `entityKey` and an `eventTime` (the records are readings of an entity over time) and at least one numeric field; off otherwise. `true` needs an `entityKey`; `false` scores each record alone.',
        examples: [false],
      }),
    window: z
      .int()
      .min(2)
      .max(256)
      .default(8)
      .meta({
        description:
          'Readings per entity the rolling columns look back over. Until an entity has this many readings (after a start, an eviction or a rebalance) its rolling columns are missing and take the training median.',
        examples: [12],
      }),
    derive: z
      .array(z.enum(TEMPORAL_DERIVATIONS))
      .min(1)
      .optional()
      .meta({
        description:
          "Default `[delta, spread]`; with `preset: card-transaction`, `[delta, spread, novel, gap]` (payments come when something happens, so which values are new to the card and how fast its records come are signals). Columns added per numeric feature, in this order. `delta` (`<name>:delta`): the change since the entity's previous reading. `spread` (`<name>:log_spread`): ln(standard deviation of the last `window` readings + 1e-6·(1+|mean|)), so a value that stops changing stands out by orders of magnitude. `meanDev` (`<name>:mean_dev`): the value minus the mean of the previous `window` readings. `novel` (one column per enum or hashed field, `<name>:novel`): 1 when the field's value is not among the entity's last `window` values of it, 0 when it is (a card at a merchant, in a country or currency it has not used lately). `gap` (two columns, needs `eventTime`): `<eventTime>:log_gap`, ln(1 + seconds since the entity's previous record), and `<eventTime>:log_span`, ln(1 + seconds spanned by its last `window` records), for records that arrive when something happens (transactions, logins), whose rate is itself a signal; not for readings on a clock, where a dropped reading would read as an anomaly.",
        examples: [['delta', 'spread', 'meanDev']],
      }),
    maxEntities: z
      .int()
      .min(1)
      .max(10_000_000)
      .default(50_000)
      .meta({
        description:
          'Entities whose recent readings are held; beyond it the least recently seen is evicted (vigil_feature_entities_evicted_total) and starts again cold. Memory is about maxEntities × window × (numeric features + categorical fields with `novel`) × 4 bytes, plus maxEntities × window × 8 bytes with `gap`. Not part of the mapping fingerprint: it bounds memory and does not change the features of an entity that is held.',
        examples: [200_000],
      }),
  })
  .meta({
    description:
      "Per-entity temporal context: derived columns from each entity's recent readings, so that a stuck value, a drift or channels that stop moving together are visible to a model that scores one row at a time. Training (`vigil train --config`) and `vigil run` compute them with the same code; records must be in order per entity.",
  });

export const FeaturesSchema = z
  .strictObject({
    preset: z
      .enum(FEATURE_PRESETS)
      .optional()
      .meta({
        description:
          'A built-in mapping for one of the bundled schemas (schemas/sensor_reading.avsc, schemas/card_transaction.avsc). Give either `preset` or `fields`.',
        examples: ['sensor-reading'],
      }),
    entityKey: FieldPathSchema.optional().meta({
      description:
        'Path to the entity a record belongs to (device, card), for per-entity thresholds and the anomaly event. Required to be present in every record when set.',
      examples: ['device_id'],
    }),
    eventTime: EventTimeSchema.optional(),
    temporal: TemporalSchema.prefault({}),
    fields: z
      .array(FeatureFieldSchema)
      .default([])
      .meta({
        description:
          'The feature columns, in order. Each entry has a `kind`: numeric, boolean, enum, hashed, cyclic.',
        examples: [[{ kind: 'numeric', path: 'temperature' }]],
      }),
  })
  .superRefine((f, ctx) => {
    if (f.temporal.enabled === true && f.entityKey === undefined && f.preset === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['temporal', 'enabled'],
        message: 'temporal features need an entityKey (whose readings to follow)',
      });
    }
    if (f.temporal.derive?.includes('gap') && f.eventTime === undefined && f.preset === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['temporal', 'derive'],
        message: 'the gap column needs an eventTime (the time between records)',
      });
    }
    if (f.preset !== undefined && f.fields.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['fields'], message: 'give either preset or fields, not both' });
    }
    if (f.preset === undefined && f.fields.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['fields'], message: 'give a preset or at least one field' });
    }
    const seen = new Set<string>();
    f.fields.forEach((field, i) => {
      const name = field.name ?? field.path;
      if (seen.has(name))
        ctx.addIssue({
          code: 'custom',
          path: ['fields', i, 'name'],
          message: `duplicate feature name "${name}"`,
        });
      seen.add(name);
      if (
        field.missing === 'constant' &&
        field.kind !== 'cyclic' &&
        field.fill === undefined &&
        field.kind !== 'enum' &&
        field.kind !== 'hashed'
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['fields', i, 'fill'],
          message: 'missing: constant needs a fill value',
        });
      }
      if (field.kind === 'enum' && field.categories !== undefined) {
        if (new Set(field.categories).size !== field.categories.length) {
          ctx.addIssue({
            code: 'custom',
            path: ['fields', i, 'categories'],
            message: 'categories must be distinct',
          });
        }
        if (field.fill !== undefined && !field.categories.includes(field.fill)) {
          ctx.addIssue({
            code: 'custom',
            path: ['fields', i, 'fill'],
            message: `"${field.fill}" is not one of the categories`,
          });
        }
      }
    });
  })
  .meta({ description: 'How a decoded record becomes a feature vector.' });

export type FeatureField = z.output<typeof FeatureFieldSchema>;
export type NumericFeature = z.output<typeof NumericFeatureSchema>;
export type BooleanFeature = z.output<typeof BooleanFeatureSchema>;
export type EnumFeature = z.output<typeof EnumFeatureSchema>;
export type HashedFeature = z.output<typeof HashedFeatureSchema>;
export type CyclicFeature = z.output<typeof CyclicFeatureSchema>;
export type FeaturesConfig = z.output<typeof FeaturesSchema>;
/** What a user may write (defaults not yet applied); presets are written in this form. */
export type FeaturesConfigInput = z.input<typeof FeaturesSchema>;
export type TimeUnit = z.output<typeof TimeUnitSchema>;
export type TemporalConfig = z.output<typeof TemporalSchema>;
