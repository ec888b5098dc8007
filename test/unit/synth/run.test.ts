import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import { afterAll, describe, expect, it } from 'vitest';
import { schemaJson } from '../../../schemas/catalog.js';
import type { SensorReading } from '../../../schemas/types.js';
import type { TruthRow } from '../../../synth/ground-truth.js';
import { runGenerate } from '../../../synth/run.js';
import { SensorGenerator } from '../../../synth/sensor-generator.js';
import { AvroFileSink, JsonLinesFileSink } from '../../../synth/sinks/file-sink.js';
import type { RecordSink } from '../../../synth/sinks/types.js';
import { MemoryTruthSink, parseTruthLines, TruthFileWriter } from '../../../synth/truth-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-synth-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class MemorySink<T> implements RecordSink<T> {
  readonly records: T[] = [];
  readonly keys: string[] = [];
  readonly batchSizes: number[] = [];
  closed = false;
  failOnWrite = -1;
  async write(records: readonly T[], keys: readonly string[]) {
    if (this.batchSizes.length === this.failOnWrite) throw new Error('disk full');
    this.records.push(...records);
    this.keys.push(...keys);
    this.batchSizes.push(records.length);
  }
  async flush() {}
  async close() {
    this.closed = true;
  }
  get bytesWritten() {
    return 0;
  }
}

const sensors = (seed = 1) =>
  new SensorGenerator({ seed, devices: 10, anomalyRate: 0.05, episodeLength: [3, 6] });

async function readContainer(path: string): Promise<unknown[]> {
  const out: unknown[] = [];
  await new Promise<void>((resolve, reject) => {
    avro
      .createFileDecoder(path)
      .on('data', (r: unknown) => out.push(r))
      .on('end', () => resolve())
      .on('error', reject);
  });
  return out;
}

describe('runGenerate', () => {
  it('hands every record to the sink with its entity key, in batches, with one truth row per record', async () => {
    const sink = new MemorySink<SensorReading>();
    const truth = new MemoryTruthSink();
    const report = await runGenerate({ generator: sensors(), sink, truth, count: 2500, batchSize: 1000 });
    expect(sink.batchSizes).toEqual([1000, 1000, 500]);
    expect(sink.records).toHaveLength(2500);
    expect(sink.keys).toEqual(sink.records.map((r) => r.device_id));
    expect(truth.rows.map((r) => r.seq)).toEqual([...Array(2500).keys()]);
    expect(report).toMatchObject({
      kind: 'sensor_reading',
      records: 2500,
      anomalies: truth.rows.filter((r) => r.label === 1).length,
      firstEventTime: sink.records[0]!.event_time,
      lastEventTime: sink.records[2499]!.event_time,
      aborted: false,
    });
    expect(report.anomalies).toBeGreaterThan(0);
    expect(sink.closed).toBe(true);
  });

  it('paces to the target rate on the clock it is given', async () => {
    let clock = 0;
    const sink = new MemorySink<SensorReading>();
    const report = await runGenerate({
      generator: sensors(),
      sink,
      count: 5000,
      batchSize: 2000,
      rate: 1000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    // 1000/s → batches of 20 (1/50 s), 5000 records → 5 s.
    expect(Math.max(...sink.batchSizes)).toBe(20);
    expect(report.elapsedMs).toBeCloseTo(5000, 0);
    expect(report.recordsPerSecond).toBeCloseTo(1000, 0);
  });

  it('stops at a batch boundary when aborted and still closes the sink', async () => {
    const controller = new AbortController();
    const sink = new MemorySink<SensorReading>();
    const write = sink.write.bind(sink);
    sink.write = async (records, keys) => {
      await write(records, keys);
      if (sink.records.length >= 300) controller.abort();
    };
    const report = await runGenerate({
      generator: sensors(),
      sink,
      count: 0,
      batchSize: 100,
      signal: controller.signal,
    });
    expect(report.records).toBe(300);
    expect(report.aborted).toBe(true);
    expect(sink.closed).toBe(true);
  });

  it('a failing sink fails the run with its own error, after closing sink and truth', async () => {
    const sink = new MemorySink<SensorReading>();
    sink.failOnWrite = 2;
    let truthClosed = false;
    const truth = new MemoryTruthSink();
    truth.close = async () => {
      truthClosed = true;
    };
    await expect(
      runGenerate({ generator: sensors(), sink, truth, count: 1000, batchSize: 100 }),
    ).rejects.toThrow('disk full');
    expect(sink.closed).toBe(true);
    expect(truthClosed).toBe(true);
  });

  it('writes an Avro container file that decodes back to the same records, schema with logical types', async () => {
    const path = join(dir, 'readings.avro');
    const expected = new MemorySink<SensorReading>();
    await runGenerate({ generator: sensors(3), sink: expected, count: 1200, batchSize: 500 });
    const report = await runGenerate({
      generator: sensors(3),
      sink: new AvroFileSink<SensorReading>({ path, schema: schemaJson('sensor_reading'), codec: 'deflate' }),
      count: 1200,
      batchSize: 500,
    });
    const decoded = await readContainer(path);
    expect(decoded).toHaveLength(1200);
    expect(decoded.map((r) => ({ ...(r as object) }))).toEqual(expected.records);
    expect(report.bytes).toBe(readFileSync(path).length);
    const header = avro.extractFileHeader(path, { decode: false });
    const schema = JSON.parse(header.meta['avro.schema'].toString());
    expect(schema).toMatchObject({ name: 'SensorReading', namespace: 'io.vigil' });
    expect(JSON.stringify(schema)).toContain('timestamp-millis');
  });

  it('writes JSON lines and a ground-truth sidecar (all rows, or anomalies only)', async () => {
    const records = join(dir, 'readings.jsonl');
    const all = join(dir, 'truth-all.jsonl');
    const anomalies = join(dir, 'truth-anomalies.jsonl');
    await runGenerate({
      generator: sensors(4),
      sink: new JsonLinesFileSink<SensorReading>(records),
      truth: new TruthFileWriter(all),
      count: 800,
      batchSize: 300,
    });
    await runGenerate({
      generator: sensors(4),
      sink: new MemorySink<SensorReading>(),
      truth: new TruthFileWriter(anomalies, 'anomalies'),
      count: 800,
      batchSize: 300,
    });
    const lines = readFileSync(records, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(800);
    const rows: TruthRow[] = parseTruthLines(readFileSync(all, 'utf8'));
    expect(rows).toHaveLength(800);
    expect(rows.map((r) => r.id)).toEqual(
      lines.map((l) => {
        const r = JSON.parse(l) as SensorReading;
        return `${r.device_id}@${r.event_time}`;
      }),
    );
    const onlyAnomalies = parseTruthLines(readFileSync(anomalies, 'utf8'));
    expect(onlyAnomalies.length).toBeGreaterThan(0);
    expect(onlyAnomalies).toEqual(rows.filter((r) => r.label === 1));
  });
});
