import { createServer, type Server } from 'node:http';
import { Registry } from 'prom-client';
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
import { createTransport } from '../connector/transport/index.js';
import type { Transport, TransportOptions } from '../connector/transport/types.js';
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
  readonly scorer: Scorer | AsyncScorer;
  /** Stops in order: stop fetching, drain, flush, commit, leave the group, close; then the metrics server. */
  stop(): Promise<void>;
}

export interface ServiceHooks {
  onAnomaly?: (event: AnomalyEvent) => void;
  /** A scorer already in memory (the demo's freshly trained model) instead of config.model.artifact. */
  scorer?: Scorer;
}

export async function startService(
  config: VigilConfig,
  logger: Logger,
  hooks: ServiceHooks = {},
): Promise<Service> {
  const registry = new Registry();
  const metrics = new VigilMetrics(registry, { processMetrics: true });
  const server = config.metrics.enabled ? await serveMetrics(registry, config, logger) : undefined;

  const backend = await initBackend({ preference: config.model.backend, logger });
  const t = config.model.threshold;
  const threshold =
    t.method === 'quantile'
      ? { threshold: { quantile: t.quantile } }
      : t.method === 'fixed' && t.value !== undefined
        ? { threshold: { value: t.value } }
        : {};
  const reader = config.input.schema === undefined ? undefined : loadSchemaFile(config.input.schema);
  const extractor = compileFeatures(config.features, reader === undefined ? {} : { readerSchema: reader });
  if (extractor.temporal !== undefined) metrics.watchEntityState(extractor.temporal);
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
  const scorer: Scorer | AsyncScorer = pool?.asScorer(detector.identity) ?? detector;
  metrics.setModel(detector.identity.id, detector.identity.version, backend.name);
  const { decoder, output } = await codecs(config, reader);

  const transport = createTransport(config.kafka.transport, transportOptions(config), logger);
  await transport
    .admin()
    .createTopics(
      [config.output.anomaliesTopic, config.output.deadLetterTopic, config.output.scoresTopic]
        .filter((t): t is string => t !== undefined)
        .map((name) => ({ name, partitions: 3 })),
    );

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
      startFrom: config.kafka.consumer.autoOffsetReset,
      commitIntervalMs: config.kafka.consumer.commitIntervalMs,
      transactionalId: `${config.kafka.producer.transactionalIdPrefix}-${config.kafka.groupId}-${config.kafka.clientId}`,
      consumer: {
        sessionTimeoutMs: config.kafka.consumer.sessionTimeoutMs,
        heartbeatIntervalMs: config.kafka.consumer.heartbeatIntervalMs,
        maxPollIntervalMs: config.kafka.consumer.rebalanceTimeoutMs,
        isolation: config.kafka.consumer.isolationLevel,
      },
      producer: {
        lingerMs: config.kafka.producer.lingerMs,
        deliveryTimeoutMs: config.kafka.producer.requestTimeoutMs,
      },
    },
    {
      transport,
      decoder,
      extractor,
      scorer,
      output,
      logger,
      metrics,
      ...(hooks.onAnomaly === undefined ? {} : { onAnomaly: hooks.onAnomaly }),
    },
  );
  await pipeline.start();
  const lagTimer = setInterval(() => {
    for (const l of pipelineLag(pipeline)) metrics.setLag(l.topic, l.partition, l.lag);
  }, 5_000);
  lagTimer.unref();
  logger.info(
    { transport: transport.kind, topics: config.input.topics, model: scorer.identity, backend: backend.name },
    'vigil is running',
  );

  let stopped: Promise<void> | undefined;
  return {
    pipeline,
    transport,
    metrics,
    registry,
    extractor,
    scorer,
    stop() {
      stopped ??= (async () => {
        clearInterval(lagTimer);
        await pipeline.stop();
        await pool?.close();
        await transport.close();
        await new Promise<void>((resolve) =>
          server === undefined ? resolve() : server.close(() => resolve()),
        );
      })();
      return stopped;
    },
  };
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
      decoder: plainAvroDecoder(reader),
      output: o.format === 'json' ? jsonOutputCodec() : plainAvroOutputCodec(),
    };
  }
  const r = config.input.registry;
  const cache = new SchemaCache();
  const client = new RegistryClient({ url: r.url, cache, ...(r.auth === undefined ? {} : { auth: r.auth }) });
  if (reader === undefined) {
    throw new VigilError('CONFIG_INVALID', 'input.schema: a reader schema is needed to map features');
  }
  const output =
    o.format === 'json'
      ? jsonOutputCodec()
      : await confluentOutputCodec(client, { anomalies: o.anomaliesTopic, deadLetters: o.deadLetterTopic });
  return { decoder: confluentDecoder(reader, cache, client), output };
}

async function serveMetrics(registry: Registry, config: VigilConfig, logger: Logger): Promise<Server> {
  const { host, port, path } = config.metrics;
  const server = createServer((req, res) => {
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
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
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
  return server;
}
