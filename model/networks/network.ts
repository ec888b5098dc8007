import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.js';
import type { ModelSpec } from '../spec.js';
import type { ParamSet } from './params.js';

/** What a training step needs beyond the batch: the epoch (for schedules such as KL warm-up) and noise. */
export interface StepContext {
  readonly epoch: number;
  readonly rng: Rng;
}

/**
 * One autoencoder variant. Inputs are already scaled and clipped, one model input per row: d values for the
 * dense family, window × d (time-major) for conv1d. All methods build tensors and must be called inside
 * tf.tidy; none reads data back.
 */
export interface Network {
  readonly spec: ModelSpec;
  readonly params: ParamSet;
  /** Values per model input row. */
  readonly inputWidth: number;
  /** The training objective on a batch (noise, sampling and regularisers included). */
  trainLoss(x: tf.Tensor2D, ctx: StepContext): tf.Scalar;
  /** Sum over rows of the deterministic validation objective (early stopping compares its mean). */
  evalLossSum(x: tf.Tensor2D, epoch: number): tf.Scalar;
  /**
   * Per-record squared error [n, d] and the record's own reconstruction [n, d], both in scaled units. The
   * record's score is the mean of its row of `sq`.
   */
  recordView(x: tf.Tensor2D): { sq: tf.Tensor2D; recon: tf.Tensor2D };
  /**
   * The bottleneck code of each input row [n, k], deterministic: what the encoder keeps of the row (the VAE's
   * posterior mean μ). The evaluation report draws a map of it.
   */
  codes(x: tf.Tensor2D): tf.Tensor2D;
  dispose(): void;
}
