import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../model/backend.js';
import { conv1dSame } from '../../../model/networks/conv1d.js';
import { mirroredWidths } from '../../../model/networks/dense.js';
import { createNetwork, paramDecls } from '../../../model/networks/index.js';
import { denseLayer } from '../../../model/networks/params.js';
import { Rng } from '../../../model/rng.js';
import { defaultEncoderUnits, resolveSpec } from '../../../model/spec.js';

beforeAll(async () => {
  await initBackend({ preference: 'wasm' });
});

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('architecture', () => {
  it('expresses the 784→256→128→64→32 mirrored autoencoder', () => {
    expect(mirroredWidths(784, [256, 128, 64, 32])).toEqual([784, 256, 128, 64, 32, 64, 128, 256, 784]);
    const decls = paramDecls(resolveSpec(784, { kind: 'dense', encoderUnits: [256, 128, 64, 32] }));
    expect(decls.filter((p) => p.name.endsWith('/kernel')).map((p) => p.shape)).toEqual([
      [784, 256],
      [256, 128],
      [128, 64],
      [64, 32],
      [32, 64],
      [64, 128],
      [128, 256],
      [256, 784],
    ]);
  });

  it('derives default widths from the input width', () => {
    expect(defaultEncoderUnits(30)).toEqual([64, 10]);
    expect(defaultEncoderUnits(9)).toEqual([32, 3]);
    expect(defaultEncoderUnits(784)).toEqual([256, 128, 32]);
  });

  it('refuses a conv window the pooling levels cannot halve', () => {
    expect(() => resolveSpec(3, { kind: 'conv1d', window: 10, filters: [8, 4] })).toThrow(/multiple of 4/);
  });
});

describe('dense layer with hand-written gradient', () => {
  it('matches autodiff of the plain ops, for relu and elu', () => {
    const rng = new Rng(3);
    const x = tf.tensor2d(rng.fillNormal(new Float32Array(50 * 7)), [50, 7]);
    const w = tf.tensor2d(rng.fillNormal(new Float32Array(7 * 5)), [7, 5]);
    const b = tf.tensor1d(rng.fillNormal(new Float32Array(5)));
    const target = tf.tensor2d(rng.fillNormal(new Float32Array(50 * 5)), [50, 5]);
    for (const act of ['relu', 'elu', 'linear'] as const) {
      const loss = (layer: (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D) =>
        tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
          tf.mean(tf.square(tf.sub(layer(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D), target))),
        )([x, w, b]);
      const custom = loss((xx, ww, bb) => denseLayer(xx, ww, bb, act, true));
      const plain = loss((xx, ww, bb) => {
        const z = tf.add(tf.matMul(xx, ww), bb);
        return (act === 'relu' ? tf.relu(z) : act === 'elu' ? tf.elu(z) : z) as tf.Tensor2D;
      });
      for (let i = 0; i < 3; i++) expect(maxAbsDiff(custom[i]!, plain[i]!)).toBeLessThan(1e-5);
    }
  });
});

/** Reference 'same' convolution from plain ops (pad, shifted slices, matMul), differentiable by tfjs itself. */
function referenceConv(x: tf.Tensor3D, kernel: tf.Tensor3D, bias: tf.Tensor1D): tf.Tensor3D {
  const [n, t, c] = x.shape;
  const [k, , f] = kernel.shape;
  const p = (k - 1) / 2;
  const xp = tf.pad(x, [
    [0, 0],
    [p, p],
    [0, 0],
  ]);
  const cols = tf.concat(
    Array.from({ length: k }, (_, o) => tf.slice(xp, [0, o, 0], [n, t, c])),
    2,
  );
  return tf.reshape(
    tf.add(tf.matMul(tf.reshape(cols, [n * t, k * c]), tf.reshape(kernel, [k * c, f])), bias),
    [n, t, f],
  );
}

describe('conv1dSame', () => {
  // Both filter-gradient arrangements: fewer input than output channels, and more.
  for (const [cin, cout] of [
    [4, 6],
    [6, 4],
  ] as const) {
    describe(`${cin} → ${cout} channels`, () => {
      let x: tf.Tensor3D;
      let kernel: tf.Tensor3D;
      let bias: tf.Tensor1D;
      let target: tf.Tensor3D;
      beforeAll(() => {
        const rng = new Rng(4);
        x = tf.tensor3d(rng.fillNormal(new Float32Array(3 * 16 * cin)), [3, 16, cin]);
        kernel = tf.tensor3d(rng.fillNormal(new Float32Array(5 * cin * cout)), [5, cin, cout]);
        bias = tf.tensor1d(rng.fillNormal(new Float32Array(cout)));
        target = tf.tensor3d(rng.fillNormal(new Float32Array(3 * 16 * cout)), [3, 16, cout]);
      });
      const ours = (xx: tf.Tensor3D, kk: tf.Tensor3D, bb: tf.Tensor1D, training: boolean) =>
        tf.reshape(conv1dSame(tf.reshape(xx, [3, 16, 1, cin]), kk, bb, 'linear', training), [
          3,
          16,
          cout,
        ]) as tf.Tensor3D;

      it('equals tf.conv1d with same padding', () => {
        const ref = tf.add(tf.conv1d(x, kernel, 1, 'same'), bias);
        expect(maxAbsDiff(ours(x, kernel, bias, false), ref)).toBeLessThan(1e-4);
        expect(maxAbsDiff(ours(x, kernel, bias, true), ref)).toBeLessThan(1e-4);
      });

      it('has the gradients of the plain-op convolution (input, kernel, bias)', () => {
        const lossOf = (conv: (a: tf.Tensor3D, b: tf.Tensor3D, c: tf.Tensor1D) => tf.Tensor3D) =>
          tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
            tf.mean(tf.square(tf.sub(conv(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor1D), target))),
          )([x, kernel, bias]);
        const got = lossOf((a, b, c) => ours(a, b, c, true));
        const want = lossOf(referenceConv);
        for (let i = 0; i < 3; i++) {
          expect(got[i]!.shape).toEqual(want[i]!.shape);
          expect(maxAbsDiff(got[i]!, want[i]!)).toBeLessThan(1e-4);
        }
      });
    });
  }
});

describe('networks', () => {
  it('reconstruct to the input shape and give per-record views for every variant', () => {
    for (const kind of ['dense', 'denoising', 'vae', 'conv1d'] as const) {
      const spec = resolveSpec(6, kind === 'conv1d' ? { kind, window: 8, filters: [8, 4] } : { kind });
      const net = createNetwork(spec, new Rng(1));
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const x = tf.randomNormal([5, net.inputWidth]) as tf.Tensor2D;
        const { sq, recon } = net.recordView(x);
        expect(sq.shape).toEqual([5, 6]);
        expect(recon.shape).toEqual([5, 6]);
        expect(net.trainLoss(x, { epoch: 0, rng: new Rng(2) }).shape).toEqual([]);
      });
      expect(tf.memory().numTensors).toBe(before);
      net.dispose();
    }
  });

  it('give the bottleneck code per row: the encoder half of dense, μ of the VAE, the latent of conv1d', () => {
    const widths: Record<string, number> = {};
    for (const kind of ['dense', 'denoising', 'vae', 'conv1d'] as const) {
      const spec = resolveSpec(
        6,
        kind === 'conv1d'
          ? { kind, window: 8, filters: [8, 4], latentDim: 3 }
          : { kind, encoderUnits: [16, 3], activation: 'elu' },
      );
      const net = createNetwork(spec, new Rng(1));
      tf.tidy(() => {
        const x = tf.randomNormal([5, net.inputWidth], 0, 1, 'float32', 7) as tf.Tensor2D;
        const codes = net.codes(x);
        widths[kind] = codes.shape[1]!;
        expect(codes.shape[0]).toBe(5);
        // Deterministic (no noise, no sampling), and rows are coded independently of each other.
        expect(maxAbsDiff(codes, net.codes(x))).toBe(0);
        const one = net.codes(tf.slice(x, [2, 0], [1, net.inputWidth]) as tf.Tensor2D);
        expect(maxAbsDiff(one, tf.slice(codes, [2, 0], [1, codes.shape[1]!]))).toBeLessThan(1e-5);
        if (kind === 'dense') {
          // The code feeds the decoder: decoding it by hand gives the network's own reconstruction.
          const p = (n: string) => net.params.get(n) as tf.Tensor;
          const h = tf.elu(tf.add(tf.matMul(codes, p('layer2/kernel') as tf.Tensor2D), p('layer2/bias')));
          const y = tf.add(tf.matMul(h as tf.Tensor2D, p('layer3/kernel') as tf.Tensor2D), p('layer3/bias'));
          expect(maxAbsDiff(y, net.recordView(x).recon)).toBeLessThan(1e-4);
        }
      });
      net.dispose();
    }
    expect(widths).toEqual({ dense: 3, denoising: 3, vae: 3, conv1d: 3 });
  });

  it('initialises identically from the same seed and differently from another', () => {
    const spec = resolveSpec(6, { kind: 'dense' });
    const [a, b, c] = [1, 1, 2].map((s) => createNetwork(spec, new Rng(s)));
    const first = (n: typeof a) => Array.from(n!.params.variables[0]!.dataSync());
    expect(first(a)).toEqual(first(b));
    expect(first(a)).not.toEqual(first(c));
    for (const n of [a, b, c]) n!.dispose();
  });
});
