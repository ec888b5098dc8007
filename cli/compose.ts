import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import { IncidentStage } from '../connector/incidents/incident-stage.js';
import type { OpenIncidents } from '../connector/incidents/open-incidents.js';
import { readIncidents } from '../connector/incidents/recovery.js';
import type { ModelLifecycle } from '../connector/lifecycle/model-lifecycle.js';
import { liveRoutes } from '../connector/live/live-http.js';
import { LiveView } from '../connector/live/live-view.js';
import {
  confluentDecoder,
  plainAvroDecoder,
  type RecordDecoder,
} from '../connector/pipeline/decode-stage.js';
import {
  confluentOutputCodec,
  jsonOutputCodec,
  type OutputCodec,
  plainAvroOutputCodec,
} from '../connector/pipeline/output-codec.js';
import { Pipeline } from '../connector/pipeline/pipeline.js';
import type { ModelRegistry } from '../connector/registry/model-registry.js';
import { ModelServer } from '../connector/registry/model-server.js';
import { createTransport } from '../connector/transport/index.js';
import type {
  Transport,
  TransportAdmin,
  TransportCapabilities,
  TransportOptions,
} from '../connector/transport/types.js';
import type { VigilConfig } from '../core/config/schema.js';
import { VigilError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { VigilMetrics } from '../core/metrics/vigil-metrics.js';
import { loadDetector } from '../model/artifact.js';
import { initBackend } from '../model/backend.js';
import { Detector, type DetectorOptions } from '../model/detector.js';
import { checkFeatureMapping } from '../model/feature-mapping.js';
import type { AsyncScorer, Scorer } from '../model/types.js';
import { detectorSource, ScoringPool } from '../model/workers/pool.js';
import type { AvroType } from '../schemas/avro.js';
import { loadSchemaFile } from '../schemas/catalog.js';
import { SchemaCache } from '../schemas/codec.js';
import { compileFeatures, type FeatureExtractor } from '../schemas/features/extractor.js';
import { RegistryClient } from '../schemas/registry-client.js';
import type { AnomalyEvent } from '../schemas/types.js';
import { type LifecycleServing, startLifecycleServing } from './lifecycle-serving.js';
import { type RegistryServing, startRegistryServing } from './registry-serving.js';

/**
 * The composition root's wiring: validated config in, a running service out. Only cli/ reads the environment
 * and argv; everything below takes what it needs as arguments.
 */

export function transportOptions(config: VigilConfig): TransportOptions {
  const k = config.kafka;
  const s = k.security;
  return {
    brokers: k.brokers,
    clientId: k.clientId,
    connectionTimeoutMs: k.connectionTimeoutMs,
    security: {
      protocol: s.protocol,
      ...(s.sasl === undefined
        ? {}
        : { sasl: { mechanism: s.sasl.mechanism, username: s.sasl.username, password: s.sasl.password } }),
      ...(s.ssl === undefined
        ? {}
        : {
            ssl: {
              ...(s.ssl.caLocation === undefined ? {} : { caFile: s.ssl.caLocation }),
              ...(s.ssl.certificateLocation === undefined ? {} : { certFile: s.ssl.certificateLocation }),
              ...(s.ssl.keyLocation === undefined ? {} : { keyFile: s.ssl.keyLocation }),
              ...(s.ssl.keyPassword === undefined ? {} : { keyPassword: s.ssl.keyPassword }),
              rejectUnauthorized: s.ssl.rejectUnauthorized,
            },
          }),
    },
  };
}

export interface Service {
  readonly pipeline: Pipeline;
  readonly transport: Transport;
  readonly metrics: VigilMetrics;
  readonly registry: Registry;
  readonly extractor: FeatureExtractor;
  /** The scorer serving now (it changes when a registry promotion is swapped in). */
  readonly scorer: Scorer | AsyncScorer;
  /** With model.registry: the serving model's holder (swap()) and the registry it follows. */
  readonly modelServer?: ModelServer;
  readonly modelRegistry?: ModelRegistry;
  /** With model.lifecycle.enabled: drift checks, retraining, feedback. */
  readonly lifecycle?: ModelLifecycle;
  /** The live view's feed when `ui.enabled`. */
  readonly live: LiveView | undefined;
  /** Open incidents and incident events (read-only), when output.incidents.enabled. */
  readonly incidents?: OpenIncidents;
  /** Stops in order: stop fetching, drain, flush, commit, leave the group, close; then the metrics server. */
  stop(): Promise<void>;
}

export interface ServiceHooks {
  onAnomaly?: (event: AnomalyEvent) => void;
  /** A scorer already in memory (the demo's freshly trained model) instead of config.model.artifact. */
  scorer?: Scorer;
  /** Aborted when the process is asked to stop while start-up waits for a first promoted model. */
  signal?: AbortSignal;
}

export async function startService(
  config: VigilConfig,
  logger: Logger,
  hooks: ServiceHooks = {},
): Promise<Service> {
  // What start-up has opened, released in reverse order when a later step fails, so a failed start ends the
  // process instead of leaving a server, workers or clients holding it open.
  const opened: (() => Promise<void>)[] = [];
  const release = async () => {
    for (const close of opened.reverse()) await close().catch(() => {});
  };
  try {
    return await start(config, logger, hooks, opened);
  } catch (err) {
    await release();
    throw err;
  }
}

async function start(
  config: VigilConfig,
  logger: Logger,
  hooks: ServiceHooks,
  opened: (() => Promise<void>)[],
): Promise<Service> {
  const registry = new Registry();
  const metrics = new VigilMetrics(registry, { processMetrics: true });
  const health = new Health();
  const live = liveView(config);
  const server = config.metrics.enabled
    ? await serveMetrics(registry, health, config, logger, live && liveRoutes(live, config.ui.path))
    : undefined;
  if (server !== undefined) opened.push(() => closeServer(server));

  const backend = await initBackend({ preference: config.model.backend, logger });
  const t = config.model.threshold;
  const threshold =
    t.method === 'rate'
      ? { threshold: { falseAlarmRate: t.falseAlarmRate } }
      : t.method === 'quantile'
        ? { threshold: { quantile: t.quantile } }
        : t.method === 'fixed' && t.value !== undefined
          ? { threshold: { value: t.value } }
          : {};
  const reader = config.input.schema === undefined ? undefined : loadSchemaFile(config.input.schema);
  const extractor = compileFeatures(config.features, reader === undefined ? {} : { readerSchema: reader });
  if (extractor.temporal !== undefined) metrics.watchEntityState(extractor.temporal);
  let transport: Transport | undefined;
  let modelServer: ModelServer | undefined;
  let serving: RegistryServing | undefined;
  let pool: ScoringPool | undefined;
  let firstScorer: Scorer | AsyncScorer;
  if (config.model.registry !== undefined && hooks.scorer === undefined) {
    // The registry lives on the cluster: the clients come first, and the model from them.
    const t = createTransport(config.kafka.transport, transportOptions(config), logger);
    transport = t;
    opened.push(() => t.close());
    const server = new ModelServer({
      mapping: extractor,
      detectorOptions: { ...threshold, logger },
      createPool: (first) => scoringPool(config, first, threshold),
      backend: backend.name,
      metrics,
      logger,
    });
    modelServer = server;
    opened.push(() => server.close());
    const started = await startRegistryServing(config, {
      transport: t,
      server,
      logger,
      setWaiting: (reason) => {
        health.waiting = reason;
      },
      ...(hooks.signal === undefined ? {} : { signal: hooks.signal }),
    });
    serving = started.serving;
    opened.push(() => started.serving.close());
    firstScorer = started.first.scorer;
  } else {
    const loaded = await artifactModel(config, hooks, extractor, threshold, logger);
    pool = loaded.pool;
    if (pool !== undefined) {
      const p = pool;
      opened.push(() => p.close());
    }
    firstScorer = loaded.scorer;
    // The threshold in force is the one the operating point (model.threshold) moved the calibration to.
    const d = loaded.detector;
    const inForce = d instanceof Detector ? d.activeCalibration.threshold : Number.NaN;
    metrics.setModel(d.identity.id, d.identity.version, backend.name, inForce);
  }
  // The first model served; a later registry swap is not shown on the live view yet.
  const firstModel = firstScorer.identity;
  live?.onModel({ id: firstModel.id, version: firstModel.version, backend: backend.name });
  const { decoder, output } = await codecs(config, reader);

  transport ??= createTransport(config.kafka.transport, transportOptions(config), logger);
  if (modelServer === undefined) {
    const t = transport;
    opened.push(() => t.close());
  }

  const transactionalId =
    config.delivery === 'exactly-once' ? exactlyOnceId(config, transport.capabilities, logger) : undefined;
  const admin = transport.admin();
  await prepareTopics(admin, config, logger);
  await admin.close();

  const inc = config.output.incidents;
  const incidents = inc.enabled
    ? new IncidentStage({
        topic: inc.topic,
        gapMs: inc.gapMs,
        maxOpen: inc.maxOpen,
        maxEventIds: inc.maxEventIds,
        maxFeatures: inc.maxFeatures,
        encode: (e) => output.incident(e),
        metrics,
        logger,
        ...(inc.recover
          ? {
              recover: (parts) =>
                readIncidents(
                  transport,
                  inc.topic,
                  (v) => output.decodeIncident(v),
                  parts,
                  (err) =>
                    logger.warn(
                      { err, topic: inc.topic },
                      'unreadable record on the incidents topic; skipped',
                    ),
                ),
            }
          : {}),
      })
    : undefined;
  if (incidents !== undefined) metrics.watchIncidents(incidents, config.input.topics);
  // Without the tracker the page says incidents are off: `--ui` does not turn it on (see ui.enabled's description).
  if (incidents !== undefined) live?.follow(incidents);

  // Before the pipeline, which hands it every scored batch; its retrain waits for the pipeline's assignment.
  let pipelineRef: Pipeline | undefined;
  let lifecycle: LifecycleServing | undefined;
  if (config.model.lifecycle.enabled && serving !== undefined && modelServer?.current !== undefined) {
    const firstTopic = config.input.topics[0]!;
    const started = await startLifecycleServing(config, modelServer.current, {
      transport,
      registry: serving.registry,
      server: modelServer,
      logger,
      metrics: metrics.lifecycle,
      mayRetrain: () => pipelineRef?.owns(firstTopic, 0) ?? false,
    });
    lifecycle = started;
    opened.push(() => started.close());
  }

  const pipeline = new Pipeline(
    {
      topics: config.input.topics,
      groupId: config.kafka.groupId,
      anomaliesTopic: config.output.anomaliesTopic,
      deadLetterTopic: config.output.deadLetterTopic,
      ...(config.output.scoresTopic === undefined ? {} : { scoresTopic: config.output.scoresTopic }),
      batching: config.batching,
      delivery: config.delivery,
      maxContributions: config.output.maxContributions,
      maxMessageBytes: config.output.maxMessageBytes,
      startFrom: config.kafka.consumer.autoOffsetReset,
      commitIntervalMs: config.kafka.consumer.commitIntervalMs,
      ...(transactionalId === undefined ? {} : { transactionalId }),
      consumer: {
        sessionTimeoutMs: config.kafka.consumer.sessionTimeoutMs,
        heartbeatIntervalMs: config.kafka.consumer.heartbeatIntervalMs,
        maxPollIntervalMs: config.kafka.consumer.rebalanceTimeoutMs,
        isolation: config.kafka.consumer.isolationLevel,
        fetch: {
          minBytes: config.kafka.consumer.fetchMinBytes,
          maxBytes: config.kafka.consumer.fetchMaxBytes,
          maxBytesPerPartition: config.kafka.consumer.maxPartitionFetchBytes,
          maxWaitMs: config.kafka.consumer.fetchMaxWaitMs,
        },
      },
      producer: {
        lingerMs: config.kafka.producer.lingerMs,
        deliveryTimeoutMs: config.kafka.producer.requestTimeoutMs,
        compression: config.kafka.producer.compression,
        idempotent: config.kafka.producer.idempotent,
      },
    },
    {
      transport,
      decoder,
      extractor,
      // The server's current model, not the first: a promotion may have been swapped in meanwhile.
      scorer: modelServer?.current?.scorer ?? firstScorer,
      output,
      logger,
      metrics,
      ...anomalyListeners(hooks.onAnomaly, live),
      ...(live === undefined ? {} : { onScores: (s, at) => live.onScores(s, at) }),
      ...(incidents === undefined ? {} : { incidents }),
      ...(lifecycle === undefined ? {} : { onScored: lifecycle.lifecycle.onScored }),
    },
  );
  pipelineRef = pipeline;
  // No await since the scorer was read above: every later swap goes to the pipeline.
  modelServer?.attach(pipeline);
  // Before start(): the pipeline's consumer and producers belong to the transport closed above on failure.
  health.pipeline = pipeline;
  // Before start(): kafkajs's start() itself waits for the first assignment.
  const joinTimer = explainSilentJoin(pipeline, config, logger);
  opened.push(async () => clearInterval(joinTimer));
  await pipeline.start();
  pipeline.closed.catch(() => {
    health.failed = true;
  });
  const lagTimer = setInterval(() => {
    const lag = pipelineLag(pipeline);
    for (const l of lag) metrics.setLag(l.topic, l.partition, l.lag);
    live?.onLag(lag);
  }, 5_000);
  lagTimer.unref();
  logger.info(
    {
      transport: transport.kind,
      topics: config.input.topics,
      model: (modelServer?.current?.scorer ?? firstScorer).identity,
      backend: backend.name,
      ...(modelServer === undefined ? {} : { registryVersion: modelServer.current?.version }),
    },
    'vigil is running',
  );

  let stopped: Promise<void> | undefined;
  return {
    pipeline,
    transport,
    metrics,
    registry,
    extractor,
    get scorer() {
      return modelServer?.current?.scorer ?? firstScorer;
    },
    ...(modelServer === undefined ? {} : { modelServer }),
    ...(serving === undefined ? {} : { modelRegistry: serving.registry }),
    ...(lifecycle === undefined ? {} : { lifecycle: lifecycle.lifecycle }),
    live,
    ...(incidents === undefined ? {} : { incidents }),
    stop() {
      stopped ??= (async () => {
        health.stopping = true;
        clearInterval(lagTimer);
        clearInterval(joinTimer);
        // No swap starts once stopping: the watcher goes first, the models after the last batch.
        await serving?.close();
        await lifecycle?.close();
        await pipeline.stop();
        await pool?.close();
        await modelServer?.close();
        await transport.close();
        if (server !== undefined) await closeServer(server);
      })();
      return stopped;
    },
  };
}

/**
 * The `transactional.id` of this replica. It must be distinct per replica (two producers with one id fence
 * each other in a loop) and, where offsets in a transaction do not carry the group generation (KIP-447, kafkajs),
 * the same across restarts: then fencing a killed predecessor's zombie rests on the id alone.
 */
export function exactlyOnceId(
  config: VigilConfig,
  capabilities: TransportCapabilities,
  logger: Logger,
  unique: () => string = () => randomUUID(),
): string {
  const k = config.kafka;
  const base = `${k.producer.transactionalIdPrefix}-${k.groupId}`;
  if (k.instanceId !== undefined) return `${base}-${k.instanceId}`;
  if (!capabilities.transactionalGroupFencing) {
    throw new VigilError(
      'CONFIG_INVALID',
      `kafka.instanceId: delivery exactly-once over ${k.transport} needs a stable name per replica (its transactions are fenced by transactional.id only; e.g. VIGIL__KAFKA__INSTANCEID set to a StatefulSet's pod name), or kafka.transport rdkafka`,
      { details: { key: 'kafka.instanceId', transport: k.transport } },
    );
  }
  const id = `${base}-${k.clientId}-${unique()}`;
  logger.warn(
    { transactionalId: id },
    'kafka.instanceId is not set: this process uses a transactional.id of its own (zombies are fenced by group generation, KIP-447); after a crash, its open transaction holds its partitions’ offsets until the transaction times out. Set kafka.instanceId to a stable per-replica name to have a restart fence it at once',
  );
  return id;
}

/**
 * Input topics must exist; missing output topics are created (only those: creating an existing topic needs
 * the CREATE right) when `output.createTopics.enabled`, sized as configured or by the broker's defaults.
 */
export async function prepareTopics(
  admin: TransportAdmin,
  config: VigilConfig,
  logger: Logger,
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missingInput = config.input.topics.filter((t) => !existing.has(t));
  if (missingInput.length > 0) {
    throw new VigilError(
      'TOPIC_NOT_FOUND',
      `input.topics: ${missingInput.map((t) => JSON.stringify(t)).join(', ')} ${missingInput.length === 1 ? 'does' : 'do'} not exist on the cluster at ${config.kafka.brokers.join(',')}`,
      { details: { key: 'input.topics', topics: missingInput } },
    );
  }
  const o = config.output;
  const outputs = (
    [
      ['anomaliesTopic', o.anomaliesTopic],
      ['deadLetterTopic', o.deadLetterTopic],
      ['scoresTopic', o.scoresTopic],
      ['incidents.topic', o.incidents.enabled ? o.incidents.topic : undefined],
    ] as const
  ).filter((e): e is readonly [(typeof e)[0], string] => e[1] !== undefined && !existing.has(e[1]));
  if (outputs.length === 0) return;
  const c = o.createTopics;
  if (!c.enabled) {
    throw new VigilError(
      'TOPIC_NOT_FOUND',
      `${outputs.map(([key, t]) => `output.${key} ${JSON.stringify(t)}`).join(', ')}: not on the cluster, and output.createTopics.enabled is false`,
      { details: { topics: outputs.map((e) => e[1]) } },
    );
  }
  const specs = outputs.map(([, name]) => ({
    name,
    // -1: the broker's num.partitions / default.replication.factor.
    partitions: c.partitions ?? -1,
    replicationFactor: c.replicationFactor ?? -1,
    config: c.config,
  }));
  await admin.createTopics(specs);
  logger.info(
    {
      topics: specs.map((s) => s.name),
      partitions: c.partitions ?? 'broker default',
      replicationFactor: c.replicationFactor ?? 'broker default',
    },
    'created output topics',
  );
}

/**
 * After a kill -9 the group waits for the dead member's session to expire before it assigns anything, and a
 * newcomer sees nothing but silence; say why once, if no partition has come after a few seconds.
 */
function explainSilentJoin(pipeline: Pipeline, config: VigilConfig, logger: Logger): NodeJS.Timeout {
  const since = Date.now();
  const after = Math.min(5_000, config.kafka.consumer.sessionTimeoutMs / 2);
  const timer = setInterval(() => {
    if (assignedPartitions(pipeline) > 0) {
      clearInterval(timer);
      return;
    }
    if (Date.now() - since < after) return;
    clearInterval(timer);
    logger.info(
      {
        groupId: config.kafka.groupId,
        sessionTimeoutMs: config.kafka.consumer.sessionTimeoutMs,
        rebalanceTimeoutMs: config.kafka.consumer.rebalanceTimeoutMs,
      },
      'no partitions assigned yet: the group is waiting for its other members to rejoin; a member that died without leaving (kill -9, a crashed pod) holds its partitions until its session expires (kafka.consumer.sessionTimeoutMs)',
    );
  }, 500);
  timer.unref();
  return timer;
}

/** The live view when `ui.enabled`: bounded in-memory buffers the page's JSON is answered from. */
function liveView(config: VigilConfig): LiveView | undefined {
  if (!config.ui.enabled) return undefined;
  return new LiveView({
    historySeconds: config.ui.historySeconds,
    maxAnomalies: config.ui.maxAnomalies,
  });
}

function anomalyListeners(
  hook: ((event: AnomalyEvent) => void) | undefined,
  live: LiveView | undefined,
): { onAnomaly?: (event: AnomalyEvent) => void } {
  if (live === undefined) return hook === undefined ? {} : { onAnomaly: hook };
  if (hook === undefined) return { onAnomaly: (e) => live.onAnomaly(e) };
  return {
    onAnomaly: (e) => {
      hook(e);
      live.onAnomaly(e);
    },
  };
}

/** What /healthz and /readyz answer from. */
class Health {
  pipeline: Pipeline | undefined;
  failed = false;
  stopping = false;
  /** Why start-up is waiting (for a promoted model in the registry, say); undefined when it is not. */
  waiting: string | undefined;

  /** Live: the process is doing its job or starting to; a pipeline that stopped on an error is not. */
  live(): boolean {
    return !this.failed;
  }

  /** Ready: model loaded, connected, in the group with partitions assigned, and not shutting down. */
  ready(): { ready: boolean; reason: string } {
    if (this.failed) return { ready: false, reason: 'the pipeline stopped on an error' };
    if (this.stopping) return { ready: false, reason: 'shutting down' };
    if (this.waiting !== undefined) return { ready: false, reason: this.waiting };
    if (this.pipeline === undefined) return { ready: false, reason: 'starting: model, topics, clients' };
    const n = assignedPartitions(this.pipeline);
    if (n === 0) return { ready: false, reason: 'no partitions assigned (joining the group)' };
    return { ready: true, reason: `${n} partitions assigned` };
  }
}

function assignedPartitions(pipeline: Pipeline): number {
  const consumer = (pipeline as unknown as { consumer?: { assignment(): unknown[] } }).consumer;
  return consumer?.assignment().length ?? 0;
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** The model of `model.artifact` (or the hooks' scorer), checked against the mapping, with its worker pool. */
async function artifactModel(
  config: VigilConfig,
  hooks: ServiceHooks,
  extractor: FeatureExtractor,
  threshold: Pick<DetectorOptions, 'threshold'>,
  logger: Logger,
): Promise<{ detector: Scorer; scorer: Scorer | AsyncScorer; pool: ScoringPool | undefined }> {
  const detector = hooks.scorer ?? (await loadDetector(config.model.artifact, { ...threshold, logger }));
  // Where model and mapping meet: refuse one trained on other columns before anything is scored with it.
  const mappingCheck = checkFeatureMapping(
    {
      featureNames: detector.identity.featureNames,
      featureMapping: detector instanceof Detector ? detector.state.featureMapping : undefined,
    },
    extractor,
  );
  if (mappingCheck === 'names-only' && hooks.scorer === undefined) {
    logger.warn(
      { artifact: config.model.artifact, features: extractor.width },
      'the model artifact records no feature mapping (trained from bare columns or by an older Vigil): matched by feature names only; retrain with vigil train --config to have the mapping checked',
    );
  }
  const pool = await scoringPool(config, detector, threshold);
  const scorer: Scorer | AsyncScorer =
    pool?.asScorer(detector.identity, 0, detector.activeCalibration) ?? detector;
  return { detector, scorer, pool };
}

/** The worker-thread pool `model.workers` asks for, each worker with a copy of the served model; or none. */
async function scoringPool(
  config: VigilConfig,
  scorer: Scorer,
  threshold: Pick<DetectorOptions, 'threshold'>,
): Promise<ScoringPool | undefined> {
  const size = config.model.workers;
  if (size === 0) return undefined;
  if (!(scorer instanceof Detector)) {
    throw new VigilError('CONFIG_INVALID', 'model.workers: only a trained Detector can be copied to workers');
  }
  if (scorer.spec.kind === 'conv1d' && size > 1) {
    throw new VigilError(
      'CONFIG_INVALID',
      `model.workers: ${size} given, but a conv1d model keeps per-entity window history, which one worker must hold; use 1`,
    );
  }
  return ScoringPool.create(detectorSource(scorer), {
    size,
    backend: config.model.backend,
    detector: threshold,
  });
}

function pipelineLag(pipeline: Pipeline): { topic: string; partition: number; lag: number }[] {
  const consumer = (
    pipeline as unknown as { consumer?: { lag(): { topic: string; partition: number; lag: bigint }[] } }
  ).consumer;
  if (consumer === undefined) return [];
  return consumer
    .lag()
    .filter((l) => l.lag >= 0n)
    .map((l) => ({ topic: l.topic, partition: l.partition, lag: Number(l.lag) }));
}

async function codecs(
  config: VigilConfig,
  reader: AvroType | undefined,
): Promise<{ decoder: RecordDecoder; output: OutputCodec }> {
  const o = config.output;
  if (config.input.format === 'avro') {
    if (reader === undefined)
      throw new VigilError('CONFIG_INVALID', 'input.schema: format avro needs a reader schema');
    return {
      decoder: plainAvroDecoder(reader, undefined, { reuse: true }),
      output: o.format === 'json' ? jsonOutputCodec() : plainAvroOutputCodec(),
    };
  }
  const r = config.input.registry;
  const cache = new SchemaCache();
  const client = new RegistryClient({
    url: r.url,
    cache,
    timeoutMs: r.timeoutMs,
    ...(r.auth === undefined ? {} : { auth: r.auth }),
  });
  if (reader === undefined) {
    throw new VigilError('CONFIG_INVALID', 'input.schema: a reader schema is needed to map features');
  }
  const output =
    o.format === 'json'
      ? jsonOutputCodec()
      : await confluentOutputCodec(client, {
          anomalies: o.anomaliesTopic,
          deadLetters: o.deadLetterTopic,
          ...(o.incidents.enabled ? { incidents: o.incidents.topic } : {}),
        });
  return { decoder: confluentDecoder(reader, cache, client, { reuse: true }), output };
}

async function serveMetrics(
  registry: Registry,
  health: Health,
  config: VigilConfig,
  logger: Logger,
  extraRoutes?: (req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<Server> {
  const { host, port, path } = config.metrics;
  const server = createServer((req, res) => {
    if (extraRoutes?.(req, res)) return;
    const text = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(`${body}\n`);
    };
    if (req.url === path || req.url?.startsWith(`${path}?`)) {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        })
        .catch((err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        });
    } else if (req.url === '/healthz') {
      if (health.live()) text(200, 'ok');
      else text(503, 'the pipeline stopped on an error');
    } else if (req.url === '/readyz') {
      const r = health.ready();
      text(r.ready ? 200 : 503, r.reason);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new VigilError('PORT_IN_USE', `metrics.port: ${host}:${port} is already in use`, { cause: err })
          : err,
      ),
    );
    server.listen(port, host, () => resolve());
  });
  server.unref();
  logger.info({ url: `http://${host}:${port}${path}` }, 'metrics endpoint up');
  if (extraRoutes !== undefined)
    logger.info({ url: `http://${host}:${port}${config.ui.path}` }, 'live view up');
  return server;
}
