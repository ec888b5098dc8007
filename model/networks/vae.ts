/**
 * Variational autoencoder: a dense encoder trunk with μ and log σ² heads, the reparameterisation
 * z = μ + σ·ε, a mirrored decoder, and the loss Σ_j (x_j − x̂_j)² + β·KL(q(z|x) ‖ N(0, I)), written as a
 * plain function of the parameters so the trainer's optimizer.minimize can differentiate it (tfjs layers have
 * no way to add the KL term). ε comes from Vigil's seeded generator.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import type { VaeSpec } from '../spec.js';
import { denseStackDecls, runDenseStack } from './dense.js';
import type { Network, StepContext } from './network.js';
import { denseLayer, type ParamDecl, ParamSet } from './params.js';

/** log σ² is clipped to this range: exp() of an unclipped head overflows within a few bad steps. */
const LOGVAR_LIMIT = 10;
/** Sampled scoring uses a fixed ε stream so the same batch always gets the same scores. */
const SCORING_SEED = 0x5eed;

function layout(spec: VaeSpec): { trunk: number[]; latent: number; decoder: number[] } {
  const units = spec.encoderUnits;
  const latent = units[units.length - 1]!;
  const trunk = [spec.inputDim, ...units.slice(0, -1)];
  const decoder = [latent, ...units.slice(0, -1).reverse(), spec.inputDim];
  return { trunk, latent, decoder };
}

export function vaeDecls(spec: VaeSpec): ParamDecl[] {
  const { trunk, latent, decoder } = layout(spec);
  const last = trunk[trunk.length - 1]!;
  return [
    ...denseStackDecls('enc', trunk),
    { name: 'mu/kernel', shape: [last, latent], init: 'glorot' },
    { name: 'mu/bias', shape: [latent], init: 'zeros' },
    { name: 'logvar/kernel', shape: [last, latent], init: 'glorot' },
    { name: 'logvar/bias', shape: [latent], init: 'zeros' },
    ...denseStackDecls('dec', decoder),
  ];
}

export class VariationalAutoencoder implements Network {
  readonly inputWidth: number;
  private readonly trunkLayers: number;
  private readonly decoderLayers: number;
  private readonly latent: number;

  constructor(
    readonly spec: VaeSpec,
    readonly params: ParamSet,
  ) {
    const l = layout(spec);
    this.inputWidth = spec.inputDim;
    this.trunkLayers = l.trunk.length - 1;
    this.decoderLayers = l.decoder.length - 1;
    this.latent = l.latent;
  }

  static create(spec: VaeSpec, rng: Rng): VariationalAutoencoder {
    return new VariationalAutoencoder(spec, ParamSet.init(vaeDecls(spec), rng));
  }

  encode(x: tf.Tensor2D, training: boolean): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    const act = this.spec.activation;
    const h = runDenseStack(this.params, 'enc', this.trunkLayers, x, act, act, training);
    const p = (n: string) => this.params.get(n);
    const mu = denseLayer(h, p('mu/kernel') as tf.Tensor2D, p('mu/bias') as tf.Tensor1D, 'linear', training);
    const raw = denseLayer(
      h,
      p('logvar/kernel') as tf.Tensor2D,
      p('logvar/bias') as tf.Tensor1D,
      'linear',
      training,
    );
    return { mu, logvar: tf.clipByValue(raw, -LOGVAR_LIMIT, LOGVAR_LIMIT) };
  }

  decode(z: tf.Tensor2D, training: boolean): tf.Tensor2D {
    return runDenseStack(this.params, 'dec', this.decoderLayers, z, this.spec.activation, 'linear', training);
  }

  private sample(mu: tf.Tensor2D, logvar: tf.Tensor2D, rng: Rng): tf.Tensor2D {
    const eps = tf.tensor2d(rng.fillNormal(new Float32Array(mu.size)), mu.shape);
    return tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps));
  }

  /** Per-row KL(N(μ, σ²) ‖ N(0, I)). */
  private kl(mu: tf.Tensor2D, logvar: tf.Tensor2D): tf.Tensor1D {
    return tf.mul(tf.sum(tf.sub(tf.add(tf.square(mu), tf.exp(logvar)), tf.add(logvar, 1)), 1), 0.5);
  }

  private betaAt(epoch: number): number {
    const w = this.spec.klWarmupEpochs;
    return w > 0 ? this.spec.beta * Math.min(1, (epoch + 1) / w) : this.spec.beta;
  }

  trainLoss(x: tf.Tensor2D, ctx: StepContext): tf.Scalar {
    const { mu, logvar } = this.encode(x, true);
    const recon = this.decode(this.sample(mu, logvar, ctx.rng), true);
    const rec = tf.sum(tf.squaredDifference(x, recon), 1);
    return tf.mean(tf.add(rec, tf.mul(this.kl(mu, logvar), this.betaAt(ctx.epoch))));
  }

  /** Deterministic: decode μ, and the full β (the warm-up would otherwise make early epochs look better). */
  evalLossSum(x: tf.Tensor2D): tf.Scalar {
    const { mu, logvar } = this.encode(x, false);
    const rec = tf.sum(tf.squaredDifference(x, this.decode(mu, false)), 1);
    return tf.sum(tf.add(rec, tf.mul(this.kl(mu, logvar), this.spec.beta)));
  }

  recordView(x: tf.Tensor2D): { sq: tf.Tensor2D; recon: tf.Tensor2D } {
    const { mu, logvar } = this.encode(x, false);
    const recon = this.decode(mu, false);
    if (this.spec.scoring === 'mean') return { sq: tf.squaredDifference(x, recon), recon };
    // Monte Carlo estimate of E_q[(x − x̂)²] per feature: the (unit-variance) reconstruction log-probability
    // up to constants, which also charges rows whose posterior is uncertain.
    const rng = new Rng(SCORING_SEED);
    let acc: tf.Tensor2D | undefined;
    for (let s = 0; s < this.spec.scoringSamples; s++) {
      const e = tf.squaredDifference(x, this.decode(this.sample(mu, logvar, rng), false)) as tf.Tensor2D;
      acc = acc === undefined ? e : (tf.add(acc, e) as tf.Tensor2D);
    }
    return { sq: tf.div(acc!, this.spec.scoringSamples) as tf.Tensor2D, recon };
  }

  codes(x: tf.Tensor2D): tf.Tensor2D {
    return this.encode(x, false).mu;
  }

  dispose(): void {
    this.params.dispose();
  }

  get latentDim(): number {
    return this.latent;
  }
}
