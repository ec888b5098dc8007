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
