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
 *       [--workers N] [--postprocess off|on|ab]
 *
 * --postprocess ab runs the model without post-processing and the same model with it (bench/lib/sensor.ts,
 * BENCH_POSTPROCESS) interleaved, --repeat pairs, and writes the "Post-processing stage cost" section.
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
import { arg, flag, optionalNumber } from './lib/args.js';
import { summarizeProfile } from './lib/profile.js';
import {
  BENCH_POSTPROCESS,
  type BenchModel,
  benchModels,
  ensureModel,
  openModel,
  sensorExtractor,
  sensorPool,
} from './lib/sensor.js';
import { fmtInt } from './lib/stats.js';
import { machineInfo, machineLines, markdownTable, writeSection } from './results-file.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORK = path.resolve(HERE, '../.vigil/bench-pipeline');

const RECORDS = Number(arg('records', '300000'));
const REPEAT = Number(arg('repeat', '5'));
const PARTITIONS = 3;
const BATCHING = {
  ...ConfigSchema.shape.batching.parse(undefined),
  ...(JSON.parse(arg('batching', '{}')) as object),
};
const IN_FLIGHT = optionalNumber('in-flight');
const FETCH = optionalNumber('fetch');
const PROFILE = arg('profile', '');
const WRITE = !flag('no-write');
/** Worker threads scoring off the main thread (the service's `model.workers`); 0: on the main thread. */
const WORKERS = Number(arg('workers', '0'));
const LABEL = arg('label', '');
/**
 * Keyed layout (test/support/memory-transport.ts `keyed`): each device in one partition, in order. Per-entity
 * state (temporal features, on by default for the sensor mapping, and post-processing) needs it: the default
 * layout feeds a device's history readings from three points in time at once, and flags a quarter of them.
 * Keep --records at most the pool's size (20,000) with it, or each partition wraps and devices jump back in time.
 */
const KEYED = flag('keyed');
/** raw, post or both (interleaved, raw first in each pair): --postprocess off|on|ab (bench/lib/sensor.ts). */
const MODELS = benchModels(WORK);
const AB = MODELS.length > 1;
/** RESULTS.md section to write; variants (other batching, workers) get their own so they do not replace the baseline. */
const SECTION = arg('section', AB ? 'postprocess-cost' : 'pipeline-core');

/** utime + stime of the main thread, ms (Linux; NaN elsewhere). */
function mainThreadCpuMs(): number {
  try {
    const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Steal and total jiffies of all CPUs so far, from /proc/stat (zeros elsewhere). */
function cpuJiffies(): { steal: number; total: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice: guest time is inside user already.
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { steal: f[7] ?? 0, total };
  } catch {
    return { steal: 0, total: 0 };
  }
}

interface RunResult {
  readonly variant: BenchModel['variant'];
  /** 1-minute load average at the run's end, and the share of all CPU time stolen by the hypervisor during it. */
  readonly load1: number;
  readonly steal: number;
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

/** A bench model opened for scoring, with its worker pool when scoring runs off the main thread. */
interface Loaded {
  readonly variant: BenchModel['variant'];
  readonly detector: Detector;
  readonly workers?: ScoringPool;
}

async function runOnce(
  { variant, detector, workers }: Loaded,
  pool: ReturnType<typeof sensorPool>,
): Promise<RunResult> {
  const perPartition = Math.ceil(RECORDS / PARTITIONS);
  const total = perPartition * PARTITIONS;
  const transport = memoryTransport({
    pool,
    recordsPerPartition: perPartition,
    partitions: PARTITIONS,
    keyed: KEYED,
  });
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
      decoder: plainAvroDecoder(loadSchema('sensor_reading'), undefined, { reuse: true }),
      extractor: sensorExtractor(),
      scorer: workers?.asScorer(detector.identity, 0, detector.activeCalibration) ?? detector,
      output: plainAvroOutputCodec(),
      logger: silentLogger(),
      metrics: new VigilMetrics(new Registry()),
    },
  );
  const cpu0 = mainThreadCpuMs();
  const j0 = cpuJiffies();
  const t0 = performance.now();
  await pipeline.start();
  while (pipeline.stats.scored + pipeline.stats.deadLettered < total) {
    await new Promise((r) => setTimeout(r, 1));
  }
  const elapsed = performance.now() - t0;
  const cpu = mainThreadCpuMs() - cpu0;
  const j1 = cpuJiffies();
  await pipeline.stop();
  return {
    variant,
    load1: os.loadavg()[0]!,
    steal: j1.total > j0.total ? (j1.steal - j0.steal) / (j1.total - j0.total) : 0,
    rate: (total * 1000) / elapsed,
    cpuUsPerRecord: (cpu * 1000) / total,
    stats: { ...pipeline.stats },
    ...transport.counters,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const command = `npx tsx bench/pipeline-core.ts ${process.argv.slice(2).join(' ')}`.trim();
  const m = machineInfo();
  const loaded: Loaded[] = [];
  for (const model of MODELS) {
    await ensureModel(model.dir, model.postprocess);
    const detector = await openModel(model.dir);
    const workers =
      WORKERS > 0
        ? await ScoringPool.create(detectorSource(detector), { size: WORKERS, backend: 'wasm' })
        : undefined;
    loaded.push({ variant: model.variant, detector, ...(workers ? { workers } : {}) });
  }
  const pool = sensorPool();
  const runs: RunResult[] = [];
  let session: Session | undefined;
  // With --postprocess ab each repeat is a pair, raw then post: machine load drifts, and interleaving lets it
  // fall on both variants alike.
  for (let r = 0; r < REPEAT; r++) {
    for (const [k, model] of loaded.entries()) {
      // The last run is the profiled one, when asked: the JIT is warm by then.
      if (PROFILE !== '' && r === REPEAT - 1 && k === loaded.length - 1) {
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 500 });
        await session.post('Profiler.start');
      }
      const res = await runOnce(model, pool);
      runs.push(res);
      console.log(
        `run ${r + 1}${AB ? ` ${res.variant}` : ''}: ${fmtInt(res.rate)} rec/s, ${res.cpuUsPerRecord.toFixed(2)} µs CPU/record (main thread); ` +
          `${res.stats.batches} batches, ${res.stats.anomalies} anomalies, ${res.sends} sends, ${res.commits} commits; ` +
          `load ${res.load1.toFixed(2)}, steal ${pct(res.steal)}`,
      );
    }
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
  for (const l of loaded) {
    await l.workers?.close();
    l.detector.dispose();
  }
  // The first run (pair) includes JIT warm-up; the rest are summarised, per variant.
  const summary = loaded.map(({ variant }) => {
    const all = runs.filter((r) => r.variant === variant);
    const warm = all.length > 1 ? all.slice(1) : all;
    const rate = median(warm.map((r) => r.rate));
    const cpu = median(warm.map((r) => r.cpuUsPerRecord));
    console.log(
      `${AB ? `${variant}: ` : ''}median of ${warm.length} warm runs: ${fmtInt(rate)} rec/s, ${cpu.toFixed(2)} µs CPU/record`,
    );
    return { variant, rate, cpu, n: warm.length };
  });
  const [raw, post] = summary;
  // Per pair, so a load change between pairs does not enter the ratio.
  const pairRatios = AB
    ? runs
        .filter((r) => r.variant === 'raw')
        .map((a, i) => ({ a, b: runs.filter((r) => r.variant === 'post')[i]! }))
        .slice(REPEAT > 1 ? 1 : 0)
        .map(({ a, b }) => ({ rate: b.rate / a.rate, cpu: b.cpuUsPerRecord / a.cpuUsPerRecord }))
    : [];
  if (AB) {
    console.log(
      `post / raw, median of per-pair ratios: records/s ${pct(median(pairRatios.map((x) => x.rate)))}, ` +
        `µs/record ${pct(median(pairRatios.map((x) => x.cpu)))}`,
    );
  }
  if (!WRITE) return;
  const title = AB ? 'Post-processing stage cost' : 'Pipeline core (in-memory transport, no broker)';
  const body = [
    `## ${title}${LABEL === '' ? '' : `: ${LABEL}`}`,
    '',
    machineLines(m, {
      'load average (1/5/15 min) at end': os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' / '),
      command,
      ...(LABEL === '' ? {} : { label: LABEL }),
      settings: `batching ${JSON.stringify(BATCHING)}, maxInFlightBatches ${IN_FLIGHT ?? 'default'}, maxFetchRecords ${FETCH ?? 'default'}, scoring ${WORKERS === 0 ? 'on the main thread' : `on ${WORKERS} worker thread(s)`}`,
      ...(MODELS.some((x) => x.postprocess)
        ? { 'post-processing (post)': JSON.stringify(BENCH_POSTPROCESS) }
        : {}),
    }),
    '',
    'The real Pipeline over test/support/memory-transport.ts (sends and commits succeed on the next event-loop turn): the most',
    'any transport could carry through the pipeline on one core. CPU is the main thread’s, from /proc (scoring workers, when used, are not in it).',
    ...(AB
      ? [
          'raw: the model without post-processing; post: the same network with the stage (its threshold calibrated',
          'on processed scores). Runs interleaved raw, post, raw, post…; load is the 1-minute average at each run’s',
          'end and steal the share of all CPU time the hypervisor took during it (/proc/stat).',
        ]
      : []),
    '',
    markdownTable(
      [
        '',
        ...(AB ? ['variant'] : []),
        'records/s',
        'µs CPU / record',
        'batches',
        'anomalies',
        'load',
        'steal',
      ],
      [
        ...runs.map((r, i) => {
          const round = AB ? Math.floor(i / loaded.length) : i;
          return [
            `run ${round + 1}${round === 0 && REPEAT > 1 ? ' (JIT warm-up)' : ''}`,
            ...(AB ? [r.variant] : []),
            fmtInt(r.rate),
            r.cpuUsPerRecord.toFixed(2),
            fmtInt(r.stats.batches),
            fmtInt(r.stats.anomalies),
            r.load1.toFixed(2),
            pct(r.steal),
          ];
        }),
        ...summary.map((x) => [
          `median of warm runs`,
          ...(AB ? [x.variant] : []),
          fmtInt(x.rate),
          x.cpu.toFixed(2),
          '',
          '',
          '',
          '',
        ]),
        ...(AB && raw && post
          ? [
              [
                'post / raw (median of per-pair ratios)',
                '',
                pct(median(pairRatios.map((x) => x.rate))),
                pct(median(pairRatios.map((x) => x.cpu))),
                '',
                '',
                '',
                '',
              ],
            ]
          : []),
      ],
    ),
  ].join('\n');
  writeSection(SECTION, body);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
