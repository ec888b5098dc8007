/**
 * Architecture specifications for the autoencoder family, with defaults derived from the input width. A spec
 * is plain JSON: it is what the artifact's model.json records as the topology, and what a network is rebuilt
 * from on load.
 */
import { VigilError } from '../core/errors.js';

export const ACTIVATIONS = ['relu', 'elu', 'tanh', 'sigmoid', 'leakyrelu', 'linear'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export const MODEL_KINDS = ['dense', 'denoising', 'vae', 'conv1d'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

interface DenseBase {
  /** Feature count d (row width). */
  readonly inputDim: number;
  /** Encoder widths, the last being the bottleneck; the decoder mirrors them back to inputDim. */
  readonly encoderUnits: readonly number[];
  /** Hidden-layer activation; the output layer is linear (scaled inputs are unbounded). */
  readonly activation: Activation;
}

export interface DenseSpec extends DenseBase {
  readonly kind: 'dense';
}

export interface DenoisingSpec extends DenseBase {
  readonly kind: 'denoising';
  /** gaussian: add N(0, level²) in scaled units; mask: zero (= set to the median) each input with probability level. */
  readonly noise: 'gaussian' | 'mask';
  readonly noiseLevel: number;
}

export interface VaeSpec extends DenseBase {
  readonly kind: 'vae';
  /** Weight of the KL term (β-VAE). */
  readonly beta: number;
  /** β rises linearly from 0 over this many epochs (avoids posterior collapse early on). */
  readonly klWarmupEpochs: number;
  /** mean: reconstruction error of the decoded posterior mean (deterministic); sampled: mean error over samples. */
  readonly scoring: 'mean' | 'sampled';
  readonly scoringSamples: number;
}

export interface Conv1dSpec {
  readonly kind: 'conv1d';
  /** Features per time step (channels). */
  readonly inputDim: number;
  /** Time steps per window; must be divisible by 2^filters.length (each encoder level halves time). */
  readonly window: number;
  readonly kernelSize: number;
  /** Encoder filter counts per level; the decoder mirrors them. */
  readonly filters: readonly number[];
  /**
   * Width of a dense bottleneck between encoder and decoder (0: none, the bottleneck is the last encoder
   * level). Convolutions alone are local and blind to absolute level: without it the model reconstructs a
   * smooth signal at any level, so a level shift (a machine running cold) goes unnoticed.
   */
  readonly latentDim: number;
  readonly activation: Activation;
  /**
   * How a record's error is taken from the window ending at it: `window` = mean over the window's steps
   * (smoother, lags a short spike by up to `window` records), `last` = the record's own step only.
   */
  readonly scoreOn: 'window' | 'last';
}

export type ModelSpec = DenseSpec | DenoisingSpec | VaeSpec | Conv1dSpec;

/** Partial spec as a caller gives it: kind plus any overrides. */
export type SpecOverrides =
  | ({ kind: 'dense' } & Partial<Omit<DenseSpec, 'kind' | 'inputDim'>>)
  | ({ kind: 'denoising' } & Partial<Omit<DenoisingSpec, 'kind' | 'inputDim'>>)
  | ({ kind: 'vae' } & Partial<Omit<VaeSpec, 'kind' | 'inputDim'>>)
  | ({ kind: 'conv1d' } & Partial<Omit<Conv1dSpec, 'kind' | 'inputDim'>>);

function nextPow2(x: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, x)));
}

/**
 * Default encoder widths for d features: one wide layer (about 2d, a power of two in [16, 256]) and a
 * bottleneck of about d/3 (in [2, 32]); d = 30 gives 30-64-10-64-30, d = 9 gives 9-32-3-32-9. For d ≥ 256 a
 * middle layer is added. round(d/3) beat wider and narrower bottlenecks on shuttle and satellite (docs/models.md).
 */
export function defaultEncoderUnits(d: number): number[] {
  const wide = Math.min(256, Math.max(16, nextPow2(2 * d)));
  const bottleneck = Math.min(32, Math.max(2, Math.round(d / 3)));
  if (d >= 256) return [wide, Math.max(bottleneck * 2, wide / 2), bottleneck];
  return [wide, bottleneck];
}

export function resolveSpec(d: number, overrides: SpecOverrides = { kind: 'dense' }): ModelSpec {
  const base = {
    inputDim: d,
    encoderUnits: overrides.kind === 'conv1d' ? [] : (overrides.encoderUnits ?? defaultEncoderUnits(d)),
    activation: overrides.activation ?? 'elu',
  };
  let spec: ModelSpec;
  switch (overrides.kind) {
    case 'dense':
      spec = { kind: 'dense', inputDim: d, encoderUnits: base.encoderUnits, activation: base.activation };
      break;
    case 'denoising':
      spec = {
        kind: 'denoising',
        inputDim: d,
        encoderUnits: base.encoderUnits,
        activation: base.activation,
        noise: overrides.noise ?? 'gaussian',
        noiseLevel: overrides.noiseLevel ?? (overrides.noise === 'mask' ? 0.1 : 0.1),
      };
      break;
    case 'vae':
      spec = {
        kind: 'vae',
        inputDim: d,
        encoderUnits: base.encoderUnits,
        activation: base.activation,
        beta: overrides.beta ?? 1,
        klWarmupEpochs: overrides.klWarmupEpochs ?? 10,
        scoring: overrides.scoring ?? 'mean',
        scoringSamples: overrides.scoringSamples ?? 8,
      };
      break;
    case 'conv1d': {
      const window = overrides.window ?? 16;
      const filters = overrides.filters ?? [
        Math.min(64, Math.max(8, nextPow2(2 * d))),
        Math.max(2, Math.round(d / 2)),
      ];
      spec = {
        kind: 'conv1d',
        inputDim: d,
        window,
        kernelSize: overrides.kernelSize ?? 5,
        latentDim: overrides.latentDim ?? Math.min(64, Math.max(2, Math.round((window * d) / 6))),
        filters,
        activation: base.activation,
        scoreOn: overrides.scoreOn ?? 'window',
      };
      break;
    }
  }
  validateSpec(spec);
  return spec;
}

function bad(message: string, details: Record<string, unknown>): never {
  throw new VigilError('CONFIG_INVALID', message, { details });
}

function positiveInt(x: unknown): boolean {
  return typeof x === 'number' && Number.isInteger(x) && x > 0;
}

/** Throws CONFIG_INVALID naming the field when a spec is unusable. */
export function validateSpec(spec: ModelSpec): void {
  if (!MODEL_KINDS.includes(spec.kind)) bad(`Unknown model kind "${spec.kind}".`, { kind: spec.kind });
  if (!positiveInt(spec.inputDim))
    bad(`inputDim must be a positive integer, got ${spec.inputDim}.`, { spec });
  if (!ACTIVATIONS.includes(spec.activation)) {
    bad(`activation "${spec.activation}" is not one of ${ACTIVATIONS.join(', ')}.`, {
      activation: spec.activation,
    });
  }
  if (spec.kind === 'conv1d') {
    if (spec.filters.length === 0 || !spec.filters.every(positiveInt)) {
      bad(
        `conv1d filters must be a non-empty list of positive integers, got ${JSON.stringify(spec.filters)}.`,
        {
          filters: spec.filters,
        },
      );
    }
    if (!positiveInt(spec.kernelSize) || spec.kernelSize % 2 === 0) {
      bad(`conv1d kernelSize must be a positive odd integer, got ${spec.kernelSize}.`, {
        kernelSize: spec.kernelSize,
      });
    }
    const step = 2 ** spec.filters.length;
    if (!positiveInt(spec.window) || spec.window % step !== 0) {
      bad(`conv1d window must be a positive multiple of ${step} (2^levels), got ${spec.window}.`, {
        window: spec.window,
      });
    }
    if (spec.scoreOn !== 'window' && spec.scoreOn !== 'last')
      bad(`scoreOn must be window or last.`, { spec });
    return;
  }
  if (spec.encoderUnits.length === 0 || !spec.encoderUnits.every(positiveInt)) {
    bad(
      `encoderUnits must be a non-empty list of positive integers, got ${JSON.stringify(spec.encoderUnits)}.`,
      {
        encoderUnits: spec.encoderUnits,
      },
    );
  }
  if (spec.kind === 'denoising') {
    if (spec.noise !== 'gaussian' && spec.noise !== 'mask') bad(`noise must be gaussian or mask.`, { spec });
    if (!(spec.noiseLevel >= 0) || (spec.noise === 'mask' && spec.noiseLevel >= 1)) {
      bad(`noiseLevel ${spec.noiseLevel} is out of range for ${spec.noise} noise.`, {
        noiseLevel: spec.noiseLevel,
      });
    }
  }
  if (spec.kind === 'vae') {
    if (!(spec.beta >= 0)) bad(`beta must be ≥ 0, got ${spec.beta}.`, { beta: spec.beta });
    if (!(spec.klWarmupEpochs >= 0)) bad(`klWarmupEpochs must be ≥ 0.`, { spec });
    if (spec.scoring !== 'mean' && spec.scoring !== 'sampled')
      bad(`scoring must be mean or sampled.`, { spec });
    if (!positiveInt(spec.scoringSamples)) bad(`scoringSamples must be a positive integer.`, { spec });
  }
}

/** The model's input width per record row: d for the dense family, window × d for conv1d. */
export function recordWindow(spec: ModelSpec): number {
  return spec.kind === 'conv1d' ? spec.window : 1;
}
