/**
 * One measured process of the pipeline benchmark, forked by bench/pipeline.ts so that each measurement has a
 * process of its own: its RSS is the pipeline's alone, a CPU profile covers only it, and one run's heap or JIT
 * state never leaks into the next. The job arrives as JSON in argv[2]; progress and the result go back over IPC.
 *
 *   passthrough  consume → produce every record unchanged → commit after ack (the client's ceiling), or
 *                consume → commit when `outTopic` is null
 *   pipeline     the real Pipeline (decode, features, micro-batch, score, events, produce, commit), draining a
 *                backlog of `total` records, or, with `latency`, scoring a paced stream and keeping every
 *                record's produce-timestamp → outputs-acknowledged latency
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import type { MicroBatchOptions } from '../../connector/batch/micro-batcher.js';
import { plainAvroDecoder } from '../../connector/pipeline/decode-stage.js';
import { plainAvroOutputCodec } from '../../connector/pipeline/output-codec.js';
import { Pipeline } from '../../connector/pipeline/pipeline.js';
import { createTransport } from '../../connector/transport/index.js';
import { loadRdkafka } from '../../connector/transport/rdkafka/load.js';
import type { CommitOffset, Transport, TransportKind } from '../../connector/transport/types.js';
import { createLogger, silentLogger } from '../../core/logger.js';
import { VigilMetrics } from '../../core/metrics/vigil-metrics.js';
import { detectorSource, ScoringPool } from '../../model/workers/pool.js';
import { loadSchema } from '../../schemas/catalog.js';
import { peerExtractor, peerSchema } from './peer-workload.js';
import { openModel, sensorExtractor } from './sensor.js';
import { MemorySampler, percentile, Samples } from './stats.js';

export interface CommonJob {
  readonly transport: TransportKind;
  readonly bootstrap: string;
  readonly inTopic: string;
  readonly groupId: string;
  /** Records to finish before reporting. */
  readonly total: number;
  readonly memorySampleMs: number;
  /** Give up (and report what was done) after this long. */
  readonly timeoutMs: number;
  /** The broker's pid, to charge its CPU time to the records while they flow (NaN: unknown). */
  readonly brokerPid: number;
  /** Extra librdkafka properties (rdkafka transport). */
  readonly librdkafka: Readonly<Record<string, string | number | boolean>>;
}

export interface PassthroughJob extends CommonJob {
  readonly mode: 'passthrough';
  readonly outTopic: string | null;
  readonly maxBatchRecords: number;
  readonly maxInFlightPerPartition: number;
  readonly lingerMs: number;
}

export interface PipelineJob extends CommonJob {
  readonly mode: 'pipeline';
  readonly anomaliesTopic: string;
  readonly deadLetterTopic: string;
  readonly modelDir: string;
  /** What the records are: the sensor readings (default) or python_peer.py's (bench/lib/peer-workload.ts). */
  readonly workload?: 'sensor' | 'peer';
  readonly batching: MicroBatchOptions & { readonly yieldEvery: number };
  readonly maxInFlightBatches?: number;
  readonly maxFetchRecords?: number;
  /** Scoring worker threads; 0 scores on the main thread. */
  readonly workers: number;
  readonly lingerMs: number;
  readonly commitIntervalMs: number;
  /** Keep per-record latencies (paced stream); the measured window comes later over IPC. */
  readonly latency: boolean;
  /**
   * Write a CPU profile (.cpuprofile) of the run here: from the pipeline started (modules loaded, clients
   * connected) to the last record finished, so start-up and shutdown do not dilute it.
   */
  readonly profile?: string;
}

/**
 * node-rdkafka used directly, with nothing done per record: the client's own ceiling on this machine, beside
 * which the transport's and the pipeline's figures are read. `consume-n` calls consume(n) in a loop (what the
 * transport does); `flowing` is node-rdkafka's flowing mode (a consume loop on a thread of its own, unbounded).
 * With an out topic every record is produced again (delivery reports on), and done when acknowledged.
 */
export interface ClientJob extends CommonJob {
  readonly mode: 'client';
  readonly style: 'consume-n' | 'flowing';
  readonly outTopic: string | null;
}

export type Job = PassthroughJob | PipelineJob | ClientJob;

export interface Progress {
  readonly t: number;
  readonly done: number;
}

export interface JobResult {
  readonly done: number;
  readonly timedOut: boolean;
  /** ms from the first record seen to the last one finished. */
  readonly elapsedMs: number;
  readonly firstAt: number;
  readonly progress: readonly Progress[];
  readonly memory: ReturnType<MemorySampler['end']>;
  readonly stats?: Pipeline['stats'];
  readonly latency?: Percentiles & {
    /** Produce timestamp → delivered to the pipeline's handler (producer linger, broker, fetch). */
    readonly delivered: Percentiles;
    /** One send() of a scored batch's outputs → acknowledged. */
    readonly send: Percentiles;
    /** Vigil's own part: handed over by the client → outputs acknowledged (vigil_processing_latency_seconds). */
    readonly inVigil: Percentiles;
    /** rdkafka: produce timestamp → handed to JS by node-rdkafka's consume() (empty for kafkajs). */
    readonly fromClient: Percentiles;
    /** Event-loop delay (perf_hooks, 10 ms resolution) over the run: how long callbacks waited for the thread. */
    readonly loopDelay: { p50: number; p99: number; max: number };
  };
  readonly stopMs: number;
  /** CPU time of this process (all threads, librdkafka's included) while records were flowing, ms. */
  readonly cpuMs: number;
  /** Event-loop utilisation of the main thread while records were flowing (1 = never idle). */
  readonly elu: number;
  /** CPU time of the main (JS) thread alone while records were flowing, ms. */
  readonly mainCpuMs: number;
  /** CPU time of the broker while records were flowing, ms (NaN when its pid is unknown). */
  readonly brokerCpuMs: number;
}

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

function percentiles(samples: Samples): Percentiles {
  const sorted = samples.sorted();
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/**
 * Where a record's latency goes: the transport wrapped so that each delivery notes how old its records are and
 * each send how long its acknowledgement took. Wrapping adds a closure call per batch, nothing per record that
 * the pipeline does not already pay for.
 */
function instrument(transport: Transport, inWindow: (t: number) => boolean) {
  const delivered = new Samples();
  const send = new Samples();
  const fromClient = new Samples();
  if (transport.kind === 'rdkafka') {
    // node-rdkafka's consume(n, cb): how old the records are when the client hands them to JS.
    const proto = loadRdkafka().KafkaConsumer.prototype as unknown as {
      consume: (n: number, cb: (err: unknown, messages: { timestamp?: number }[]) => void) => void;
    };
    const consume = proto.consume;
    proto.consume = function (this: unknown, n, cb) {
      return consume.call(this, n, (err, messages) => {
        const now = Date.now();
        if (messages)
          for (const m of messages)
            if (m.timestamp !== undefined && inWindow(m.timestamp)) fromClient.push(now - m.timestamp);
        cb(err, messages);
      });
    };
  }
  const wrapped = Object.create(transport) as Transport;
  wrapped.consumer = (options) => {
    const consumer = transport.consumer(options);
    const start = consumer.start.bind(consumer);
    consumer.start = (handler) =>
      start((batch) => {
        const now = Date.now();
        for (const r of batch.records) if (inWindow(r.timestamp)) delivered.push(now - r.timestamp);
        return handler(batch);
      });
    return consumer;
  };
  wrapped.producer = (options) => {
    const producer = transport.producer(options);
    const sendFn = producer.send.bind(producer);
    producer.send = async (messages) => {
      const t0 = performance.now();
      await sendFn(messages);
      if (inWindow(Date.now())) send.push(performance.now() - t0);
    };
    return producer;
  };
  return { transport: wrapped, delivered, send, fromClient };
}

type Msg = { type: 'started' } | { type: 'result'; result: JobResult } | { type: 'error'; message: string };

type Command = { type: 'window'; from: number; to: number; total: number };

function send(msg: Msg): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) resolve();
    else process.send(msg, () => resolve());
  });
}

/** utime + stime from a /proc stat file, ms; NaN when unreadable (not Linux, process gone). */
function statCpuMs(file: string): number {
  try {
    const fields = readFileSync(file, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Resolves when `done()` reaches `total` (or the timeout passes), sampling progress every 50 ms. */
async function track(
  done: () => number,
  total: () => number,
  timeoutMs: number,
  brokerPid: number,
): Promise<{
  firstAt: number;
  lastAt: number;
  progress: Progress[];
  timedOut: boolean;
  cpuMs: number;
  elu: number;
  mainCpuMs: number;
  brokerCpuMs: number;
}> {
  const mainStat = `/proc/self/task/${process.pid}/stat`;
  const brokerStat = `/proc/${brokerPid}/stat`;
  let main0 = 0;
  let broker0 = 0;
  const progress: Progress[] = [];
  const start = performance.now();
  let firstAt = Number.NaN;
  let cpu0: NodeJS.CpuUsage | undefined;
  let elu0: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  const usage = () => {
    if (cpu0 === undefined || elu0 === undefined)
      return { cpuMs: 0, elu: 0, mainCpuMs: 0, brokerCpuMs: Number.NaN };
    const c = process.cpuUsage(cpu0);
    return {
      cpuMs: (c.user + c.system) / 1000,
      elu: performance.eventLoopUtilization(elu0).utilization,
      mainCpuMs: statCpuMs(mainStat) - main0,
      brokerCpuMs: statCpuMs(brokerStat) - broker0,
    };
  };
  for (;;) {
    const now = performance.now();
    const d = done();
    if (d > 0 && Number.isNaN(firstAt)) {
      firstAt = now;
      cpu0 = process.cpuUsage();
      elu0 = performance.eventLoopUtilization();
      main0 = statCpuMs(mainStat);
      broker0 = statCpuMs(brokerStat);
    }
    progress.push({ t: Math.round(now - start), done: d });
    if (d >= total()) return { firstAt, lastAt: now, progress, timedOut: false, ...usage() };
    if (now - start > timeoutMs) return { firstAt, lastAt: now, progress, timedOut: true, ...usage() };
    await new Promise((r) => setTimeout(r, d > 0 ? 5 : 50));
  }
}

async function passthrough(job: PassthroughJob): Promise<JobResult> {
  const transport = createTransport(
    job.transport,
    {
      brokers: [job.bootstrap],
      clientId: 'bench-passthrough',
      security: { protocol: 'PLAINTEXT' },
      librdkafka: job.librdkafka,
    },
    silentLogger(),
  );
  const producer = job.outTopic === null ? undefined : transport.producer({ lingerMs: job.lingerMs });
  await producer?.connect();
  let done = 0;
  // One commit request at a time with the newest offset of each partition, as the pipeline commits.
  const toCommit = new Map<number, CommitOffset>();
  let committing: Promise<void> | undefined;
  const consumer = transport.consumer({
    groupId: job.groupId,
    topics: [job.inTopic],
    startFrom: 'earliest',
    maxBatchRecords: job.maxBatchRecords,
  });
  const commit = (): void => {
    if (committing !== undefined || toCommit.size === 0) return;
    const offsets = [...toCommit.values()];
    toCommit.clear();
    committing = consumer
      .commit(offsets)
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        committing = undefined;
        commit();
      });
  };
  // Per partition: sends in flight (up to maxInFlightPerPartition), finished in order.
  const chains = new Map<number, Promise<void>[]>();
  const out = job.outTopic;
  const memory = new MemorySampler(job.memorySampleMs, () => done).begin();
  await consumer.start(async (batch) => {
    const { partition, records } = batch;
    const finish = () => {
      toCommit.set(partition, {
        topic: batch.topic,
        partition,
        offset: batch.nextOffset,
        epoch: batch.epoch,
      });
      done += records.length;
      commit();
    };
    if (producer === undefined || out === null) {
      finish();
      return;
    }
    let inFlight = chains.get(partition);
    if (inFlight === undefined) {
      inFlight = [];
      chains.set(partition, inFlight);
    }
    const sent = producer.send(records.map((r) => ({ topic: out, key: r.key, value: r.value })));
    const prev = inFlight[inFlight.length - 1] ?? Promise.resolve();
    const p = Promise.all([prev, sent]).then(finish);
    inFlight.push(p);
    p.finally(() => inFlight.splice(inFlight.indexOf(p), 1));
    if (inFlight.length >= job.maxInFlightPerPartition) await inFlight[0];
  });
  const { t, memorySamples } = await measureDrain(job, () => done, memory);
  const s0 = performance.now();
  await consumer.close();
  await producer?.close();
  await transport.close();
  return drainResult(done, t, memorySamples, performance.now() - s0);
}

/** Tells the parent the drain has started, then tracks it to `job.total` records and stops the memory sampler. */
async function measureDrain(job: CommonJob, done: () => number, memory: MemorySampler) {
  await send({ type: 'started' });
  const t = await track(done, () => job.total, job.timeoutMs, job.brokerPid);
  return { t, memorySamples: memory.end() };
}

/** A drain's JobResult: what track() measured, the memory samples, and how long stopping took. */
function drainResult(
  done: number,
  t: Awaited<ReturnType<typeof track>>,
  memory: JobResult['memory'],
  stopMs: number,
): JobResult {
  return {
    done,
    timedOut: t.timedOut,
    elapsedMs: t.lastAt - t.firstAt,
    firstAt: t.firstAt,
    progress: t.progress,
    memory,
    stopMs,
    cpuMs: t.cpuMs,
    elu: t.elu,
    mainCpuMs: t.mainCpuMs,
    brokerCpuMs: t.brokerCpuMs,
  };
}

async function bareClient(job: ClientJob): Promise<JobResult> {
  const { KafkaConsumer, Producer } = loadRdkafka();
  const connect = (c: { connect: (o: object, cb: (err: unknown) => void) => void }) =>
    new Promise<void>((resolve, reject) => c.connect({}, (err) => (err ? reject(err) : resolve())));
  const consumer = new KafkaConsumer(
    {
      'group.id': job.groupId,
      'metadata.broker.list': job.bootstrap,
      'enable.auto.commit': false,
      'fetch.wait.max.ms': 100,
      ...job.librdkafka,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  const out = job.outTopic;
  const producer =
    out === null
      ? undefined
      : new Producer({
          'metadata.broker.list': job.bootstrap,
          dr_cb: true,
          'linger.ms': 5,
          // The whole backlog may be in flight: flowing mode has no backpressure to wait on.
          'queue.buffering.max.messages': job.total + 1000,
          'queue.buffering.max.kbytes': 2_097_151,
        });
  let done = 0;
  if (producer !== undefined) {
    await connect(producer);
    producer.setPollInterval(2);
    producer.on('delivery-report', () => {
      done++;
    });
  }
  await connect(consumer);
  consumer.subscribe([job.inTopic]);
  const onMessage = (m: { value: Buffer | null; key?: unknown }) => {
    if (producer === undefined) done++;
    else producer.produce(out!, null, m.value, m.key as Buffer | undefined);
  };
  let running = true;
  if (job.style === 'flowing') {
    consumer.on('data', onMessage);
    consumer.consume();
  } else {
    consumer.setDefaultConsumeTimeout(20);
    const loop = () =>
      consumer.consume(1000, (err, messages) => {
        if (!err) for (const m of messages) onMessage(m);
        if (running) setImmediate(loop);
      });
    loop();
  }
  const memory = new MemorySampler(job.memorySampleMs, () => done).begin();
  const { t, memorySamples } = await measureDrain(job, () => done, memory);
  running = false;
  const s0 = performance.now();
  await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  if (producer !== undefined) await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  return drainResult(done, t, memorySamples, performance.now() - s0);
}

/** Silent, unless BENCH_LOG_LEVEL asks for the pipeline's and transport's logs (on stderr) to debug a run. */
function benchLogger() {
  const level = process.env.BENCH_LOG_LEVEL;
  return level ? createLogger({ level, name: 'bench-worker' }) : silentLogger();
}

async function pipelineJob(job: PipelineJob): Promise<JobResult> {
  const detector = await openModel(job.modelDir);
  const scoringPool =
    job.workers > 0
      ? await ScoringPool.create(detectorSource(detector), { size: job.workers, backend: 'wasm' })
      : undefined;
  const base = createTransport(
    job.transport,
    {
      brokers: [job.bootstrap],
      clientId: 'bench-pipeline',
      security: { protocol: 'PLAINTEXT' },
      librdkafka: job.librdkafka,
    },
    benchLogger(),
  );
  const inWindow = (t: number) => t >= window.from && t < window.to;
  const probes = job.latency ? instrument(base, inWindow) : undefined;
  const transport = probes?.transport ?? base;
  const metrics = new VigilMetrics(new Registry());
  // Every record's latency as the pipeline itself measures it (record timestamp → its outputs acknowledged),
  // kept exactly instead of in the histogram's buckets. Only records stamped inside the window count.
  let window = { from: Number.POSITIVE_INFINITY, to: Number.POSITIVE_INFINITY, total: job.total };
  const latencies = new Samples();
  const inVigil = new Samples();
  if (job.latency) {
    const observe = metrics.endToEndLatency.observe.bind(metrics.endToEndLatency);
    metrics.endToEndLatency.observe = ((value: number) => {
      // The pipeline computes value = (ackedAt - timestamp) / 1000 with ackedAt = Date.now() a moment ago.
      if (inWindow(Date.now() - value * 1000)) latencies.push(value * 1000);
      observe(value);
    }) as typeof metrics.endToEndLatency.observe;
    const observeOwn = metrics.processingLatency.observe.bind(metrics.processingLatency);
    metrics.processingLatency.observe = ((value: number) => {
      // Windowed by when the record was handed over, which is within milliseconds of its timestamp here.
      if (inWindow(Date.now() - value * 1000)) inVigil.push(value * 1000);
      observeOwn(value);
    }) as typeof metrics.processingLatency.observe;
  }
  const pipeline = new Pipeline(
    {
      topics: [job.inTopic],
      groupId: job.groupId,
      anomaliesTopic: job.anomaliesTopic,
      deadLetterTopic: job.deadLetterTopic,
      batching: job.batching,
      delivery: 'at-least-once',
      startFrom: 'earliest',
      ...(job.maxInFlightBatches === undefined ? {} : { maxInFlightBatches: job.maxInFlightBatches }),
      ...(job.maxFetchRecords === undefined ? {} : { maxFetchRecords: job.maxFetchRecords }),
      producer: { lingerMs: job.lingerMs },
      commitIntervalMs: job.commitIntervalMs,
    },
    {
      transport,
      decoder: plainAvroDecoder(
        job.workload === 'peer' ? peerSchema() : loadSchema('sensor_reading'),
        undefined,
        {
          reuse: true,
        },
      ),
      extractor: job.workload === 'peer' ? peerExtractor() : sensorExtractor(),
      scorer: scoringPool?.asScorer(detector.identity) ?? detector,
      output: plainAvroOutputCodec(),
      logger: benchLogger(),
      metrics,
    },
  );
  const done = () => pipeline.stats.scored + pipeline.stats.deadLettered;
  process.on('message', (cmd: Command) => {
    if (cmd.type === 'window') window = cmd;
  });
  const memory = new MemorySampler(job.memorySampleMs, done).begin();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  await pipeline.start();
  // A failed pipeline stops consuming and the phase would only time out: say so, whatever the log level.
  pipeline.closed.catch((err: unknown) => {
    process.stderr.write(
      `bench worker: the pipeline failed: ${err instanceof Error ? err.stack : String(err)}\n`,
    );
  });
  loopDelay.enable();
  let session: Session | undefined;
  if (job.profile !== undefined) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
    await session.post('Profiler.start');
    // BENCH_ALLOC_PROFILE=1: also sample allocations, collected ones included (what the GC has to clear), into
    // <profile>.heapprofile.
    if (process.env.BENCH_ALLOC_PROFILE) {
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 16_384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      } as never);
    }
  }
  await send({ type: 'started' });
  const t = await track(done, () => window.total, job.timeoutMs, job.brokerPid);
  if (session !== undefined) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(job.profile!, JSON.stringify(profile));
    if (process.env.BENCH_ALLOC_PROFILE) {
      const { profile: heap } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(`${job.profile!}.heapprofile`, JSON.stringify(heap));
    }
    session.disconnect();
  }
  const memorySamples = memory.end();
  const s0 = performance.now();
  await pipeline.stop();
  const stopMs = performance.now() - s0;
  await base.close();
  let latency: JobResult['latency'];
  if (probes !== undefined) {
    loopDelay.disable();
    latency = {
      ...percentiles(latencies),
      delivered: percentiles(probes.delivered),
      send: percentiles(probes.send),
      inVigil: percentiles(inVigil),
      fromClient: percentiles(probes.fromClient),
      loopDelay: {
        p50: loopDelay.percentile(50) / 1e6,
        p99: loopDelay.percentile(99) / 1e6,
        max: loopDelay.max / 1e6,
      },
    };
  }
  await scoringPool?.close();
  detector.dispose();
  return {
    done: done(),
    timedOut: t.timedOut,
    elapsedMs: t.lastAt - t.firstAt,
    firstAt: t.firstAt,
    progress: t.progress,
    memory: memorySamples,
    stats: { ...pipeline.stats },
    ...(latency === undefined ? {} : { latency }),
    stopMs,
    cpuMs: t.cpuMs,
    elu: t.elu,
    mainCpuMs: t.mainCpuMs,
    brokerCpuMs: t.brokerCpuMs,
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as Job;
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  const result =
    job.mode === 'passthrough'
      ? await passthrough(job)
      : job.mode === 'client'
        ? await bareClient(job)
        : await pipelineJob(job);
  await send({ type: 'result', result });
}

main().then(
  // Exit rather than return: no client timer or socket left behind may keep the process alive.
  () => process.exit(0),
  async (err: unknown) => {
    await send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  },
);
