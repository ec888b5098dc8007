/**
 * Shared by bench/model-quality.ts and bench/model-experiments.ts: run the shared/data protocol for one model
 * configuration over a list of data sets and format the figures beside the peer table.
 */
import {
  type BenchmarkName,
  type EvalDataset,
  isBenchmarkName,
  loadBenchmark,
} from '../model/eval/datasets.js';
import { type EvaluateOptions, evaluateDataset } from '../model/eval/evaluate.js';
import { ISSUE_TARGETS, PEER_MODELS, PEERS, peerBar } from '../model/eval/peers.js';
import type { DatasetResult } from '../model/eval/results.js';

export interface QualityConfig {
  /** Short label for tables. */
  readonly label: string;
  readonly options: EvaluateOptions;
}

export interface QualityRow {
  readonly config: string;
  readonly dataset: BenchmarkName;
  readonly result?: DatasetResult;
  /** Why there is no result (e.g. conv1d on tabular data). */
  readonly skipped?: string;
  readonly seconds: number;
}

const cache = new Map<string, EvalDataset>();
export function dataset(name: BenchmarkName, dataDir?: string): EvalDataset {
  const key = `${name}|${dataDir ?? ''}`;
  let ds = cache.get(key);
  if (ds === undefined) {
    ds = loadBenchmark(name, dataDir ? { dataDir } : {});
    cache.set(key, ds);
  }
  return ds;
}

export function parseDatasets(list: string): BenchmarkName[] {
  return list.split(',').map((s) => {
    const n = s.trim();
    if (!isBenchmarkName(n)) throw new Error(`unknown data set ${n}`);
    return n;
  });
}

export async function runQuality(
  config: QualityConfig,
  names: readonly BenchmarkName[],
  dataDir?: string,
  log: (line: string) => void = console.log,
): Promise<QualityRow[]> {
  const out: QualityRow[] = [];
  for (const name of names) {
    const ds = dataset(name, dataDir);
    if (config.options.model?.kind === 'conv1d' && !ds.ordered) {
      out.push({ config: config.label, dataset: name, skipped: 'conv1d needs ordered data', seconds: 0 });
      continue;
    }
    const t0 = performance.now();
    const result = await evaluateDataset(ds, config.options);
    const seconds = (performance.now() - t0) / 1000;
    out.push({ config: config.label, dataset: name, result, seconds });
    log(
      `${config.label.padEnd(28)} ${name.padEnd(24)} AUC-ROC ${pct(result.mean.aucRoc)}  AUC-PR ${pct(result.mean.aucPr)}  ` +
        `F1@thr ${pct(result.mean.f1)}  best-F1* ${pct(result.mean.bestF1)}  normal flagged ${pct(result.mean.normalFlaggedRate)}  ` +
        (result.splits[0]?.nab ? `NAB raw ${result.splits[0].nab.raw.toFixed(3)}  ` : '') +
        `[${result.splits.map((s) => `${pct(s.aucRoc)}/${pct(s.aucPr)}`).join(' ')}]  ${seconds.toFixed(0)} s`,
    );
  }
  return out;
}

export const pct = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? '–' : (100 * x).toFixed(2);

/** Does a result meet the bar (best peer) and the issue's targets? */
export function verdict(row: QualityRow): { bar: string; target: string } {
  if (!row.result) return { bar: '', target: '' };
  const bar = peerBar(row.dataset);
  const roc = 100 * row.result.mean.aucRoc;
  const pr = 100 * row.result.mean.aucPr;
  const barOk = roc >= bar.aucRoc && pr >= bar.aucPr;
  const barText = barOk
    ? 'meets'
    : `short (${roc >= bar.aucRoc ? '' : `ROC −${(bar.aucRoc - roc).toFixed(2)}`}${
        roc < bar.aucRoc && pr < bar.aucPr ? ', ' : ''
      }${pr >= bar.aucPr ? '' : `PR −${(bar.aucPr - pr).toFixed(2)}`})`;
  const t = ISSUE_TARGETS[row.dataset];
  let target = '–';
  if (t) {
    const ok = (t.aucRoc === undefined || roc >= t.aucRoc) && (t.aucPr === undefined || pr >= t.aucPr);
    target = `${ok ? 'met' : 'missed'} (${[
      t.aucRoc !== undefined ? `ROC ≥ ${t.aucRoc}` : '',
      t.aucPr !== undefined ? `PR ≥ ${t.aucPr}` : '',
    ]
      .filter(Boolean)
      .join(', ')})`;
  }
  return { bar: barText, target };
}

/** Markdown rows: Vigil's configs, then the peers and the bar, per data set. */
export function comparisonTable(rows: readonly QualityRow[]): { header: string[]; body: string[][] } {
  const header = [
    'data set',
    'model',
    'AUC-ROC %',
    'AUC-PR %',
    'F1 % at threshold',
    'best-F1 %*',
    'vs bar',
    'issue target',
    'time',
  ];
  const body: string[][] = [];
  const names = [...new Set(rows.map((r) => r.dataset))];
  for (const name of names) {
    for (const r of rows.filter((x) => x.dataset === name)) {
      if (!r.result) {
        body.push([name, r.config, '–', '–', '–', '–', r.skipped ?? '', '', '']);
        continue;
      }
      const v = verdict(r);
      body.push([
        name,
        `**Vigil ${r.config}**`,
        pct(r.result.mean.aucRoc),
        pct(r.result.mean.aucPr),
        pct(r.result.mean.f1),
        pct(r.result.mean.bestF1),
        v.bar,
        v.target,
        `${r.seconds.toFixed(0)} s`,
      ]);
    }
    for (const m of PEER_MODELS) {
      const p = PEERS[name][m];
      body.push([name, `peer ${m}`, p.aucRoc.toFixed(2), p.aucPr.toFixed(2), '', '', '', '', '']);
    }
    const bar = peerBar(name);
    body.push([
      name,
      '_bar (best peer)_',
      `${bar.aucRoc.toFixed(2)} (${bar.rocBy})`,
      `${bar.aucPr.toFixed(2)} (${bar.prBy})`,
      '',
      '',
      '',
      '',
      '',
    ]);
  }
  return { header, body };
}

/** One data set × config over several seeds: the mean and the worst seed of each figure. */
export interface SeedSummary {
  readonly dataset: BenchmarkName;
  readonly config: string;
  readonly seeds: readonly number[];
  readonly aucRoc: { mean: number; worst: number; worstSeed: number };
  readonly aucPr: { mean: number; worst: number; worstSeed: number };
  readonly f1: { mean: number; worst: number };
  readonly bestF1: number;
  readonly normalFlagged: { mean: number; worst: number };
  readonly targetRate?: number;
  readonly nabRaw?: { mean: number; worst: number };
  readonly seconds: number;
}

const meanOfList = (a: readonly number[]) => a.reduce((x, y) => x + y, 0) / a.length;

/** Worst = lowest for AUC and F1, highest for the flagged share of normal rows (more false alarms). */
export function summariseSeeds(rows: readonly (QualityRow & { seed: number })[]): SeedSummary[] {
  const out: SeedSummary[] = [];
  const keys = [...new Set(rows.map((r) => `${r.dataset}\u0000${r.config}`))];
  for (const key of keys) {
    const [dataset, config] = key.split('\u0000') as [BenchmarkName, string];
    const rs = rows.filter((r) => r.dataset === dataset && r.config === config && r.result);
    if (rs.length === 0) continue;
    const at = (f: (r: DatasetResult) => number) => rs.map((r) => f(r.result!));
    const lowest = (f: (r: DatasetResult) => number) => {
      const v = at(f);
      const k = v.indexOf(Math.min(...v));
      return { mean: meanOfList(v), worst: v[k]!, worstSeed: rs[k]!.seed };
    };
    const flagged = at((r) => r.mean.normalFlaggedRate);
    const f1 = at((r) => r.mean.f1);
    const nab = rs.flatMap((r) => (r.result!.splits[0]?.nab ? [r.result!.splits[0].nab.raw] : []));
    const target = rs[0]!.result!.splits[0]?.calibrated.targetRate;
    out.push({
      dataset,
      config,
      seeds: rs.map((r) => r.seed),
      aucRoc: lowest((r) => r.mean.aucRoc),
      aucPr: lowest((r) => r.mean.aucPr),
      f1: { mean: meanOfList(f1), worst: Math.min(...f1) },
      bestF1: meanOfList(at((r) => r.mean.bestF1)),
      normalFlagged: { mean: meanOfList(flagged), worst: Math.max(...flagged) },
      ...(target !== undefined ? { targetRate: target } : {}),
      ...(nab.length > 0 ? { nabRaw: { mean: meanOfList(nab), worst: Math.min(...nab) } } : {}),
      seconds: meanOfList(rs.map((r) => r.seconds)),
    });
  }
  return out;
}

/**
 * The bar (best peer) is met on the mean of the seeds; the floor (the PCA peer) must hold on every seed, so
 * the worst seed is compared with it.
 */
export function seedVerdict(s: SeedSummary): { bar: string; floor: string } {
  const bar = peerBar(s.dataset);
  const roc = 100 * s.aucRoc.mean;
  const pr = 100 * s.aucPr.mean;
  const short: string[] = [];
  if (roc < bar.aucRoc) short.push(`ROC −${(bar.aucRoc - roc).toFixed(2)}`);
  if (pr < bar.aucPr) short.push(`PR −${(bar.aucPr - pr).toFixed(2)}`);
  const pca = PEERS[s.dataset].PCA;
  const below: string[] = [];
  if (100 * s.aucRoc.worst < pca.aucRoc) below.push(`ROC seed ${s.aucRoc.worstSeed}`);
  if (100 * s.aucPr.worst < pca.aucPr) below.push(`PR seed ${s.aucPr.worstSeed}`);
  return {
    bar: short.length === 0 ? 'meets' : `short (${short.join(', ')})`,
    floor: below.length === 0 ? 'above' : `below (${below.join(', ')})`,
  };
}

/** Markdown rows of the seed summaries: mean, worst seed, and the peer bar and PCA floor per data set. */
export function seedTable(summaries: readonly SeedSummary[]): { header: string[]; body: string[][] } {
  const header = [
    'data set',
    'model',
    'AUC-ROC % mean (worst)',
    'AUC-PR % mean (worst)',
    'F1 % at threshold mean (worst)',
    'best-F1 %*',
    'normal rows flagged % mean (worst) [target]',
    'NAB raw mean (worst)',
    'vs bar (mean)',
    'PCA floor (every seed)',
    'time / seed',
  ];
  const body: string[][] = [];
  for (const name of [...new Set(summaries.map((s) => s.dataset))]) {
    for (const s of summaries.filter((x) => x.dataset === name)) {
      const v = seedVerdict(s);
      body.push([
        name,
        `**Vigil ${s.config}**`,
        `${pct(s.aucRoc.mean)} (${pct(s.aucRoc.worst)})`,
        `${pct(s.aucPr.mean)} (${pct(s.aucPr.worst)})`,
        `${pct(s.f1.mean)} (${pct(s.f1.worst)})`,
        pct(s.bestF1),
        `${(100 * s.normalFlagged.mean).toFixed(3)} (${(100 * s.normalFlagged.worst).toFixed(3)})${
          s.targetRate !== undefined ? ` [${(100 * s.targetRate).toPrecision(2)}]` : ''
        }`,
        s.nabRaw ? `${s.nabRaw.mean.toFixed(3)} (${s.nabRaw.worst.toFixed(3)})` : '',
        v.bar,
        v.floor,
        `${s.seconds.toFixed(0)} s`,
      ]);
    }
    const bar = peerBar(name);
    const pca = PEERS[name].PCA;
    body.push([
      name,
      '_bar (best peer) / PCA floor_',
      `${bar.aucRoc.toFixed(2)} (${bar.rocBy}) / ${pca.aucRoc.toFixed(2)}`,
      `${bar.aucPr.toFixed(2)} (${bar.prBy}) / ${pca.aucPr.toFixed(2)}`,
      '',
      '',
      '',
      name === 'nab-machine-temperature' ? 'ARTime 2.556, HTM 1.360' : '',
      '',
      '',
      '',
    ]);
  }
  return { header, body };
}
