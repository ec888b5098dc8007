/**
 * Quick model experiments under the shared/data protocol: several configurations over several data sets,
 * printed as one table (and, with --section <name>, written to bench/RESULTS.md as "experiments-<name>").
 * The evidence behind proposed default changes comes from here, so every figure is reproducible.
 *
 *   npx tsx bench/model-experiments.ts --datasets nab-machine-temperature,satellite \
 *     --configs '[{"label":"tanh","model":{"kind":"dense","activation":"tanh"}}]' [--seeds 42,7] [--section name]
 *
 * Each config is {label, model?: SpecOverrides, train?: trainer options (epochs, batchSize, trimFraction,
 * scaler, threshold, …)}. With several --seeds each config is run once per seed and the table shows the mean
 * and the range, so a difference smaller than the seed-to-seed spread is not mistaken for an improvement.
 */
import os from 'node:os';
import { initBackend } from '../model/backend.js';
import type { EvalTrainOptions, ScorePostprocess } from '../model/eval/evaluate.js';
import type { SpecOverrides } from '../model/spec.js';
import { parseDatasets, pct, type QualityRow, runQuality } from './quality-runner.js';
import { machineInfo, machineLines, markdownTable, writeSection } from './results-file.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Config {
  label: string;
  model?: SpecOverrides;
  train?: EvalTrainOptions;
  /** Experimental score post-processing (see ScorePostprocess in model/eval/evaluate.ts). */
  postprocess?: ScorePostprocess;
}

const names = parseDatasets(arg('datasets') ?? 'nab-machine-temperature');
const configs = JSON.parse(arg('configs') ?? '[{"label":"default"}]') as Config[];
const seeds = (arg('seeds') ?? '42').split(',').map(Number);
const start = machineInfo();
await initBackend({ preference: 'wasm' });

const rows: (QualityRow & { seed: number })[] = [];
for (const c of configs) {
  for (const seed of seeds) {
    const got = await runQuality(
      {
        label: c.label,
        options: {
          seed,
          // Tables only: no report, so no latent map to compute.
          latentMap: false,
          ...(c.model ? { model: c.model } : {}),
          ...(c.train ? { train: c.train } : {}),
          ...(c.postprocess ? { postprocess: c.postprocess } : {}),
        },
      },
      names,
    );
    rows.push(...got.map((r) => ({ ...r, seed })));
  }
}

const body: string[][] = [];
for (const name of names) {
  for (const c of configs) {
    const rs = rows.filter((r) => r.dataset === name && r.config === c.label && r.result);
    if (rs.length === 0) continue;
    const roc = rs.map((r) => r.result!.mean.aucRoc);
    const pr = rs.map((r) => r.result!.mean.aucPr);
    const f1 = rs.map((r) => r.result!.mean.f1);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const range = (a: number[]) => (a.length > 1 ? ` (${pct(Math.min(...a))}–${pct(Math.max(...a))})` : '');
    body.push([
      name,
      c.label,
      `${pct(mean(roc))}${range(roc)}`,
      `${pct(mean(pr))}${range(pr)}`,
      pct(mean(f1)),
      `${(rs.reduce((s, r) => s + r.seconds, 0) / rs.length).toFixed(0)} s`,
    ]);
  }
}
const table = markdownTable(
  ['data set', 'config', 'AUC-ROC %', 'AUC-PR %', 'F1 % at threshold', 'time / run'],
  body,
);
console.log(`\n${table}\n`);

const section = arg('section');
if (section) {
  writeSection(
    `experiments-${section}`,
    `### Experiment: ${section}

${machineLines(start, {
  command: `npx tsx bench/model-experiments.ts ${process.argv
    .slice(2)
    .map((a) => (a.startsWith('[') ? `'${a}'` : a))
    .join(' ')}`,
  'load average (1/5/15 min) at end': os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' / '),
  seeds: seeds.join(', '),
})}

Configs: ${configs.map((c) => `\`${c.label}\` = ${JSON.stringify({ model: c.model ?? 'default', train: c.train ?? {}, ...(c.postprocess ? { postprocess: c.postprocess } : {}) })}`).join('; ')}.
ADBench figures are means over the three splits; with several seeds, mean (min–max) over seeds.

${table}
`,
  );
}
