/**
 * Training data read the way `vigil run` reads its input: records decoded with the config's reader schema and
 * turned into rows by the config's feature mapping, so the model is trained on exactly the columns it will be
 * served. Three sources: an Avro object container file (`vigil generate … --out normal.avro`), a CSV whose
 * columns are the records' field paths, or the retained records of a topic. Records that cannot become a
 * row are left out and counted by reason, never dropped silently.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import avro from 'avsc';
import type { RecordDecoder } from '../connector/pipeline/decode-stage.js';
import type { KafkaRecord, Transport } from '../connector/transport/types.js';
import { VigilError } from '../core/errors.js';
import type { TrainingRows } from '../model/eval/cli.js';
import type { FeatureMapping } from '../model/feature-mapping.js';
import { splitCsvLine } from '../model/io.js';
import { type SplitRole, splitRole } from '../model/split.js';
import { type AvroType, parseSchema } from '../schemas/avro.js';
import { AvroPaths } from '../schemas/features/avro-paths.js';
import type { FeatureExtractor } from '../schemas/features/extractor.js';

/** One record of training data, with the file's split and label where it has them. */
export interface TrainingRecord {
  readonly record: unknown;
  readonly split?: SplitRole;
  /** True when the row is labelled anomalous. */
  readonly anomalous?: boolean;
}

function isAnomalousLabel(v: unknown): boolean {
  if (v === null || v === undefined || v === '') return false;
  if (typeof v === 'boolean') return v;
  const n = Number(v);
  return Number.isFinite(n) ? n !== 0 : String(v).trim().toLowerCase() === 'true';
}

/**
 * Records of an Avro container file, resolved from the file's writer schema to the reader schema (as the
 * service resolves a registry's writer schema), parsed with the same logical types as the service.
 */
export async function* avroFileRecords(
  file: string,
  reader: AvroType | undefined,
  labelColumn: string,
): AsyncGenerator<TrainingRecord> {
  const decoder = avro.createFileDecoder(file, {
    parseHook: (schema: unknown) => parseSchema(schema as never, file),
    ...(reader === undefined ? {} : { readerSchema: reader }),
  });
  try {
    for await (const record of decoder as AsyncIterable<Record<string, unknown>>) {
      yield labelColumn in record ? { record, anomalous: isAnomalousLabel(record[labelColumn]) } : { record };
    }
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError(
      'INPUT_INVALID',
      `${file}: not a readable Avro container file, or its writer schema cannot be read as the reader schema: ${
        (err as Error).message
      }`,
      { cause: err, details: { file } },
    );
  } finally {
    decoder.destroy();
  }
}

/**
 * Records of a CSV file with a header row: each column is a field path (`amount`, `location.lat`); `split`
 * and the label column are read as such and not put in the record. Cells are typed by the reader schema where
 * it names the path (a string field stays a string even when it looks like a number), otherwise by their
 * look; an empty cell is null (a missing value).
 */
export async function* csvRecords(
  file: string,
  reader: AvroType | undefined,
  labelColumn: string,
): AsyncGenerator<TrainingRecord> {
  const paths = reader === undefined ? undefined : new AvroPaths(reader);
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let header: string[] | undefined;
  let convert: ((cell: string) => unknown)[] = [];
  let splitIdx = -1;
  let labelIdx = -1;
  let lineNo = 0;
  let row = 0;
  try {
    for await (const raw of lines) {
      lineNo++;
      if (raw.trim() === '') continue;
      const cells = splitCsvLine(raw);
      if (header === undefined) {
        header = cells.map((c) => c.trim());
        splitIdx = header.indexOf('split');
        labelIdx = header.indexOf(labelColumn);
        convert = header.map((h) => cellConverter(paths, h));
        continue;
      }
      if (cells.length !== header.length) {
        throw new VigilError(
          'INPUT_INVALID',
          `${file}:${lineNo}: ${cells.length} fields, the header has ${header.length}.`,
          { details: { file, line: lineNo } },
        );
      }
      row++;
      const record: Record<string, unknown> = {};
      for (let j = 0; j < header.length; j++) {
        if (j === splitIdx || j === labelIdx) continue;
        setPath(record, header[j]!, convert[j]!(cells[j]!));
      }
      yield {
        record,
        ...(splitIdx >= 0 ? { split: splitRole(cells[splitIdx]!, row, file) } : {}),
        ...(labelIdx >= 0 ? { anomalous: isAnomalousLabel(cells[labelIdx]!.trim()) } : {}),
      };
    }
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError('INPUT_INVALID', `${file}: cannot be read: ${(err as Error).message}`, {
      cause: err,
      details: { file },
    });
  } finally {
    lines.close();
  }
  if (header === undefined) throw new VigilError('INPUT_INVALID', `${file}: empty file.`);
}

const NUMERIC_LEAVES = new Set(['int', 'long', 'float', 'double']);

/** How one CSV column's cells become values: by the schema's type at that path where there is one. */
export function cellConverter(paths: AvroPaths | undefined, path: string): (cell: string) => unknown {
  const leaf = paths?.resolve(path);
  const type = leaf?.ok ? leaf.leaf.type : undefined;
  if (type !== undefined && NUMERIC_LEAVES.has(type)) {
    return (c) => {
      const t = c.trim();
      return t === '' ? null : Number(t);
    };
  }
  if (type === 'boolean') {
    return (c) => {
      const t = c.trim().toLowerCase();
      return t === '' ? null : t === 'true' || t === '1';
    };
  }
  if (type !== undefined) return (c) => (c === '' ? null : c);
  return (c) => {
    const t = c.trim();
    if (t === '') return null;
    if (t === 'true' || t === 'false') return t === 'true';
    const n = Number(t);
    return Number.isFinite(n) ? n : c;
  };
}

function setPath(record: Record<string, unknown>, path: string, value: unknown): void {
  const segs = path.split('.');
  let node = record;
  for (let i = 0; i < segs.length - 1; i++) {
    const next = node[segs[i]!];
    if (typeof next !== 'object' || next === null) node[segs[i]!] = {};
    node = node[segs[i]!] as Record<string, unknown>;
  }
  node[segs[segs.length - 1]!] = value;
}

export interface TopicReadOptions {
  readonly topic: string;
  readonly groupId: string;
  readonly isolation: 'read_committed' | 'read_uncommitted';
  readonly decoder: RecordDecoder;
  /** Give up when no record has arrived for this long while records are still expected. */
  readonly stallTimeoutMs?: number;
  /** Leave out records whose timestamp is older than this (ms since the epoch): a time window. */
  readonly minTimestamp?: number;
  /** Keep at most this many records, the newest by timestamp (then in timestamp order). */
  readonly maxRecords?: number;
}

/**
 * The records a topic retains, from each partition's low watermark up to its high watermark as of the start
 * (records produced meanwhile are not waited for). Reads with a group of its own that never commits, so the
 * service's group and offsets are untouched. Values that cannot be decoded are counted, not fatal. Records come
 * back in partition and offset order (with maxRecords, by timestamp), whatever order the fetches arrived in.
 */
export async function topicRecords(
  transport: Transport,
  options: TopicReadOptions,
): Promise<{ records: TrainingRecord[]; undecodable: number; window?: { from: number; to: number } }> {
  const marks = await transport.admin().fetchWatermarks(options.topic);
  const end = new Map(marks.filter((m) => m.high > m.low).map((m) => [m.partition, m.high]));
  let records: TrainingRecord[] = [];
  const times: number[] = [];
  const partitions: number[] = [];
  const offsets: number[] = [];
  let undecodable = 0;
  if (end.size === 0) return { records, undecodable };
  const consumer = transport.consumer({
    groupId: options.groupId,
    topics: [options.topic],
    startFrom: 'earliest',
    isolation: options.isolation,
  });
  const stallMs = options.stallTimeoutMs ?? 60_000;
  let lastProgress = Date.now();
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const take = async (values: readonly KafkaRecord[]) => {
    await options.decoder.prepare(values.map((r) => r.value));
    for (const r of values) {
      const high = end.get(r.partition);
      if (high === undefined || r.offset >= high) continue;
      if (r.value === null) {
        undecodable++;
        continue;
      }
      if (options.minTimestamp !== undefined && r.timestamp < options.minTimestamp) continue;
      try {
        records.push({ record: options.decoder.decode(r.value) });
        times.push(r.timestamp);
        partitions.push(r.partition);
        offsets.push(Number(r.offset));
      } catch {
        undecodable++;
      }
    }
  };
  await consumer.start(async (batch) => {
    lastProgress = Date.now();
    await take(batch.records);
    const high = end.get(batch.partition);
    if (high !== undefined && batch.nextOffset >= high) end.delete(batch.partition);
    if (end.size === 0) finish();
  });
  const watchdog = setInterval(() => {
    if (Date.now() - lastProgress > stallMs) finish();
  }, 1_000);
  try {
    await done;
  } finally {
    clearInterval(watchdog);
    await consumer.close();
  }
  if (end.size > 0) {
    throw new VigilError(
      'BROKER_UNAVAILABLE',
      `topic ${options.topic}: no records for ${stallMs / 1000} s before reaching the end of partition(s) ${[
        ...end.keys(),
      ].join(', ')}.`,
      { details: { topic: options.topic, partitions: [...end.keys()] } },
    );
  }
  // In partition and offset order, not in the order the partitions' fetches happened to interleave: the same
  // retained records and seed then train the same model (an entity's records share a partition, so each keeps
  // its own order). With a limit, the newest by timestamp, ties in that order.
  const byPosition = (a: number, b: number) => partitions[a]! - partitions[b]! || offsets[a]! - offsets[b]!;
  let order = times.map((_, i) => i).sort(byPosition);
  if (options.maxRecords !== undefined && records.length > options.maxRecords) {
    order.sort((a, b) => times[a]! - times[b]! || byPosition(a, b));
    order = order.slice(order.length - options.maxRecords);
  }
  const kept = records;
  records = order.map((i) => kept[i]!);
  if (records.length === 0) return { records, undecodable };
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const i of order) {
    from = Math.min(from, times[i]!);
    to = Math.max(to, times[i]!);
  }
  return { records, undecodable, window: { from, to } };
}

/**
 * Rows for the trainer: records through the extractor; test-split rows, rows labelled anomalous and records
 * the mapping refuses are left out and counted (the latter by reason, as the service would dead-letter them).
 */
export async function mappedTrainingRows(
  records: AsyncIterable<TrainingRecord> | Iterable<TrainingRecord>,
  extractor: FeatureExtractor,
  options: { source: string; entities: boolean; leftOut?: Record<string, number> },
): Promise<TrainingRows> {
  const d = extractor.width;
  let buf = new Float32Array(1024 * d);
  let n = 0;
  const entities: string[] = [];
  const leftOut: Record<string, number> = { ...(options.leftOut ?? {}) };
  const count = (why: string) => {
    leftOut[why] = (leftOut[why] ?? 0) + 1;
  };
  for await (const r of records) {
    if (r.split === 'test') {
      count('split test');
      continue;
    }
    if (r.anomalous) {
      count('labelled anomalous');
      continue;
    }
    if ((n + 1) * d > buf.length) {
      const next = new Float32Array(buf.length * 2);
      next.set(buf);
      buf = next;
    }
    const res = extractor.extractInto(r.record, buf, n * d);
    if (!res.ok) {
      count(res.reason);
      continue;
    }
    if (options.entities) entities.push(extractor.entityOf(r.record) ?? '');
    n++;
  }
  const featureMapping: FeatureMapping = {
    fingerprint: extractor.fingerprint,
    spec: extractor.spec as FeatureMapping['spec'],
  };
  return {
    rows: buf.slice(0, n * d),
    n,
    d,
    featureNames: extractor.featureNames,
    ...(options.entities ? { entities } : {}),
    featureMapping,
    leftOut,
    source: options.source,
  };
}
