/**
 * Worker-thread entry of the ScoringPool: builds its own Detector (tfjs state is per thread), then answers
 * score requests one at a time, in arrival order (so per-entity conv1d history stays in order for the
 * batches routed to it). Results go back as transferred buffers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { loadDetector } from '../artifact.js';
import { initBackend } from '../backend.js';
import { Detector } from '../detector.js';
import { networkFromWeights } from '../networks/index.js';
import {
  type DetectorSource,
  type FromWorker,
  serializeError,
  type ToWorker,
  type WorkerInit,
} from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('scoring-worker must run in a worker thread');

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

async function build(init: WorkerInit): Promise<Detector> {
  await initBackend({ preference: init.backend });
  return fromSource(init.source, init.detector);
}

async function fromSource(source: DetectorSource, options: WorkerInit['detector']): Promise<Detector> {
  if (source.kind === 'artifact') return loadDetector(source.dir, options);
  const tensors: tf.NamedTensorMap = {};
  for (const w of source.weights) tensors[w.name] = tf.tensor(w.values, [...w.shape], 'float32');
  try {
    return new Detector(source.state, networkFromWeights(source.state.spec, tensors), options);
  } finally {
    // networkFromWeights wraps each tensor in a variable (a copy); the originals can go.
    for (const t of Object.values(tensors)) t.dispose();
  }
}

const init = workerData as WorkerInit;
/** Loaded models by generation: 0 at start, one more per hot swap until the old one is unloaded. */
const detectors = new Map<number, Detector>();
try {
  const detector = await build(init);
  detectors.set(0, detector);
  send({ type: 'ready', backend: detector.backend, d: detector.d });
} catch (err) {
  send({ type: 'failed', error: serializeError(err) });
  // Nothing to serve: let the thread end rather than wait for a close that the pool will not send.
  port.close();
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'close') {
    for (const d of detectors.values()) d.dispose();
    detectors.clear();
    port.close();
    return;
  }
  if (msg.type === 'load') {
    // Score requests that arrive while it builds still name the old generation and are answered meanwhile.
    fromSource(msg.source, init.detector).then(
      (d) => {
        detectors.get(msg.generation)?.dispose();
        detectors.set(msg.generation, d);
        send({ type: 'loaded', id: msg.id, generation: msg.generation, d: d.d });
      },
      (err: unknown) => send({ type: 'failed', id: msg.id, error: serializeError(err) }),
    );
    return;
  }
  if (msg.type === 'unload') {
    detectors.get(msg.generation)?.dispose();
    detectors.delete(msg.generation);
    return;
  }
  const detector = detectors.get(msg.generation ?? 0);
  if (detector === undefined) {
    send({
      type: 'failed',
      id: msg.id,
      error: { name: 'VigilError', message: 'model not loaded', code: 'MODEL_NOT_TRAINED' },
    });
    return;
  }
  try {
    if (msg.mode === 'scores') {
      const scores = detector.scoreOnly(msg.rows, msg.n, msg.entities);
      send({ type: 'scored', id: msg.id, n: msg.n, d: detector.d, scores }, [scores.buffer as ArrayBuffer]);
      return;
    }
    const r = detector.score(
      msg.rows,
      msg.n,
      msg.entities,
      msg.mode === 'explain-anomalies' ? { explain: 'anomalies' } : undefined,
    );
    const arrays = [r.scores, r.contributions, r.expected, r.severity, r.isAnomaly, r.threshold];
    send(
      { type: 'scored', id: msg.id, ...r },
      // A view onto a shared buffer cannot be moved; only whole buffers are (the Detector allocates them fresh).
      [
        ...new Set(
          arrays
            .filter((a) => a.byteOffset === 0 && a.byteLength === a.buffer.byteLength)
            .map((a) => a.buffer as ArrayBuffer),
        ),
      ],
    );
  } catch (err) {
    send({ type: 'failed', id: msg.id, error: serializeError(err) });
  }
});
