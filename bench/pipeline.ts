/**
 * Pipeline benchmark (issue #3, performance): throughput, latency, memory and a CPU profile of the detection
 * pipeline on a broker of its own, for each transport, beside that transport's pass-through ceiling measured in
 * the same run. Writes the "Pipeline" section of bench/RESULTS.md.
 *
 *   npx tsx bench/pipeline.ts [--transport kafkajs|rdkafka|both] [--records N]
 *       [--phases client,consume,passthrough,e2e,profile,latency,memory] [--memory-factor 10]
 *       [--latency-seconds 20] [--latency-rates half,quarter,10000] [--batching '{"maxRecords":2000}'] [--in-flight N] [--workers N]
 *       [--fetch N] [--linger MS] [--commit-interval MS] [--partitions 3] [--port 19792] [--bootstrap host:port] [--no-write]
 *       [--postprocess off|on|ab] [--pairs 2] [--label text] [--worker-flags '--trace-gc'] [--librdkafka '{"fetch.min.bytes":1}'] [--paced-linger 5]
 *       [--e2e-batches 1024,4096] [--peer-python /path/to/venv/bin/python] [--peer-records N] [--profile-workload sensor|peer]
 *
 * Workload: sensor readings (schemas/sensor_reading.avsc, plain Avro, ~250 bytes, 1% injected anomalies),
 * features from the sensor-reading preset (35 columns), a small dense autoencoder trained on normal readings.
 * Pipeline settings are the service's defaults (core/config/schema.ts) unless overridden.
 *
 * Phases, each in a forked process of its own (bench/lib/worker.ts):
 *   client       rdkafka only: node-rdkafka used directly (consume(n) loop and flowing mode; consume only, and
 *                consume → produce each record): the client's own ceiling on this machine
 *   consume      consume → commit, nothing else: the transport's consume ceiling
 *   passthrough  consume → produce every record → commit after ack: the pass-through ceiling
 *   e2e          the real Pipeline draining the backlog, at-least-once; steady rate = 10%→90% of the backlog
 *   profile      e2e again under the V8 CPU profiler (inspector), summarised by stage (bench/lib/profile.ts)
 *   latency      a paced producer (own process) at half the e2e rate; every record's produce timestamp →
 *                outputs-acknowledged latency, as the pipeline's own latency metric measures it
 *   memory       the Pipeline draining `memory-factor` × records; RSS sampled every 250 ms
 *   peer         ../shared/peers/python_peer.py (confluent-kafka + fastavro + PyTorch) on the same broker, once per
 *                run: its pass-through, then its end-to-end run at each of --e2e-batches (1024,4096 by default).
 *                Needs a Python with confluent-kafka, fastavro, numpy and torch: --peer-python or VIGIL_PEER_PYTHON.
 *
 * --e2e-batches runs the e2e phase once per batch size (batching.maxRecords), so both stacks are compared at the
 * same batch sizes in one run.
 */
import { execFile, fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TransportKind } from '../connector/transport/types.js';
import { ConfigSchema } from '../core/config/schema.js';
import { arg, flag, optionalNumber } from './lib/args.js';
import { type BenchBroker, startBroker } from './lib/broker.js';
import { createTopics, fillBacklog, type PacedJob, type PacedResult } from './lib/load.js';
import { trainPeerModel } from './lib/peer-workload.js';
import { type ProfileSummary, summarizeProfile } from './lib/profile.js';
import { benchModels, ensureModel, POOL_SIZE, sensorExtractor, sensorPool } from './lib/sensor.js';
import { cpuTicks, fmtInt, fmtMiB, plateau, stealPercent } from './lib/stats.js';
import type { ClientJob, Job, JobResult, PassthroughJob, PipelineJob } from './lib/worker.js';
import { machineInfo, machineLines, markdownTable, writeSection } from './results-file.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const WORK = path.join(REPO, '.vigil/bench-pipeline');

// ------------------------------------------------------------------ arguments

const TRANSPORTS: TransportKind[] = (() => {
  const t = arg('transport', 'both');
  if (t === 'both') return ['kafkajs', 'rdkafka'];
  if (t === 'kafkajs' || t === 'rdkafka') return [t];
  throw new Error(`--transport must be kafkajs, rdkafka or both, got ${t}`);
})();
const RECORDS = Number(arg('records', '300000'));
const PHASES = new Set(arg('phases', 'client,consume,passthrough,e2e,profile,latency,memory').split(','));
const MEMORY_FACTOR = Number(arg('memory-factor', '10'));
const LATENCY_SECONDS = Number(arg('latency-seconds', '20'));
const LATENCY_WARMUP_MS = 3_000;
/** Rates for the latency phase: numbers, or half / quarter of the end-to-end rate measured just before. */
const LATENCY_RATES = arg('latency-rates', 'half,quarter').split(',');
const PARTITIONS = Number(arg('partitions', '3'));
const PORT = Number(arg('port', '19792'));
/** Use a running broker instead of starting one (development; figures for RESULTS.md use a fresh one). */
const BOOTSTRAP = arg('bootstrap', '');
/** librdkafka properties for the rdkafka transport under test (TransportOptions.librdkafka), as JSON. */
const LIBRDKAFKA = JSON.parse(arg('librdkafka', '{}')) as Record<string, string | number | boolean>;
/**
 * linger.ms of the paced producer (the load generator of the latency phase): 5, the default of librdkafka and of
 * the Java client. At 1 ms its many small produce requests cost the broker (on the same two cores) about twice
 * the CPU per record, which the latency then measures instead of the pipeline.
 */
const PACED_LINGER_MS = Number(arg('paced-linger', '5'));
/** Extra node flags for the measured processes (e.g. --trace-gc), space-separated. */
const WORKER_FLAGS = arg('worker-flags', '').split(' ').filter(Boolean);
const WRITE = !flag('no-write');
const LABEL = arg('label', '');
/** --postprocess off|on|ab (bench/lib/sensor.ts); ab runs the e2e phase --pairs times per model, interleaved. */
const MODELS = benchModels(WORK);
const PAIRS = Number(arg('pairs', '2'));

const CONFIG_DEFAULTS = {
  batching: ConfigSchema.shape.batching.parse(undefined),
  producer: ConfigSchema.shape.kafka.parse(undefined).producer,
  consumer: ConfigSchema.shape.kafka.parse(undefined).consumer,
};
const BATCHING = { ...CONFIG_DEFAULTS.batching, ...(JSON.parse(arg('batching', '{}')) as object) };
const IN_FLIGHT = optionalNumber('in-flight');
/** Scoring worker threads (the service's `model.workers`); 0 scores on the pipeline's main thread. */
const WORKERS = Number(arg('workers', '0'));
const FETCH = optionalNumber('fetch');
const LINGER_MS = Number(arg('linger', String(CONFIG_DEFAULTS.producer.lingerMs)));
const COMMIT_INTERVAL_MS = Number(arg('commit-interval', String(CONFIG_DEFAULTS.consumer.commitIntervalMs)));
/** What the pipeline hands its consumer when --fetch is absent (PipelineOptions.maxFetchRecords default). */
const PASSTHROUGH_FETCH = FETCH ?? 2000;

/** batching.maxRecords values for the e2e phase; empty: once, with BATCHING as given. */
const E2E_BATCHES = arg('e2e-batches', '').split(',').filter(Boolean).map(Number);
const PEER_PYTHON = arg('peer-python', process.env.VIGIL_PEER_PYTHON ?? '');
const PEER_SCRIPT = path.resolve(REPO, '../shared/peers/python_peer.py');
const PEER_RECORDS = Number(arg('peer-records', String(RECORDS)));
/** --profile-workload peer profiles the pipeline on the peer's records (needs the peer phase) instead of the sensor's. */
const PROFILE_WORKLOAD = arg('profile-workload', 'sensor');

if (!(RECORDS > 0)) throw new Error('--records must be a positive number');

// ------------------------------------------------------------------ helpers

const log = (...parts: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...parts);
let seq = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++seq}`;

function runningBrokerPid(): number {
  try {
    return Number(readFileSync(path.join(REPO, '.vigil/kafka-bench/kafka.pid'), 'utf8').trim());
  } catch {
    return Number.NaN;
  }
}

interface Run {
  readonly result: JobResult;
  readonly profile?: string;
}

function runWorker(
  job: Job,
  options: { onStarted?: (send: (m: unknown) => void) => void } = {},
): Promise<Run> {
  const execArgv = [...process.execArgv, ...WORKER_FLAGS];
  return new Promise((resolve, reject) => {
    const child = fork(path.join(HERE, 'lib/worker.ts'), [JSON.stringify(job)], {
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: JobResult | undefined;
    let error: string | undefined;
    child.on('message', (m: { type: string; result?: JobResult; message?: string }) => {
      if (m.type === 'started') options.onStarted?.((msg) => child.send(msg as never));
      else if (m.type === 'result') result = m.result;
      else if (m.type === 'error') error = m.message;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (result === undefined) {
        reject(new Error(`worker (${job.mode}) exited with ${code}: ${error ?? 'no result'}`));
        return;
      }
      const profile = job.mode === 'pipeline' ? job.profile : undefined;
      resolve({ result, ...(profile !== undefined && existsSync(profile) ? { profile } : {}) });
    });
  });
}

function runPaced(job: PacedJob): Promise<PacedResult> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(HERE, 'lib/paced-producer.ts'), [JSON.stringify(job)], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: PacedResult | undefined;
    child.on('message', (m: { type: string; result: PacedResult }) => {
      if (m.type === 'result') result = m.result;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      result === undefined ? reject(new Error(`paced producer exited with ${code}`)) : resolve(result),
    );
  });
}

/** CPU cost per record: contention from other processes slows a run down but barely changes this. */
function costs(run: Run): string {
  const r = run.result;
  const us = (cpu: number) => ((cpu * 1000) / Math.max(1, r.done)).toFixed(2);
  return `CPU µs/record: process ${us(r.cpuMs)}, main thread ${us(r.mainCpuMs)} (event loop ${(r.elu * 100).toFixed(0)}% busy), broker ${us(r.brokerCpuMs)}`;
}

interface Rates {
  readonly overall: number;
  /** Between 10% and 90% of the backlog: without group join, JIT warm-up and the drain's tail. */
  readonly steady: number;
}

function rates(r: JobResult, total: number): Rates {
  const overall = (r.done * 1000) / r.elapsedMs;
  const at = (share: number) => r.progress.find((p) => p.done >= share * total)?.t;
  const t10 = at(0.1);
  const t90 = at(0.9);
  const steady =
    t10 !== undefined && t90 !== undefined && t90 > t10 ? (0.8 * total * 1000) / (t90 - t10) : overall;
  return { overall, steady };
}

// ------------------------------------------------------------------ phases

interface LatencyRun {
  readonly spec: string;
  readonly rate: number;
  readonly paced: PacedResult;
  readonly run: Run;
}

/** The Pipeline on a fresh topic fed by the paced producer (own process) at `rate`. */
async function latencyRun(transport: TransportKind, broker: BenchBroker, rate: number): Promise<LatencyRun> {
  const topic = unique('bench-paced');
  await createTopics(broker.bootstrap, [topic], PARTITIONS);
  const durationMs = LATENCY_WARMUP_MS + LATENCY_SECONDS * 1000;
  const total = Math.round((rate * durationMs) / 1000);
  let paced: Promise<PacedResult> | undefined;
  const job = await pipelineJob(transport, broker, topic, total, true);
  const run = await runWorker(job, {
    onStarted: (send) => {
      // Start two seconds out: the group join and the producer's connect happen before the first record.
      const startAt = Date.now() + 2_000;
      send({ type: 'window', from: startAt + LATENCY_WARMUP_MS, to: startAt + durationMs, total });
      paced = runPaced({
        bootstrap: broker.bootstrap,
        topic,
        rate,
        startAt,
        durationMs,
        lingerMs: PACED_LINGER_MS,
        poolSize: POOL_SIZE,
      });
    },
  });
  return { spec: String(rate), rate, paced: await paced!, run };
}

interface ClientRun {
  readonly label: string;
  readonly rates: Rates;
  readonly run: Run;
}

interface TransportResults {
  /** node-rdkafka used directly (rdkafka only): the client's own ceiling. */
  client?: ClientRun[];
  consume?: { rates: Rates; run: Run };
  passthrough?: { rates: Rates; run: Run };
  e2e?: { rates: Rates; run: Run };
  /** The e2e phase at each --e2e-batches size (the first is also `e2e`). */
  e2eBatches?: { rates: Rates; run: Run; maxRecords: number }[];
  /** The pipeline on python_peer.py's records (bench/lib/peer-workload.ts), per batch size. */
  peerE2e?: { rates: Rates; run: Run; maxRecords: number }[];
  profile?: { rates: Rates; summary: ProfileSummary; file: string };
  latency?: LatencyRun[];
  memory?: { rates: Rates; run: Run; records: number };
}

const common = (transport: TransportKind, broker: BenchBroker, inTopic: string, total: number) => ({
  transport,
  bootstrap: broker.bootstrap,
  inTopic,
  groupId: unique(`bench-${transport}`),
  total,
  memorySampleMs: 250,
  timeoutMs: 600_000,
  brokerPid: broker.pid,
  librdkafka: LIBRDKAFKA,
});

function passthroughJob(
  transport: TransportKind,
  broker: BenchBroker,
  inTopic: string,
  outTopic: string | null,
): PassthroughJob {
  return {
    ...common(transport, broker, inTopic, RECORDS),
    mode: 'passthrough',
    outTopic,
    maxBatchRecords: PASSTHROUGH_FETCH,
    maxInFlightPerPartition: 4,
    lingerMs: LINGER_MS,
  };
}

async function pipelineJob(
  transport: TransportKind,
  broker: BenchBroker,
  inTopic: string,
  total: number,
  latency: boolean,
  modelDir = path.join(WORK, 'model'),
): Promise<PipelineJob> {
  const anomaliesTopic = unique('bench-anomalies');
  const deadLetterTopic = unique('bench-dlq');
  await createTopics(broker.bootstrap, [anomaliesTopic, deadLetterTopic], PARTITIONS);
  return {
    ...common(transport, broker, inTopic, total),
    mode: 'pipeline',
    anomaliesTopic,
    deadLetterTopic,
    modelDir,
    batching: BATCHING,
    ...(IN_FLIGHT === undefined ? {} : { maxInFlightBatches: IN_FLIGHT }),
    workers: WORKERS,
    ...(FETCH === undefined ? {} : { maxFetchRecords: FETCH }),
    lingerMs: LINGER_MS,
    commitIntervalMs: COMMIT_INTERVAL_MS,
    latency,
  };
}

/** The Pipeline draining the peer's backlog with the model trained on it (bench/lib/peer-workload.ts). */
async function peerJob(
  transport: TransportKind,
  broker: BenchBroker,
  peer: { topic: string; modelDir: string },
): Promise<PipelineJob> {
  const job = await pipelineJob(transport, broker, peer.topic, PEER_RECORDS, false, peer.modelDir);
  return { ...job, workload: 'peer' };
}

async function measure(
  transport: TransportKind,
  broker: BenchBroker,
  backlog: string,
  bigBacklog: string | undefined,
  peerBacklog: { topic: string; modelDir: string } | undefined,
): Promise<TransportResults> {
  const out: TransportResults = {};
  if (PHASES.has('client') && transport === 'rdkafka') {
    out.client = [];
    const outTopic = unique('bench-client-out');
    await createTopics(broker.bootstrap, [outTopic], PARTITIONS);
    for (const [label, style, to] of [
      ['consume(1000) loop → nothing', 'consume-n', null],
      ['flowing mode → nothing', 'flowing', null],
      ['consume(1000) loop → produce each → acked', 'consume-n', outTopic],
      ['flowing mode → produce each → acked', 'flowing', outTopic],
    ] as const) {
      const job: ClientJob = {
        ...common(transport, broker, backlog, RECORDS),
        mode: 'client',
        style,
        outTopic: to,
      };
      const run = await runWorker(job);
      out.client.push({ label, run, rates: rates(run.result, RECORDS) });
      log(
        `node-rdkafka alone, ${label}:`,
        fmtInt(rates(run.result, RECORDS).steady),
        'rec/s steady;',
        costs(run),
      );
    }
  }
  if (PHASES.has('consume')) {
    const run = await runWorker(passthroughJob(transport, broker, backlog, null));
    out.consume = { run, rates: rates(run.result, RECORDS) };
    log(transport, 'consume → commit', fmtInt(out.consume.rates.steady), 'rec/s steady;', costs(run));
  }
  if (PHASES.has('passthrough')) {
    const outTopic = unique('bench-passthrough-out');
    await createTopics(broker.bootstrap, [outTopic], PARTITIONS);
    const run = await runWorker(passthroughJob(transport, broker, backlog, outTopic));
    out.passthrough = { run, rates: rates(run.result, RECORDS) };
    log(transport, 'pass-through', fmtInt(out.passthrough.rates.steady), 'rec/s steady;', costs(run));
  }
  if (PHASES.has('e2e') && MODELS.length > 1) {
    // --postprocess ab: raw and post end to end, interleaved, logged per run (hand-recorded in RESULTS.md).
    for (let pair = 1; pair <= PAIRS; pair++) {
      for (const model of MODELS) {
        const job = await pipelineJob(transport, broker, backlog, RECORDS, false, model.dir);
        const run = await runWorker(job);
        const r = rates(run.result, RECORDS);
        log(
          `${transport} e2e pair ${pair} ${model.variant}:`,
          fmtInt(r.steady),
          `rec/s steady (${fmtInt(r.overall)} overall);`,
          costs(run),
          `load ${os.loadavg()[0]!.toFixed(2)};`,
          run.result.stats,
        );
      }
    }
  } else if (PHASES.has('e2e')) {
    out.e2eBatches = [];
    for (const maxRecords of E2E_BATCHES.length > 0 ? E2E_BATCHES : [BATCHING.maxRecords]) {
      const job = await pipelineJob(transport, broker, backlog, RECORDS, false, MODELS[0]!.dir);
      const run = await runWorker({ ...job, batching: { ...job.batching, maxRecords } });
      const e2e = { run, rates: rates(run.result, RECORDS), maxRecords };
      out.e2eBatches.push(e2e);
      out.e2e ??= e2e;
      log(
        transport,
        `end-to-end (batch ${maxRecords})`,
        fmtInt(e2e.rates.steady),
        'rec/s steady;',
        costs(run),
        run.result.stats,
      );
    }
  }
  if (peerBacklog !== undefined) {
    out.peerE2e = [];
    for (const maxRecords of peerBatches()) {
      const job = await peerJob(transport, broker, peerBacklog);
      const run = await runWorker({ ...job, batching: { ...job.batching, maxRecords } });
      const r = { run, rates: rates(run.result, PEER_RECORDS), maxRecords };
      out.peerE2e.push(r);
      log(
        transport,
        `peer workload (batch ${maxRecords})`,
        fmtInt(r.rates.overall),
        'rec/s overall;',
        costs(run),
      );
    }
  }
  if (PHASES.has('profile')) {
    const file = path.join(WORK, `pipeline-${transport}.cpuprofile`);
    rmSync(file, { force: true });
    const onPeer = PROFILE_WORKLOAD === 'peer' && peerBacklog !== undefined;
    const job = onPeer
      ? await peerJob(transport, broker, peerBacklog)
      : await pipelineJob(transport, broker, backlog, RECORDS, false);
    const run = await runWorker({ ...job, profile: file });
    if (run.profile === undefined) throw new Error('no .cpuprofile written');
    out.profile = {
      rates: rates(run.result, RECORDS),
      summary: summarizeProfile(run.profile),
      file: run.profile,
    };
    log(transport, 'profiled end-to-end', fmtInt(out.profile.rates.steady), 'rec/s steady;', run.profile);
  }
  if (PHASES.has('latency')) {
    const max = out.e2e?.rates.steady ?? out.profile?.rates.steady ?? 40_000;
    out.latency = [];
    for (const spec of LATENCY_RATES) {
      const rate =
        spec === 'half' ? Math.round(max / 2) : spec === 'quarter' ? Math.round(max / 4) : Number(spec);
      const r = { ...(await latencyRun(transport, broker, rate)), spec };
      out.latency.push(r);
      const l = r.run.result.latency!;
      log(transport, `latency at ${fmtInt(rate)} rec/s (${spec}):`, costs(r.run));
      log(
        transport,
        `  p50 ${f1(l.p50)} ms, p99 ${f1(l.p99)} ms; from client p50 ${f1(l.fromClient.p50)} p99 ${f1(l.fromClient.p99)}; delivered to the pipeline p50 ${f1(l.delivered.p50)} p99 ${f1(l.delivered.p99)}; in Vigil p50 ${f1(l.inVigil.p50)} p99 ${f1(l.inVigil.p99)}; send→ack p50 ${f1(l.send.p50)} p99 ${f1(l.send.p99)} (${l.send.count} sends); event-loop delay p99 ${f1(l.loopDelay.p99)} max ${f1(l.loopDelay.max)}; paced producer acks p50 ${f1(r.paced.ack.p50)} p99 ${f1(r.paced.ack.p99)}, fell behind ≤ ${f1(r.paced.maxBehindMs)} ms`,
      );
    }
  }
  if (PHASES.has('memory') && bigBacklog !== undefined) {
    const records = RECORDS * MEMORY_FACTOR;
    const run = await runWorker(await pipelineJob(transport, broker, bigBacklog, records, false));
    out.memory = { run, rates: rates(run.result, records), records };
    writeFileSync(path.join(WORK, `memory-${transport}.json`), JSON.stringify(run.result.memory));
    const p = plateau(run.result.memory);
    log(
      transport,
      `memory: ${fmtInt(records)} records, peak RSS ${fmtMiB(p.peakRss)}, growth ${(p.growth * 100).toFixed(1)}%`,
    );
  }
  return out;
}

interface PeerResults {
  readonly records: number;
  readonly passthrough: number;
  readonly runs: { batch: number; rate: number; events: number }[];
}

/** One python_peer.py command; its last line says `… = N records/s …`. */
function peerCommand(args: string[]): Promise<{ rate: number; events: number; line: string }> {
  return new Promise((resolve, reject) => {
    execFile(PEER_PYTHON, [PEER_SCRIPT, ...args], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`python_peer.py ${args[0]} failed: ${err.message}\n${stderr}`));
        return;
      }
      const line = stdout.trim().split('\n').at(-1) ?? '';
      const rate = Number(/= ([\d,]+) records\/s/.exec(line)?.[1]?.replaceAll(',', '') ?? Number.NaN);
      const events = Number(/events (\d+)/.exec(line)?.[1] ?? 0);
      resolve({ rate, events, line });
    });
  });
}

/** The batch sizes both stacks are compared at. */
const peerBatches = () => (E2E_BATCHES.length > 0 ? E2E_BATCHES : [1024, 4096]);

/** The peer's backlog (its own schema, written by its own fill) and Vigil's default model trained on it. */
async function preparePeer(broker: BenchBroker): Promise<{ topic: string; modelDir: string }> {
  const topic = unique('peer-in');
  await createTopics(broker.bootstrap, [topic, `${topic}-out`], PARTITIONS);
  log(
    'peer fill:',
    (
      await peerCommand([
        'fill',
        '--brokers',
        broker.bootstrap,
        '--topic',
        topic,
        '--n',
        String(PEER_RECORDS),
      ])
    ).line,
  );
  const modelDir = path.join(WORK, 'model-peer');
  await trainPeerModel(modelDir, broker.bootstrap, topic);
  log(`trained Vigil's default model on the peer's records into ${modelDir}`);
  return { topic, modelDir };
}

/** python_peer.py on its backlog: pass-through, then its end-to-end run per batch size. */
async function measurePeer(broker: BenchBroker, topic: string): Promise<PeerResults> {
  const base = ['--brokers', broker.bootstrap, '--topic', topic, '--n', String(PEER_RECORDS)];
  const through = await peerCommand(['passthrough', ...base]);
  log('peer', through.line);
  const runs: PeerResults['runs'] = [];
  for (const batch of peerBatches()) {
    const r = await peerCommand(['run', ...base, '--batch', String(batch)]);
    log('peer', r.line);
    runs.push({ batch, rate: r.rate, events: r.events });
  }
  return { records: PEER_RECORDS, passthrough: through.rate, runs };
}

// ------------------------------------------------------------------ report

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
/** One decimal; '–' for a missing figure (NaN comes back from the worker as null). */
const f1 = (x: number | null) => (x === null || !Number.isFinite(x) ? '–' : x.toFixed(1));
const ms = (x: number | null) => (x !== null && Number.isFinite(x) ? `${x.toFixed(1)} ms` : '–');
/** Cores used: CPU time over wall time. */
const cores = (cpuMs: number, wallMs: number) => (wallMs > 0 ? (cpuMs / wallMs).toFixed(2) : '–');

function report(
  results: Map<TransportKind, TransportResults>,
  peer: PeerResults | undefined,
  meta: {
    startLoad: number[];
    endLoad: number[];
    loadDuring: number[];
    command: string;
    fillRate: number;
    steal: number;
  },
): string {
  const m = machineInfo();
  const lines: string[] = [];
  lines.push('## Pipeline');
  lines.push('');
  lines.push(
    machineLines(
      { ...m, loadavg: meta.startLoad },
      {
        'load average (1/5/15 min) at end': meta.endLoad.join(' / '),
        'load average (1 min) sampled during the run, min–max': `${Math.min(...meta.loadDuring).toFixed(2)}–${Math.max(...meta.loadDuring).toFixed(2)} (includes this benchmark's broker and worker, ≈2 when alone)`,
        'CPU steal over the run (/proc/stat)': `${meta.steal.toFixed(1)}%`,
        command: meta.command,
        ...(LABEL === '' ? {} : { label: LABEL }),
        workload: `sensor_reading Avro, ${fmtInt(RECORDS)}-record backlog over ${PARTITIONS} partitions (filled at ${fmtInt(meta.fillRate)} rec/s), ${sensorExtractor().width} features (the sensor-reading preset with its temporal columns), dense autoencoder of the default widths (wasm)`,
        settings: `batching ${JSON.stringify(BATCHING)}, maxInFlightBatches ${IN_FLIGHT ?? 'default'}, maxFetchRecords ${FETCH ?? 'default'}, producer linger ${LINGER_MS} ms, commit interval ${COMMIT_INTERVAL_MS} ms, scoring ${WORKERS === 0 ? 'on the main thread' : `on ${WORKERS} worker thread(s)`}${Object.keys(LIBRDKAFKA).length > 0 ? `, librdkafka ${JSON.stringify(LIBRDKAFKA)}` : ''}`,
      },
    ),
  );
  lines.push('');
  lines.push(
    '### Throughput (records/s; steady = 10%→90% of the backlog, overall = first record → last finished)',
  );
  lines.push('');
  const rows: string[][] = [];
  for (const [kind, r] of results) {
    const cell = (x?: { rates: Rates; run: Run }) =>
      x === undefined ? '–' : `${fmtInt(x.rates.steady)} (${fmtInt(x.rates.overall)})`;
    const ratio =
      r.e2e !== undefined && r.passthrough !== undefined
        ? pct(r.e2e.rates.steady / r.passthrough.rates.steady)
        : '–';
    const cpu = (x?: { run: Run }) =>
      x === undefined
        ? '–'
        : `${cores(x.run.result.cpuMs, x.run.result.elapsedMs)} (main ${cores(x.run.result.mainCpuMs, x.run.result.elapsedMs)}) / ${cores(x.run.result.brokerCpuMs, x.run.result.elapsedMs)}`;
    rows.push([kind, cell(r.consume), cell(r.passthrough), cell(r.e2e), ratio, cpu(r.e2e)]);
  }
  lines.push(
    markdownTable(
      [
        'transport',
        'consume → commit',
        'pass-through (consume → produce → commit)',
        'end-to-end pipeline',
        'e2e / pass-through',
        'e2e cores used: pipeline process (its JS thread) / broker',
      ],
      rows,
    ),
  );
  lines.push('');
  lines.push(
    'Targets: end-to-end ≥ 90% of the same client’s pass-through; ≥ 150,000 records/s with rdkafka.',
  );
  const batchRows = [...results].flatMap(([kind, r]) =>
    (r.e2eBatches ?? []).map((b) => [
      kind,
      fmtInt(b.maxRecords),
      `${fmtInt(b.rates.steady)} (${fmtInt(b.rates.overall)})`,
      r.passthrough === undefined ? '–' : pct(b.rates.steady / r.passthrough.rates.steady),
      `${cores(b.run.result.cpuMs, b.run.result.elapsedMs)} (main ${cores(b.run.result.mainCpuMs, b.run.result.elapsedMs)}) / ${cores(b.run.result.brokerCpuMs, b.run.result.elapsedMs)}`,
      ((b.run.result.mainCpuMs * 1000) / Math.max(1, b.run.result.done)).toFixed(2),
    ]),
  );
  if (batchRows.length > 1) {
    lines.push('');
    lines.push('End to end by batch size (`batching.maxRecords`):');
    lines.push('');
    lines.push(
      markdownTable(
        [
          'transport',
          'batch',
          'end-to-end steady (overall)',
          'e2e / pass-through',
          'cores: process (main) / broker',
          'main-thread CPU µs/record',
        ],
        batchRows,
      ),
    );
  }
  if (peer !== undefined) {
    lines.push('');
    lines.push(
      `### Beside the Python stack: the same records through both (../shared/peers/python_peer.py, bench/lib/peer-workload.ts)`,
    );
    lines.push('');
    lines.push(
      `python_peer.py (confluent-kafka + fastavro + PyTorch dense 30-64-16-64-30 on one torch thread; producer flush and synchronous commit per batch) filled ${fmtInt(peer.records)} records of its schema (device, ts, 30 doubles; 0.1 % spikes) over ${PARTITIONS} partitions; both stacks drain that topic, each run in a fresh consumer group, first record → last finished. Vigil runs its default model for 30 inputs (30-64-10-64-30, trained on the first 20,000 records), temporal features off (the peer has none), everything else default.`,
    );
    lines.push('');
    const rows: string[][] = [['python_peer.py', 'pass-through', fmtInt(peer.passthrough), '–', '–']];
    for (const r of peer.runs) rows.push(['python_peer.py', fmtInt(r.batch), fmtInt(r.rate), '1.00×', '–']);
    for (const [kind, r] of results)
      for (const b of r.peerE2e ?? []) {
        const py = peer.runs.find((x) => x.batch === b.maxRecords)?.rate;
        rows.push([
          `Vigil, ${kind}`,
          fmtInt(b.maxRecords),
          fmtInt(b.rates.overall),
          py === undefined ? '–' : `${(b.rates.overall / py).toFixed(2)}×`,
          `${cores(b.run.result.cpuMs, b.run.result.elapsedMs)} (main ${cores(b.run.result.mainCpuMs, b.run.result.elapsedMs)}), ${((b.run.result.mainCpuMs * 1000) / Math.max(1, b.run.result.done)).toFixed(2)} µs/record on its JS thread`,
        ]);
      }
    lines.push(
      markdownTable(
        [
          'stack',
          'batch',
          'records/s (first → last)',
          'vs python_peer.py, same batch',
          'cores: process (main)',
        ],
        rows,
      ),
    );
    lines.push('');
    lines.push('Target: ≥ 4× python_peer.py.');
  }
  const client = results.get('rdkafka')?.client;
  if (client !== undefined && client.length > 0) {
    lines.push('');
    lines.push(
      'node-rdkafka used directly on the same backlog, nothing done per record (bench/lib/worker.ts `bareClient`): the client’s own ceiling on this machine, no commits.',
    );
    lines.push('');
    lines.push(
      markdownTable(
        ['node-rdkafka alone', 'records/s, first → last', 'CPU µs/record: process / main thread / broker'],
        client.map((c) => {
          const r = c.run.result;
          const us = (cpu: number) => ((cpu * 1000) / Math.max(1, r.done)).toFixed(2);
          // Overall, not steady: flowing mode hands records over (and delivery reports come back) in bursts, so
          // its 10 %→90 % stretch is not the rate it keeps up.
          return [
            c.label,
            fmtInt(c.rates.overall),
            `${us(r.cpuMs)} / ${us(r.mainCpuMs)} / ${us(r.brokerCpuMs)}`,
          ];
        }),
      ),
    );
  }
  const stats = [...results].filter(([, r]) => r.e2e?.run.result.stats !== undefined);
  if (stats.length > 0) {
    lines.push('');
    lines.push(
      stats
        .map(([kind, r]) => {
          const s = r.e2e!.run.result.stats!;
          return `- ${kind} e2e: ${fmtInt(s.scored)} scored, ${fmtInt(s.anomalies)} anomalies, ${s.deadLettered} dead letters, ${fmtInt(s.batches)} batches (${fmtInt(s.scored / Math.max(1, s.batches))} records each), ${fmtInt(s.commits)} commits, ${fmtInt(s.pauses)} backpressure pauses; stop (final commit, close) ${fmtInt(r.e2e!.run.result.stopMs)} ms`;
        })
        .join('\n'),
    );
  }

  const lat = [...results].filter(([, r]) => r.latency !== undefined && r.latency.length > 0);
  if (lat.length > 0) {
    lines.push('');
    lines.push(
      `### Latency (record produce timestamp → outputs acknowledged, every record of a ${LATENCY_SECONDS} s window after ${LATENCY_WARMUP_MS / 1000} s warm-up; paced producer in its own process, linger ${PACED_LINGER_MS} ms; "half" = half the end-to-end rate above)`,
    );
    lines.push('');
    lines.push(
      markdownTable(
        [
          'transport',
          'rate',
          'records',
          'p50',
          'p90',
          'p99',
          'p99.9',
          'max',
          'of which produce → delivered p50 / p99',
          'in Vigil (delivered → outputs acked) p50 / p99',
          'outputs send → ack p50 / p99',
          'event-loop delay p99 / max',
          'CPU µs/record: main thread / broker',
        ],
        lat.flatMap(([kind, r]) =>
          r.latency!.map((x) => {
            const l = x.run.result.latency!;
            const us = (cpu: number) => ((cpu * 1000) / Math.max(1, x.run.result.done)).toFixed(1);
            return [
              kind,
              `${fmtInt(x.rate)}${Number.isNaN(Number(x.spec)) ? ` (${x.spec})` : ''}, achieved ${fmtInt(x.paced.achievedRate)}`,
              fmtInt(l.count),
              ms(l.p50),
              ms(l.p90),
              ms(l.p99),
              ms(l.p999),
              ms(l.max),
              `${f1(l.delivered.p50)} / ${f1(l.delivered.p99)} ms`,
              `${f1(l.inVigil.p50)} / ${f1(l.inVigil.p99)} ms`,
              `${f1(l.send.p50)} / ${f1(l.send.p99)} ms`,
              `${f1(l.loopDelay.p99)} / ${f1(l.loopDelay.max)} ms`,
              `${us(x.run.result.mainCpuMs)} / ${us(x.run.result.brokerCpuMs)}`,
            ];
          }),
        ),
      ),
    );
    lines.push('');
    lines.push('Target: p99 ≤ 50 ms at half the maximum rate.');
  }

  const mem = [...results].filter(([, r]) => r.memory !== undefined);
  if (mem.length > 0) {
    lines.push('');
    lines.push(
      `### Memory draining a ${MEMORY_FACTOR}× backlog (RSS of the pipeline process, sampled every 250 ms)`,
    );
    lines.push('');
    lines.push(
      markdownTable(
        [
          'transport',
          'backlog',
          'rate (steady)',
          'RSS at start',
          'peak RSS',
          'peak, 1st half',
          'peak, 2nd half',
          'growth 2nd vs 1st',
          'peak heap used',
        ],
        mem.map(([kind, r]) => {
          const s = r.memory!.run.result.memory;
          const p = plateau(s);
          return [
            kind,
            fmtInt(r.memory!.records),
            fmtInt(r.memory!.rates.steady),
            fmtMiB(s[0]!.rss),
            fmtMiB(p.peakRss),
            fmtMiB(p.firstHalfPeak),
            fmtMiB(p.secondHalfPeak),
            `${(p.growth * 100).toFixed(1)}%`,
            fmtMiB(Math.max(...s.map((x) => x.heapUsed))),
          ];
        }),
      ),
    );
    for (const [kind, r] of mem) {
      const s = r.memory!.run.result.memory;
      const step = Math.max(1, Math.floor(s.length / 12));
      const trace = s
        .filter((_, i) => i % step === 0)
        .map(
          (x) =>
            `${(x.t / 1000).toFixed(0)}s ${(x.rss / 2 ** 20).toFixed(0)}/${(x.heapUsed / 2 ** 20).toFixed(0)}/${(x.external / 2 ** 20).toFixed(0)}`,
        )
        .join(', ');
      lines.push('');
      lines.push(`- ${kind} trace (time, RSS/heap used/external+array buffers MiB): ${trace}`);
    }
  }

  const prof = [...results].filter(([, r]) => r.profile !== undefined);
  if (prof.length > 0) {
    lines.push('');
    lines.push(
      '### Where the time goes (V8 CPU profile of an end-to-end run, pipeline started → last record finished, main thread; self time charged to the innermost pipeline stage on the stack)',
    );
    for (const [kind, r] of prof) {
      const s = r.profile!.summary;
      lines.push('');
      lines.push(
        `${kind}: ${fmtInt(r.profile!.rates.steady)} rec/s under the profiler; main thread busy ${fmtInt(s.busyMs)} ms, idle ${fmtInt(s.idleMs)} ms of ${fmtInt(s.wallMs)} ms`,
      );
      lines.push('');
      lines.push(
        markdownTable(
          ['stage', 'self ms', 'share of busy'],
          s.stages.slice(0, 16).map((x) => [x.frame, fmtInt(x.selfMs), `${(x.share * 100).toFixed(1)}%`]),
        ),
      );
      lines.push('');
      lines.push(`Top frames (${kind}):`);
      lines.push('');
      lines.push(
        markdownTable(
          ['frame', 'self ms', 'share'],
          s.topFrames
            .slice(0, 15)
            .map((x) => [`\`${x.frame}\``, fmtInt(x.selfMs), `${(x.share * 100).toFixed(1)}%`]),
        ),
      );
    }
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const command = `npx tsx bench/pipeline.ts ${process.argv.slice(2).join(' ')}`.trim();
  const startLoad = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const loadDuring: number[] = [];
  const ticksAtStart = cpuTicks();
  const loadTimer = setInterval(() => loadDuring.push(os.loadavg()[0]!), 5_000);
  log(`load ${startLoad.join(' / ')}; ${command}`);
  mkdirSync(WORK, { recursive: true });
  for (const model of MODELS) {
    if (!existsSync(path.join(model.dir, 'manifest.json')))
      log(`training the bench model ${model.variant} (once)`);
    await ensureModel(model.dir, model.postprocess);
  }

  const broker: BenchBroker =
    BOOTSTRAP === ''
      ? await startBroker({ port: PORT, stateDir: '.vigil/kafka-bench' })
      : { bootstrap: BOOTSTRAP, pid: runningBrokerPid(), stop: async () => {} };
  log(`broker ${broker.bootstrap} (pid ${broker.pid})`);
  const results = new Map<TransportKind, TransportResults>();
  let fillRate = 0;
  let peer: PeerResults | undefined;
  try {
    const pool = sensorPool();
    const backlog = unique('bench-backlog');
    await createTopics(broker.bootstrap, [backlog], PARTITIONS);
    fillRate = await fillBacklog(broker.bootstrap, backlog, pool, RECORDS);
    log(`backlog ${backlog}: ${fmtInt(RECORDS)} records at ${fmtInt(fillRate)} rec/s`);
    let bigBacklog: string | undefined;
    if (PHASES.has('memory')) {
      bigBacklog = unique('bench-backlog-big');
      await createTopics(broker.bootstrap, [bigBacklog], PARTITIONS);
      const r = await fillBacklog(broker.bootstrap, bigBacklog, pool, RECORDS * MEMORY_FACTOR);
      log(`backlog ${bigBacklog}: ${fmtInt(RECORDS * MEMORY_FACTOR)} records at ${fmtInt(r)} rec/s`);
    }
    let peerBacklog: { topic: string; modelDir: string } | undefined;
    if (PHASES.has('peer')) {
      if (PEER_PYTHON === '') throw new Error('the peer phase needs --peer-python or VIGIL_PEER_PYTHON');
      peerBacklog = await preparePeer(broker);
    }
    for (const t of TRANSPORTS) results.set(t, await measure(t, broker, backlog, bigBacklog, peerBacklog));
    if (peerBacklog !== undefined) peer = await measurePeer(broker, peerBacklog.topic);
  } finally {
    await broker.stop();
    clearInterval(loadTimer);
  }
  const endLoad = os.loadavg().map((x) => Math.round(x * 100) / 100);
  if (loadDuring.length === 0) loadDuring.push(endLoad[0]!);
  const steal = stealPercent(ticksAtStart, cpuTicks());
  const body = report(results, peer, { startLoad, endLoad, loadDuring, command, fillRate, steal });
  console.log(`\n${body}\n`);
  if (WRITE) {
    writeSection('pipeline', body);
    log('wrote the Pipeline section of bench/RESULTS.md');
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
