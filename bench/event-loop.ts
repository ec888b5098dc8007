/**
 * Event-loop delay while the pipeline drains a full backlog at the largest batch the config allows
 * (`batching.maxRecords` 100 000): the real Pipeline over the in-memory transport (test/support/memory-transport.ts),
 * scoring on the main thread, where kafkajs's heartbeats and every timer share the thread. Measured with
 * perf_hooks.monitorEventLoopDelay for each `scoreChunkRows` given (a huge value scores each batch in one call,
 * as before chunking). Writes the "event-loop" section of bench/RESULTS.md with the command, load and CPU steal.
 *
 *   npx tsx bench/event-loop.ts [--records 400000] [--chunks 2048,100000000] [--no-write]
 */
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { plainAvroDecoder } from '../connector/pipeline/decode-stage.js';
import { plainAvroOutputCodec } from '../connector/pipeline/output-codec.js';
import { Pipeline } from '../connector/pipeline/pipeline.js';
import { ConfigSchema } from '../core/config/schema.js';
import { silentLogger } from '../core/logger.js';
import { VigilMetrics } from '../core/metrics/vigil-metrics.js';
import type { Detector } from '../model/detector.js';
import { loadSchema } from '../schemas/catalog.js';
import { memoryTransport } from '../test/support/memory-transport.js';
import { ensureModel, openModel, sensorExtractor, sensorPool } from './lib/sensor.js';
import { cpuTicks, fmtInt, stealPercent } from './lib/stats.js';
import { machineInfo, machineLines, markdownTable, writeSection } from './results-file.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MODEL_DIR = path.resolve(HERE, '../.vigil/bench-pipeline/model');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const RECORDS = Number(arg('records', '400000'));
const CHUNKS = arg('chunks', '2048,100000000').split(',').map(Number);
const WRITE = !process.argv.includes('--no-write');
const PARTITIONS = 4;
/** The largest batch the config schema allows, and a buffer that holds a full backlog of them. */
const MAX_RECORDS = 100_000;
if (ConfigSchema.shape.batching.safeParse({ maxRecords: MAX_RECORDS + 1, maxBuffered: 1e6 }).success)
  throw new Error('batching.maxRecords allows more than 100 000 now: raise MAX_RECORDS');
const BATCHING = {
  // Batches close on size only (no idle dispatch, a 60 s linger, the most allowed): every batch is a full one.
  ...ConfigSchema.shape.batching.parse({
    maxRecords: MAX_RECORDS,
    maxBuffered: 4 * MAX_RECORDS,
    lingerMs: 60_000,
    dispatchWhenIdle: false,
  }),
  maxBytes: 1 << 30,
  maxBufferedBytes: 1 << 30,
};

interface Result {
  readonly chunk: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly rate: number;
  readonly batches: number;
  readonly steal: number;
  readonly load: string;
}

async function runOnce(
  detector: Detector,
  pool: ReturnType<typeof sensorPool>,
  chunk: number,
): Promise<Result> {
  const perPartition = Math.ceil(RECORDS / PARTITIONS);
  const total = perPartition * PARTITIONS;
  const transport = memoryTransport({ pool, recordsPerPartition: perPartition, partitions: PARTITIONS });
  const pipeline = new Pipeline(
    {
      topics: ['bench-in'],
      groupId: 'bench',
      anomaliesTopic: 'bench-anomalies',
      deadLetterTopic: 'bench-dlq',
      batching: BATCHING,
      delivery: 'at-least-once',
      scoreChunkRows: chunk,
    },
    {
      transport,
      decoder: plainAvroDecoder(loadSchema('sensor_reading'), undefined, { reuse: true }),
      extractor: sensorExtractor(),
      scorer: detector,
      output: plainAvroOutputCodec(),
      logger: silentLogger(),
      metrics: new VigilMetrics(new Registry()),
    },
  );
  const h = monitorEventLoopDelay({ resolution: 5 });
  const cpu0 = cpuTicks();
  const t0 = performance.now();
  h.enable();
  await pipeline.start();
  while (pipeline.stats.scored + pipeline.stats.deadLettered < total)
    await new Promise((r) => setTimeout(r, 5));
  h.disable();
  const elapsed = performance.now() - t0;
  const cpu1 = cpuTicks();
  await pipeline.stop();
  const ms = (ns: number) => ns / 1e6;
  return {
    chunk,
    p50: ms(h.percentile(50)),
    p99: ms(h.percentile(99)),
    max: ms(h.max),
    rate: (total * 1000) / elapsed,
    batches: pipeline.stats.batches,
    steal: stealPercent(cpu0, cpu1),
    load: os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' / '),
  };
}

async function main(): Promise<void> {
  const command = `npx tsx bench/event-loop.ts ${process.argv.slice(2).join(' ')}`.trim();
  const m = machineInfo();
  await ensureModel(MODEL_DIR);
  const detector = await openModel(MODEL_DIR);
  const pool = sensorPool();
  // A warm-up run, so the JIT and the backend's kernels are not in the figures.
  await runOnce(detector, pool, CHUNKS[0]!);
  const results: Result[] = [];
  for (const chunk of CHUNKS) {
    const r = await runOnce(detector, pool, chunk);
    results.push(r);
    console.log(
      `scoreChunkRows ${chunk}: event-loop delay p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ` +
        `max ${r.max.toFixed(1)} ms; ${fmtInt(r.rate)} rec/s in ${r.batches} batches; steal ${r.steal.toFixed(1)}%, load ${r.load}`,
    );
  }
  detector.dispose();
  if (!WRITE) return;
  const body = [
    '## Event-loop delay under a full backlog (in-memory transport, scoring on the main thread)',
    '',
    machineLines(m, { command, records: String(RECORDS), 'batching.maxRecords': String(MAX_RECORDS) }),
    '',
    `The real Pipeline drains ${fmtInt(RECORDS)} records queued on ${PARTITIONS} partitions with batches of up to`,
    `${fmtInt(MAX_RECORDS)} records (closed on size only: no idle dispatch, a 60 s linger), four in flight. perf_hooks.monitorEventLoopDelay (5 ms resolution) measures how`,
    'late timers ran meanwhile: what a kafkajs heartbeat or a produce callback waits. A `scoreChunkRows` above the',
    'batch size scores each batch in one synchronous call (no yield inside a batch).',
    '',
    markdownTable(
      [
        'scoreChunkRows',
        'delay p50 (ms)',
        'delay p99 (ms)',
        'delay max (ms)',
        'records/s',
        'batches',
        'steal',
        'load at end',
      ],
      results.map((r) => [
        r.chunk >= MAX_RECORDS ? `${fmtInt(r.chunk)} (one call per batch)` : fmtInt(r.chunk),
        r.p50.toFixed(1),
        r.p99.toFixed(1),
        r.max.toFixed(1),
        fmtInt(r.rate),
        String(r.batches),
        `${r.steal.toFixed(1)}%`,
        r.load,
      ]),
    ),
  ].join('\n');
  writeSection('event-loop', body);
}

await main();
