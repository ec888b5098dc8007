/**
 * `vigil score`: with `--config vigil.yaml`, the records of a file decoded and mapped as `vigil run` does (and
 * the model's mapping checked against the config's, as `vigil run` checks it); without, the model's feature
 * columns read by name (model/eval/cli.ts).
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { loadConfigFile } from '../core/config/load.js';
import { VigilError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Detector } from '../model/detector.js';
import {
  addScoreOptions,
  type ModelCliDeps,
  type ScoreFlags,
  type ScoreInput,
  scoreFile,
} from '../model/eval/cli.js';
import { checkFeatureMapping } from '../model/feature-mapping.js';
import { loadSchemaFile } from '../schemas/catalog.js';
import { compileFeatures } from '../schemas/features/extractor.js';
import { avroFileRecords, csvRecords } from './training-data.js';

interface ScoreCommandFlags extends ScoreFlags {
  config?: string;
  truth?: string;
}

export function createScoreCommand(deps: ModelCliDeps & { logger: Logger }): Command {
  return addScoreOptions(
    new Command('score').description(
      'Score a file with a saved model: one output line per row (score, severity, decision, threshold, the ' +
        'feature with the largest share of the error). With --config (the vigil.yaml of `vigil run`): an .avro ' +
        'container file or a CSV of field paths, decoded and mapped as `vigil run` does. Without: the model’s ' +
        'feature columns by name. With labels (a label column, or --truth), prints AUC-ROC, AUC-PR and F1.',
    ),
  )
    .option('-c, --config <file>', 'vigil.yaml: score with its feature mapping and Avro decoding')
    .option(
      '--truth <jsonl>',
      'with --config: labels, one JSON line per record in order (vigil generate --truth)',
    )
    .option('--entity-column <name>', 'without --config: entity key column (conv1d windows)')
    .action(async (flags: ScoreCommandFlags) => {
      if (flags.config === undefined) {
        if (flags.truth !== undefined)
          throw new VigilError('CONFIG_INVALID', 'vigil score --truth needs --config.');
        await scoreFile(flags, deps);
        return;
      }
      const configPath = flags.config;
      await scoreFile(flags, deps, (detector) => mappedScoreRows(flags, configPath, detector, deps));
    });
}

async function mappedScoreRows(
  flags: ScoreCommandFlags,
  configPath: string,
  detector: Detector,
  deps: ModelCliDeps,
): Promise<ScoreInput> {
  const config = await loadConfigFile(configPath, { env: deps.env ?? {} });
  const reader = config.input.schema === undefined ? undefined : loadSchemaFile(config.input.schema);
  const extractor = compileFeatures(config.features, reader === undefined ? {} : { readerSchema: reader });
  checkFeatureMapping(
    { featureNames: detector.identity.featureNames, featureMapping: detector.state.featureMapping },
    extractor,
  );
  const truth = flags.truth === undefined ? undefined : truthLabels(flags.truth);
  const records = flags.data.toLowerCase().endsWith('.avro')
    ? avroFileRecords(flags.data, reader, flags.labelColumn)
    : csvRecords(flags.data, reader, flags.labelColumn);
  const d = extractor.width;
  let rows = new Float32Array(1024 * d);
  const labels: number[] = [];
  const entities: string[] = [];
  const skipped: Record<string, number> = {};
  let withLabel = truth !== undefined;
  let n = 0;
  let i = 0;
  for await (const r of records) {
    const index = i++;
    if ((n + 1) * d > rows.length) {
      const next = new Float32Array(rows.length * 2);
      next.set(rows);
      rows = next;
    }
    const res = extractor.extractInto(r.record, rows, n * d);
    if (!res.ok) {
      skipped[res.reason] = (skipped[res.reason] ?? 0) + 1;
      continue;
    }
    if (r.anomalous !== undefined) withLabel = true;
    labels.push(truth !== undefined ? (truth[index] ?? 0) : r.anomalous ? 1 : 0);
    entities.push(extractor.entityOf(r.record) ?? '');
    n++;
  }
  if (truth !== undefined && truth.length !== i) {
    throw new VigilError(
      'INPUT_INVALID',
      `${flags.truth}: ${truth.length} labels for ${i} records of ${flags.data}; expected one per record.`,
    );
  }
  return {
    rows: rows.slice(0, n * d),
    n,
    d,
    ...(withLabel ? { labels: Uint8Array.from(labels) } : {}),
    // conv1d windows follow each entity's own rows.
    ...(detector.spec.kind === 'conv1d' ? { entities } : {}),
    skipped,
  };
}

function truthLabels(file: string): number[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, k) => {
      const label = (JSON.parse(l) as { label?: unknown }).label;
      if (label !== 0 && label !== 1) {
        throw new VigilError(
          'INPUT_INVALID',
          `${file} line ${k + 1}: label is ${String(label)}; expected 0 or 1.`,
        );
      }
      return label;
    });
}
