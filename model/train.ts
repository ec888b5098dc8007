/**
 * The training loop shared by every variant: a custom loop (optimizer.minimize over the network's own loss
 * function) rather than LayersModel.fit, because the VAE's KL term and the denoising corruption do not fit
 * fit()'s mold, and because fit() reads the loss back every batch. Here the loss stays on the backend and is
 * read once per epoch.
 *
 * Inputs are a matrix of scaled rows plus, per training sample, the row indices that make it up (1 per sample
 * for the dense family, `window` for conv1d), so windows are never materialised n × window × d in memory.
 * Batches are gathered in JavaScript into a reused buffer and uploaded: tf.gather is ~20× slower than that
 * on tfjs-backend-wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { VigilError } from '../core/errors.js';
import type { Network } from './networks/index.js';
import type { Rng } from './rng.js';

export interface FitOptions {
  /** Most epochs to run; early stopping usually ends sooner. */
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** Epochs without a relative improvement of minDelta in validation loss before stopping. */
  readonly patience: number;
  readonly minDelta: number;
  /** Give the event loop a turn at least this often (Kafka heartbeats, progress drawing). */
  readonly yieldEveryMs: number;
  readonly signal?: AbortSignal;
}

export interface EpochProgress {
  readonly phase: 'train' | 'refit';
  readonly epoch: number;
  readonly maxEpochs: number;
  readonly trainLoss: number;
  /** NaN when there is no validation set (then early stopping watches the training loss). */
  readonly valLoss: number;
  readonly bestEpoch: number;
  readonly bestLoss: number;
  readonly elapsedMs: number;
  /** Training samples processed per second in this epoch. */
  readonly samplesPerSec: number;
}

export interface FitResult {
  readonly epochsRun: number;
  readonly bestEpoch: number;
  readonly bestLoss: number;
  readonly stoppedEarly: boolean;
  readonly history: readonly { epoch: number; trainLoss: number; valLoss: number }[];
  readonly durationMs: number;
}

/** Samples: `idx` holds `count` groups of `group` row indices into `source`. */
export interface SampleSet {
  readonly idx: Int32Array;
  readonly count: number;
  readonly group: number;
}

const EVAL_CHUNK = 4096;

/** Scaled rows, row-major n × d. */
export interface RowSource {
  readonly data: Float32Array;
  readonly d: number;
}

/** Copy `count` samples of `group` rows each into buf and upload them as [count, group × d]. */
export function gatherInputs(
  source: RowSource,
  idx: Int32Array,
  count: number,
  group: number,
  buf: Float32Array,
): tf.Tensor2D {
  const { data, d } = source;
  const total = count * group;
  for (let k = 0; k < total; k++) {
    const r = idx[k]! * d;
    buf.set(data.subarray(r, r + d), k * d);
  }
  return tf.tensor2d(buf.subarray(0, total * d), [count, group * d]);
}

/** Select samples by position from a sample set. */
export function subset(set: SampleSet, positions: ArrayLike<number>): SampleSet {
  const { group } = set;
  const idx = new Int32Array(positions.length * group);
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i]!;
    idx.set(set.idx.subarray(p * group, p * group + group), i * group);
  }
  return { idx, count: positions.length, group };
}

/** Per-sample record scores (mean squared error in scaled units) for a sample set, in chunks. */
export function scoreSamples(net: Network, source: RowSource, set: SampleSet): Float32Array {
  const out = new Float32Array(set.count);
  const buf = new Float32Array(Math.min(EVAL_CHUNK, set.count) * set.group * source.d);
  for (let s = 0; s < set.count; s += EVAL_CHUNK) {
    const m = Math.min(EVAL_CHUNK, set.count - s);
    const part = tf.tidy(() => {
      const x = gatherInputs(source, set.idx.subarray(s * set.group), m, set.group, buf);
      return tf.mean(net.recordView(x).sq, 1);
    });
    out.set(part.dataSync() as Float32Array, s);
    part.dispose();
  }
  return out;
}

function evalLoss(net: Network, source: RowSource, set: SampleSet, epoch: number): number {
  let acc = tf.scalar(0);
  const buf = new Float32Array(Math.min(EVAL_CHUNK, set.count) * set.group * source.d);
  for (let s = 0; s < set.count; s += EVAL_CHUNK) {
    const m = Math.min(EVAL_CHUNK, set.count - s);
    const next = tf.tidy(() =>
      tf.add(
        acc,
        net.evalLossSum(gatherInputs(source, set.idx.subarray(s * set.group), m, set.group, buf), epoch),
      ),
    ) as tf.Scalar;
    acc.dispose();
    acc = next;
  }
  const total = acc.dataSync()[0]!;
  acc.dispose();
  return total / set.count;
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new VigilError('SHUTDOWN', 'Training was aborted.', { cause: signal.reason });
}

/**
 * Train `net` in place. Restores the weights of the best epoch (by validation loss, or training loss when
 * `val` is empty) before returning.
 */
export async function fitNetwork(
  net: Network,
  source: RowSource,
  train: SampleSet,
  val: SampleSet,
  options: FitOptions,
  rng: Rng,
  phase: 'train' | 'refit',
  onProgress?: (p: EpochProgress) => void,
): Promise<FitResult> {
  if (train.count < 1) throw new VigilError('TRAINING_FAILED', 'No training samples.');
  const started = performance.now();
  const optimizer = tf.train.adam(options.learningRate);
  const vars = [...net.params.variables];
  const batch = Math.max(1, Math.min(options.batchSize, train.count));
  const idxBuf = new Int32Array(batch * train.group);
  const rowBuf = new Float32Array(batch * train.group * source.d);
  const history: { epoch: number; trainLoss: number; valLoss: number }[] = [];
  let best = Number.POSITIVE_INFINITY;
  let bestEpoch = -1;
  let bestWeights: tf.Tensor[] | undefined;
  let wait = 0;
  let stoppedEarly = false;
  let epoch = 0;
  let lastYield = performance.now();
  try {
    for (; epoch < options.epochs; epoch++) {
      checkAbort(options.signal);
      const epochStart = performance.now();
      const order = rng.permutation(train.count);
      let lossSum = tf.scalar(0);
      for (let s = 0; s < train.count; s += batch) {
        const m = Math.min(batch, train.count - s);
        for (let i = 0; i < m; i++) {
          const p = order[s + i]!;
          idxBuf.set(train.idx.subarray(p * train.group, (p + 1) * train.group), i * train.group);
        }
        const ctx = { epoch, rng };
        const next = tf.tidy(() => {
          const x = gatherInputs(source, idxBuf, m, train.group, rowBuf);
          const cost = optimizer.minimize(() => net.trainLoss(x, ctx), true, vars)!;
          return tf.add(lossSum, tf.mul(cost, m)) as tf.Scalar;
        });
        lossSum.dispose();
        lossSum = next;
        if (performance.now() - lastYield > options.yieldEveryMs) {
          await yieldToLoop();
          checkAbort(options.signal);
          lastYield = performance.now();
        }
      }
      const trainLoss = lossSum.dataSync()[0]! / train.count;
      lossSum.dispose();
      if (!Number.isFinite(trainLoss)) {
        throw new VigilError(
          'TRAINING_FAILED',
          `Training loss became ${trainLoss} at epoch ${epoch + 1}; lower the learning rate or check the data.`,
          { details: { epoch: epoch + 1 } },
        );
      }
      const valLoss = val.count > 0 ? evalLoss(net, source, val, epoch) : Number.NaN;
      const monitored = val.count > 0 ? valLoss : trainLoss;
      history.push({ epoch: epoch + 1, trainLoss, valLoss });
      if (monitored < best * (1 - options.minDelta) || bestEpoch < 0) {
        best = monitored;
        bestEpoch = epoch + 1;
        for (const t of bestWeights ?? []) t.dispose();
        bestWeights = net.params.snapshot();
        wait = 0;
      } else if (monitored < best) {
        // Better, but not by minDelta: keep the weights, do not reset patience.
        best = monitored;
        bestEpoch = epoch + 1;
        for (const t of bestWeights ?? []) t.dispose();
        bestWeights = net.params.snapshot();
        wait++;
      } else {
        wait++;
      }
      const now = performance.now();
      onProgress?.({
        phase,
        epoch: epoch + 1,
        maxEpochs: options.epochs,
        trainLoss,
        valLoss,
        bestEpoch,
        bestLoss: best,
        elapsedMs: now - started,
        samplesPerSec: (train.count * 1000) / Math.max(1e-3, now - epochStart),
      });
      if (wait >= options.patience) {
        stoppedEarly = true;
        epoch++;
        break;
      }
      await yieldToLoop();
      lastYield = performance.now();
    }
    if (bestWeights) net.params.restore(bestWeights);
  } finally {
    for (const t of bestWeights ?? []) t.dispose();
    optimizer.dispose();
  }
  return {
    epochsRun: epoch,
    bestEpoch,
    bestLoss: best,
    stoppedEarly,
    history,
    durationMs: performance.now() - started,
  };
}
