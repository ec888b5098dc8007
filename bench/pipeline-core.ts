/**
 * The pipeline's own cost, without a broker or a Kafka client: the real Pipeline (decode, features, micro-batch,
 * score, anomaly events, offset tracking, metrics) over an in-memory transport (test/support/memory-transport.ts)
 * whose sends and commits succeed on the next turn of the event loop. One thread, no I/O to wait for: its
 * records/s is the most any transport could carry through this pipeline on one core, and its CPU time per
 * record is steady enough under other load to compare code changes by. Writes the "Pipeline core" section of
 * bench/RESULTS.md.
 *
 *   npx tsx bench/pipeline-core.ts [--records 300000] [--repeat 5] [--batching '{"maxRecords":2000}']
 *       [--in-flight N] [--fetch N] [--profile out.cpuprofile] [--no-write] [--label text] [--section name]
 *       [--workers N]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { plainAvroDecoder } from '../connector/pipeline/decode-stage.js';
import { plainAvroOutputCodec } from '../connector/pipeline/output-codec.js';
import { Pipeline as CurrentPipeline } from '../connector/pipeline/pipeline.js';
import { ConfigSchema } from '../core/config/schema.js';
import { silentLogger } from '../core/logger.js';
import { VigilMetrics } from '../core/metrics/vigil-metrics.js';
import type { Detector } from '../model/detector.js';
import { detectorSource, ScoringPool } from '../model/workers/pool.js';
import { loadSchema } from '../schemas/catalog.js';
import { memoryTransport } from '../test/support/memory-transport.js';
import { summarizeProfile } from './lib/profile.js';
import { ensureModel, openModel, sensorExtractor, sensorPool } from './lib/sensor.js';
import { fmtInt } from './lib/stats.js';
import { machineInfo, machineLines, markdownTable, writeSection } from './results-file.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MODEL_DIR = path.resolve(HERE, '../.vigil/bench-pipeline/model');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const RECORDS = Number(arg('records', '300000'));
const REPEAT = Number(arg('repeat', '5'));
const PARTITIONS = 3;
const BATCHING = {
  ...ConfigSchema.shape.batching.parse(undefined),
  ...(JSON.parse(arg('batching', '{}')) as object),
};
const IN_FLIGHT = arg('in-flight', '') === '' ? undefined : Number(arg('in-flight', ''));
const FETCH = arg('fetch', '') === '' ? undefined : Number(arg('fetch', ''));
const PROFILE = arg('profile', '');
const WRITE = !process.argv.includes('--no-write');
/** Worker threads scoring off the main thread (the service's `model.workers`); 0: on the main thread. */
const WORKERS = Number(arg('workers', '0'));
const LABEL = arg('label', '');
/** RESULTS.md section to write; variants (other batching, workers) get their own so they do not replace the baseline. */
const SECTION = arg('section', 'pipeline-core');

/** utime + stime of the main thread, ms (Linux; NaN elsewhere). */
function mainThreadCpuMs(): number {
  try {
    const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

interface RunResult {
  readonly rate: number;
  readonly cpuUsPerRecord: number;
  readonly stats: CurrentPipeline['stats'];
  readonly produced: number;
  readonly sends: number;
  readonly commits: number;
}

/** Development A/B: BENCH_PIPELINE_MODULE=connector/pipeline/other.ts measures another Pipeline class. */
const Pipeline: typeof CurrentPipeline =
  process.env.BENCH_PIPELINE_MODULE === undefined
    ? CurrentPipeline
    : (
        (await import(path.resolve(HERE, '..', process.env.BENCH_PIPELINE_MODULE))) as {
          Pipeline: typeof CurrentPipeline;
        }
      ).Pipeline;

let scoringPool: ScoringPool | undefined;

async function runOnce(detector: Detector, pool: ReturnType<typeof sensorPool>): Promise<RunResult> {
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
      ...(IN_FLIGHT === undefined ? {} : { maxInFlightBatches: IN_FLIGHT }),
      ...(FETCH === undefined ? {} : { maxFetchRecords: FETCH }),
    },
    {
      transport,
      decoder: plainAvroDecoder(loadSchema('sensor_reading')),
      extractor: sensorExtractor(),
      scorer: scoringPool?.asScorer(detector.identity) ?? detector,
      output: plainAvroOutputCodec(),
      logger: silentLogger(),
      metrics: new VigilMetrics(new Registry()),
    },
  );
  const cpu0 = mainThreadCpuMs();
  const t0 = performance.now();
  await pipeline.start();
  while (pipeline.stats.scored + pipeline.stats.deadLettered < total) {
    await new Promise((r) => setTimeout(r, 1));
  }
  const elapsed = performance.now() - t0;
  const cpu = mainThreadCpuMs() - cpu0;
  await pipeline.stop();
  return {
    rate: (total * 1000) / elapsed,
    cpuUsPerRecord: (cpu * 1000) / total,
    stats: { ...pipeline.stats },
    ...transport.counters,
  };
}

async function main(): Promise<void> {
  const command = `npx tsx bench/pipeline-core.ts ${process.argv.slice(2).join(' ')}`.trim();
  const m = machineInfo();
  await ensureModel(MODEL_DIR);
  const detector = await openModel(MODEL_DIR);
  if (WORKERS > 0)
    scoringPool = await ScoringPool.create(detectorSource(detector), { size: WORKERS, backend: 'wasm' });
  const pool = sensorPool();
  const runs: RunResult[] = [];
  let session: Session | undefined;
  for (let r = 0; r < REPEAT; r++) {
    // The last run is the profiled one, when asked: the JIT is warm by then.
    if (PROFILE !== '' && r === REPEAT - 1) {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 500 });
      await session.post('Profiler.start');
    }
    const res = await runOnce(detector, pool);
    runs.push(res);
    console.log(
      `run ${r + 1}: ${fmtInt(res.rate)} rec/s, ${res.cpuUsPerRecord.toFixed(2)} µs CPU/record (main thread); ` +
        `${res.stats.batches} batches, ${res.stats.anomalies} anomalies, ${res.sends} sends, ${res.commits} commits`,
    );
  }
  if (session !== undefined) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(PROFILE, JSON.stringify(profile));
    session.disconnect();
    const s = summarizeProfile(PROFILE, 30);
    for (const st of s.stages) console.log(`${(st.share * 100).toFixed(1).padStart(5)}%  ${st.frame}`);
    console.log('');
    for (const f of s.topFrames) console.log(`${(f.share * 100).toFixed(1).padStart(5)}%  ${f.frame}`);
  }
  await scoringPool?.close();
  detector.dispose();
  // The first run includes JIT warm-up; the rest are summarised.
  const warm = runs.length > 1 ? runs.slice(1) : runs;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rate = median(warm.map((r) => r.rate));
  const cpu = median(warm.map((r) => r.cpuUsPerRecord));
  console.log(`median of ${warm.length} warm runs: ${fmtInt(rate)} rec/s, ${cpu.toFixed(2)} µs CPU/record`);
  if (!WRITE) return;
  const body = [
    `## Pipeline core (in-memory transport, no broker)${LABEL === '' ? '' : `: ${LABEL}`}`,
    '',
    machineLines(m, {
      'load average (1/5/15 min) at end': os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' / '),
      command,
      ...(LABEL === '' ? {} : { label: LABEL }),
      settings: `batching ${JSON.stringify(BATCHING)}, maxInFlightBatches ${IN_FLIGHT ?? 'default'}, maxFetchRecords ${FETCH ?? 'default'}, scoring ${WORKERS === 0 ? 'on the main thread' : `on ${WORKERS} worker thread(s)`}`,
    }),
    '',
    'The real Pipeline over test/support/memory-transport.ts (sends and commits succeed on the next event-loop turn): the most',
    'any transport could carry through the pipeline on one core. CPU is the main thread’s, from /proc (scoring workers, when used, are not in it).',
    '',
    markdownTable(
      ['', 'records/s', 'µs CPU / record', 'batches', 'anomalies'],
      [
        ...runs.map((r, i) => [
          `run ${i + 1}${i === 0 && runs.length > 1 ? ' (JIT warm-up)' : ''}`,
          fmtInt(r.rate),
          r.cpuUsPerRecord.toFixed(2),
          fmtInt(r.stats.batches),
          fmtInt(r.stats.anomalies),
        ]),
        [`median of warm runs`, fmtInt(rate), cpu.toFixed(2), '', ''],
      ],
    ),
  ].join('\n');
  writeSection(SECTION, body);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
