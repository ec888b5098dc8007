/**
 * Command factories for `vigil evaluate`, `vigil train` and `vigil score`. The composition root mounts them
 * (cli/extra-commands.ts) and passes its environment in; argument parsing and validation live here, the work
 * in the library functions (evaluate.ts, model/trainer.ts, model/artifact.ts), which take plain options.
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { VigilError } from '../../core/errors.js';
import { type Logger, silentLogger } from '../../core/logger.js';
import { loadDetector, saveDetector } from '../artifact.js';
import { BACKEND_NAMES, type BackendPreference, initBackend } from '../backend.js';
import type { Detector } from '../detector.js';
import type { FeatureMapping } from '../feature-mapping.js';
import { readMatrix } from '../io.js';
import { ScorePostprocessor } from '../postprocess.js';
import type { SpecOverrides } from '../spec.js';
import { splitRoles } from '../split.js';
import { trainDetector } from '../trainer.js';
import { BENCHMARK_NAMES, type EvalDataset, loadDataset } from './datasets.js';
import { EVAL_MODEL_NAMES, modelKindOf, runEvaluation, writeReport } from './evaluate.js';
import { aucRoc, averagePrecision, confusionOfDecisions } from './metrics.js';

export interface ModelCliDeps {
  /** The environment (VIGIL_DATA_DIR names the shared data directory). Default: none read. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where summaries go (default process.stdout). */
  stdout?: (text: string) => void;
  /** Where a summary goes when stdout carries data (`vigil score` without --out; default process.stderr). */
  stderr?: (text: string) => void;
  logger?: Logger;
}

function out(deps: ModelCliDeps): (text: string) => void {
  return deps.stdout ?? ((t) => process.stdout.write(t));
}

/** Parse a numeric option once, naming the key in the error. */
export function numberOption(
  key: string,
  value: string | undefined,
  check: { int?: boolean; min?: number; max?: number } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  const ok =
    value.trim() !== '' &&
    Number.isFinite(v) &&
    (!check.int || Number.isInteger(v)) &&
    (check.min === undefined || v >= check.min) &&
    (check.max === undefined || v <= check.max);
  if (!ok) {
    const allowed = `${check.int ? 'an integer' : 'a number'}${check.min !== undefined ? ` ≥ ${check.min}` : ''}${
      check.max !== undefined ? ` ≤ ${check.max}` : ''
    }`;
    throw new VigilError('CONFIG_INVALID', `--${key} must be ${allowed}, got "${value}".`, {
      details: { key, value, allowed },
    });
  }
  return v;
}

function backendOption(): Option {
  return new Option('--backend <name>', 'TensorFlow.js backend')
    .choices(['auto', ...BACKEND_NAMES])
    .default('auto');
}

function modelOption(): Option {
  return new Option('--model <kind>', 'autoencoder variant').choices([...EVAL_MODEL_NAMES]).default('dense');
}

function pct(x: number): string {
  return Number.isFinite(x) ? (100 * x).toFixed(2) : '–';
}

/** A rate that may be far below 1 %, readable at any size (1e-4 → "0.0100 %"). */
function rate(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toPrecision(3)} %` : '–';
}

interface EvaluateFlags {
  data: string;
  model: string;
  out: string;
  json?: string;
  seed: string;
  dataDir?: string;
  trainRows?: string;
  trainFraction?: string;
  window?: string;
  epochs?: string;
  ewma?: string;
  likelihood?: string;
  falseAlarmRate?: string;
  nab?: boolean;
  backend: string;
}

/** `vigil evaluate --data <csv|name> [--model …] [--out report.html] [--seed n]`. */
export function createEvaluateCommand(deps: ModelCliDeps = {}): Command {
  return new Command('evaluate')
    .description(
      `Train and score under the shared/data protocol and write an HTML report. --data is a CSV with a label column ` +
        `(and a split column, or --train-rows/--train-fraction) or one of: ${BENCHMARK_NAMES.join(', ')}.`,
    )
    .requiredOption('--data <csv|name>', 'labelled CSV file or benchmark name')
    .addOption(modelOption())
    .option('--out <file>', 'HTML report', 'vigil-evaluation.html')
    .option('--json <file>', 'also write the results as JSON')
    .option('--seed <n>', 'model seed', '42')
    .option('--data-dir <dir>', 'shared data directory (default $VIGIL_DATA_DIR or ../shared/data)')
    .option('--train-rows <n>', 'CSV without a split column: train on the first n rows')
    .option('--train-fraction <f>', 'CSV without a split column: train on this share of leading rows')
    .option('--window <n>', 'CSV: rows per record (default 1)')
    .option('--nab', 'CSV: one NAB series; also report the NAB score (windows = runs of label 1)')
    .option('--epochs <n>', 'most training epochs (default: the trainer default)')
    .option(
      '--false-alarm-rate <q>',
      'train the model with its threshold at this per-record false-alarm rate (default 1e-4, from the fitted tail)',
    )
    .option(
      '--ewma <halfLife>',
      'ordered data: causal EWMA of the scores, half-life in records (model/postprocess.ts)',
    )
    .option(
      '--likelihood <halfLife>',
      "ordered data: anomaly likelihood of the (smoothed) scores under the series' own score distribution, weighted over this half-life in records",
    )
    .addOption(backendOption())
    .action(async (flags: EvaluateFlags) => {
      const print = out(deps);
      const seed = numberOption('seed', flags.seed, { int: true, min: 0 })!;
      const epochs = numberOption('epochs', flags.epochs, { int: true, min: 1 });
      const trainRows = numberOption('train-rows', flags.trainRows, { int: true, min: 1 });
      const trainFraction = numberOption('train-fraction', flags.trainFraction, { min: 0, max: 1 });
      const window = numberOption('window', flags.window, { int: true, min: 1 });
      const falseAlarmRate = numberOption('false-alarm-rate', flags.falseAlarmRate, {
        min: 1e-12,
        max: 0.49,
      });
      const ewmaHalfLife = numberOption('ewma', flags.ewma, { min: 0 });
      const likelihoodHalfLife = numberOption('likelihood', flags.likelihood, { min: 1 });
      const postprocess =
        ewmaHalfLife !== undefined || likelihoodHalfLife !== undefined
          ? {
              ...(ewmaHalfLife !== undefined ? { ewmaHalfLife } : {}),
              ...(likelihoodHalfLife !== undefined
                ? {
                    likelihood: {
                      halfLife: likelihoodHalfLife,
                      warmup: Math.max(2, Math.min(100, Math.round(likelihoodHalfLife / 10))),
                    },
                  }
                : {}),
            }
          : undefined;
      const dataDir = flags.dataDir ?? deps.env?.['VIGIL_DATA_DIR'];
      const ds: EvalDataset = loadDataset(flags.data, {
        ...(dataDir ? { dataDir } : {}),
        ...(trainRows !== undefined ? { trainRows } : {}),
        ...(trainFraction !== undefined ? { trainFraction } : {}),
        ...(window !== undefined ? { window } : {}),
        ...(flags.nab ? { nab: true } : {}),
      });
      await initBackend({
        preference: flags.backend as BackendPreference,
        ...(deps.logger ? { logger: deps.logger } : {}),
      });
      const model = { kind: modelKindOf(flags.model) } as SpecOverrides;
      const run = await runEvaluation([ds], {
        model,
        modelLabel: flags.model,
        seed,
        ...(epochs !== undefined || falseAlarmRate !== undefined
          ? {
              train: {
                ...(epochs !== undefined ? { epochs } : {}),
                ...(falseAlarmRate !== undefined ? { threshold: { falseAlarmRate } } : {}),
              },
            }
          : {}),
        ...(postprocess ? { postprocess } : {}),
        onSplit: (e) => {
          if (e.phase === 'done' && e.result) {
            const r = e.result;
            const c = r.calibrated;
            print(
              `${e.dataset} ${e.split}: AUC-ROC ${pct(r.aucRoc)} %, AUC-PR ${pct(r.aucPr)} %, F1 at threshold ${pct(
                c.f1,
              )} % (best-F1, uses labels: ${pct(r.bestF1.f1)} %), normal rows flagged ${rate(c.normalFlaggedRate)}` +
                (c.targetRate === undefined
                  ? ''
                  : c.requestedRate === undefined
                    ? ` (configured ${rate(c.targetRate)})`
                    : ` (configured ${rate(c.requestedRate)}, in force ${rate(c.targetRate)}: 1/n of the calibration rows)`) +
                (r.nab
                  ? `, NAB raw ${r.nab.raw.toFixed(3)} (normalised ${r.nab.normalised.toFixed(1)}; ${r.nab.detectedWindows}/${r.nab.windows} windows, ${r.nab.falsePositives} FP)`
                  : '') +
                `, ${r.trainSeconds.toFixed(1)} s training\n`,
            );
          }
        },
      });
      const file = writeReport(run, flags.out);
      if (flags.json) writeFileSync(flags.json, `${JSON.stringify(run, null, 2)}\n`);
      const m = run.datasets[0]!.mean;
      // One split has no mean to speak of: its figures were printed above, and are the result.
      const of = ds.splits.length > 1 ? `mean of ${ds.splits.length} splits: ` : '';
      print(
        `${ds.title}: ${of}AUC-ROC ${pct(m.aucRoc)} %, AUC-PR ${pct(m.aucPr)} %, F1 ${pct(m.f1)} %; report ${file}\n`,
      );
    });
}

export interface TrainFlags {
  data?: string;
  out: string;
  model: string;
  seed: string;
  epochs?: string;
  batchSize?: string;
  thresholdQuantile?: string;
  trim?: string;
  entityColumn?: string;
  labelColumn: string;
  id?: string;
  overwrite?: boolean;
  backend: string;
}

/** Training rows ready for the trainer, and what was left out on the way. */
export interface TrainingRows {
  readonly rows: Float32Array;
  readonly n: number;
  readonly d: number;
  readonly featureNames: readonly string[];
  readonly entities?: readonly string[];
  readonly featureMapping?: FeatureMapping;
  /** Rows left out, by why ("labelled anomalous", "split test", "MISSING_VALUE"), for the summary line. */
  readonly leftOut: Readonly<Record<string, number>>;
  /** Where the rows came from, for the summary line. */
  readonly source: string;
}

/** The training options every `vigil train` takes, whatever the data source. */
export function addTrainOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--out <dir>', 'artifact directory to write')
    .addOption(modelOption())
    .option('--seed <n>', 'seed', '42')
    .option('--epochs <n>', 'most epochs')
    .option('--batch-size <n>', 'mini-batch size')
    .option('--threshold-quantile <q>', 'threshold at this quantile of held-out normal scores (default 0.99)')
    .option(
      '--trim <f>',
      'drop this share of worst-reconstructed training and validation rows, refit and calibrate on the rest (contaminated data)',
    )
    .option('--label-column <name>', 'label column (rows labelled 1 are not trained on)', 'label')
    .option('--id <name>', 'model id recorded in the artifact')
    .option('--overwrite', 'replace an existing artifact directory')
    .addOption(backendOption());
}

/** Reads a CSV or Avro file as bare columns: every column but label, timestamp, split (and the entity column). */
export async function columnTrainingRows(flags: TrainFlags & { data: string }): Promise<TrainingRows> {
  const m = await readMatrix(flags.data, {
    labelColumn: flags.labelColumn,
    keepIfPresent: ['split'],
    ...(flags.entityColumn ? { entityColumn: flags.entityColumn } : {}),
  });
  const split = m.columns['split'];
  const roles = split === undefined ? undefined : splitRoles(split, flags.data);
  const keep: number[] = [];
  let test = 0;
  let anomalous = 0;
  for (let i = 0; i < m.n; i++) {
    if (roles !== undefined && roles[i] !== 'train') test++;
    else if (m.labels?.[i] === 1) anomalous++;
    else keep.push(i);
  }
  const rows = new Float32Array(keep.length * m.d);
  keep.forEach((r, k) => {
    rows.set(m.rows.subarray(r * m.d, (r + 1) * m.d), k * m.d);
  });
  return {
    rows,
    n: keep.length,
    d: m.d,
    featureNames: m.featureNames,
    ...(m.entities ? { entities: keep.map((r) => m.entities![r]!) } : {}),
    leftOut: {
      ...(test > 0 ? { 'split test': test } : {}),
      ...(anomalous > 0 ? { 'labelled anomalous': anomalous } : {}),
    },
    source: flags.data,
  };
}

/** Trains on the rows, saves the artifact and prints one summary line. */
export async function trainAndSave(
  data: TrainingRows,
  flags: TrainFlags,
  deps: ModelCliDeps = {},
): Promise<void> {
  const print = out(deps);
  const seed = numberOption('seed', flags.seed, { int: true, min: 0 })!;
  const epochs = numberOption('epochs', flags.epochs, { int: true, min: 1 });
  const batchSize = numberOption('batch-size', flags.batchSize, { int: true, min: 1 });
  const quantile = numberOption('threshold-quantile', flags.thresholdQuantile, {
    min: 0.5,
    max: 0.999999,
  });
  const trim = numberOption('trim', flags.trim, { min: 0, max: 0.5 });
  const leftOut = Object.entries(data.leftOut)
    .filter(([, k]) => k > 0)
    .map(([why, k]) => `${k} ${why}`);
  if (data.n < 2) {
    throw new VigilError(
      'INPUT_INVALID',
      `${data.source}: ${data.n} rows left to train on` +
        (leftOut.length > 0 ? ` (left out: ${leftOut.join(', ')})` : '') +
        '; training needs normal rows.',
      { details: { source: data.source, rows: data.n, leftOut: data.leftOut } },
    );
  }
  await initBackend({
    preference: flags.backend as BackendPreference,
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
  const t0 = performance.now();
  const detector = await trainDetector(data.rows, data.n, data.d, {
    featureNames: data.featureNames,
    model: { kind: modelKindOf(flags.model) } as SpecOverrides,
    seed,
    ...(epochs !== undefined ? { epochs } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    ...(quantile !== undefined ? { threshold: { quantile } } : {}),
    ...(trim !== undefined ? { trimFraction: trim } : {}),
    ...(data.entities ? { entities: data.entities } : {}),
    ...(data.featureMapping ? { featureMapping: data.featureMapping } : {}),
    ...(flags.id ? { id: flags.id } : {}),
    logger: deps.logger ?? silentLogger(),
  });
  try {
    await saveDetector(detector, flags.out, { overwrite: flags.overwrite ?? false });
    const t = detector.state.training;
    print(
      `trained ${detector.spec.kind} on ${data.n} rows × ${data.d} features of ${data.source}` +
        (leftOut.length > 0 ? ` (left out: ${leftOut.join(', ')})` : '') +
        (t.trimFraction > 0
          ? `; ${t.trimmedRows} training and ${t.trimmedValidationRows ?? 0} held-out rows trimmed as suspected contamination (${t.trimFraction})`
          : '') +
        `: ${t.epochsRun} epochs (best ${t.bestEpoch}), threshold ${detector.calibration.threshold.toPrecision(4)}` +
        ` at the ${detector.calibration.quantile} quantile of ${t.calibratedOn} scores, ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
        (data.featureMapping
          ? `feature mapping ${data.featureMapping.fingerprint.slice(0, 12)}; `
          : 'no feature mapping recorded (bare columns); ') +
        `saved to ${path.resolve(flags.out)}\n`,
    );
  } finally {
    detector.dispose();
  }
}

/** `vigil train --data file.csv --out artifactDir`: bare columns, no feature mapping. */
export function createTrainCommand(deps: ModelCliDeps = {}): Command {
  return addTrainOptions(
    new Command('train')
      .description(
        'Train a model on a CSV or Avro file and save the artifact. Features: every column but label, timestamp, ' +
          'split (and the entity column). With a split column only train rows are used; rows labelled 1 are left out.',
      )
      .requiredOption('--data <file>', 'CSV (header row) or .avro container file')
      .option('--entity-column <name>', 'entity key column (conv1d windows, per-entity thresholds)'),
  ).action(async (flags: TrainFlags & { data: string }) => {
    await trainAndSave(await columnTrainingRows(flags), flags, deps);
  });
}

export interface ScoreFlags {
  model: string;
  data: string;
  out?: string;
  entityColumn?: string;
  labelColumn: string;
  backend: string;
  batch: string;
}

/** Rows to score, in file order, with the file's labels and entities where it has them. */
export interface ScoreInput {
  readonly rows: Float32Array;
  readonly n: number;
  readonly d: number;
  readonly labels?: Uint8Array;
  readonly entities?: readonly string[];
  /** Records that could not be scored, by reason (they have no output line), for the summary. */
  readonly skipped?: Readonly<Record<string, number>>;
}

/** The options every `vigil score` takes, whatever reads the rows. */
export function addScoreOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--model <dir>', 'artifact directory (vigil train --out)')
    .requiredOption('--data <file>', 'CSV or .avro file')
    .option('--out <file>', 'output CSV (default: standard output)')
    .option('--label-column <name>', 'label column, if any', 'label')
    .option('--batch <n>', 'rows per scoring call', '4096')
    .addOption(backendOption());
}

/**
 * Loads the model, reads the rows (`rowsFor`, or the model's feature columns by name), writes one CSV line per
 * row and a summary. The summary goes to stdout when the CSV goes to a file, to stderr when it goes to stdout.
 */
export async function scoreFile(
  flags: ScoreFlags,
  deps: ModelCliDeps,
  rowsFor?: (detector: Detector) => Promise<ScoreInput>,
): Promise<void> {
  const print = out(deps);
  const batch = numberOption('batch', flags.batch, { int: true, min: 1 })!;
  await initBackend({
    preference: flags.backend as BackendPreference,
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
  const detector = await loadDetector(flags.model, { maxBatch: batch });
  try {
    const names = detector.identity.featureNames;
    const m: ScoreInput = rowsFor
      ? await rowsFor(detector)
      : await readMatrix(flags.data, {
          features: names,
          labelColumn: flags.labelColumn,
          ...(flags.entityColumn ? { entityColumn: flags.entityColumn } : {}),
        });
    const sink = flags.out ? createWriteStream(flags.out) : undefined;
    const write = (text: string) => (sink ? sink.write(text) : print(text));
    // A model calibrated on post-processed scores is judged on them: the same per-entity state, in row order.
    const settings = detector.activeCalibration.postprocess;
    const post = settings ? new ScorePostprocessor(settings) : undefined;
    write(`row,score,severity,is_anomaly,threshold,top_feature${post ? ',raw_score' : ''}\n`);
    const allScores = new Float32Array(m.n);
    const allFlags = new Uint8Array(m.n);
    for (let s = 0; s < m.n; s += batch) {
      const k = Math.min(batch, m.n - s);
      const ents = m.entities?.slice(s, s + k);
      const r = detector.score(m.rows.subarray(s * m.d, (s + k) * m.d), k, ents);
      const processed = post?.process(r.scores, k, ents) as Float32Array | undefined;
      const judged = processed ? detector.judge(processed, k, ents) : r;
      const scores = processed ?? r.scores;
      allScores.set(scores, s);
      allFlags.set(judged.isAnomaly, s);
      let text = '';
      for (let i = 0; i < k; i++) {
        let top = 0;
        for (let j = 1; j < m.d; j++)
          if (r.contributions[i * m.d + j]! > r.contributions[i * m.d + top]!) top = j;
        text += `${s + i},${scores[i]},${judged.severity[i]},${judged.isAnomaly[i]},${judged.threshold[i]},${names[top]}${
          processed ? `,${r.scores[i]}` : ''
        }\n`;
      }
      write(text);
    }
    if (sink)
      await new Promise<void>((resolve, reject) =>
        sink.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
    let flagged = 0;
    for (const f of allFlags) flagged += f;
    let summary = `scored ${m.n} rows with ${detector.identity.id}@${detector.identity.version}: ${flagged} flagged`;
    const skipped = Object.entries(m.skipped ?? {}).filter(([, k]) => k > 0);
    if (skipped.length > 0)
      summary += ` (not scored: ${skipped.map(([why, k]) => `${k} ${why}`).join(', ')})`;
    if (m.labels) {
      const c = confusionOfDecisions(allFlags, m.labels);
      summary += `; AUC-ROC ${pct(aucRoc(allScores, m.labels))} %, AUC-PR ${pct(averagePrecision(allScores, m.labels))} %, F1 at threshold ${pct(c.f1)} %`;
    }
    // Keep stdout clean for the CSV when it goes there: the summary then goes to stderr, as plain text.
    if (sink) print(`${summary}\n`);
    else (deps.stderr ?? ((t) => process.stderr.write(t)))(`${summary}\n`);
  } finally {
    detector.dispose();
  }
}

/** `vigil score --model artifactDir --data file.csv [--out scores.csv]`: the model's feature columns by name. */
export function createScoreCommand(deps: ModelCliDeps = {}): Command {
  return addScoreOptions(
    new Command('score').description(
      'Score a CSV or Avro file with a saved model: one output line per row (score, severity, decision, threshold, ' +
        'the feature with the largest share of the error). With a label column, prints AUC-ROC, AUC-PR and F1.',
    ),
  )
    .option('--entity-column <name>', 'entity key column (conv1d windows, per-entity thresholds)')
    .action((flags: ScoreFlags) => scoreFile(flags, deps));
}

/** The three commands, for cli/extra-commands.ts. */
export function createModelCommands(deps: ModelCliDeps = {}): Command[] {
  return [createTrainCommand(deps), createScoreCommand(deps), createEvaluateCommand(deps)];
}

/** Run `evaluate` with its own argv (no `vigil evaluate` prefix), e.g. from a script. */
export async function runEvaluateCli(argv: readonly string[], deps: ModelCliDeps = {}): Promise<void> {
  await createEvaluateCommand(deps)
    .exitOverride()
    .parseAsync([...argv], { from: 'user' });
}
