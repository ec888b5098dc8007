/**
 * `vigil train`: with `--config vigil.yaml`, the feature mapping and Avro decoding of `vigil run`, from an Avro
 * container file, a CSV of field paths, or a topic's retained records; the artifact records the mapping so
 * `vigil run` can refuse a model trained on anything else. Without `--config`, the bare-column mode of
 * model/eval/cli.ts (every numeric column a feature), whose artifact `vigil run` matches by names only.
 */
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { confluentDecoder, plainAvroDecoder } from '../connector/pipeline/decode-stage.js';
import { createTransport } from '../connector/transport/index.js';
import type { Transport } from '../connector/transport/types.js';
import { loadConfigFile } from '../core/config/load.js';
import type { VigilConfig } from '../core/config/schema.js';
import { VigilError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import {
  addTrainOptions,
  columnTrainingRows,
  type ModelCliDeps,
  type TrainFlags,
  type TrainingRows,
  trainAndSave,
} from '../model/eval/cli.js';
import { modelKindOf } from '../model/eval/evaluate.js';
import { loadSchemaFile } from '../schemas/catalog.js';
import { SchemaCache } from '../schemas/codec.js';
import { compileFeatures } from '../schemas/features/extractor.js';
import { RegistryClient } from '../schemas/registry-client.js';
import { transportOptions } from './compose.js';
import {
  avroFileRecords,
  csvRecords,
  mappedTrainingRows,
  type TrainingRecord,
  topicRecords,
} from './training-data.js';

interface TrainCommandFlags extends TrainFlags {
  config?: string;
  topic?: string;
}

export function createTrainCommand(deps: ModelCliDeps & { logger: Logger }): Command {
  return addTrainOptions(
    new Command('train')
      .description(
        'Train a model and save the artifact. With --config (the vigil.yaml of `vigil run`): records decoded ' +
          'with its reader schema and mapped by its features section, from --data (.avro container file, or a ' +
          'CSV whose columns are field paths) or --topic (the records it retains); the artifact records the ' +
          'mapping and `vigil run` refuses a different one. Without --config: every column of --data but label, ' +
          'timestamp and split is a feature. Either way rows labelled 1 (--label-column) and rows whose split ' +
          'column says test are left out.',
      )
      .option('-c, --config <file>', 'vigil.yaml: train with its feature mapping and Avro decoding')
      .option('--data <file>', '.avro container file or CSV (header row)')
      .option('--topic <name>', 'with --config: train on the records this topic retains')
      .option('--entity-column <name>', 'without --config: entity key column (conv1d windows)'),
  ).action(async (flags: TrainCommandFlags) => {
    if ((flags.data === undefined) === (flags.topic === undefined)) {
      throw new VigilError(
        'CONFIG_INVALID',
        'vigil train: give --data <file> or --topic <name> (one of them).',
      );
    }
    if (flags.config === undefined) {
      if (flags.topic !== undefined) {
        throw new VigilError(
          'CONFIG_INVALID',
          'vigil train --topic needs --config (brokers, decoding, features).',
        );
      }
      await trainAndSave(await columnTrainingRows({ ...flags, data: flags.data! }), flags, deps);
      return;
    }
    if (flags.entityColumn !== undefined) {
      throw new VigilError(
        'CONFIG_INVALID',
        'vigil train --config takes the entity from features.entityKey; --entity-column is for bare columns.',
      );
    }
    await trainAndSave(await configTrainingRows(flags, flags.config, deps), flags, deps);
  });
}

async function configTrainingRows(
  flags: TrainCommandFlags,
  configPath: string,
  deps: ModelCliDeps & { logger: Logger },
): Promise<TrainingRows> {
  const config = await loadConfigFile(configPath, { env: deps.env ?? {} });
  const reader = config.input.schema === undefined ? undefined : loadSchemaFile(config.input.schema);
  const extractor = compileFeatures(config.features, reader === undefined ? {} : { readerSchema: reader });
  // conv1d windows follow each entity's own rows; the dense family needs no entity.
  const entities = modelKindOf(flags.model) === 'conv1d';
  if (flags.data !== undefined) {
    const file = flags.data;
    const records = file.toLowerCase().endsWith('.avro')
      ? avroFileRecords(file, reader, flags.labelColumn)
      : csvRecords(file, reader, flags.labelColumn);
    return mappedTrainingRows(records, extractor, { source: file, entities });
  }
  const transport = createTransport(config.kafka.transport, transportOptions(config), deps.logger);
  try {
    return await topicTrainingRows(config, transport, [flags.topic!], { entities });
  } finally {
    await transport.close();
  }
}

export interface TopicTrainingOptions {
  /** conv1d windows follow each entity's rows: record entities. */
  readonly entities: boolean;
  /** Leave out records older than this (ms since the epoch). */
  readonly minTimestamp?: number;
  /** The newest this many records per topic at most. */
  readonly maxRecords?: number;
}

/**
 * The rows `vigil train --config … --topic` trains on: each topic's retained records, decoded and mapped as
 * `vigil run` does. Shared with the cold start (cli/registry-serving.ts), so a first model is trained exactly
 * as by hand. `window` spans the kept records' timestamps.
 */
export async function topicTrainingRows(
  config: VigilConfig,
  transport: Transport,
  topics: readonly string[],
  options: TopicTrainingOptions,
): Promise<TrainingRows & { window?: { from: number; to: number } }> {
  const reader = config.input.schema === undefined ? undefined : loadSchemaFile(config.input.schema);
  if (reader === undefined) {
    throw new VigilError('CONFIG_INVALID', 'input.schema: training from a topic needs the reader schema');
  }
  const extractor = compileFeatures(config.features, { readerSchema: reader });
  const r = config.input.registry;
  const cache = new SchemaCache();
  const decoder =
    config.input.format === 'avro'
      ? plainAvroDecoder(reader)
      : confluentDecoder(
          reader,
          cache,
          new RegistryClient({ url: r.url, cache, ...(r.auth === undefined ? {} : { auth: r.auth }) }),
        );
  const records: TrainingRecord[] = [];
  let undecodable = 0;
  let window: { from: number; to: number } | undefined;
  for (const topic of topics) {
    const got = await topicRecords(transport, {
      topic,
      // A group of its own, never committed: the service's offsets stay where they are.
      groupId: `${config.kafka.groupId}-train-${randomBytes(4).toString('hex')}`,
      isolation: config.kafka.consumer.isolationLevel,
      decoder,
      ...(options.minTimestamp === undefined ? {} : { minTimestamp: options.minTimestamp }),
      ...(options.maxRecords === undefined ? {} : { maxRecords: options.maxRecords }),
    });
    for (const rec of got.records) records.push(rec);
    undecodable += got.undecodable;
    if (got.window !== undefined) {
      window =
        window === undefined
          ? got.window
          : { from: Math.min(window.from, got.window.from), to: Math.max(window.to, got.window.to) };
    }
  }
  const rows = await mappedTrainingRows(records, extractor, {
    source: `topic ${topics.join(', ')}`,
    entities: options.entities,
    ...(undecodable > 0 ? { leftOut: { undecodable } } : {}),
  });
  return window === undefined ? rows : { ...rows, window };
}
