/**
 * The latent map of the evaluation report: the bottleneck codes of the test rows on a plane, normal and
 * anomalous apart, so a reader sees whether anomalies fall outside the normal clusters. The plane is PCA
 * fitted on the codes of the training rows only (normal data, no test labels); the test rows are projected
 * onto it. Pure: the codes come in, points come out.
 */
import type { ModelSpec } from '../spec.js';
import { fitPca, projectPca } from './projection.js';

export interface LatentMap {
  /** What the codes are: "bottleneck layer (width 32)", "posterior mean μ (width 8)", … */
  readonly codes: string;
  readonly codeWidth: number;
  /** How the plane was found, for the caption. */
  readonly method: string;
  /** Share of the training codes' variance along each axis. */
  readonly explained: readonly [number, number];
  readonly fittedOn: number;
  /** Plotted test rows: coordinates and label (1 anomalous), normal rows first. */
  readonly x: readonly number[];
  readonly y: readonly number[];
  readonly anomalous: readonly (0 | 1)[];
  /** Test rows of each class, and how many of them are drawn. */
  readonly normalRows: number;
  readonly anomalousRows: number;
  readonly normalDrawn: number;
  readonly anomalousDrawn: number;
}

/** Most rows the PCA is fitted on, and most points of each class drawn (an SVG of 15,000 dots is unreadable). */
export const LATENT_MAP_LIMITS = { fit: 5000, normal: 1200, anomalous: 600 } as const;

/** Indexes of an even spread of at most `limit` of `idx` (every m-th): deterministic, and over all of time. */
export function evenSample(idx: readonly number[], limit: number): number[] {
  if (idx.length <= limit) return [...idx];
  const out: number[] = [];
  for (let t = 0; t < limit; t++) out.push(idx[Math.floor((t * idx.length) / limit)]!);
  return out;
}

export function describeCodes(spec: ModelSpec, k: number): string {
  switch (spec.kind) {
    case 'vae':
      return `the VAE's posterior mean μ (width ${k})`;
    case 'conv1d':
      return spec.latentDim > 0
        ? `the conv1d window's dense latent code (width ${k})`
        : `the conv1d window's last encoder level, flattened (width ${k})`;
    default:
      return `the ${spec.kind} autoencoder's bottleneck layer (width ${k})`;
  }
}

export function latentMap(
  train: { codes: Float32Array; n: number },
  test: { codes: Float32Array; n: number },
  k: number,
  labels: Uint8Array,
  codes: string,
): LatentMap {
  const fitIdx = evenSample(
    Array.from({ length: train.n }, (_, i) => i),
    LATENT_MAP_LIMITS.fit,
  );
  const fitRows = new Float32Array(fitIdx.length * k);
  for (let h = 0; h < fitIdx.length; h++) {
    const i = fitIdx[h]!;
    fitRows.set(train.codes.subarray(i * k, i * k + k), h * k);
  }
  const pca = fitPca(fitRows, fitIdx.length, k, 2);
  const normal: number[] = [];
  const anomalous: number[] = [];
  for (let i = 0; i < test.n; i++) (labels[i] === 1 ? anomalous : normal).push(i);
  const drawN = evenSample(normal, LATENT_MAP_LIMITS.normal);
  const drawA = evenSample(anomalous, LATENT_MAP_LIMITS.anomalous);
  const drawn = [...drawN, ...drawA];
  const rows = new Float32Array(drawn.length * k);
  for (let h = 0; h < drawn.length; h++) {
    const i = drawn[h]!;
    rows.set(test.codes.subarray(i * k, i * k + k), h * k);
  }
  const xy = projectPca(pca, rows, drawn.length);
  const c = pca.components.length;
  return {
    codes,
    codeWidth: k,
    method: `PCA (principal component analysis), fitted on the codes of ${fitIdx.length} training rows; test rows projected onto its first ${c === 1 ? 'component' : 'two components'}`,
    explained: [pca.explained[0] ?? 0, pca.explained[1] ?? 0],
    fittedOn: fitIdx.length,
    x: drawn.map((_, h) => xy[h * c]!),
    y: drawn.map((_, h) => (c > 1 ? xy[h * c + 1]! : 0)),
    anomalous: drawn.map((i) => (labels[i] === 1 ? 1 : 0)),
    normalRows: normal.length,
    anomalousRows: anomalous.length,
    normalDrawn: drawN.length,
    anomalousDrawn: drawA.length,
  };
}
