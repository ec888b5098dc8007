/**
 * Thin file readers for training and evaluation data: CSV with a header row, and Avro object container files.
 * Both produce the row-major Float32Array the trainer takes. Columns that are not features (labels, entity
 * keys, timestamps) are split off by name.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import avro from 'avsc';
import { VigilError } from '../core/errors.js';

export interface Matrix {
  readonly rows: Float32Array;
  readonly n: number;
  readonly d: number;
  readonly featureNames: string[];
  /** The label column as 0/1, when present (any non-zero value counts as 1). */
  readonly labels?: Uint8Array;
  /** The entity column's values, when one was named. */
  readonly entities?: string[];
  /** Other non-feature columns asked for in `keepColumns`, as strings. */
  readonly columns: Record<string, string[]>;
}

export interface ReadOptions {
  /** Feature columns, in order. Default: every column not excluded. */
  features?: readonly string[];
  /** Columns never used as features. Default label, timestamp, split, plus the entity column. */
  exclude?: readonly string[];
  /** Column holding 0/1 labels. Default "label" (ignored if absent). */
  labelColumn?: string;
  /** Column holding the entity key (conv1d windows, per-entity thresholds). */
  entityColumn?: string;
  /** Non-feature columns to return as strings. */
  keepColumns?: readonly string[];
  /** Like keepColumns, but a file without the column is fine: it is then absent from `columns`. */
  keepIfPresent?: readonly string[];
  /** Stop after this many rows. */
  limit?: number;
}

const DEFAULT_EXCLUDE = ['label', 'timestamp', 'split'];

class GrowableFloat32 {
  private buf = new Float32Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float32Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  finish(): Float32Array {
    return this.buf.slice(0, this.length);
  }
}

/** Split one CSV line (RFC 4180 quoting; no newlines inside quotes). */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function parseNumber(s: string | undefined): number {
  if (s === undefined) return Number.NaN;
  const t = s.trim();
  if (t === '' || t === 'NA' || t === 'NaN' || t === 'null') return Number.NaN;
  if (t === 'true') return 1;
  if (t === 'false') return 0;
  return Number(t);
}

function planColumns(
  header: readonly string[],
  options: ReadOptions,
  file: string,
): { features: string[]; featureIdx: number[] } {
  const exclude = new Set([
    ...(options.exclude ?? DEFAULT_EXCLUDE),
    ...(options.entityColumn ? [options.entityColumn] : []),
  ]);
  if (options.labelColumn) exclude.add(options.labelColumn);
  const features = options.features ? [...options.features] : header.filter((h) => !exclude.has(h));
  const featureIdx = features.map((f) => header.indexOf(f));
  const missing = features.filter((_, i) => featureIdx[i]! < 0);
  if (missing.length > 0) {
    throw new VigilError('INPUT_INVALID', `${file}: no column named ${missing.join(', ')}.`, {
      details: { missing },
    });
  }
  if (features.length === 0) throw new VigilError('INPUT_INVALID', `${file}: no feature columns.`);
  return { features, featureIdx };
}

export async function readCsv(file: string, options: ReadOptions = {}): Promise<Matrix> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let header: string[] | undefined;
  let plan: ReturnType<typeof planColumns> | undefined;
  const values = new GrowableFloat32();
  const labels: number[] = [];
  const entities: string[] = [];
  const kept: Record<string, string[]> = {};
  let labelIdx = -1;
  let entityIdx = -1;
  let keepIdx: [string, number][] = [];
  let n = 0;
  let lineNo = 0;
  try {
    for await (const raw of lines) {
      lineNo++;
      if (raw.trim() === '') continue;
      const cells = splitCsvLine(raw);
      if (header === undefined) {
        header = cells.map((c) => c.trim());
        plan = planColumns(header, options, file);
        labelIdx = header.indexOf(options.labelColumn ?? 'label');
        entityIdx = options.entityColumn ? header.indexOf(options.entityColumn) : -1;
        if (options.entityColumn && entityIdx < 0) {
          throw new VigilError('INPUT_INVALID', `${file}: no entity column ${options.entityColumn}.`);
        }
        keepIdx = (options.keepColumns ?? []).map((c) => [c, header!.indexOf(c)] as [string, number]);
        for (const [c, i] of keepIdx) {
          if (i < 0) throw new VigilError('INPUT_INVALID', `${file}: no column named ${c}.`);
          kept[c] = [];
        }
        for (const c of options.keepIfPresent ?? []) {
          const i = header.indexOf(c);
          if (i >= 0 && kept[c] === undefined) {
            keepIdx.push([c, i]);
            kept[c] = [];
          }
        }
        continue;
      }
      if (cells.length !== header.length) {
        throw new VigilError(
          'INPUT_INVALID',
          `${file}:${lineNo}: ${cells.length} fields, the header has ${header.length}.`,
          { details: { line: lineNo } },
        );
      }
      for (const j of plan!.featureIdx) values.push(parseNumber(cells[j]));
      if (labelIdx >= 0) labels.push(parseNumber(cells[labelIdx]) ? 1 : 0);
      if (entityIdx >= 0) entities.push(cells[entityIdx]!);
      for (const [c, i] of keepIdx) kept[c]!.push(cells[i]!);
      n++;
      if (options.limit !== undefined && n >= options.limit) break;
    }
  } finally {
    lines.close();
  }
  if (header === undefined || plan === undefined)
    throw new VigilError('INPUT_INVALID', `${file}: empty file.`);
  return {
    rows: values.finish(),
    n,
    d: plan.features.length,
    featureNames: plan.features,
    ...(labelIdx >= 0 ? { labels: Uint8Array.from(labels) } : {}),
    ...(entityIdx >= 0 ? { entities } : {}),
    columns: kept,
  };
}

const NUMERIC = new Set(['int', 'long', 'float', 'double', 'boolean']);

/** The numeric type name of a field, looking through a union with null. */
function numericTypeOf(type: avro.Type): string | undefined {
  const name = type.typeName;
  if (NUMERIC.has(name)) return name;
  if (type instanceof avro.types.UnwrappedUnionType || type instanceof avro.types.WrappedUnionType) {
    const inner = (type as unknown as { types: avro.Type[] }).types.filter((t) => t.typeName !== 'null');
    if (inner.length === 1 && NUMERIC.has(inner[0]!.typeName)) return inner[0]!.typeName;
  }
  return undefined;
}

function toNumber(v: unknown): number {
  if (v === null || v === undefined) return Number.NaN;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'object') {
    // Unions decoded in wrapped form: { double: 1.5 }.
    const inner = Object.values(v as Record<string, unknown>)[0];
    return toNumber(inner);
  }
  return Number.NaN;
}

/** Top-level fields of a record schema (JSON) whose type carries a timestamp logical type. */
function timestampFieldsOf(schema: unknown): Set<string> {
  const out = new Set<string>();
  const fields = (schema as { fields?: { name?: unknown; type?: unknown }[] } | null)?.fields;
  if (!Array.isArray(fields)) return out;
  const isTimestamp = (t: unknown): boolean =>
    Array.isArray(t)
      ? t.some(isTimestamp)
      : typeof t === 'object' &&
        t !== null &&
        String((t as { logicalType?: unknown }).logicalType ?? '').startsWith('timestamp-');
  for (const f of fields) if (typeof f.name === 'string' && isTimestamp(f.type)) out.add(f.name);
  return out;
}

/**
 * Read an Avro object container file. Fields with a timestamp logical type are not features by default. Default features: every top-level numeric field (int, long, float,
 * double, boolean, or a union of one of them with null; null reads as NaN) not excluded.
 */
export async function readAvroContainer(file: string, options: ReadOptions = {}): Promise<Matrix> {
  // The writer schema as written: avsc drops the logical types it has no implementation for, and a
  // timestamp-millis field read as a plain long would otherwise become a feature.
  let timestampFields = new Set<string>();
  const decoder = avro.createFileDecoder(file, {
    parseHook: (schema: unknown) => {
      timestampFields = timestampFieldsOf(schema);
      return avro.Type.forSchema(schema as avro.Schema);
    },
  });
  let features: string[] | undefined;
  const values = new GrowableFloat32();
  const labels: number[] = [];
  const entities: string[] = [];
  const kept: Record<string, string[]> = {};
  let hasLabel = false;
  let n = 0;
  const labelColumn = options.labelColumn ?? 'label';
  decoder.on('metadata', (type: avro.Type) => {
    if (!(type instanceof avro.types.RecordType)) {
      decoder.destroy(new VigilError('INPUT_INVALID', `${file}: the writer schema is not a record.`));
      return;
    }
    const fields = type.fields;
    const exclude = new Set([...(options.exclude ?? DEFAULT_EXCLUDE), labelColumn]);
    if (options.entityColumn) exclude.add(options.entityColumn);
    features = options.features
      ? [...options.features]
      : fields
          .filter(
            (f) =>
              !exclude.has(f.name) && !timestampFields.has(f.name) && numericTypeOf(f.type) !== undefined,
          )
          .map((f) => f.name);
    const names = new Set(fields.map((f) => f.name));
    const missing = features.filter((f) => !names.has(f));
    if (missing.length > 0) {
      decoder.destroy(new VigilError('INPUT_INVALID', `${file}: no field named ${missing.join(', ')}.`));
      return;
    }
    hasLabel = names.has(labelColumn);
    for (const c of options.keepColumns ?? []) kept[c] = [];
    for (const c of options.keepIfPresent ?? []) if (names.has(c)) kept[c] = [];
  });
  try {
    for await (const record of decoder as AsyncIterable<Record<string, unknown>>) {
      if (features === undefined) break;
      for (const f of features) values.push(toNumber(record[f]));
      if (hasLabel) labels.push(toNumber(record[labelColumn]) ? 1 : 0);
      if (options.entityColumn) entities.push(String(record[options.entityColumn] ?? ''));
      for (const c of Object.keys(kept)) kept[c]!.push(String(record[c] ?? ''));
      n++;
      if (options.limit !== undefined && n >= options.limit) break;
    }
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError('INPUT_INVALID', `${file}: not a readable Avro container file.`, { cause: err });
  } finally {
    decoder.destroy();
  }
  if (features === undefined || features.length === 0) {
    throw new VigilError('INPUT_INVALID', `${file}: no numeric feature fields.`);
  }
  return {
    rows: values.finish(),
    n,
    d: features.length,
    featureNames: features,
    ...(hasLabel ? { labels: Uint8Array.from(labels) } : {}),
    ...(options.entityColumn ? { entities } : {}),
    columns: kept,
  };
}

/** CSV or Avro by file extension (.avro is Avro, anything else CSV). */
export function readMatrix(file: string, options: ReadOptions = {}): Promise<Matrix> {
  return file.toLowerCase().endsWith('.avro') ? readAvroContainer(file, options) : readCsv(file, options);
}
