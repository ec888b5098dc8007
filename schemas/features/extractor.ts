import { createHash } from 'node:crypto';
import {
  DEFAULT_TEMPORAL_DERIVATIONS,
  type FeatureField,
  type FeaturesConfig,
  type FeaturesConfigInput,
  FeaturesSchema,
  type TemporalDerivation,
  type TimeUnit,
} from '../../core/config/features-schema.js';
import { VigilError } from '../../core/errors.js';
import { AvroPaths } from './avro-paths.js';
import { type ExtractInto, type FeatureFailure, type FeatureSuccess, generateExtractor } from './codegen.js';
import { murmur3Utf8 } from './murmur3.js';
import { presetFeatures } from './presets.js';
import { perSourceDerivations, TemporalState } from './temporal.js';

/**
 * Compiles the declarative feature mapping (core/config/features-schema.ts) once into an extractor that writes a
 * decoded record into a row of a preallocated Float32Array. The happy path allocates nothing: the mapping
 * becomes one generated function (codegen.ts: constant-key reads keep numbers unboxed), category lookups are
 * Maps built once, strings are hashed through a reused buffer, and success returns one shared frozen object. A record that cannot become a valid row returns a FeatureFailure (reason
 * code, feature, message) instead of throwing, so the pipeline can dead-letter it and go on.
 */

export {
  describeValue,
  EXTRACT_OK,
  type ExtractInto,
  FEATURE_FAILURE_REASONS,
  type FeatureFailure,
  type FeatureFailureReason,
  type FeatureSuccess,
} from './codegen.js';

export type ExtractResult = FeatureSuccess | FeatureFailure;

export interface FeatureExtractor {
  /** Column names, in row order; the row width is their count. */
  readonly featureNames: readonly string[];
  readonly width: number;
  /** The mapping after presets and defaults, with enum categories resolved (what `fingerprint` hashes). */
  readonly spec: ResolvedFeatures;
  /** SHA-256 (hex) of the resolved mapping: a model artifact stores it and refuses a different mapping. */
  readonly fingerprint: string;
  /**
   * Writes the record's features into `out[offset … offset + width)`. On failure the slot holds partial
   * garbage and the caller reuses it. Throws only on programmer error (a slot outside `out`).
   * With temporal features, a valid record also joins its entity's history; `stream` names where it was read
   * from (the partition), so that `forgetStream` can drop what a lost partition held.
   */
  extractInto(record: unknown, out: Float32Array, offset: number, stream?: string): ExtractResult;
  /** Per-entity temporal state, when the mapping has temporal features (for the metrics and for tests). */
  readonly temporal?: TemporalStateView;
  /** Drops the temporal state of entities last read from `stream` (a revoked partition); returns how many. */
  forgetStream(stream: string): number;
  /** The entity (device, card) of a record, or undefined when there is no entity key or it is absent. */
  entityOf(record: unknown): string | undefined;
  /** The record's event time in epoch milliseconds, or undefined when not mapped or absent. */
  eventTimeOf(record: unknown): number | undefined;
  /** Allocating convenience (tests, tools, training set-up): a new row, or the failure. */
  extract(record: unknown): Float32Array | FeatureFailure;
}

export interface ResolvedFeatures {
  readonly entityKey?: string;
  readonly eventTime?: { readonly path: string; readonly unit: TimeUnit };
  readonly fields: readonly FeatureField[];
  /** Present when temporal features are on (maxEntities is left out: it bounds memory, not the features). */
  readonly temporal?: { readonly window: number; readonly derive: readonly TemporalDerivation[] };
}

export interface TemporalStateView {
  /** Entities held now. */
  readonly size: number;
  /** Entities evicted for room since start. */
  readonly evicted: number;
  readonly maxEntities: number;
}

export interface CompileOptions {
  /**
   * The reader schema (parsed .avsc JSON or an avsc Type). When given, every path is checked against it and
   * enums without listed categories take the schema's symbols.
   */
  readerSchema?: unknown;
  /**
   * Training medians by feature name, for fields with `missing: median`. Where none is given the extractor
   * writes NaN, which model/preprocess.ts's Scaler maps to its centre — the training median — and which its
   * fit ignores; training and serving therefore agree either way.
   */
  medians?: Readonly<Record<string, number>>;
}

type Getter = (record: unknown) => unknown;

/** Accepts the validated config section, or a mapping as written (validated and defaulted here). */
export function compileFeatures(
  features: FeaturesConfig | FeaturesConfigInput,
  options: CompileOptions = {},
): FeatureExtractor {
  const parsed = FeaturesSchema.safeParse(features);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `features.${i.path.join('.')}: ${i.message}`);
    throw new VigilError('CONFIG_INVALID', `invalid feature mapping:\n  - ${lines.join('\n  - ')}`, {
      details: { problems: lines },
    });
  }
  const spec = resolve(parsed.data, options.readerSchema);

  const generated = generateExtractor(spec.entityKey, spec.fields, options.medians);
  const baseWidth = generated.featureNames.length;
  const featureNames = [...generated.featureNames];
  let state: TemporalState | undefined;
  let categorical: readonly FeatureField[] = [];
  if (spec.temporal !== undefined) {
    const sources = spec.fields
      .filter((f) => f.kind === 'numeric')
      .map((f) => generated.featureNames.indexOf(f.name ?? f.path));
    categorical = spec.temporal.derive.includes('novel')
      ? spec.fields.filter((f) => f.kind === 'hashed' || f.kind === 'enum')
      : [];
    state = new TemporalState({
      sources,
      derive: spec.temporal.derive,
      window: spec.temporal.window,
      maxEntities: parsed.data.temporal.maxEntities,
      categorical: categorical.length,
    });
    const perSource = perSourceDerivations(spec.temporal.derive);
    for (const c of sources) {
      for (const d of perSource) featureNames.push(`${generated.featureNames[c]}${SUFFIX[d]}`);
    }
    for (const f of categorical) featureNames.push(`${f.name ?? f.path}${SUFFIX.novel}`);
    if (spec.temporal.derive.includes('gap')) {
      const time = spec.eventTime?.path ?? 'time';
      featureNames.push(`${time}${SUFFIX.gap}`, `${time}:log_span`);
    }
  }
  const dupes = featureNames.filter((n, i) => featureNames.indexOf(n) !== i);
  if (dupes.length > 0) {
    throw new VigilError(
      'CONFIG_INVALID',
      `feature mapping produces duplicate columns: ${[...new Set(dupes)].join(', ')}`,
    );
  }
  const width = featureNames.length;
  const getEntity = spec.entityKey === undefined ? undefined : getter(spec.entityKey);
  const eventTime = spec.eventTime;
  const getTime = eventTime === undefined ? undefined : getter(eventTime.path);
  const timeScale = eventTime === undefined ? 1 : msPerUnit(eventTime.unit);
  const gapOn = spec.temporal?.derive.includes('gap') === true;
  const timeOf = (record: unknown): number => {
    if (getTime === undefined) return Number.NaN;
    const v = getTime(record);
    return v instanceof Date
      ? v.getTime()
      : typeof v === 'number' || typeof v === 'bigint'
        ? Number(v) * timeScale
        : Number.NaN;
  };
  // The novel columns compare raw values (their 32-bit hash), not the buckets two values may share.
  const categoryGetters = categorical.map((f) => getter(f.path));
  const categoryCodes = new Int32Array(categorical.length);
  const categoryPresent = new Uint8Array(categorical.length);
  const baseExtract = generated.extractInto;
  const extractInto: ExtractInto =
    state === undefined || getEntity === undefined
      ? baseExtract
      : (record, out, offset, stream = '') => {
          const r = baseExtract(record, out, offset);
          if (!r.ok) return r;
          const e = getEntity(record);
          const time = gapOn ? timeOf(record) : Number.NaN;
          for (let f = 0; f < categoryGetters.length; f++) {
            const v = categoryGetters[f]!(record);
            const text =
              typeof v === 'string'
                ? v
                : typeof v === 'number' || typeof v === 'bigint'
                  ? String(v)
                  : undefined;
            categoryPresent[f] = text === undefined ? 0 : 1;
            categoryCodes[f] = text === undefined ? 0 : murmur3Utf8(text);
          }
          state.update(
            typeof e === 'string' ? e : String(e),
            stream,
            out,
            offset,
            offset + baseWidth,
            time,
            categoryCodes,
            categoryPresent,
          );
          return r;
        };
  const temporalView: TemporalStateView | undefined =
    state === undefined
      ? undefined
      : Object.freeze({
          get size() {
            return state.size;
          },
          get evicted() {
            return state.evicted;
          },
          maxEntities: state.columns.maxEntities,
        });

  return Object.freeze({
    featureNames: Object.freeze(featureNames),
    width,
    spec,
    fingerprint: fingerprintOf(spec),
    extractInto,
    ...(temporalView === undefined ? {} : { temporal: temporalView }),
    forgetStream(stream: string): number {
      return state?.forgetStream(stream) ?? 0;
    },
    entityOf(record: unknown): string | undefined {
      if (getEntity === undefined) return undefined;
      const e = getEntity(record);
      if (typeof e === 'string') return e;
      if (typeof e === 'number' || typeof e === 'bigint') return String(e);
      return undefined;
    },
    eventTimeOf(record: unknown): number | undefined {
      const t = timeOf(record);
      return Number.isFinite(t) ? Math.floor(t) : undefined;
    },
    extract(record: unknown): Float32Array | FeatureFailure {
      const row = new Float32Array(width);
      const r = extractInto(record, row, 0);
      return r.ok ? row : r;
    },
  });
}

/** Applies a preset, validates paths against the reader schema and fills in enum categories from it. */
function resolve(features: FeaturesConfig, readerSchema: unknown): ResolvedFeatures {
  const base =
    features.preset === undefined
      ? features
      : { ...presetFeatures(features.preset), ...definedOnly(features) };
  const paths = readerSchema === undefined ? undefined : new AvroPaths(readerSchema);
  const problems: string[] = [];

  const check = (where: string, path: string, allowed: readonly string[], what: string) => {
    if (paths === undefined) return undefined;
    const r = paths.resolve(path);
    if (!r.ok) {
      problems.push(`${where} (${path}): ${r.problem}`);
      return undefined;
    }
    if (!allowed.includes(r.leaf.type)) {
      problems.push(
        `${where} (${path}): a ${what} needs ${allowed.join(' or ')}, but the schema says ${r.leaf.type}`,
      );
      return undefined;
    }
    return r.leaf;
  };

  if (base.entityKey !== undefined)
    check('entityKey', base.entityKey, ['string', 'int', 'long'], 'entity key');
  if (base.eventTime !== undefined) {
    const leaf = check('eventTime', base.eventTime.path, ['long', 'int', 'double'], 'timestamp');
    if (leaf !== undefined)
      checkTimeUnit('eventTime', base.eventTime.path, base.eventTime.unit, leaf.logicalType, problems);
  }

  const fields = base.fields.map((f, i): FeatureField => {
    const where = `fields[${i}]`;
    switch (f.kind) {
      case 'numeric':
        check(where, f.path, ['int', 'long', 'float', 'double'], 'numeric feature');
        return f;
      case 'boolean':
        check(where, f.path, ['boolean'], 'boolean feature');
        return f;
      case 'hashed':
        check(where, f.path, ['string', 'int', 'long', 'bytes', 'fixed', 'enum'], 'hashed feature');
        return f;
      case 'cyclic': {
        const leaf = check(where, f.path, ['long', 'int', 'double'], 'cyclic (timestamp) feature');
        if (leaf !== undefined) checkTimeUnit(where, f.path, f.unit, leaf.logicalType, problems);
        return f;
      }
      case 'enum': {
        const leaf = check(where, f.path, ['enum', 'string'], 'enum feature');
        if (f.categories !== undefined) {
          const unknown = leaf?.symbols?.filter((s) => !f.categories!.includes(s)) ?? [];
          if (unknown.length > 0 && f.unknown === 'fail') {
            problems.push(
              `${where} (${f.path}): symbols ${unknown.join(', ')} are not among the categories, and unknown is fail`,
            );
          }
          return f;
        }
        if (leaf?.symbols !== undefined) return { ...f, categories: [...leaf.symbols] };
        if (paths === undefined) {
          problems.push(`${where} (${f.path}): list the categories, or compile with the reader schema`);
        } else if (leaf !== undefined) {
          problems.push(`${where} (${f.path}): a string field needs its categories listed`);
        }
        return f;
      }
      default:
        return f;
    }
  });

  if (problems.length > 0) {
    throw new VigilError(
      'CONFIG_INVALID',
      `feature mapping does not fit the reader schema:\n  - ${problems.join('\n  - ')}`,
      {
        details: { problems },
      },
    );
  }
  const t = features.temporal;
  // The config's derivations, else the preset's (the card preset adds novel and gap), else the default.
  const derive = t.derive ?? base.temporal.derive ?? DEFAULT_TEMPORAL_DERIVATIONS;
  const temporalOn =
    t.enabled === true ||
    (t.enabled === 'auto' &&
      base.entityKey !== undefined &&
      base.eventTime !== undefined &&
      fields.some((f) => f.kind === 'numeric'));
  return Object.freeze({
    ...(base.entityKey === undefined ? {} : { entityKey: base.entityKey }),
    ...(base.eventTime === undefined ? {} : { eventTime: base.eventTime }),
    fields: Object.freeze(fields),
    ...(temporalOn
      ? { temporal: Object.freeze({ window: t.window, derive: Object.freeze([...derive]) }) }
      : {}),
  });
}

function checkTimeUnit(
  where: string,
  path: string,
  unit: TimeUnit,
  logicalType: string | undefined,
  problems: string[],
): void {
  const expected =
    logicalType === 'timestamp-millis' ? 'millis' : logicalType === 'timestamp-micros' ? 'micros' : undefined;
  if (expected !== undefined && expected !== unit) {
    problems.push(`${where} (${path}): the schema says ${logicalType}, but unit is ${unit}`);
  }
}

function definedOnly(f: FeaturesConfig): Partial<FeaturesConfig> {
  return {
    ...(f.entityKey === undefined ? {} : { entityKey: f.entityKey }),
    ...(f.eventTime === undefined ? {} : { eventTime: f.eventTime }),
  };
}

const SUFFIX: Record<TemporalDerivation, string> = {
  delta: ':delta',
  spread: ':log_spread',
  meanDev: ':mean_dev',
  novel: ':novel',
  gap: ':log_gap',
};

function msPerUnit(unit: TimeUnit): number {
  return unit === 'millis' ? 1 : unit === 'micros' ? 0.001 : 1000;
}

/** A path getter; one-segment paths (the common case) skip the loop. */
function getter(path: string): Getter {
  const segs = path.split('.');
  if (segs.length === 1) {
    const key = segs[0]!;
    return (r) => (typeof r === 'object' && r !== null ? (r as Record<string, unknown>)[key] : undefined);
  }
  return (r) => {
    let v: unknown = r;
    for (let i = 0; i < segs.length; i++) {
      if (typeof v !== 'object' || v === null) return undefined;
      v = (v as Record<string, unknown>)[segs[i]!];
    }
    return v;
  };
}

function fingerprintOf(spec: ResolvedFeatures): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex');
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
