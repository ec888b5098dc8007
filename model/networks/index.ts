import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.js';
import type { ModelSpec } from '../spec.js';
import { Conv1dAutoencoder, conv1dDecls } from './conv1d.js';
import { DenseAutoencoder, denseDecls } from './dense.js';
import type { Network } from './network.js';
import { type ParamDecl, ParamSet } from './params.js';
import { VariationalAutoencoder, vaeDecls } from './vae.js';

export type { Network, StepContext } from './network.js';
export { ParamSet } from './params.js';

export function paramDecls(spec: ModelSpec): ParamDecl[] {
  switch (spec.kind) {
    case 'dense':
    case 'denoising':
      return denseDecls(spec);
    case 'vae':
      return vaeDecls(spec);
    case 'conv1d':
      return conv1dDecls(spec);
  }
}

function build(spec: ModelSpec, params: ParamSet): Network {
  switch (spec.kind) {
    case 'dense':
    case 'denoising':
      return new DenseAutoencoder(spec, params);
    case 'vae':
      return new VariationalAutoencoder(spec, params);
    case 'conv1d':
      return new Conv1dAutoencoder(spec, params);
  }
}

/** A freshly initialised network (weights drawn from `rng`). */
export function createNetwork(spec: ModelSpec, rng: Rng): Network {
  return build(spec, ParamSet.init(paramDecls(spec), rng));
}

/** A network from stored weights; throws MODEL_INVALID when they do not fit the spec. */
export function networkFromWeights(spec: ModelSpec, tensors: tf.NamedTensorMap): Network {
  return build(spec, ParamSet.fromTensors(paramDecls(spec), tensors));
}
