import type {
  BooleanFeature,
  CyclicFeature,
  EnumFeature,
  FeatureField,
  HashedFeature,
  NumericFeature,
} from '../../core/config/features-schema.js';
import { murmur3BytesBucket, murmur3Utf8Bucket } from './murmur3.js';

/**
 * Generates the extractor for one resolved mapping as a single straight-line function (`new Function`, as avsc
 * does for its record readers). Why not a chain of closures: V8 boxes a double read through a generic
 * closure getter (`(r) => r[key]`) into a fresh HeapNumber, one allocation per numeric field per record. In
 * the generated function every field is read with a constant key into a local, so numbers stay unboxed and a
 * valid record allocates nothing.
 *
 * Safety: the only text from the mapping that reaches the source is field paths, which the config schema
 * restricts to Avro names (`[A-Za-z_][A-Za-z0-9_]*`), and they are emitted as JSON string literals anyway.
 * Everything else (category maps, messages, numbers) is passed in as values, not as source.
 */

/**
 * Why a record cannot become a feature row. Each is also an error code (core/errors.ts): it is the dead letter's
 * `reason_code`, its `vigil.reason` header and the `reason` label of vigil_records_dead_lettered_total, and
 * docs/delivery-guarantees.md lists them (a test keeps the three in step).
 */
export const FEATURE_FAILURE_REASONS = [
  'MISSING_VALUE',
  'NON_FINITE',
  'TYPE_MISMATCH',
  'UNKNOWN_CATEGORY',
] as const;

export type FeatureFailureReason = (typeof FEATURE_FAILURE_REASONS)[number];

export interface FeatureFailure {
  readonly ok: false;
  readonly reason: FeatureFailureReason;
  /** Record path of the offending value. */
  readonly path: string;
  /** Feature (mapping entry) name; for the entity key, the entity path. */
  readonly feature: string;
  readonly message: string;
}

export interface FeatureSuccess {
  readonly ok: true;
}

/** The one success value: returned by reference so a valid record costs no allocation. */
export const EXTRACT_OK: FeatureSuccess = Object.freeze({ ok: true });

export type ExtractInto = (
  record: unknown,
  out: Float32Array,
  offset: number,
  stream?: string,
) => FeatureSuccess | FeatureFailure;

interface FailSpec {
  reason: FeatureFailureReason;
  path: string;
  feature: string;
  message: (value: unknown) => string;
}

const F32_MAX = '3.4028234663852886e38';
const DAY_MS = 86_400_000;

class Emitter {
  readonly consts: unknown[] = [];
  readonly fails: FailSpec[] = [];
  readonly names: string[] = [];
  readonly body: string[] = [];

  constant(value: unknown): string {
    this.consts.push(value);
    return `c${this.consts.length - 1}`;
  }

  fail(spec: FailSpec): string {
    this.fails.push(spec);
    return `return F(${this.fails.length - 1}, v);`;
  }
}

/** `out[o + n]` */
const at = (n: number) => `out[o + ${n}]`;

function num(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (Object.is(n, -0)) return '-0';
  return String(n);
}

/**
 * Source that runs `body` with `v` bound to the value at `path` below the record `r` (undefined where the path
 * breaks off). Each step of a nested path branches instead of merging into one variable: a variable that is
 * sometimes undefined and sometimes a double would force the double into a fresh box. A path of n segments
 * emits `body` n times, each copy specialised by the JIT.
 */
function withValue(path: string, body: string): string {
  const segs = path.split('.');
  const step = (i: number, parent: string): string => {
    const key = JSON.stringify(segs[i]);
    if (i === segs.length - 1) return `{ const v = ${parent}[${key}];\n${body}\n}`;
    const cur = `v${i}`;
    return `{ const ${cur} = ${parent}[${key}];
if (typeof ${cur} === 'object' && ${cur} !== null) ${step(i + 1, cur)}
else { const v = undefined;\n${body}\n} }`;
  };
  return step(0, 'r');
}

export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a record';
  return `${typeof v} ${String(v)}`;
}

export interface Generated {
  readonly featureNames: string[];
  readonly extractInto: ExtractInto;
}

export function generateExtractor(
  entityKey: string | undefined,
  fields: readonly FeatureField[],
  medians: Readonly<Record<string, number>> | undefined,
): Generated {
  const e = new Emitter();
  const notRecord = e.fails.push({
    reason: 'TYPE_MISMATCH',
    path: '',
    feature: '',
    message: (v) => `the record is ${describeValue(v)}, not a record`,
  });
  e.body.push(`if (typeof r !== 'object' || r === null) return F(${notRecord - 1}, r);`);

  if (entityKey !== undefined) {
    const missing = e.fail({
      reason: 'MISSING_VALUE',
      path: entityKey,
      feature: entityKey,
      message: () => 'the entity key is missing',
    });
    const wrong = e.fail({
      reason: 'TYPE_MISMATCH',
      path: entityKey,
      feature: entityKey,
      message: (v) => `the entity key is ${describeValue(v)}, not a string or number`,
    });
    const check = `if (v === undefined || v === null) ${missing}
if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint') ${wrong}`;
    e.body.push(withValue(entityKey, check));
  }

  for (const f of fields) {
    const name = f.name ?? f.path;
    const start = e.names.length;
    const mark = e.body.length;
    switch (f.kind) {
      case 'numeric':
        numeric(e, f, name, start, medians?.[name]);
        break;
      case 'boolean':
        boolean(e, f, name, start, medians?.[name]);
        break;
      case 'enum':
        enumerated(e, f, name, start);
        break;
      case 'hashed':
        hashed(e, f, name, start);
        break;
      case 'cyclic':
        cyclic(e, f, name, start);
        break;
    }
    const body = e.body.splice(mark).join('\n');
    e.body.push(`// ${f.kind} ${name}\n${withValue(f.path, body)}`);
  }

  const width = e.names.length;
  const source = [
    "'use strict';",
    ...e.consts.map((_, i) => `const c${i} = C[${i}];`),
    'return function extractInto(r, out, o) {',
    `if (!(o >= 0 && o + ${width} <= out.length)) throw R(o, ${width}, out.length);`,
    ...e.body,
    'return OK;',
    '};',
  ].join('\n');

  const fails = e.fails;
  const F = (id: number, value: unknown): FeatureFailure => {
    const s = fails[id]!;
    return { ok: false, reason: s.reason, path: s.path, feature: s.feature, message: s.message(value) };
  };
  const R = (o: number, w: number, length: number) =>
    new RangeError(`feature row [${o}, ${o + w}) lies outside a buffer of ${length}`);
  const factory = new Function('C', 'F', 'OK', 'R', 'H', 'HB', source) as (...args: unknown[]) => ExtractInto;
  return {
    featureNames: e.names,
    extractInto: factory(e.consts, F, EXTRACT_OK, R, murmur3Utf8Bucket, murmur3BytesBucket),
  };
}

function missingFail(e: Emitter, f: FeatureField, name: string): string {
  return e.fail({
    reason: 'MISSING_VALUE',
    path: f.path,
    feature: name,
    message: () => `${f.path} is missing`,
  });
}

function typeFail(e: Emitter, f: FeatureField, name: string, expected: string): string {
  return e.fail({
    reason: 'TYPE_MISMATCH',
    path: f.path,
    feature: name,
    message: (v) => `${f.path} is ${describeValue(v)}, not ${expected}`,
  });
}

function numeric(e: Emitter, f: NumericFeature, name: string, p: number, median: number | undefined): void {
  const flag = f.missing === 'flag';
  e.names.push(name);
  if (flag) e.names.push(`${name}:missing`);
  const stand = f.missing === 'median' ? (median ?? Number.NaN) : (f.fill ?? 0);
  const onMissing =
    f.missing === 'fail'
      ? missingFail(e, f, name)
      : `${at(p)} = ${num(stand)};${flag ? ` ${at(p + 1)} = 1;` : ''}`;
  const log = f.transform === 'log1p';
  // A finite reading beyond float32 (1e39, 1e308) is an extreme value, not a broken one: it is written as
  // ±float32 max, which the model's scaler clips like any outlier, so it scores as the anomaly it is instead
  // of turning into Infinity in the row (and NaN in the network).
  const onNonFinite =
    f.nonFinite === 'reject'
      ? e.fail({
          reason: 'NON_FINITE',
          path: f.path,
          feature: name,
          message: (v) =>
            `${f.path} is ${log ? `log1p(${String(v)}) = ${Math.log1p(Number(v))}` : String(v)}, not a finite number`,
        })
      : onMissing;
  e.body.push(`if (v === undefined || v === null) { ${onMissing} } else {
let x;
if (typeof v === 'number') x = v; else if (typeof v === 'bigint') x = Number(v); else ${typeFail(e, f, name, 'a number')}
${log ? 'x = Math.log1p(x);' : ''}
if (x - x === 0) { ${at(p)} = x > ${F32_MAX} ? ${F32_MAX} : x < -${F32_MAX} ? -${F32_MAX} : x;${flag ? ` ${at(p + 1)} = 0;` : ''} } else { ${onNonFinite} }
}`);
}

function boolean(e: Emitter, f: BooleanFeature, name: string, p: number, median: number | undefined): void {
  const flag = f.missing === 'flag';
  e.names.push(name);
  if (flag) e.names.push(`${name}:missing`);
  const stand = f.missing === 'median' ? (median ?? Number.NaN) : f.fill === true ? 1 : 0;
  const onMissing =
    f.missing === 'fail'
      ? missingFail(e, f, name)
      : `${at(p)} = ${num(stand)};${flag ? ` ${at(p + 1)} = 1;` : ''}`;
  const present = flag ? ` ${at(p + 1)} = 0;` : '';
  e.body.push(`if (v === undefined || v === null) { ${onMissing} }
else if (v === true) { ${at(p)} = 1;${present} }
else if (v === false) { ${at(p)} = 0;${present} }
else { ${typeFail(e, f, name, 'a boolean')} }`);
}

function enumerated(e: Emitter, f: EnumFeature, name: string, p: number): void {
  const categories = f.categories ?? [];
  const k = categories.length;
  const other = f.unknown === 'other';
  const flag = f.missing === 'flag';
  const span = k + (other ? 1 : 0);
  for (const c of categories) e.names.push(`${name}=${c}`);
  if (other) e.names.push(`${name}=__other__`);
  if (flag) e.names.push(`${name}:missing`);
  const index = e.constant(new Map(categories.map((c, i) => [c, i])));
  const fillIndex = f.missing === 'constant' && f.fill !== undefined ? categories.indexOf(f.fill) : -1;
  const onMissing =
    f.missing === 'fail'
      ? missingFail(e, f, name)
      : `out.fill(0, o + ${p}, o + ${p + span});${fillIndex >= 0 ? ` ${at(p + fillIndex)} = 1;` : ''}${flag ? ` ${at(p + span)} = 1;` : ''}`;
  const onUnknown =
    f.unknown === 'other'
      ? `${at(p + k)} = 1;`
      : f.unknown === 'ignore'
        ? ''
        : e.fail({
            reason: 'UNKNOWN_CATEGORY',
            path: f.path,
            feature: name,
            message: (v) => `${f.path} is ${describeValue(v)}, not one of ${categories.join(', ')}`,
          });
  e.body.push(`if (v === undefined || v === null) { ${onMissing} }
else if (typeof v !== 'string') { ${typeFail(e, f, name, 'a string')} }
else {
out.fill(0, o + ${p}, o + ${p + span});
const i = ${index}.get(v);
if (i !== undefined) out[o + ${p} + i] = 1; else { ${onUnknown} }
${flag ? `${at(p + span)} = 0;` : ''}
}`);
}

function hashed(e: Emitter, f: HashedFeature, name: string, p: number): void {
  const { buckets, seed } = f;
  const flag = f.missing === 'flag';
  for (let b = 0; b < buckets; b++) e.names.push(`${name}#${b}`);
  if (flag) e.names.push(`${name}:missing`);
  const negative = f.signed ? -1 : 1;
  const set = (bucket: string) =>
    `out.fill(0, o + ${p}, o + ${p + buckets}); if (${bucket} > 0) out[o + ${p - 1} + ${bucket}] = 1; else out[o + ${p - 1} - ${bucket}] = ${negative};`;
  const fillBucket =
    f.missing === 'constant' && f.fill !== undefined ? murmur3Utf8Bucket(f.fill, seed, buckets) : undefined;
  const onMissing =
    f.missing === 'fail'
      ? missingFail(e, f, name)
      : `${fillBucket === undefined ? `out.fill(0, o + ${p}, o + ${p + buckets});` : set(String(fillBucket))}${flag ? ` ${at(p + buckets)} = 1;` : ''}`;
  e.body.push(`if (v === undefined || v === null) { ${onMissing} } else {
let b;
if (typeof v === 'string') b = H(v, ${seed}, ${buckets});
else if (typeof v === 'number' || typeof v === 'bigint') b = H(String(v), ${seed}, ${buckets});
else if (v instanceof Uint8Array) b = HB(v, ${seed}, ${buckets});
else { ${typeFail(e, f, name, 'a string, number or bytes')} }
${set('b')}
${flag ? `${at(p + buckets)} = 0;` : ''}
}`);
}

function cyclic(e: Emitter, f: CyclicFeature, name: string, p: number): void {
  const flag = f.missing === 'flag';
  const span = f.cycles.length * 2;
  for (const c of f.cycles) {
    const short = c === 'hourOfDay' ? 'hour' : 'dow';
    e.names.push(`${name}:${short}_sin`, `${name}:${short}_cos`);
  }
  if (flag) e.names.push(`${name}:missing`);
  const scale = f.unit === 'millis' ? 1 : f.unit === 'micros' ? 0.001 : 1000;
  const offsetMs = f.utcOffsetMinutes * 60_000;
  const onMissing =
    f.missing === 'fail'
      ? missingFail(e, f, name)
      : `out.fill(0, o + ${p}, o + ${p + span});${flag ? ` ${at(p + span)} = 1;` : ''}`;
  const writes: string[] = [];
  f.cycles.forEach((c, j) => {
    const q = p + 2 * j;
    if (c === 'hourOfDay') {
      writes.push(`${at(q)} = Math.sin(${2 * Math.PI} * d); ${at(q + 1)} = Math.cos(${2 * Math.PI} * d);`);
    } else {
      // 1970-01-01 was a Thursday: day 0 is weekday 3 counting Monday as 0. Fractional, so the encoding
      // moves smoothly through each day instead of jumping at midnight.
      writes.push(`{ const w = ((Math.floor(t / ${DAY_MS}) + 3) % 7 + 7) % 7 + d;
${at(q)} = Math.sin(${(2 * Math.PI) / 7} * w); ${at(q + 1)} = Math.cos(${(2 * Math.PI) / 7} * w); }`);
    }
  });
  e.body.push(`if (v === undefined || v === null) { ${onMissing} } else {
let t;
if (typeof v === 'number') t = v * ${scale}; else if (typeof v === 'bigint') t = Number(v) * ${scale};
else if (v instanceof Date) t = v.getTime();
else { ${typeFail(e, f, name, 'a timestamp')} }
if (t - t !== 0) { ${e.fail({ reason: 'NON_FINITE', path: f.path, feature: name, message: (v) => `${f.path} is ${String(v)}, not a finite timestamp` })} }
t += ${offsetMs};
const d = ((t % ${DAY_MS}) + ${DAY_MS}) % ${DAY_MS} / ${DAY_MS};
${writes.join('\n')}
${flag ? `${at(p + span)} = 0;` : ''}
}`);
}
