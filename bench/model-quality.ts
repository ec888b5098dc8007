/**
 * Model quality on the public labelled data in shared/data, under its README's protocol, beside the peer
 * table. Writes the model-quality section of bench/RESULTS.md (and HTML reports with --reports <dir>).
 *
 *   npx tsx bench/model-quality.ts [--variants] [--datasets shuttle,satellite,…] [--seeds 42,7,1234]
 *                                  [--reports dir] [--data-dir dir] [--no-write]
 *
 * The default model is what `trainDetector` builds with no model options; --variants adds the dense,
 * denoising, VAE and conv1d variants with their own defaults. Every configuration runs once per seed (three by
 * default): the table shows the mean and the worst seed, because stability across seeds is part of the bar.
 * `--seed N` is one seed.
 */
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../model/backend.js';
import { BENCHMARK_NAMES } from '../model/eval/datasets.js';
import { writeReport } from '../model/eval/evaluate.js';
import type { EvaluationRun } from '../model/eval/results.js';
import { resolveSpec } from '../model/spec.js';
import { TRAIN_DEFAULTS } from '../model/trainer.js';
import {
  parseDatasets,
  type QualityConfig,
  type QualityRow,
  runQuality,
  seedTable,
  summariseSeeds,
} from './quality-runner.js';
import { machineInfo, machineLines, markdownTable, writeSection } from './results-file.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const names = parseDatasets(arg('datasets') ?? BENCHMARK_NAMES.join(','));
const seeds = (arg('seeds') ?? arg('seed') ?? '42,7,1234').split(',').map(Number);
if (seeds.some((x) => !Number.isInteger(x))) throw new Error(`--seeds takes integers, got ${arg('seeds')}`);
const reports = arg('reports');
const dataDir = arg('data-dir');
const configs: QualityConfig[] = [{ label: 'default', options: {} }];
if (process.argv.includes('--variants')) {
  for (const kind of ['denoising', 'vae', 'conv1d'] as const)
    configs.push({ label: kind, options: { model: { kind } } });
}

const start = machineInfo();
const backend = await initBackend({ preference: 'wasm' });
console.log(
  `backend ${backend.name}${backend.simd ? ' (SIMD)' : ''}, load ${start.loadavg.join(' / ')} on ${start.cpus} CPUs`,
);

const rows: (QualityRow & { seed: number })[] = [];
for (const c of configs) {
  for (const seed of seeds) {
    const got = await runQuality({ label: c.label, options: { ...c.options, seed } }, names, dataDir);
    rows.push(...got.map((r) => ({ ...r, seed })));
    if (reports) {
      const run: EvaluationRun = {
        createdAt: new Date().toISOString(),
        model: c.label,
        modelConfig: { ...c.options, seed, trainDefaults: TRAIN_DEFAULTS },
        seed,
        backend: `${backend.name} / tfjs ${tf.version.tfjs}`,
        datasets: got.flatMap((r) => (r.result ? [r.result] : [])),
      };
      console.log(`report: ${writeReport(run, path.join(reports, `quality-${c.label}-seed${seed}.html`))}`);
    }
  }
}

const skipped = [
  ...new Set(rows.filter((r) => !r.result).map((r) => `${r.config} on ${r.dataset}: ${r.skipped}`)),
];
const { header, body } = seedTable(summariseSeeds(rows));
const table = markdownTable(header, body);
console.log(`\n${table}\n`);

const archs = names
  .map((n) => {
    const r = rows.find((x) => x.dataset === n && x.config === 'default')?.result;
    if (!r) return '';
    const spec = resolveSpec(r.d, { kind: 'dense' });
    return `${n}: ${r.d}-${spec.kind === 'conv1d' ? '' : spec.encoderUnits.join('-')} (${spec.kind}, ${spec.activation})`;
  })
  .filter(Boolean)
  .join('; ');

if (!process.argv.includes('--no-write')) {
  writeSection(
    'model-quality',
    `## Model quality (\`bench/model-quality.ts\`)

${machineLines(start, {
  command: `npx tsx bench/model-quality.ts ${process.argv.slice(2).join(' ')}`.trim(),
  'load average (1/5/15 min) at end': os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' / '),
  backend: `${backend.name}${backend.simd ? ' (SIMD)' : ''}, tfjs ${tf.version.tfjs}`,
  'default model': `trainDetector defaults (${JSON.stringify(TRAIN_DEFAULTS)}); widths per data set: ${archs}`,
  seeds: seeds.join(', '),
})}

Protocol: shared/data/README.md (train on the normal training rows only, scaling fitted inside the model on
them, every test row scored; AUC-PR = average precision as scikit-learn computes it; ADBench figures are the
mean of the three seeded splits). "F1 % at threshold" uses the model's own calibrated threshold (by default
a per-record false-alarm rate of 1e-4 from the tail fitted to held-out training scores), chosen without test labels. *best-F1 picks its threshold with the test
labels: an upper bound, shown beside, never instead. Each figure is the mean over the seeds, the worst seed in
brackets (for the flagged share of normal rows, the highest). "vs bar": the seeds' mean AUC-ROC and AUC-PR at
least the best peer's; "PCA floor": every seed at or above the PCA peer on both.
${skipped.length > 0 ? `\nNot run: ${skipped.join('; ')}.\n` : ''}
${table}
`,
  );
  console.log('bench/RESULTS.md updated (model-quality section)');
}
