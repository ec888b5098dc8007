import * as z from 'zod';
import { FeaturesSchema } from './features-schema.js';

/**
 * The schema of vigil.yaml. Every field carries a description, and a default and an example where one makes
 * sense; docs/configuration.md is generated from it (core/config/docs.ts), and a test keeps the two in step.
 * Objects are strict: an unknown key is an error, so a typo never silently falls back to a default.
 *
 * Naming: camelCase keys; where a setting has a well-known Kafka (Java client / librdkafka) name, the
 * description gives it, so people who know Kafka can find their way.
 */

/** Secrets are redacted from error messages and marked in the docs. */
const secret = { secret: true } as const;

const hostPort = z
  .string()
  .regex(/^[^\s:/]+(:\d{1,5})$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'host:port, e.g. localhost:9092');

const topicName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name: 1–249 of A-Z a-z 0-9 . _ -');

const millis = (max = 2_147_483_647) => z.int().min(0).max(max);

const SaslSchema = z
  .strictObject({
    mechanism: z
      .enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'])
      .default('SCRAM-SHA-512')
      .meta({ description: 'SASL mechanism (`sasl.mechanism`).', examples: ['PLAIN'] }),
    username: z
      .string()
      .min(1)
      .meta({ description: 'SASL username (`sasl.username`).', examples: ['vigil'] }),
    password: z
      .string()
      .min(1)
      .meta({
        description:
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${ENV} interpolation syntax
          'SASL password (`sasl.password`). Use `${ENV_VAR}` interpolation rather than writing it here.',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${ENV} interpolation syntax
        examples: ['${KAFKA_PASSWORD}'],
        ...secret,
      }),
  })
  .meta({ description: 'SASL credentials; required when `protocol` is SASL_PLAINTEXT or SASL_SSL.' });

const SslSchema = z
  .strictObject({
    caLocation: z
      .string()
      .min(1)
      .optional()
      .meta({
        description:
          'Path to the PEM CA certificate(s) that sign the brokers’ certificates (`ssl.ca.location`). Omitted: the system CAs.',
        examples: ['/etc/vigil/ca.pem'],
      }),
    certificateLocation: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: 'Path to the PEM client certificate, for mutual TLS (`ssl.certificate.location`).',
        examples: ['/etc/vigil/client.pem'],
      }),
    keyLocation: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: 'Path to the PEM private key of the client certificate (`ssl.key.location`).',
        examples: ['/etc/vigil/client.key'],
      }),
    keyPassword: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: 'Passphrase of the private key (`ssl.key.password`).',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${ENV} interpolation syntax
        examples: ['${SSL_KEY_PASSWORD}'],
        ...secret,
      }),
    rejectUnauthorized: z
      .boolean()
      .default(true)
      .meta({
        description:
          'Verify the brokers’ certificates (`enable.ssl.certificate.verification`). Turn off only for local testing.',
        examples: [false],
      }),
  })
  .superRefine((s, ctx) => {
    if ((s.certificateLocation === undefined) !== (s.keyLocation === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['keyLocation'],
        message: 'certificateLocation and keyLocation go together',
      });
    }
  })
  .meta({ description: 'TLS settings; used when `protocol` is SSL or SASL_SSL.' });

const SecuritySchema = z
  .strictObject({
    protocol: z
      .enum(['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'])
      .default('PLAINTEXT')
      .meta({ description: 'How to talk to the brokers (`security.protocol`).', examples: ['SASL_SSL'] }),
    sasl: SaslSchema.optional(),
    ssl: SslSchema.optional(),
  })
  .superRefine((s, ctx) => {
    const usesSasl = s.protocol === 'SASL_PLAINTEXT' || s.protocol === 'SASL_SSL';
    const usesSsl = s.protocol === 'SSL' || s.protocol === 'SASL_SSL';
    if (usesSasl && s.sasl === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['sasl'],
        message: `protocol ${s.protocol} needs sasl { mechanism, username, password }`,
      });
    }
    if (!usesSasl && s.sasl !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['sasl'],
        message: `sasl is set but protocol ${s.protocol} does not use SASL`,
      });
    }
    if (!usesSsl && s.ssl !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['ssl'],
        message: `ssl is set but protocol ${s.protocol} does not use TLS`,
      });
    }
  })
  .meta({ description: 'Broker authentication and encryption.' });

const ConsumerSchema = z
  .strictObject({
    sessionTimeoutMs: millis()
      .min(1000)
      .default(45_000)
      .meta({ description: 'Group session timeout (`session.timeout.ms`).', examples: [30_000] }),
    heartbeatIntervalMs: millis()
      .min(100)
      .default(3_000)
      .meta({
        description:
          'Heartbeat interval (`heartbeat.interval.ms`); keep below a third of the session timeout.',
        examples: [1_000],
      }),
    rebalanceTimeoutMs: millis()
      .min(1000)
      .default(60_000)
      .meta({
        description:
          'Time members get to rejoin during a rebalance (`max.poll.interval.ms` in librdkafka / the Java client).',
        examples: [300_000],
      }),
    commitIntervalMs: millis(60_000)
      .default(100)
      .meta({
        description:
          'Least time between offset commits in at-least-once mode. Offsets are still committed only after the outputs are acknowledged: a longer interval means fewer writes to `__consumer_offsets`, and more records replayed after a crash. Rebalance and shutdown commit at once. (Exactly-once commits with every transaction.)',
        examples: [1_000],
      }),
    fetchMinBytes: z
      .int()
      .min(1)
      .default(1)
      .meta({ description: 'Minimum bytes per fetch response (`fetch.min.bytes`).', examples: [1024] }),
    fetchMaxBytes: z
      .int()
      .min(1_000_000)
      .default(52_428_800)
      .meta({
        description:
          'Maximum bytes per fetch response (`fetch.max.bytes`). At least 1,000,000: librdkafka refuses less than its `message.max.bytes`.',
        examples: [10_485_760],
      }),
    maxPartitionFetchBytes: z
      .int()
      .min(1024)
      .default(1_048_576)
      .meta({
        description: 'Maximum bytes per partition per fetch (`max.partition.fetch.bytes`).',
        examples: [2_097_152],
      }),
    fetchMaxWaitMs: millis(60_000)
      .min(1)
      .default(100)
      .meta({
        description:
          'How long the broker may wait for `fetchMinBytes` (`fetch.max.wait.ms`). It also bounds how long a pause, a resume after backpressure and shutdown wait for an idle fetch (kafkajs does not wake a sleeping fetcher), so it is kept short by default.',
        examples: [500],
      }),
    autoOffsetReset: z
      .enum(['earliest', 'latest'])
      .default('latest')
      .meta({
        description: 'Where to start when the group has no committed offset (`auto.offset.reset`).',
        examples: ['earliest'],
      }),
    isolationLevel: z
      .enum(['read_committed', 'read_uncommitted'])
      .default('read_committed')
      .meta({
        description: 'Whether to skip records of aborted transactions (`isolation.level`).',
        examples: ['read_uncommitted'],
      }),
  })
  .superRefine((c, ctx) => {
    if (c.heartbeatIntervalMs >= c.sessionTimeoutMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['heartbeatIntervalMs'],
        message: `${c.heartbeatIntervalMs} must be below sessionTimeoutMs (${c.sessionTimeoutMs})`,
      });
    }
  })
  .meta({ description: 'Consumer tuning.' });

const ProducerSchema = z
  .strictObject({
    compression: z
      .enum(['none', 'gzip', 'snappy', 'lz4'])
      .default('none')
      .meta({
        description:
          'Compression of produced batches (`compression.type`). `snappy` and `lz4` need `transport: rdkafka` (kafkajs has gzip only); zstd is not compiled into either client here.',
        examples: ['gzip'],
      }),
    lingerMs: millis(60_000)
      .default(5)
      .meta({ description: 'How long the producer waits to fill a batch (`linger.ms`).', examples: [20] }),
    idempotent: z
      .boolean()
      .default(true)
      .meta({
        description:
          'Idempotent producer (`enable.idempotence`); always on for exactly-once. Turn off only for a cluster that refuses the IDEMPOTENT_WRITE operation: a retried send may then write an output twice (anomaly events carry `event_id` for de-duplication), and one request in flight per connection keeps retries in order.',
        examples: [false],
      }),
    transactionalIdPrefix: z
      .string()
      .min(1)
      .default('vigil')
      .meta({
        description: 'Prefix of the `transactional.id` used when `delivery` is exactly-once.',
        examples: ['vigil-prod'],
      }),
    requestTimeoutMs: millis()
      .min(1000)
      .default(30_000)
      .meta({
        description: 'How long to wait for a produce acknowledgement (`request.timeout.ms`).',
        examples: [60_000],
      }),
  })
  .meta({
    description:
      'Producer tuning (anomalies, scores, dead letters). Records are always produced with acks=all.',
  });

const KafkaSchema = z
  .strictObject({
    transport: z
      .enum(['kafkajs', 'rdkafka'])
      .default('kafkajs')
      .meta({
        description:
          'Client library: `kafkajs` (pure JavaScript) or `rdkafka` (node-rdkafka, librdkafka bindings; optional dependency).',
        examples: ['rdkafka'],
      }),
    brokers: z
      .array(hostPort)
      .min(1)
      .default(['localhost:9092'])
      .meta({
        description: 'Bootstrap brokers (`bootstrap.servers`).',
        examples: [['kafka-0:9092', 'kafka-1:9092']],
      }),
    clientId: z
      .string()
      .min(1)
      .default('vigil')
      .meta({ description: 'Client id sent to the brokers (`client.id`).', examples: ['vigil-sensors'] }),
    groupId: z
      .string()
      .min(1)
      .default('vigil')
      .meta({
        description: 'Consumer group (`group.id`). Offsets are committed under it.',
        examples: ['vigil-sensors'],
      }),
    instanceId: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-"')
      .max(200)
      .optional()
      .meta({
        description:
          "This replica's own stable name, distinct from every other replica of the group and the same across its restarts (a StatefulSet pod name: set `VIGIL__KAFKA__INSTANCEID` from `metadata.name`). Exactly-once uses it in the `transactional.id` (`<transactionalIdPrefix>-<groupId>-<instanceId>`), so a restarted replica fences its killed predecessor. Unset: rdkafka (offsets fenced by group generation, KIP-447) uses an id of its own per process; kafkajs refuses exactly-once. See docs/delivery-guarantees.md.",
        examples: ['vigil-0'],
      }),
    connectionTimeoutMs: millis()
      .min(100)
      .default(10_000)
      .meta({
        description: 'TCP connect timeout (`socket.connection.setup.timeout.ms`).',
        examples: [3_000],
      }),
    security: SecuritySchema.prefault({}),
    consumer: ConsumerSchema.prefault({}),
    producer: ProducerSchema.prefault({}),
  })
  .meta({ description: 'Connection to the Kafka cluster.' });

const RegistryAuthSchema = z
  .strictObject({
    username: z
      .string()
      .min(1)
      .meta({ description: 'Basic-auth user (the API key on Confluent Cloud).', examples: ['SR_KEY'] }),
    password: z
      .string()
      .min(1)
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${ENV} interpolation syntax
      .meta({ description: 'Basic-auth password (the API secret).', examples: ['${SR_SECRET}'], ...secret }),
  })
  .meta({ description: 'Schema Registry basic auth (`basic.auth.user.info`).' });

const RegistrySchema = z
  .strictObject({
    url: z
      .url({ protocol: /^https?$/ })
      .default('http://localhost:8081')
      .meta({
        description: 'Schema Registry base URL (`schema.registry.url`).',
        examples: ['https://registry.example.com'],
      }),
    auth: RegistryAuthSchema.optional(),
    timeoutMs: millis(120_000)
      .min(100)
      .default(10_000)
      .meta({ description: 'Timeout of one registry request.', examples: [5_000] }),
  })
  .meta({ description: 'Confluent-compatible Schema Registry; used when `format` is confluent.' });

const InputSchema = z
  .strictObject({
    topics: z
      .array(topicName)
      .min(1)
      .meta({ description: 'Topics to consume. Required.', examples: [['sensor-readings']] }),
    format: z
      .enum(['avro', 'confluent'])
      .default('confluent')
      .meta({
        description:
          'Record value encoding: `confluent` (Schema Registry wire format: magic byte 0, 4-byte schema id, Avro body) or `avro` (plain Avro body written with `schema`).',
        examples: ['avro'],
      }),
    schema: z
      .string()
      .min(1)
      .optional()
      .meta({
        description:
          'Path to the reader schema (.avsc). Required for `avro`; for `confluent`, writer schemas are resolved against it (omit to read with the writer schema).',
        examples: ['schemas/sensor_reading.avsc'],
      }),
    registry: RegistrySchema.prefault({}),
  })
  .superRefine((i, ctx) => {
    if (i.format === 'avro' && i.schema === undefined) {
      ctx.addIssue({ code: 'custom', path: ['schema'], message: 'format avro needs a reader schema file' });
    }
  })
  .meta({ description: 'What to read.' });

const BatchingSchema = z
  .strictObject({
    maxRecords: z
      .int()
      .min(1)
      .max(100_000)
      .default(500)
      .meta({ description: 'Score a micro-batch once it holds this many records.', examples: [1000] }),
    maxBytes: z
      .int()
      .min(1024)
      .default(1_048_576)
      .meta({
        description: 'Score a micro-batch once its records’ encoded size reaches this many bytes.',
        examples: [4_194_304],
      }),
    lingerMs: millis(60_000)
      .default(50)
      .meta({
        description: 'Score a non-empty micro-batch at the latest this long after its first record arrived.',
        examples: [10],
      }),
    dispatchWhenIdle: z
      .boolean()
      .default(true)
      .meta({
        description:
          'At-least-once: when no batch is being scored or produced, score what is queued at once instead of waiting for `maxRecords` or `lingerMs`. Batches then fill only while earlier ones are in flight: small and prompt at low rates, full under load. Exactly-once always waits (each batch is a transaction).',
        examples: [false],
      }),
    maxBuffered: z
      .int()
      .min(1)
      .default(10_000)
      .meta({
        description:
          'Backpressure: pause fetching once this many records are held (buffered or being scored/produced, not yet acknowledged).',
        examples: [50_000],
      }),
    maxBufferedBytes: z
      .int()
      .min(1024)
      .default(67_108_864)
      .meta({
        description: 'Backpressure: pause fetching once the held records reach this many bytes.',
        examples: [268_435_456],
      }),
    resumeRatio: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.5)
      .meta({
        description:
          'Resume paused partitions once what is held falls below this fraction of the limits (the low-water mark).',
        examples: [0.8],
      }),
    yieldEvery: z
      .int()
      .min(1)
      .default(256)
      .meta({
        description:
          'Records processed between yields to the event loop, so heartbeats and timers are never starved.',
        examples: [1000],
      }),
  })
  .superRefine((b, ctx) => {
    if (b.maxBuffered < b.maxRecords) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxBuffered'],
        message: `${b.maxBuffered} must be at least maxRecords (${b.maxRecords}), or a full batch could never form`,
      });
    }
  })
  .meta({ description: 'Micro-batching and backpressure.' });

const ThresholdSchema = z
  .strictObject({
    method: z
      .enum(['artifact', 'rate', 'quantile', 'fixed'])
      .default('artifact')
      .meta({
        description:
          '`artifact`: the threshold calibrated at training and stored with the model (by default at a per-record false-alarm rate of 1e-4 from the fitted tail of held-out normal scores). `rate`: the threshold at `falseAlarmRate` on the stored score distribution (no retraining). `quantile`: that quantile of it. `fixed`: `value`.',
        examples: ['rate'],
      }),
    falseAlarmRate: z
      .number()
      .gt(0)
      .lt(0.5)
      .default(1e-4)
      .meta({
        description:
          'Share of normal records flagged when `method` is rate: the threshold is where the peaks-over-threshold tail fitted at training puts this probability (docs/models.md).',
        examples: [1e-5],
      }),
    quantile: z
      .number()
      .gt(0.5)
      .lt(1)
      .default(0.999)
      .meta({ description: 'Quantile of normal scores used when `method` is quantile.', examples: [0.995] }),
    value: z
      .number()
      .gt(0)
      .optional()
      .meta({ description: 'Score threshold used when `method` is fixed.', examples: [0.35] }),
  })
  .superRefine((t, ctx) => {
    if (t.method === 'fixed' && t.value === undefined) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'method fixed needs a value' });
    }
  })
  .meta({
    description:
      'How a score becomes an anomaly decision. Per-entity thresholds are calibrated at training (docs/models.md) and stored in the artifact; serving applies them whenever the artifact has them, so there is no switch for them here.',
  });

const ColdStartSchema = z
  .strictObject({
    mode: z
      .enum(['wait', 'train'])
      .default('wait')
      .meta({
        description:
          "With no promoted model in the registry at start. `wait`: consume nothing (records wait on the topic, uncommitted) and say so on /readyz until one is promoted. `train`: train a first model from the input topics' retained records (the path of `vigil train --topic`), publish and promote it, then serve it.",
        examples: ['train'],
      }),
    maxRecords: z
      .int()
      .min(100)
      .default(100_000)
      .meta({
        description:
          'Most retained records `train` trains on: the newest by record timestamp (records labelled anomalous are left out as `vigil train` leaves them out).',
        examples: [50_000],
      }),
    maxAgeMs: z
      .int()
      .min(1)
      .optional()
      .meta({
        description:
          'With `train`: only records whose timestamp is at most this old at start (absent: any retained record).',
        examples: [86_400_000],
      }),
    seed: z
      .int()
      .min(0)
      .default(42)
      .meta({ description: 'Training seed of a cold-start model.', examples: [7] }),
    contamination: z
      .number()
      .min(0)
      .max(0.5)
      .default(0.05)
      .meta({
        description:
          "With `train`: the share of retained records assumed anomalous. Retained history carries no labels, so a first fit scores it, the highest this share of its rows (training and held-out) is dropped, the model is refitted on the rest and its threshold calibrated on the kept held-out rows only (a trimmed autoencoder; Isolation Forest's `contamination` read the same way). Without it, anomalies in the history are trained on and lift the threshold above themselves. Too low leaves anomalies in and detection fails; too high costs false alarms (on clean history about this share is flagged), so the default 0.05 errs on the side of detecting. 0 trains once on everything.",
        examples: [0.02],
      }),
  })
  .meta({ description: 'What a replica does when the registry has no promoted model yet.' });

const ModelRegistrySchema = z
  .strictObject({
    topic: z
      .string()
      .min(1)
      .meta({
        description:
          'The compacted topic every replica shares as its model registry (connector/registry). With it set, `vigil run` serves the newest promoted version and swaps to a newly promoted one while consuming; `model.artifact` is then not read.',
        examples: ['vigil-models'],
      }),
    create: z
      .boolean()
      .default(true)
      .meta({
        description:
          'Create the registry topic (one partition, cleanup.policy=compact) when it does not exist at start.',
        examples: [false],
      }),
    chunkBytes: z
      .int()
      .min(1024)
      .default(512 * 1024)
      .meta({
        description:
          "Largest artifact slice per registry record when publishing; under the broker's message.max.bytes.",
        examples: [262_144],
      }),
    watchMaxWaitMs: z
      .int()
      .min(10)
      .max(30_000)
      .default(500)
      .meta({
        description:
          'Longest the registry watcher waits on one fetch for a new record: how soon a promotion is seen.',
        examples: [1000],
      }),
    coldStart: ColdStartSchema.prefault({}),
  })
  .meta({ description: 'Serve from the model registry in Kafka (absent: serve `model.artifact`).' });

const share = (def: number) => z.number().min(0).max(1).default(def);

const ReservoirSchema = z
  .strictObject({
    capacity: z
      .int()
      .min(100)
      .max(10_000_000)
      .default(100_000)
      .meta({
        description:
          'Most recent records scored as normal kept for drift checks and retraining (the newest; the oldest goes). A held-out sample for the promotion gate is kept beside it (1 in round(1/retrain.heldOutFraction) records, by a hash of the source coordinates, flagged or not). Memory: about capacity × features × 4 bytes × 1.25.',
        examples: [50_000],
      }),
    perEntity: z
      .int()
      .min(1)
      .optional()
      .meta({
        description:
          'Most reservoir rows per entity (absent: no cap), so one chatty device cannot crowd out the rest of the fleet.',
        examples: [2_000],
      }),
  })
  .meta({ description: 'The training reservoir: never flagged records, never confirmed anomalies.' });

const DriftSchema = z
  .strictObject({
    intervalMs: millis()
      .default(300_000)
      .meta({ description: 'Time between drift checks (0: none).', examples: [60_000] }),
    consecutive: z
      .int()
      .min(1)
      .default(2)
      .meta({
        description:
          'Drifted checks in a row before a retrain: one odd window does not retrain, and by the last check the reservoir holds more of the new regime.',
        examples: [3],
      }),
    decideOn: z
      .array(z.enum(['psi', 'ks', 'wasserstein']))
      .min(1)
      .default(['psi'])
      .meta({
        description:
          'Per-feature statistics that decide "drifted" (any feature over its threshold), besides the score shift (scoreKs), which always does. PSI by default: it is the one with a long-used rule of thumb; KS and Wasserstein are exported either way.',
        examples: [['psi', 'ks']],
      }),
    psi: z
      .number()
      .positive()
      .default(0.2)
      .meta({
        description:
          'Population stability index of one feature over which it has drifted (the credit-scoring rule: < 0.1 stable, 0.1–0.2 watch, > 0.2 shifted).',
        examples: [0.25],
      }),
    ks: share(0.1).meta({
      description:
        'Kolmogorov–Smirnov distance of one feature over which it has drifted (at 10,000 reservoir rows, 0.1 is far beyond sampling noise, about 0.014).',
      examples: [0.15],
    }),
    wasserstein: z
      .number()
      .positive()
      .default(0.25)
      .meta({
        description:
          'Wasserstein-1 distance of one feature, in units of its training spread (robust σ), over which it has drifted: a quarter of a standard deviation of mean shift.',
        examples: [0.5],
      }),
    scoreKs: share(0.25).meta({
      description:
        "KS distance between recent anomaly scores and the calibration scores in the artifact: the model's own view of drift.",
      examples: [0.3],
    }),
    minRows: z
      .int()
      .min(10)
      .default(500)
      .meta({
        description: 'Fewest reservoir rows to judge drift on; fewer: the check says "insufficient".',
        examples: [1_000],
      }),
  })
  .meta({ description: 'Drift checks of the reservoir against the training reference in the artifact.' });

const RetrainSchema = z
  .strictObject({
    intervalMs: millis()
      .default(0)
      .meta({ description: 'Scheduled retrain period (0: only on drift).', examples: [86_400_000] }),
    onDrift: z
      .boolean()
      .default(true)
      .meta({ description: 'Retrain when drift checks say so (see drift.consecutive).', examples: [false] }),
    cooldownMs: millis()
      .default(600_000)
      .meta({
        description:
          'Least time from the end of one retrain to the start of the next, whatever triggers it (one runs at a time).',
        examples: [3_600_000],
      }),
    minRows: z
      .int()
      .min(100)
      .default(2_000)
      .meta({ description: 'Fewest reservoir rows to retrain on.', examples: [10_000] }),
    heldOutFraction: z
      .number()
      .min(0.05)
      .max(0.5)
      .default(0.2)
      .meta({
        description:
          'Share of the reservoir held out of training for the promotion gate: both champion and challenger are judged on it.',
        examples: [0.25],
      }),
    epochs: z
      .int()
      .min(1)
      .max(10_000)
      .optional()
      .meta({ description: "Most training epochs (absent: the trainer's default).", examples: [30] }),
    trimFraction: share(0.01).meta({
      description:
        'Share of the worst-reconstructed reservoir rows dropped before a refit: the reservoir is unlabelled, and anomalies just under the threshold get in.',
      examples: [0.02],
    }),
    seed: z
      .int()
      .min(0)
      .default(42)
      .meta({ description: 'Training seed of challengers.', examples: [7] }),
    promote: z
      .boolean()
      .default(true)
      .meta({
        description:
          'Publish a challenger that passes the gate as promoted (every replica swaps to it); false: as a candidate for `vigil models promote`.',
        examples: [false],
      }),
    workDir: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: "Where challengers' artifacts are written (absent: a directory under the OS temp dir).",
        examples: ['/var/lib/vigil/retrain'],
      }),
  })
  .meta({
    description:
      'Retraining on a worker thread. Only the replica that owns partition 0 of the first input topic retrains (its reservoir holds its own partitions); every replica swaps to what it promotes.',
  });

const GateSchema = z
  .strictObject({
    maxFalseAlarmRate: share(0.01).meta({
      description:
        'Highest share of held-out normal rows a challenger may flag (100× the default calibrated rate of 1e-4: the held-out set is a few thousand rows, so the bound allows for its noise).',
      examples: [0.005],
    }),
    falseAlarmTolerance: share(0.002).meta({
      description:
        "How much higher than the champion's false-alarm rate on the same rows the challenger's may be.",
      examples: [0.005],
    }),
    minLabelled: z
      .int()
      .min(1)
      .default(5)
      .meta({
        description:
          'Fewest confirmed anomalies (feedback) for the recall and AUC rules to apply; fewer: judged on normal data alone.',
        examples: [20],
      }),
    recallTolerance: share(0.1).meta({
      description:
        "How far below the champion's recall on confirmed anomalies the challenger's may be: what rejects a model trained on contaminated data.",
      examples: [0.05],
    }),
    aucTolerance: share(0.05).meta({
      description:
        "How far below the champion's AUC (confirmed anomalies over held-out normal) the challenger's may be.",
      examples: [0.02],
    }),
  })
  .meta({ description: 'The promotion gate: challenger against champion on rows neither trained on.' });

const ShadowSchema = z
  .strictObject({
    windowMs: millis()
      .default(0)
      .meta({
        description:
          'After the gate passes, the challenger scores every live batch beside the champion for this long (alerting nothing) and is published only if its would-be alert rate passes; 0: no shadow window. Scoring is doubled on the retraining replica meanwhile.',
        examples: [900_000],
      }),
    minRows: z
      .int()
      .min(1)
      .default(1_000)
      .meta({
        description: 'Fewest live records the window must see; fewer: the challenger is rejected.',
        examples: [10_000],
      }),
    maxAlertRate: share(0.01).meta({
      description:
        "Would-be alert rate the challenger may always reach (the gate's bound on held-out rows): a quiet stream's handful of alerts does not fail it.",
      examples: [0.005],
    }),
    maxRatio: z
      .number()
      .min(1)
      .max(100)
      .default(1.5)
      .meta({
        description:
          "Above maxAlertRate, how many times the champion's alert rate on the same records the challenger's may be.",
        examples: [1.2],
      }),
  })
  .meta({
    description:
      'Shadowing: the challenger against the champion on live traffic neither has seen, before promotion (docs/lifecycle.md).',
  });

const FeedbackSchema = z
  .strictObject({
    topic: topicName.optional().meta({
      description:
        'Feedback topic: key the anomaly event id, value JSON {"label": "false_alarm" | "confirmed_anomaly"} (absent: no feedback is read).',
      examples: ['vigil-feedback'],
    }),
    adjustmentsTopic: topicName.default('vigil-feedback-adjustments').meta({
      description:
        'Compacted topic holding the per-entity threshold adjustments, so a restart keeps them (created when missing).',
      examples: ['vigil-adjustments'],
    }),
    falseAlarmsPerStep: z
      .int()
      .min(1)
      .default(3)
      .meta({ description: 'False alarms of one entity per step up of its threshold.', examples: [5] }),
    stepFactor: z
      .number()
      .min(1)
      .max(10)
      .default(1.25)
      .meta({ description: "Factor on the entity's threshold per step.", examples: [1.5] }),
    maxFactor: z
      .number()
      .min(1)
      .max(100)
      .default(2)
      .meta({
        description:
          "Bound on an entity's threshold factor: feedback can quieten an entity, never silence it.",
        examples: [3],
      }),
    maxEntities: z
      .int()
      .min(1)
      .default(10_000)
      .meta({
        description: 'Most entities with an adjustment (the least recently updated goes).',
        examples: [1_000],
      }),
  })
  .meta({ description: 'Analyst feedback on anomaly events.' });

const ModelLifecycleSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .meta({
        description:
          'Drift checks, retraining, gated promotion and feedback beside serving (docs/lifecycle.md). Needs model.registry.',
        examples: [true],
      }),
    eventsTopic: topicName.default('vigil-lifecycle').meta({
      description: 'Drift checks and retrain outcomes, as JSON (created when missing).',
      examples: ['vigil-drift'],
    }),
    reservoir: ReservoirSchema.prefault({}),
    drift: DriftSchema.prefault({}),
    retrain: RetrainSchema.prefault({}),
    gate: GateSchema.prefault({}),
    shadow: ShadowSchema.prefault({}),
    feedback: FeedbackSchema.prefault({}),
  })
  .meta({ description: 'The model lifecycle: reservoir, drift, retraining, promotion gate, feedback.' });

/**
 * Kept as an object of its own so the model lifecycle (registry, drift checks, retraining) can add sections
 * here without moving existing keys.
 */
const ModelSchema = z
  .strictObject({
    artifact: z
      .string()
      .min(1)
      .default('.vigil/models/current')
      .meta({
        description: 'Path to the trained model artifact (directory) to serve.',
        examples: ['/var/lib/vigil/models/sensor-dense/7'],
      }),
    backend: z
      .enum(['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'])
      .default('auto')
      .meta({
        description:
          'TensorFlow.js backend for training and scoring. `auto` tries @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node (both optional installs), then wasm (SIMD), then cpu; the one in use is logged and exported as a metric label.',
        examples: ['wasm'],
      }),
    threshold: ThresholdSchema.prefault({}),
    registry: ModelRegistrySchema.optional(),
    lifecycle: ModelLifecycleSchema.prefault({}),
    workers: z
      .int()
      .min(0)
      .max(16)
      .default(0)
      .meta({
        description:
          'Worker threads that score batches off the main thread, each with its own copy of the model (0: score on the main thread). One frees the main thread for fetching, decoding and producing; a conv1d model keeps per-entity history, so it allows at most one.',
        examples: [1],
      }),
  })
  .meta({
    description:
      'The model that scores records. Its family (dense, vae, conv1d, …) is recorded in the artifact and read from there; there is no key to restate it.',
  });

const CreateTopicsSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .meta({
        description:
          'Create output topics that do not exist at start. Topics that exist are left alone and need no CREATE right. Off: a missing output topic stops the start with its name.',
        examples: [false],
      }),
    partitions: z
      .int()
      .min(1)
      .max(100_000)
      .optional()
      .meta({
        description: "Partitions of a created topic (unset: the broker's `num.partitions`).",
        examples: [6],
      }),
    replicationFactor: z
      .int()
      .min(1)
      .max(32_767)
      .optional()
      .meta({
        description:
          "Replication factor of a created topic (unset: the broker's `default.replication.factor`).",
        examples: [3],
      }),
    config: z
      .record(z.string().min(1), z.string())
      .default({})
      .meta({
        description: 'Topic configs of a created topic (e.g. `retention.ms`, `min.insync.replicas`).',
        examples: [{ 'retention.ms': '604800000', 'min.insync.replicas': '2' }],
      }),
  })
  .meta({
    description: 'Creation of missing output topics at start (anomalies, dead letters, scores, incidents).',
  });

const IncidentsSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .meta({
        description:
          'Group each entity’s consecutive anomalies into incidents, written to `topic` as they open, grow and close (docs/incidents.md). The alert rules page on incidents, so turn this on where alerts are used (the Helm chart does).',
        examples: [true],
      }),
    topic: topicName.default('vigil.incidents').meta({
      description:
        'Topic incident events (schemas/incident_event.avsc) are produced to, keyed by entity; also read back from its start on every partition assignment to resume open incidents (keep its retention to days, or compact it).',
      examples: ['sensor-incidents'],
    }),
    gapMs: millis()
      .default(300_000)
      .meta({
        description:
          'Longest event-time gap between two anomalies of one incident. The incident closes once the entity’s next record, or its partition’s latest event time, is further than this past its last anomaly.',
        examples: [60_000],
      }),
    maxOpen: z
      .int()
      .min(1)
      .max(10_000_000)
      .default(100_000)
      .meta({
        description:
          'Most incidents open at once on one replica; one more closes the least recently updated (reason EVICTED, `vigil_incidents_closed_total{reason="evicted"}`).',
        examples: [10_000],
      }),
    maxEventIds: z
      .int()
      .min(0)
      .max(10_000)
      .default(100)
      .meta({
        description:
          'Most anomaly event ids an incident event lists (its first ones; `count` has the total).',
        examples: [20],
      }),
    maxFeatures: z
      .int()
      .min(1)
      .max(1000)
      .default(5)
      .meta({ description: 'Most features listed in an incident’s `top_features`.', examples: [3] }),
    recover: z
      .boolean()
      .default(true)
      .meta({
        description:
          'Read open incidents back from `topic` when partitions are assigned (restart, rebalance), so a failure spanning either stays one incident. Off: every assignment starts with no incident open.',
        examples: [false],
      }),
  })
  .meta({
    description: 'Incidents: an entity’s consecutive anomalies as one incident, so a failure pages once.',
  });

const OutputSchema = z
  .strictObject({
    anomaliesTopic: topicName.default('vigil.anomalies').meta({
      description:
        'Topic anomaly events are produced to, keyed by entity: the `features.entityKey` value, or the input record’s key when no entity key is mapped (the event’s `key` field always carries the input key).',
      examples: ['sensor-anomalies'],
    }),
    deadLetterTopic: topicName.default('vigil.dead-letter').meta({
      description: 'Topic records that cannot be decoded or turned into features go to, with the reason.',
      examples: ['sensor-readings.dlq'],
    }),
    scoresTopic: topicName.optional().meta({
      description: 'If set, every scored record’s score is produced here too (for dashboards, audits).',
      examples: ['vigil.scores'],
    }),
    format: z
      .enum(['avro', 'json'])
      .default('avro')
      .meta({
        description:
          'Encoding of produced events. `avro` with `input.format: confluent` writes the Confluent wire format, schemas under `<topic>-value`: a version of the same schema already there is used, whoever registered it; otherwise a new version is registered, which the subject’s own compatibility rule must allow (else start-up fails with SCHEMA_INCOMPATIBLE naming the subject). Vigil never changes a subject’s compatibility.',
        examples: ['json'],
      }),
    maxContributions: z
      .int()
      .min(1)
      .max(1000)
      .default(10)
      .meta({ description: 'Largest per-feature contributions listed in an anomaly event.', examples: [5] }),
    maxMessageBytes: z
      .int()
      .min(4096)
      .default(1_000_000)
      .meta({
        description:
          'Largest output message written as it is (key, value, headers and framing); a larger one is replaced by a dead letter that keeps the source coordinates, sizes and SHA-256 of the original but not its bytes (see docs/delivery-guarantees.md). Keep it at or below the output topics’ `max.message.bytes` (the broker’s default is 1 048 588; librdkafka refuses messages over its own 1 000 000).',
        examples: [500_000],
      }),
    createTopics: CreateTopicsSchema.prefault({}),
    incidents: IncidentsSchema.prefault({}),
  })
  .meta({ description: 'Where results go.' });

const MetricsSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .meta({ description: 'Serve Prometheus metrics.', examples: [false] }),
    host: z
      .string()
      .min(1)
      .default('0.0.0.0')
      .meta({ description: 'Address the metrics server binds.', examples: ['127.0.0.1'] }),
    port: z
      .int()
      .min(1)
      .max(65_535)
      .default(9464)
      .meta({ description: 'Port of the metrics server.', examples: [9100] }),
    path: z
      .string()
      .regex(/^\/[^\s?#]*$/, 'an absolute URL path')
      .default('/metrics')
      .meta({ description: 'URL path of the metrics endpoint.', examples: ['/prometheus'] }),
  })
  .meta({ description: 'Prometheus endpoint.' });

const UiSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .meta({
        description:
          'Serve the live view (a small page: scores against the threshold, incidents, latest anomalies, throughput, lag) on the metrics server; `vigil run --ui` turns it on too. Needs `metrics.enabled`. Its incidents are the incident tracker’s: with `output.incidents.enabled` false the page says tracking is off (`--ui` does not turn the tracker on: that would create and write the incidents topic and change what the alert rules see, from a flag meant for watching). For the demo and for watching one instance; Grafana is the production view.',
        examples: [true],
      }),
    path: z
      .string()
      .regex(/^\/[^\s?#]*[^\s?#/]$/, 'an absolute URL path, not ending in /')
      .default('/live')
      .meta({ description: 'URL path of the page; its data is at `<path>/data`.', examples: ['/ui'] }),
    historySeconds: z
      .int()
      .min(10)
      .max(86_400)
      .default(300)
      .meta({
        description: 'Seconds of per-second score history kept in memory and drawn.',
        examples: [900],
      }),
    maxAnomalies: z
      .int()
      .min(1)
      .max(1_000)
      .default(50)
      .meta({ description: 'Latest anomalies kept in memory for the page.', examples: [100] }),
  })
  .meta({ description: 'Live view (off by default).' });

const LifecycleSchema = z
  .strictObject({
    shutdownTimeoutMs: millis(600_000)
      .min(1_000)
      .default(25_000)
      .meta({
        description:
          "Longest a graceful shutdown (SIGTERM: drain, flush, commit, leave the group) may take before Vigil exits with code 1 anyway. Keep it below the pod's `terminationGracePeriodSeconds` (30 s by default), so Vigil, not the kubelet's SIGKILL, ends it.",
        examples: [50_000],
      }),
  })
  .meta({ description: 'Process start-up and shutdown.' });

const LoggingSchema = z
  .strictObject({
    level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .meta({ description: 'Minimum level of the JSON logs written to stderr.', examples: ['debug'] }),
  })
  .meta({ description: 'Logs.' });

export const ConfigSchema = z
  .strictObject({
    kafka: KafkaSchema.prefault({}),
    input: InputSchema,
    features: FeaturesSchema.prefault({}),
    batching: BatchingSchema.prefault({}),
    model: ModelSchema.prefault({}),
    output: OutputSchema.prefault({}),
    delivery: z
      .enum(['at-least-once', 'exactly-once'])
      .default('at-least-once')
      .meta({
        description:
          '`at-least-once`: offsets are committed after the outputs are acknowledged (a crash replays; anomaly events carry a stable `event_id` for de-duplication). `exactly-once`: outputs and offsets in one Kafka transaction.',
        examples: ['exactly-once'],
      }),
    metrics: MetricsSchema.prefault({}),
    ui: UiSchema.prefault({}),
    lifecycle: LifecycleSchema.prefault({}),
    logging: LoggingSchema.prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.ui.enabled && !c.metrics.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['ui', 'enabled'],
        message: 'the live view is served by the metrics server: set metrics.enabled too',
      });
    }
    if (c.ui.enabled && [c.metrics.path, '/healthz', '/readyz'].includes(c.ui.path)) {
      ctx.addIssue({
        code: 'custom',
        path: ['ui', 'path'],
        message: `"${c.ui.path}" is taken by another endpoint`,
      });
    }
    const topics = new Set(c.input.topics);
    for (const key of ['anomaliesTopic', 'deadLetterTopic', 'scoresTopic'] as const) {
      const t = c.output[key];
      if (t !== undefined && topics.has(t)) {
        ctx.addIssue({
          code: 'custom',
          path: ['output', key],
          message: `"${t}" is also an input topic (a feedback loop)`,
        });
      }
    }
    if (c.output.incidents.enabled && topics.has(c.output.incidents.topic)) {
      ctx.addIssue({
        code: 'custom',
        path: ['output', 'incidents', 'topic'],
        message: `"${c.output.incidents.topic}" is also an input topic (a feedback loop)`,
      });
    }
    const codec = c.kafka.producer.compression;
    if (c.kafka.transport === 'kafkajs' && (codec === 'snappy' || codec === 'lz4')) {
      ctx.addIssue({
        code: 'custom',
        path: ['kafka', 'producer', 'compression'],
        message: `${codec} needs transport rdkafka; kafkajs compresses with gzip only`,
      });
    }
    if (c.model.lifecycle.enabled && c.model.registry === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['model', 'lifecycle', 'enabled'],
        message:
          'the model lifecycle publishes challengers to the model registry: set model.registry.topic too',
      });
    }
    const lc = c.model.lifecycle;
    for (const [key, t] of [
      [['eventsTopic'], lc.eventsTopic],
      [['feedback', 'topic'], lc.feedback.topic],
      [['feedback', 'adjustmentsTopic'], lc.feedback.adjustmentsTopic],
    ] as const) {
      if (lc.enabled && t !== undefined && topics.has(t)) {
        ctx.addIssue({
          code: 'custom',
          path: ['model', 'lifecycle', ...key],
          message: `"${t}" is also an input topic`,
        });
      }
    }
    if (c.delivery === 'exactly-once' && !c.kafka.producer.idempotent) {
      ctx.addIssue({
        code: 'custom',
        path: ['kafka', 'producer', 'idempotent'],
        message: 'exactly-once needs the idempotent producer',
      });
    }
  })
  .meta({ description: 'vigil.yaml' });

/** The validated, defaulted configuration. */
export type VigilConfig = z.output<typeof ConfigSchema>;
/** What a user may write in vigil.yaml (defaults not yet applied). */
export type VigilConfigInput = z.input<typeof ConfigSchema>;
