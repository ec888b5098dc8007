/**
 * Named trainable parameters. Initial values come from Vigil's own seeded generator, so a seed fixes the
 * initial weights exactly on every backend; tfjs only ever sees finished numbers.
 */
import * as tf from '@tensorflow/tfjs';
import { VigilError } from '../../core/errors.js';
import type { Rng } from '../rng.js';
import type { Activation } from '../spec.js';

export interface ParamDecl {
  readonly name: string;
  readonly shape: readonly number[];
  /** glorot: uniform ±sqrt(6 / (fanIn + fanOut)) from the first two (or last two, for conv) dims; zeros. */
  readonly init: 'glorot' | 'zeros';
  /** Fan-in/fan-out for glorot. */
  readonly fans?: readonly [number, number];
}

export class ParamSet {
  readonly names: readonly string[];
  readonly variables: readonly tf.Variable[];
  private readonly byName: Map<string, tf.Variable>;

  private constructor(entries: readonly [string, tf.Variable][]) {
    this.names = entries.map((e) => e[0]);
    this.variables = entries.map((e) => e[1]);
    this.byName = new Map(entries);
  }

  static init(decls: readonly ParamDecl[], rng: Rng): ParamSet {
    return new ParamSet(
      decls.map((p) => {
        const size = p.shape.reduce((a, b) => a * b, 1);
        const values = new Float32Array(size);
        if (p.init === 'glorot') {
          const [fanIn, fanOut] = p.fans ?? [p.shape[0]!, p.shape[1]!];
          const limit = Math.sqrt(6 / (fanIn + fanOut));
          rng.fillUniform(values, -limit, limit);
        }
        const initial = tf.tensor(values, [...p.shape], 'float32');
        const variable = tf.variable(initial, true, uniqueName(p.name));
        initial.dispose(); // the variable holds its own reference to the data
        return [p.name, variable];
      }),
    );
  }

  /**
   * Rebuild from loaded tensors, checking that every declared parameter is present with its declared shape
   * (this is where an artifact whose weights do not fit its topology or feature count is refused).
   */
  static fromTensors(decls: readonly ParamDecl[], tensors: tf.NamedTensorMap): ParamSet {
    const extra = Object.keys(tensors).filter((k) => !decls.some((d) => d.name === k));
    if (extra.length > 0) {
      throw new VigilError('MODEL_INVALID', `Model weights hold unexpected tensors: ${extra.join(', ')}.`);
    }
    return new ParamSet(
      decls.map((p) => {
        const t = tensors[p.name];
        if (t === undefined) throw new VigilError('MODEL_INVALID', `Model weights lack tensor "${p.name}".`);
        if (t.shape.length !== p.shape.length || t.shape.some((s, i) => s !== p.shape[i])) {
          throw new VigilError(
            'MODEL_INVALID',
            `Weight "${p.name}" has shape [${t.shape}] but the architecture needs [${p.shape}].`,
            { details: { name: p.name, shape: t.shape, expected: p.shape } },
          );
        }
        return [p.name, tf.variable(t, true, uniqueName(p.name))];
      }),
    );
  }

  get(name: string): tf.Variable {
    const v = this.byName.get(name);
    if (v === undefined) throw new Error(`no parameter ${name}`);
    return v;
  }

  /** Copies of the current values, kept outside any tidy (best-weights snapshots). */
  snapshot(): tf.Tensor[] {
    return this.variables.map((v) => tf.keep(v.clone()));
  }

  restore(snapshot: readonly tf.Tensor[]): void {
    this.variables.forEach((v, i) => {
      v.assign(snapshot[i]!);
    });
  }

  /** Name → tensor view for tf.io.encodeWeights. */
  named(): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    this.names.forEach((n, i) => {
      out[n] = this.variables[i]!;
    });
    return out;
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

let counter = 0;
/** tf variable names are global to the engine; several models live side by side during a retrain swap. */
function uniqueName(name: string): string {
  counter += 1;
  return `vigil_${counter}_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

const FUSED_OK = new Set<Activation>(['linear', 'relu', 'elu', 'sigmoid', 'leakyrelu']);

export function activate(x: tf.Tensor, act: Activation): tf.Tensor {
  switch (act) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'elu':
      return tf.elu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'leakyrelu':
      return tf.leakyRelu(x, 0.2);
  }
}

/**
 * x·W + b with a hand-written gradient. tfjs's own matMul gradient uses transposed matMuls, which
 * tfjs-backend-wasm runs on a slow non-XNNPACK path (≈10× slower than a plain matMul at batch 1024), and
 * reduces the bias gradient along axis 0, also slow there. This version transposes the smaller operand
 * explicitly so every matMul is a plain one, and gets the bias gradient as ones·dy.
 */
const linearWithGrad = tf.customGrad(((
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
  save: tf.GradSaveFunc,
) => {
  const value = tf.fused.matMul({ a: x, b: w, bias: b });
  save([x, w]);
  return { value, gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => linearGrads(dy, saved) };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
) => tf.Tensor2D;

const reluWithGrad = tf.customGrad(((
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
  save: tf.GradSaveFunc,
) => {
  const value = tf.fused.matMul({ a: x, b: w, bias: b, activation: 'relu' });
  save([x, w, value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) =>
      linearGrads(tf.mul(dy, tf.step(saved[2]!)) as tf.Tensor2D, saved),
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
) => tf.Tensor2D;

function linearGrads(dz: tf.Tensor2D, saved: tf.Tensor[]): tf.Tensor[] {
  const x = saved[0] as tf.Tensor2D;
  const w = saved[1] as tf.Tensor2D;
  const [n, inDim] = x.shape;
  const outDim = w.shape[1];
  const dx = tf.matMul(dz, tf.transpose(w));
  const dw = inDim <= outDim ? tf.matMul(tf.transpose(x), dz) : tf.transpose(tf.matMul(tf.transpose(dz), x));
  const db = tf.reshape(tf.matMul(tf.ones([1, n]), dz), [outDim]);
  return [dx, dw, db];
}

/** x·W + b with the activation fused into the matMul kernel where the backend and autodiff allow. */
export function denseLayer(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
  act: Activation,
  training: boolean,
): tf.Tensor2D {
  if (training) {
    if (act === 'relu') return reluWithGrad(x, w, b);
    return activate(linearWithGrad(x, w, b), act) as tf.Tensor2D;
  }
  if (FUSED_OK.has(act)) {
    return tf.fused.matMul({
      a: x,
      b: w,
      bias: b,
      activation: act as 'linear' | 'relu' | 'elu' | 'sigmoid' | 'leakyrelu',
      ...(act === 'leakyrelu' ? { leakyreluAlpha: 0.2 } : {}),
    }) as tf.Tensor2D;
  }
  return activate(tf.fused.matMul({ a: x, b: w, bias: b }), act) as tf.Tensor2D;
}
