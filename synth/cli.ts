import { extname } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { Kafka, type KafkaConfig, logLevel, Partitioners, type Producer } from 'kafkajs';
import { VigilError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { loadSchema, type SchemaName, schemaJson } from '../schemas/catalog.js';
import { AvroCodec, type AvroEncoder, ConfluentEncoder } from '../schemas/codec.js';
import { RegistryClient } from '../schemas/registry-client.js';
import type { RecordGenerator, SensorAnomalyKind, TransactionAnomalyKind } from './ground-truth.js';
import { type GenerateConfig, parseGenerateConfig } from './options.js';
import { Prng } from './prng.js';
import { type GenerateReport, runGenerate } from './run.js';
import { SensorGenerator } from './sensor-generator.js';
import { AvroFileSink, type FileFormat, JsonLinesFileSink } from './sinks/file-sink.js';
import { type Acks, KafkaSink } from './sinks/kafka-sink.js';
import type { RecordSink } from './sinks/types.js';
import { TransactionGenerator } from './transaction-generator.js';
import { TruthFileWriter } from './truth-writer.js';

export interface GenerateDeps {
  /** Receives the final summary (default: process.stdout). */
  stdout?: (text: string) => void;
  logger?: Logger;
  /** Stops generation at the next batch; what was produced is flushed and reported. */
  signal?: AbortSignal;
  /** Builds the Kafka client (default: kafkajs with the configured brokers). */
  createKafka?: (config: KafkaConfig) => Kafka;
}

const SCHEMA_OF: Record<GenerateConfig['kind'], SchemaName> = {
  sensor: 'sensor_reading',
  transaction: 'card_transaction',
};

const ACKS: Record<GenerateConfig['acks'], Acks> = { all: -1, leader: 1, none: 0 };

/** The generator a validated config describes. */
export function buildGenerator(config: GenerateConfig): RecordGenerator<unknown> {
  if (config.kind === 'sensor') {
    return new SensorGenerator({
      seed: config.seed,
      startTime: config.start,
      ...(config.entities !== undefined ? { devices: config.entities } : {}),
      ...(config.intervalMs !== undefined
        ? { intervalMs: config.intervalMs, jitterMs: Math.min(500, config.intervalMs / 20) }
        : {}),
      anomalyRate: config.anomalyRate,
      ...(config.anomalyKinds !== undefined
        ? { anomalyKinds: config.anomalyKinds as SensorAnomalyKind[] }
        : {}),
      ...(config.episodeLength !== undefined ? { episodeLength: config.episodeLength } : {}),
    }) as RecordGenerator<unknown>;
  }
  return new TransactionGenerator({
    seed: config.seed,
    startTime: config.start,
    ...(config.entities !== undefined ? { cards: config.entities } : {}),
    ...(config.intervalMs !== undefined ? { meanIntervalMs: config.intervalMs } : {}),
    anomalyRate: config.anomalyRate,
    ...(config.anomalyKinds !== undefined
      ? { anomalyKinds: config.anomalyKinds as TransactionAnomalyKind[] }
      : {}),
    ...(config.burstSize !== undefined ? { burstSize: config.burstSize } : {}),
  }) as RecordGenerator<unknown>;
}

function fileFormat(config: GenerateConfig, path: string): FileFormat {
  if (config.format !== undefined) return config.format;
  const ext = extname(path).toLowerCase();
  if (ext === '.avro' || ext === '.ocf') return 'ocf';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  throw new VigilError(
    'CONFIG_INVALID',
    `cannot tell the format of ${path} from its extension; pass --format ocf|jsonl`,
    {
      details: { key: 'format', value: path, allowed: 'ocf, jsonl' },
    },
  );
}

function kafkaLogCreator(logger: Logger) {
  return () =>
    ({
      namespace,
      level,
      log,
    }: {
      namespace: string;
      level: logLevel;
      log: { message: string } & Record<string, unknown>;
    }) => {
      const { message, ...extra } = log;
      const fields = { component: 'kafkajs', namespace, ...extra };
      if (level === logLevel.ERROR) logger.error(fields, message);
      else if (level === logLevel.WARN) logger.warn(fields, message);
      else logger.debug(fields, message);
    };
}

/** Runs generation for a validated config: builds generator and sink, runs, closes. */
export async function generate(config: GenerateConfig, deps: GenerateDeps = {}): Promise<GenerateReport> {
  const logger = deps.logger ?? silentLogger();
  const schemaName = SCHEMA_OF[config.kind];
  const generator = buildGenerator(config);
  let producer: Producer | undefined;
  let sink: RecordSink<unknown>;

  if (config.out !== undefined) {
    sink =
      fileFormat(config, config.out) === 'ocf'
        ? new AvroFileSink({
            path: config.out,
            schema: schemaJson(schemaName),
            codec: config.codec,
            syncMarker: Buffer.from(new Prng(config.seed, 'file/sync-marker').hex(32), 'hex'),
          })
        : new JsonLinesFileSink(config.out);
  } else {
    const topic = config.topic!;
    let encoder: AvroEncoder<unknown>;
    if (config.wire === 'confluent') {
      const registry = new RegistryClient({ url: config.registryUrl!, clientId: config.clientId });
      const subject = config.subject ?? `${topic}-value`;
      const id = await registry.register(subject, schemaJson(schemaName));
      logger.info({ subject, schemaId: id }, 'schema registered');
      encoder = new ConfluentEncoder(loadSchema(schemaName), id);
    } else {
      encoder = new AvroCodec(loadSchema(schemaName));
    }
    const kafkaConfig: KafkaConfig = {
      clientId: config.clientId,
      brokers: [...config.brokers],
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(logger),
    };
    const kafka = deps.createKafka?.(kafkaConfig) ?? new Kafka(kafkaConfig);
    producer = kafka.producer({
      // The Java client's partitioner: the same key lands on the same partition as from any other client.
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: true,
    });
    try {
      await producer.connect();
    } catch (cause) {
      throw new VigilError(
        'BROKER_UNAVAILABLE',
        `cannot connect to Kafka at ${config.brokers.join(',')}: ${String(cause)}`,
        {
          cause,
          details: { brokers: config.brokers.join(',') },
        },
      );
    }
    sink = new KafkaSink({
      producer,
      topic,
      encoder,
      maxInFlight: config.maxInFlight,
      acks: ACKS[config.acks],
      compression: config.compression,
    });
  }

  const truth = config.truth !== undefined ? new TruthFileWriter(config.truth, config.truthMode) : undefined;
  try {
    return await runGenerate({
      generator,
      sink,
      ...(truth !== undefined ? { truth } : {}),
      count: config.count,
      batchSize: config.batchSize,
      rate: config.rate,
      ...(deps.signal !== undefined ? { signal: deps.signal } : {}),
    });
  } finally {
    await producer?.disconnect();
  }
}

export function formatReport(report: GenerateReport, target: string): string {
  const secs = report.elapsedMs / 1000;
  return (
    `generated ${report.records} ${report.kind} records (${report.anomalies} labelled anomalous) to ${target} ` +
    `in ${secs.toFixed(2)} s: ${Math.round(report.recordsPerSecond)} records/s, ${(report.bytes / 1e6).toFixed(1)} MB` +
    (report.aborted ? ' (stopped early)' : '')
  );
}

/**
 * `generate <kind>` as a commander command, for the composition root to mount. The action validates the options
 * once (CONFIG_INVALID on a bad value), runs, and prints one summary line (or JSON with --json).
 */
export function createGenerateCommand(
  deps: GenerateDeps = {},
  onReport?: (report: GenerateReport) => void,
): Command {
  const cmd = new Command('generate')
    .description(
      'Generate labelled synthetic sensor readings or card transactions, to a file or a Kafka topic.',
    )
    .addOption(new Option('--seed <n>', 'seed of every random stream').default('1'))
    .option('-n, --count <n>', 'records to produce (0 = until interrupted)', '10000')
    .option('--entities <n>', 'devices (sensor, default 50) or cards (transaction, default 10000)')
    .option('--start <time>', 'event time of the first record (ISO-8601 or epoch ms)', '2024-01-01T00:00:00Z')
    .option('--interval-ms <ms>', 'sensor: per-device interval (10000); transaction: mean gap overall (4000)')
    .option('--anomaly-rate <f>', 'share of records labelled anomalous', '0.01')
    .option('--anomaly-kinds <list>', 'comma-separated anomaly kinds (default all)')
    .option('--episode-length <min-max>', 'sensor episode length in readings (default 20-60)')
    .option('--burst-size <min-max>', 'transactions per burst (default 8-20)')
    .option('-o, --out <path>', 'write to a file (.avro container or .jsonl)')
    .addOption(new Option('--format <format>', 'file format').choices(['ocf', 'jsonl']))
    .addOption(
      new Option('--codec <codec>', 'Avro container block codec')
        .choices(['null', 'deflate'])
        .default('null'),
    )
    .option('-t, --topic <name>', 'produce to this Kafka topic')
    .option('-b, --brokers <list>', 'bootstrap brokers', 'localhost:9092')
    .addOption(
      new Option('--wire <format>', 'Kafka value format').choices(['plain', 'confluent']).default('plain'),
    )
    .option('--registry-url <url>', 'schema registry URL (with --wire confluent)')
    .option('--subject <name>', 'registry subject (default <topic>-value)')
    .option('--rate <n>', 'target records per second (0 = as fast as possible)', '0')
    .option('--batch-size <n>', 'records per send', '2000')
    .option('--max-in-flight <n>', 'sends awaiting acknowledgement', '4')
    .addOption(
      new Option('--acks <acks>', 'acknowledgements').choices(['all', 'leader', 'none']).default('all'),
    )
    .addOption(new Option('--compression <c>', 'batch compression').choices(['none', 'gzip']).default('none'))
    .option('--truth <path>', 'write ground truth (JSONL) to this file')
    .addOption(
      new Option('--truth-mode <mode>', 'ground-truth rows').choices(['all', 'anomalies']).default('all'),
    )
    .option('--client-id <id>', 'Kafka client id', 'vigil-generate')
    .option('--json', 'print the report as JSON', false)
    .argument('<kind>', 'sensor | transaction')
    .action(async (kind: string, opts: Record<string, unknown>) => {
      const aliases: Record<string, string> = {
        sensors: 'sensor',
        transactions: 'transaction',
        card: 'transaction',
      };
      const config = parseGenerateConfig({ kind: aliases[kind] ?? kind, ...opts });
      const report = await generate(config, deps);
      const target = config.out ?? `topic ${config.topic} (${config.wire})`;
      const write = deps.stdout ?? ((text: string) => process.stdout.write(text));
      write(config.json ? `${JSON.stringify({ ...report, target })}\n` : `${formatReport(report, target)}\n`);
      onReport?.(report);
    });
  return cmd;
}

/**
 * Runs `generate` with user arguments (no node/script prefix), e.g. `['sensor', '--count', '1000', '--out', 'x.avro']`.
 * Commander usage errors become CONFIG_INVALID instead of exiting the process.
 */
export async function runGenerateCli(
  argv: readonly string[],
  deps: GenerateDeps = {},
): Promise<GenerateReport> {
  let report: GenerateReport | undefined;
  const cmd = createGenerateCommand(deps, (r) => {
    report = r;
  });
  cmd.exitOverride();
  cmd.configureOutput({
    writeErr: () => {},
    writeOut: (text) => (deps.stdout ?? ((t) => process.stdout.write(t)))(text),
  });
  try {
    await cmd.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) throw new VigilError('CONFIG_INVALID', 'help was requested; nothing generated');
      throw new VigilError('CONFIG_INVALID', err.message, { cause: err, details: { code: err.code } });
    }
    throw err;
  }
  if (report === undefined) throw new VigilError('CONFIG_INVALID', 'nothing was generated');
  return report;
}
