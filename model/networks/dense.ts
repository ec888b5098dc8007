/**
 * Dense autoencoder and its denoising variant: encoder widths as given (the last is the bottleneck), decoder
 * mirrored, linear output, mean squared error. The denoising variant corrupts the input during training only
 * and reconstructs the clean row.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.js';
import type { Activation, DenoisingSpec, DenseSpec } from '../spec.js';
import type { Network, StepContext } from './network.js';
import { denseLayer, type ParamDecl, ParamSet } from './params.js';

/** Layer widths input → … → output for a mirrored stack. */
export function mirroredWidths(d: number, encoderUnits: readonly number[]): number[] {
  const enc = [d, ...encoderUnits];
  const dec = [...encoderUnits].reverse().slice(1);
  return [...enc, ...dec, d];
}

export function denseStackDecls(prefix: string, widths: readonly number[]): ParamDecl[] {
  const decls: ParamDecl[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    decls.push({ name: `${prefix}${i}/kernel`, shape: [widths[i]!, widths[i + 1]!], init: 'glorot' });
    decls.push({ name: `${prefix}${i}/bias`, shape: [widths[i + 1]!], init: 'zeros' });
  }
  return decls;
}

export function runDenseStack(
  params: ParamSet,
  prefix: string,
  layers: number,
  x: tf.Tensor2D,
  act: Activation,
  lastAct: Activation,
  training: boolean,
): tf.Tensor2D {
  let h = x;
  for (let i = 0; i < layers; i++) {
    const w = params.get(`${prefix}${i}/kernel`) as tf.Tensor2D;
    const b = params.get(`${prefix}${i}/bias`) as tf.Tensor1D;
    h = denseLayer(h, w, b, i === layers - 1 ? lastAct : act, training);
  }
  return h;
}

export function denseDecls(spec: DenseSpec | DenoisingSpec): ParamDecl[] {
  return denseStackDecls('layer', mirroredWidths(spec.inputDim, spec.encoderUnits));
}

export class DenseAutoencoder implements Network {
  readonly inputWidth: number;
  private readonly layers: number;

  constructor(
    readonly spec: DenseSpec | DenoisingSpec,
    readonly params: ParamSet,
  ) {
    this.inputWidth = spec.inputDim;
    this.layers = mirroredWidths(spec.inputDim, spec.encoderUnits).length - 1;
  }

  static create(spec: DenseSpec | DenoisingSpec, rng: Rng): DenseAutoencoder {
    return new DenseAutoencoder(spec, ParamSet.init(denseDecls(spec), rng));
  }

  forward(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    return runDenseStack(this.params, 'layer', this.layers, x, this.spec.activation, 'linear', training);
  }

  trainLoss(x: tf.Tensor2D, ctx: StepContext): tf.Scalar {
    const input = this.spec.kind === 'denoising' ? corrupt(x, this.spec, ctx.rng) : x;
    return tf.mean(tf.squaredDifference(x, this.forward(input, true)));
  }

  evalLossSum(x: tf.Tensor2D): tf.Scalar {
    return tf.sum(tf.mean(tf.squaredDifference(x, this.forward(x, false)), 1));
  }

  recordView(x: tf.Tensor2D): { sq: tf.Tensor2D; recon: tf.Tensor2D } {
    const recon = this.forward(x, false);
    return { sq: tf.squaredDifference(x, recon), recon };
  }

  codes(x: tf.Tensor2D): tf.Tensor2D {
    // The encoder half of the mirrored stack; the bottleneck layer carries the hidden activation.
    const act = this.spec.activation;
    return runDenseStack(this.params, 'layer', this.spec.encoderUnits.length, x, act, act, false);
  }

  dispose(): void {
    this.params.dispose();
  }
}

/** Input corruption for the denoising variant, drawn from Vigil's generator so a seed fixes it. */
function corrupt(x: tf.Tensor2D, spec: DenoisingSpec, rng: Rng): tf.Tensor2D {
  const size = x.size;
  if (spec.noise === 'gaussian') {
    return tf.add(x, tf.tensor2d(rng.fillNormal(new Float32Array(size), spec.noiseLevel), x.shape));
  }
  const keep = new Float32Array(size);
  for (let i = 0; i < size; i++) keep[i] = rng.next() < spec.noiseLevel ? 0 : 1;
  return tf.mul(x, tf.tensor2d(keep, x.shape));
}
