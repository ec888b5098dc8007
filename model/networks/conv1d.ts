/**
 * 1-D convolutional autoencoder over sliding windows of one entity's time series (window × d, features as
 * channels). Encoder: per level a 'same' convolution, then space-to-depth (two adjacent time steps become one
 * step with twice the channels: a learned, lossless downsampling). Decoder: per level a 'same' convolution to
 * twice the channels, then depth-to-space (the sub-pixel form of a stride-2 conv1dTranspose). A final linear
 * convolution returns to d channels.
 *
 * Both resamplings are free reshapes. Tensors are NHWC with W = 1 ([n, time, 1, channels]) so the
 * convolutions run on tfjs-backend-wasm's native (XNNPACK) Conv2D. That backend has no
 * Conv2DBackpropFilter and a slow Conv2DBackpropInput, so the convolution carries a hand-written gradient
 * made of forward convolutions only: the input gradient convolves with the time-reversed, channel-swapped
 * kernel; the filter gradient is a convolution of the input with the output gradient as the filter (batch
 * and channel axes swapped). Avoided on purpose: slice, concat, pad, tile and pooling gradients, which wasm
 * runs in JavaScript on a full copy of their input or slowly. Kernels are stored as [kernelSize, inChannels,
 * outChannels], tf.conv1d's layout.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.js';
import type { Activation, Conv1dSpec } from '../spec.js';
import { denseStackDecls, runDenseStack } from './dense.js';
import type { Network, StepContext } from './network.js';
import { activate, type ParamDecl, ParamSet } from './params.js';

interface ConvLayer {
  readonly name: string;
  readonly inCh: number;
  readonly outCh: number;
}

/**
 * Encoder level i: conv to filters[i] channels, then space-to-depth (2 × filters[i] channels, half the
 * steps). Decoder level j: conv to 2 × out channels, then depth-to-space (out channels, twice the steps),
 * out mirroring the encoder. The bottleneck holds window / 2^L steps × 2 × filters[L − 1] values.
 */
function plan(spec: Conv1dSpec): { encoder: ConvLayer[]; decoder: ConvLayer[]; output: ConvLayer } {
  const f = spec.filters;
  const levels = f.length;
  const encoder: ConvLayer[] = f.map((out, i) => ({
    name: `enc${i}`,
    inCh: i === 0 ? spec.inputDim : 2 * f[i - 1]!,
    outCh: out,
  }));
  const decoder: ConvLayer[] = [];
  let ch = 2 * f[levels - 1]!;
  for (let j = 0; j < levels; j++) {
    const out = f[Math.max(0, levels - 2 - j)]!;
    decoder.push({ name: `dec${j}`, inCh: ch, outCh: 2 * out });
    ch = out;
  }
  return { encoder, decoder, output: { name: 'out', inCh: ch, outCh: spec.inputDim } };
}

/** Values in the last encoder level's output: window / 2^L steps × 2 × filters[L − 1] channels. */
function codeSize(spec: Conv1dSpec): number {
  return (spec.window / 2 ** spec.filters.length) * 2 * spec.filters[spec.filters.length - 1]!;
}

export function conv1dDecls(spec: Conv1dSpec): ParamDecl[] {
  const { encoder, decoder, output } = plan(spec);
  const k = spec.kernelSize;
  const dense =
    spec.latentDim > 0 ? denseStackDecls('latent', [codeSize(spec), spec.latentDim, codeSize(spec)]) : [];
  return [...encoder, ...decoder, output]
    .flatMap((l): ParamDecl[] => [
      {
        name: `${l.name}/kernel`,
        shape: [k, l.inCh, l.outCh],
        init: 'glorot',
        fans: [k * l.inCh, k * l.outCh],
      },
      { name: `${l.name}/bias`, shape: [l.outCh], init: 'zeros' },
    ])
    .concat(dense);
}

type Tensor4D = tf.Tensor4D;

function convForward(x: Tensor4D, kernel: tf.Tensor3D, bias: tf.Tensor1D, act: 'linear' | 'relu'): Tensor4D {
  const [k, cin, cout] = kernel.shape;
  return tf.fused.conv2d({
    x,
    filter: tf.reshape(kernel, [k, 1, cin, cout]),
    strides: 1,
    pad: 'same',
    bias,
    activation: act,
  });
}

function convGrads(dz: Tensor4D, x: Tensor4D, kernel: tf.Tensor3D): tf.Tensor[] {
  const [n, t, , cin] = x.shape;
  const [k, , cout] = kernel.shape;
  const pad = (k - 1) / 2;
  const explicit: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [pad, pad],
    [0, 0],
    [0, 0],
  ];
  // dx[s, c] = Σ_{o,f} dz[s − o + p, f] · K[o, c, f]: a 'same' convolution of dz with K reversed in time and
  // with in/out channels swapped.
  const flipped = tf.reshape(tf.transpose(tf.reverse(kernel, 0), [0, 2, 1]), [k, 1, cout, cin]) as Tensor4D;
  const dx = tf.conv2d(dz, flipped, 1, 'same');
  // dK[o, c, f] = Σ_{n,t} xpad[n, t + o, c] · dz[n, t, f]: a convolution over time in which one operand acts as
  // a batch of its channels and the other as the filter. Either arrangement works; the one chosen moves the
  // smaller tensor through the (slow) batch↔channel transpose.
  let dk: tf.Tensor;
  if (cin <= cout) {
    const xs = tf.reshape(tf.transpose(tf.reshape(x, [n, t, cin]), [2, 1, 0]), [cin, t, 1, n]) as Tensor4D;
    const f = tf.reshape(tf.transpose(tf.reshape(dz, [n, t, cout]), [1, 0, 2]), [t, 1, n, cout]) as Tensor4D;
    const taps = tf.conv2d(xs, f, 1, explicit); // [cin, k, 1, cout]
    dk = tf.transpose(tf.reshape(taps, [cin, k, cout]), [1, 0, 2]);
  } else {
    const ds = tf.reshape(tf.transpose(tf.reshape(dz, [n, t, cout]), [2, 1, 0]), [cout, t, 1, n]) as Tensor4D;
    const f = tf.reshape(tf.transpose(tf.reshape(x, [n, t, cin]), [1, 0, 2]), [t, 1, n, cin]) as Tensor4D;
    // taps[f, o', c] = Σ dz[n, t + o' − p, f] · x[n, t, c] = dK[k − 1 − o', c, f].
    const taps = tf.conv2d(ds, f, 1, explicit); // [cout, k, 1, cin]
    dk = tf.reverse(tf.transpose(tf.reshape(taps, [cout, k, cin]), [1, 2, 0]), 0);
  }
  const db = tf.reshape(tf.matMul(tf.ones([1, n * t]), tf.reshape(dz, [n * t, cout])), [cout]);
  return [dx, dk, db];
}

type ConvFn = (x: Tensor4D, kernel: tf.Tensor3D, bias: tf.Tensor1D) => Tensor4D;

function convWithGrad(act: 'linear' | 'relu'): ConvFn {
  return tf.customGrad(((x: Tensor4D, kernel: tf.Tensor3D, bias: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const value = convForward(x, kernel, bias, act);
    save([x, kernel, value]);
    return {
      value,
      gradFunc: (dy: Tensor4D, saved: tf.Tensor[]) => {
        const dz = act === 'relu' ? (tf.mul(dy, tf.step(saved[2]!)) as Tensor4D) : dy;
        return convGrads(dz, saved[0] as Tensor4D, saved[1] as tf.Tensor3D);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as ConvFn;
}

const linearConv = convWithGrad('linear');
const reluConv = convWithGrad('relu');

/**
 * 'same'-padded stride-1 convolution over time of x [n, T, 1, c] with kernel [k, c, f]; equals
 * tf.conv1d(x, kernel, 1, 'same') + bias, then the activation.
 */
export function conv1dSame(
  x: Tensor4D,
  kernel: tf.Tensor3D,
  bias: tf.Tensor1D,
  act: Activation,
  training: boolean,
): Tensor4D {
  if (!training) {
    if (act === 'relu' || act === 'linear') return convForward(x, kernel, bias, act);
    return activate(convForward(x, kernel, bias, 'linear'), act) as Tensor4D;
  }
  if (act === 'relu') return reluConv(x, kernel, bias);
  return activate(linearConv(x, kernel, bias), act) as Tensor4D;
}

/** [n, T, 1, c] → [n, T/2, 1, 2c]: steps 2t and 2t + 1 side by side (row-major, so a reshape). */
function spaceToDepth(x: Tensor4D): Tensor4D {
  const [n, t, , c] = x.shape;
  return tf.reshape(x, [n, t / 2, 1, 2 * c]);
}

/** [n, T, 1, 2c] → [n, 2T, 1, c]: the inverse of spaceToDepth. */
function depthToSpace(x: Tensor4D): Tensor4D {
  const [n, t, , c2] = x.shape;
  return tf.reshape(x, [n, 2 * t, 1, c2 / 2]);
}

export class Conv1dAutoencoder implements Network {
  readonly inputWidth: number;
  private readonly layers: ReturnType<typeof plan>;

  constructor(
    readonly spec: Conv1dSpec,
    readonly params: ParamSet,
  ) {
    this.inputWidth = spec.window * spec.inputDim;
    this.layers = plan(spec);
  }

  static create(spec: Conv1dSpec, rng: Rng): Conv1dAutoencoder {
    return new Conv1dAutoencoder(spec, ParamSet.init(conv1dDecls(spec), rng));
  }

  private conv(x: Tensor4D, layer: ConvLayer, act: Activation, training: boolean): Tensor4D {
    const kernel = this.params.get(`${layer.name}/kernel`) as tf.Tensor3D;
    const bias = this.params.get(`${layer.name}/bias`) as tf.Tensor1D;
    return conv1dSame(x, kernel, bias, act, training);
  }

  /** Reconstruction of flattened windows [n, window × d]. */
  forward(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    const n = x.shape[0];
    const act = this.spec.activation;
    let h = tf.reshape(x, [n, this.spec.window, 1, this.spec.inputDim]) as Tensor4D;
    for (const l of this.layers.encoder) h = spaceToDepth(this.conv(h, l, act, training));
    if (this.spec.latentDim > 0) {
      const shape = h.shape;
      const code = tf.reshape(h, [n, codeSize(this.spec)]) as tf.Tensor2D;
      h = tf.reshape(runDenseStack(this.params, 'latent', 2, code, act, act, training), shape) as Tensor4D;
    }
    for (const l of this.layers.decoder) h = depthToSpace(this.conv(h, l, act, training));
    h = this.conv(h, this.layers.output, 'linear', training);
    return tf.reshape(h, [n, this.inputWidth]);
  }

  trainLoss(x: tf.Tensor2D, _ctx: StepContext): tf.Scalar {
    return tf.mean(tf.squaredDifference(x, this.forward(x, true)));
  }

  evalLossSum(x: tf.Tensor2D): tf.Scalar {
    return tf.sum(tf.mean(tf.squaredDifference(x, this.forward(x, false)), 1));
  }

  recordView(x: tf.Tensor2D): { sq: tf.Tensor2D; recon: tf.Tensor2D } {
    const n = x.shape[0];
    const { window: w, inputDim: d } = this.spec;
    const recon3 = tf.reshape(this.forward(x, false), [n, w, d]);
    const sq3 = tf.squaredDifference(tf.reshape(x, [n, w, d]), recon3);
    const last = (t: tf.Tensor): tf.Tensor2D => tf.reshape(tf.slice(t, [0, w - 1, 0], [n, 1, d]), [n, d]);
    const sq = this.spec.scoreOn === 'window' ? (tf.mean(sq3, 1) as tf.Tensor2D) : last(sq3);
    return { sq, recon: last(recon3) };
  }

  /** The dense latent code of each window when there is one, else the last encoder level, flattened. */
  codes(x: tf.Tensor2D): tf.Tensor2D {
    const n = x.shape[0];
    const act = this.spec.activation;
    let h = tf.reshape(x, [n, this.spec.window, 1, this.spec.inputDim]) as Tensor4D;
    for (const l of this.layers.encoder) h = spaceToDepth(this.conv(h, l, act, false));
    const code = tf.reshape(h, [n, codeSize(this.spec)]) as tf.Tensor2D;
    return this.spec.latentDim > 0 ? runDenseStack(this.params, 'latent', 1, code, act, act, false) : code;
  }

  dispose(): void {
    this.params.dispose();
  }
}
