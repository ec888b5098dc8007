/**
 * A self-contained HTML report of an evaluation: tables and inline SVG plots (ROC, precision-recall, score
 * distributions with the threshold marked, the latent map of the bottleneck codes), no scripts, no external stylesheets or fonts, so it opens offline
 * and behind a firewall. Pure: results in, a string out.
 */
import { type BenchmarkName, isBenchmarkName } from './datasets.js';
import type { LatentMap } from './latent-map.js';
import { PEER_MODELS, PEERS, peerBar } from './peers.js';
import type { DatasetResult, EvaluationRun, Histogram, SplitResult } from './results.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const NORMAL = '#1f77b4';
const ANOMALY = '#d62728';

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": '#39' }[c]};`,
  );
}

const pct = (x: number, digits = 2) => (Number.isFinite(x) ? (100 * x).toFixed(digits) : '–');
const num = (x: number) =>
  !Number.isFinite(x)
    ? String(x)
    : Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3)
      ? x.toExponential(3)
      : x.toPrecision(4);

interface Series {
  readonly x: readonly number[];
  readonly y: readonly number[];
  readonly color: string;
  readonly label: string;
  readonly dashed?: boolean;
}

interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly xDomain: readonly [number, number];
  readonly yDomain: readonly [number, number];
  readonly series: readonly Series[];
  readonly points?: readonly { x: number; y: number; color: string; label: string }[];
  readonly width?: number;
  readonly height?: number;
}

const W = 360;
const H = 280;
const M = { l: 48, r: 12, t: 26, b: 40 };

function ticks(lo: number, hi: number, count = 5): number[] {
  const out: number[] = [];
  for (let k = 0; k <= count; k++) out.push(lo + ((hi - lo) * k) / count);
  return out;
}

/** Tick labels with as many decimals as the axis span needs (a log axis near 0 must not print 3e-3). */
function fmtTick(v: number, span: number): string {
  if (Math.abs(v) >= 1e5) return v.toExponential(1);
  const decimals = Math.min(6, Math.max(0, 2 - Math.floor(Math.log10(span || 1))));
  return String(Number(v.toFixed(decimals)));
}

function frame(o: ChartOptions, sx: (x: number) => number, sy: (y: number) => number, body: string): string {
  const w = o.width ?? W;
  const h = o.height ?? H;
  const xSpan = o.xDomain[1] - o.xDomain[0];
  const ySpan = o.yDomain[1] - o.yDomain[0];
  const xt = ticks(o.xDomain[0], o.xDomain[1])
    .map(
      (v) =>
        `<line x1="${sx(v)}" x2="${sx(v)}" y1="${h - M.b}" y2="${h - M.b + 4}" stroke="#444"/>` +
        `<text x="${sx(v)}" y="${h - M.b + 16}" text-anchor="middle">${fmtTick(v, xSpan)}</text>`,
    )
    .join('');
  const yt = ticks(o.yDomain[0], o.yDomain[1])
    .map(
      (v) =>
        `<line x1="${M.l - 4}" x2="${M.l}" y1="${sy(v)}" y2="${sy(v)}" stroke="#444"/>` +
        `<line x1="${M.l}" x2="${w - M.r}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eee"/>` +
        `<text x="${M.l - 6}" y="${sy(v) + 4}" text-anchor="end">${fmtTick(v, ySpan)}</text>`,
    )
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" ` +
    `aria-label="${escapeHtml(o.title)}" font-family="sans-serif" font-size="10">` +
    `<text x="${w / 2}" y="14" text-anchor="middle" font-size="12" font-weight="bold">${escapeHtml(o.title)}</text>` +
    yt +
    `<rect x="${M.l}" y="${M.t}" width="${w - M.l - M.r}" height="${h - M.t - M.b}" fill="none" stroke="#444"/>` +
    xt +
    body +
    `<text x="${(M.l + w - M.r) / 2}" y="${h - 6}" text-anchor="middle">${escapeHtml(o.xLabel)}</text>` +
    `<text transform="translate(12 ${(M.t + h - M.b) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(o.yLabel)}</text>` +
    `</svg>`
  );
}

function scales(o: ChartOptions) {
  const w = o.width ?? W;
  const h = o.height ?? H;
  const [x0, x1] = o.xDomain;
  const [y0, y1] = o.yDomain;
  const sx = (x: number) => +(M.l + ((x - x0) / (x1 - x0 || 1)) * (w - M.l - M.r)).toFixed(1);
  const sy = (y: number) => +(h - M.b - ((y - y0) / (y1 - y0 || 1)) * (h - M.t - M.b)).toFixed(1);
  return { sx, sy, w, h };
}

/** A line chart as an inline SVG element. */
export function lineChartSvg(o: ChartOptions): string {
  const { sx, sy, w } = scales(o);
  const lines = o.series
    .map((s) => {
      const d = s.x.map((x, i) => `${i === 0 ? 'M' : 'L'}${sx(x)},${sy(s.y[i]!)}`).join('');
      return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`;
    })
    .join('');
  const pts = (o.points ?? [])
    .map(
      (p) =>
        `<circle cx="${sx(p.x)}" cy="${sy(p.y)}" r="3.5" fill="${p.color}" stroke="#000" stroke-width="0.6"/>`,
    )
    .join('');
  const legendItems = [
    ...o.series.map((s) => ({ label: s.label, color: s.color, dashed: s.dashed ?? false, dot: false })),
    ...(o.points ?? []).map((p) => ({ label: p.label, color: p.color, dashed: false, dot: true })),
  ].filter((l) => l.label !== '');
  const legendBox =
    legendItems.length > 0
      ? `<rect x="${w - M.r - 134}" y="${M.t + 2}" width="128" height="${legendItems.length * 13 + 4}" fill="#fff" fill-opacity="0.85"/>`
      : '';
  const legend =
    legendBox +
    legendItems
      .map((l, i) => {
        const y = M.t + 12 + i * 13;
        const x = w - M.r - 130;
        const mark = l.dot
          ? `<circle cx="${x + 8}" cy="${y - 3}" r="3" fill="${l.color}"/>`
          : `<line x1="${x}" x2="${x + 16}" y1="${y - 3}" y2="${y - 3}" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="4 3"' : ''}/>`;
        return `${mark}<text x="${x + 20}" y="${y}">${escapeHtml(l.label)}</text>`;
      })
      .join('');
  return frame(o, sx, sy, lines + pts + legend);
}

/** Normal and anomalous score histograms (each as a share of its own class), threshold as a vertical line. */
export function histogramSvg(hist: Histogram, threshold: number | undefined, title: string): string {
  const bins = hist.normal.length;
  const nN = hist.normal.reduce((a, b) => a + b, 0) || 1;
  const nA = hist.anomalous.reduce((a, b) => a + b, 0) || 1;
  const shareN = hist.normal.map((c) => c / nN);
  const shareA = hist.anomalous.map((c) => c / nA);
  const yMax = Math.max(0.01, ...shareN, ...shareA);
  const o: ChartOptions = {
    title,
    xLabel: hist.log10 ? 'log10(score)' : 'score',
    yLabel: 'share of class',
    xDomain: [hist.edges[0]!, hist.edges[bins]!],
    yDomain: [0, yMax],
    series: [],
  };
  const { sx, sy, w } = scales(o);
  const bars = (share: number[], color: string) =>
    share
      .map((s, k) => {
        if (s === 0) return '';
        const x0 = sx(hist.edges[k]!);
        const x1 = sx(hist.edges[k + 1]!);
        return `<rect x="${x0}" y="${sy(s)}" width="${Math.max(0.5, x1 - x0)}" height="${+(sy(0) - sy(s)).toFixed(1)}" fill="${color}" fill-opacity="0.45"/>`;
      })
      .join('');
  let thr = '';
  if (threshold !== undefined && Number.isFinite(threshold) && (!hist.log10 || threshold > 0)) {
    const tx = sx(hist.log10 ? Math.log10(threshold) : threshold);
    thr =
      `<line x1="${tx}" x2="${tx}" y1="${M.t}" y2="${sy(0)}" stroke="#000" stroke-width="1.5" stroke-dasharray="5 3"/>` +
      `<text transform="translate(${tx + 2} ${M.t + 4}) rotate(90)" font-size="9">threshold</text>`;
  }
  const lx = w - M.r - 110;
  const legend =
    `<rect x="${lx - 4}" y="${M.t + 16}" width="112" height="30" fill="#fff" fill-opacity="0.85"/>` +
    `<rect x="${lx}" y="${M.t + 20}" width="10" height="8" fill="${NORMAL}" fill-opacity="0.45"/><text x="${lx + 14}" y="${M.t + 28}">normal (${nN})</text>` +
    `<rect x="${lx}" y="${M.t + 33}" width="10" height="8" fill="${ANOMALY}" fill-opacity="0.45"/><text x="${lx + 14}" y="${M.t + 41}">anomalous (${nA})</text>`;
  return frame(o, sx, sy, bars(shareN, NORMAL) + bars(shareA, ANOMALY) + thr + legend);
}

/** Axis range of values with a 5 % margin (a single value gets ±1). */
function paddedDomain(v: readonly number[]): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const x of v) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (!Number.isFinite(lo)) return [-1, 1];
  if (hi - lo < 1e-12) return [lo - 1, hi + 1];
  const m = 0.05 * (hi - lo);
  return [lo - m, hi + m];
}

/**
 * The latent map: test rows' bottleneck codes on the PCA plane of the training codes, normal and anomalous in
 * two colours. Anomalies are drawn last, so a few of them stay visible over thousands of normal rows.
 */
export function latentMapSvg(map: LatentMap, title: string): string {
  const o: ChartOptions = {
    title,
    xLabel: `PC1 (${pct(map.explained[0], 1)} % of variance)`,
    yLabel: `PC2 (${pct(map.explained[1], 1)} % of variance)`,
    xDomain: paddedDomain(map.x),
    yDomain: paddedDomain(map.y),
    series: [],
  };
  const { sx, sy, w } = scales(o);
  let normal = '';
  let anomalous = '';
  for (let i = 0; i < map.x.length; i++) {
    const dot = `<circle cx="${sx(map.x[i]!)}" cy="${sy(map.y[i]!)}" r="1.8"/>`;
    if (map.anomalous[i] === 1) anomalous += dot;
    else normal += dot;
  }
  const lx = w - M.r - 122;
  const legend =
    `<rect x="${lx - 4}" y="${M.t + 4}" width="124" height="30" fill="#fff" fill-opacity="0.85"/>` +
    `<circle cx="${lx + 4}" cy="${M.t + 12}" r="3" fill="${NORMAL}"/><text x="${lx + 12}" y="${M.t + 15}">normal (${map.normalDrawn} of ${map.normalRows})</text>` +
    `<circle cx="${lx + 4}" cy="${M.t + 25}" r="3" fill="${ANOMALY}"/><text x="${lx + 12}" y="${M.t + 28}">anomalous (${map.anomalousDrawn} of ${map.anomalousRows})</text>`;
  return frame(
    o,
    sx,
    sy,
    `<g class="normal" fill="${NORMAL}" fill-opacity="0.35">${normal}</g>` +
      `<g class="anomalous" fill="${ANOMALY}" fill-opacity="0.75">${anomalous}</g>${legend}`,
  );
}

/** The calibrated operating point on the ROC and PR planes. */
function operatingPoint(s: SplitResult): { fpr: number; tpr: number; precision: number; recall: number } {
  const negatives = s.nTest - s.positives;
  const tp = s.calibrated.recall * s.positives;
  const flagged = s.calibrated.flaggedRate * s.nTest;
  return {
    fpr: negatives > 0 ? (flagged - tp) / negatives : 0,
    tpr: s.calibrated.recall,
    precision: s.calibrated.precision,
    recall: s.calibrated.recall,
  };
}

function datasetSection(ds: DatasetResult): string {
  const splitRows = ds.splits
    .map(
      (s) =>
        `<tr><td>${escapeHtml(s.split)}</td><td>${s.nTrain}</td><td>${s.nTest}</td><td>${s.positives}</td>` +
        `<td>${pct(s.aucRoc)}</td><td>${pct(s.aucPr)}</td><td>${num(s.calibrated.threshold)}</td>` +
        `<td>${pct(s.calibrated.precision, 1)} / ${pct(s.calibrated.recall, 1)} / <b>${pct(s.calibrated.f1, 1)}</b></td>` +
        `<td>${pct(s.calibrated.flaggedRate, 2)}</td>` +
        `<td>${pct(s.calibrated.normalFlaggedRate, 3)}${s.calibrated.targetRate !== undefined ? ` (${pct(s.calibrated.targetRate, 3)})` : ''}</td>` +
        `<td>${s.nab ? `${s.nab.raw.toFixed(3)} (${s.nab.normalised.toFixed(1)})` : '–'}</td>` +
        `<td class="aside">${pct(s.bestF1.f1, 1)}</td>` +
        `<td>${s.trainSeconds.toFixed(1)} s${s.epochs !== undefined ? ` / ${s.epochs} ep` : ''}</td></tr>`,
    )
    .join('');
  const meanRow =
    ds.splits.length > 1
      ? `<tr class="mean"><td>mean</td><td></td><td></td><td></td><td>${pct(ds.mean.aucRoc)}</td><td>${pct(ds.mean.aucPr)}</td><td></td><td><b>${pct(ds.mean.f1, 1)}</b></td><td></td><td>${pct(ds.mean.normalFlaggedRate, 3)}</td><td></td><td class="aside">${pct(ds.mean.bestF1, 1)}</td><td></td></tr>`
      : '';
  let peers = '';
  if (isBenchmarkName(ds.dataset)) {
    const name = ds.dataset as BenchmarkName;
    const bar = peerBar(name);
    const cells = PEER_MODELS.map(
      (m) => `<td>${PEERS[name][m].aucRoc.toFixed(2)} / ${PEERS[name][m].aucPr.toFixed(2)}</td>`,
    ).join('');
    const ok = (v: number, b: number) => (100 * v >= b ? 'ok' : 'short');
    peers =
      `<table><tr><th></th><th>Vigil</th>${PEER_MODELS.map((m) => `<th>${m}</th>`).join('')}<th>bar (best peer)</th></tr>` +
      `<tr><td>AUC-ROC / AUC-PR %</td><td><span class="${ok(ds.mean.aucRoc, bar.aucRoc)}">${pct(ds.mean.aucRoc)}</span> / ` +
      `<span class="${ok(ds.mean.aucPr, bar.aucPr)}">${pct(ds.mean.aucPr)}</span></td>${cells}` +
      `<td>${bar.aucRoc.toFixed(2)} (${bar.rocBy}) / ${bar.aucPr.toFixed(2)} (${bar.prBy})</td></tr></table>` +
      `<p class="note">Peers: shared/data/README.md, same splits and windows (PyOD 3.6.7, scikit-learn 1.9).</p>`;
  }
  const s0 = ds.splits[0]!;
  const rocSeries: Series[] = ds.splits.map((s, i) => ({
    x: s.roc.fpr,
    y: s.roc.tpr,
    color: COLORS[i % COLORS.length]!,
    label: `${s.split} (${pct(s.aucRoc, 1)})`,
  }));
  const prSeries: Series[] = ds.splits.map((s, i) => ({
    x: s.pr.recall,
    y: s.pr.precision,
    color: COLORS[i % COLORS.length]!,
    label: `${s.split} (AP ${pct(s.aucPr, 1)})`,
  }));
  const op = operatingPoint(s0);
  const prevalence = s0.positives / s0.nTest;
  const roc = lineChartSvg({
    title: 'ROC curve',
    xLabel: 'false-positive rate',
    yLabel: 'true-positive rate',
    xDomain: [0, 1],
    yDomain: [0, 1],
    series: [...rocSeries, { x: [0, 1], y: [0, 1], color: '#999', label: '', dashed: true }],
    points: [{ x: op.fpr, y: op.tpr, color: '#000', label: `threshold (${s0.split})` }],
  });
  const pr = lineChartSvg({
    title: 'Precision-recall curve',
    xLabel: 'recall',
    yLabel: 'precision',
    xDomain: [0, 1],
    yDomain: [0, 1],
    series: [
      ...prSeries,
      { x: [0, 1], y: [prevalence, prevalence], color: '#999', label: 'chance', dashed: true },
    ],
    points: [{ x: op.recall, y: op.precision, color: '#000', label: `threshold (${s0.split})` }],
  });
  const hist = histogramSvg(s0.histogram, s0.calibrated.threshold, `Test scores (${s0.split})`);
  const map = s0.latentMap;
  const latent = map ? latentMapSvg(map, `Latent map (${s0.split}): PCA of the codes`) : '';
  const latentNote = map
    ? `<p class="note">Latent map: ${escapeHtml(map.codes)} of the test rows of ${escapeHtml(s0.split)}, ` +
      `projected with ${escapeHtml(map.method)}. The axes carry ${pct(map.explained[0], 1)} % and ${pct(map.explained[1], 1)} % ` +
      `of the training codes' variance; what lies off this plane is not shown. Drawn: every m-th row of each class ` +
      `(${map.normalDrawn} of ${map.normalRows} normal, ${map.anomalousDrawn} of ${map.anomalousRows} anomalous). ` +
      `Anomalies far from the normal cloud are the ones the bottleneck itself sets apart; anomalies inside it can ` +
      `only be told by their reconstruction error.</p>`
    : '';
  return (
    `<section id="${escapeHtml(ds.dataset)}"><h2>${escapeHtml(ds.title)}</h2>` +
    `<p class="note">${escapeHtml(ds.protocol)} Source: <code>${escapeHtml(ds.source)}</code>; record width ${ds.d}.</p>` +
    `<table><tr><th>split</th><th>train</th><th>test</th><th>anomalies</th><th>AUC-ROC %</th><th>AUC-PR (AP) %</th>` +
    `<th>threshold</th><th>P / R / F1 % at threshold</th><th>flagged %</th><th>normal rows flagged % (target)</th>` +
    `<th>NAB raw (normalised)</th><th class="aside">best-F1 %*</th><th>training</th></tr>` +
    splitRows +
    meanRow +
    `</table>` +
    `<p class="note">Threshold: ${escapeHtml(s0.calibrated.rule)} — chosen without test labels. ` +
    `*Best-F1 picks the threshold with the test labels: an upper bound, shown beside the honest F1, never instead.` +
    (s0.nab
      ? ` NAB: the standard profile (TP 1.0, FP 0.11, FN 1.0) on the detections at this threshold, ${s0.nab.detectedWindows} of ${s0.nab.windows} windows detected, ${s0.nab.falsePositives} false positives; published raw scores on machine temperature: ARTime 2.556, HTM 1.360, null −4.0.`
      : '') +
    `</p>` +
    peers +
    `<div class="plots">${roc}${pr}${hist}${latent}</div>${latentNote}</section>`
  );
}

/** The whole report as one HTML document. */
export function renderReportHtml(run: EvaluationRun): string {
  const summary = run.datasets
    .map(
      (d) =>
        `<tr><td><a href="#${escapeHtml(d.dataset)}">${escapeHtml(d.title)}</a></td><td>${pct(d.mean.aucRoc)}</td>` +
        `<td>${pct(d.mean.aucPr)}</td><td>${pct(d.mean.f1, 1)}</td><td class="aside">${pct(d.mean.bestF1, 1)}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil evaluation — ${escapeHtml(run.model)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;font-size:13px}
td:first-child,th:first-child{text-align:left}th{background:#f4f4f4}.aside{color:#777}.mean td{font-weight:bold;background:#fafafa}
.note{color:#555;font-size:12px}.plots{display:flex;flex-wrap:wrap;gap:12px}.ok{color:#176b1a}.short{color:#b00020}
code,pre{background:#f6f6f6;padding:1px 4px}section{margin-top:28px;border-top:1px solid #ddd}
</style></head><body>
<h1>Vigil model evaluation</h1>
<p>Model <b>${escapeHtml(run.model)}</b>, seed ${run.seed}, backend ${escapeHtml(run.backend)}, ${escapeHtml(run.createdAt)}.</p>
<table><tr><th>data set</th><th>AUC-ROC %</th><th>AUC-PR (AP) %</th><th>F1 % at threshold</th><th class="aside">best-F1 %*</th></tr>${summary}</table>
<p class="note">Protocol: shared/data/README.md — train on normal training rows only, scaling fitted on them (inside the model),
every test row scored; AUC-PR is average precision as scikit-learn computes it (tied scores are one step).</p>
${run.datasets.map(datasetSection).join('\n')}
<details><summary>Model configuration</summary><pre>${escapeHtml(JSON.stringify(run.modelConfig, null, 2))}</pre></details>
</body></html>
`;
}
