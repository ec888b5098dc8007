/**
 * Worker-thread entry of a retrain: trains a fresh Detector with trainDetector (the code `vigil train` runs),
 * saves its artifact, then scores the held-out normal rows and the labelled anomalies with both the challenger
 * and the champion (loaded here from its artifact), so the consuming thread never runs a tensor op for it.
 * tfjs state is per thread: the serving model in the main thread is never touched, let alone fitted.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadDetector, saveDetector } from '../artifact.js';
import { initBackend } from '../backend.js';
import type { Detector } from '../detector.js';
import { trainDetector } from '../trainer.js';
import type { FromRetrainWorker, ModelScores, RetrainJob, RowSet, SetScores } from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('retrain-worker must run in a worker thread');

function scoreSet(det: Detector, set: RowSet): SetScores {
  if (set.n === 0) return { scores: new Float32Array(0), isAnomaly: new Uint8Array(0) };
  const s = det.score(set.rows, set.n, set.entities, { explain: 'anomalies' });
  return { scores: Float32Array.from(s.scores), isAnomaly: Uint8Array.from(s.isAnomaly) };
}

function scoresOf(det: Detector, job: RetrainJob): ModelScores {
  return {
    heldOut: scoreSet(det, job.heldOut),
    labelled: scoreSet(det, job.labelled),
    threshold: det.calibration.threshold,
  };
}

async function run(job: RetrainJob): Promise<FromRetrainWorker> {
  await initBackend({ preference: job.backend });
  const t0 = performance.now();
  const challenger = await trainDetector(job.train.rows, job.train.n, job.d, {
    ...job.options,
    ...(job.train.entities.length === job.train.n ? { entities: job.train.entities } : {}),
  });
  const trainMs = performance.now() - t0;
  let champion: Detector | undefined;
  try {
    await saveDetector(challenger, job.outDir, { overwrite: true });
    champion = await loadDetector(job.championDir);
    return {
      type: 'done',
      challenger: scoresOf(challenger, job),
      champion: scoresOf(champion, job),
      trainMs,
      epochsRun: challenger.state.training.epochsRun,
      artifactVersion: challenger.identity.version,
    };
  } finally {
    challenger.dispose();
    champion?.dispose();
  }
}

try {
  const msg = await run(workerData as RetrainJob);
  const transfer: ArrayBuffer[] = [];
  if (msg.type === 'done') {
    for (const m of [msg.challenger, msg.champion])
      for (const s of [m.heldOut, m.labelled])
        transfer.push(s.scores.buffer as ArrayBuffer, s.isAnomaly.buffer as ArrayBuffer);
  }
  port.postMessage(msg, transfer);
} catch (err) {
  const e = err as { name?: string; message?: string; code?: string };
  port.postMessage({
    type: 'failed',
    error: {
      name: e?.name ?? 'Error',
      message: e?.message ?? String(err),
      ...(e?.code ? { code: e.code } : {}),
    },
  } satisfies FromRetrainWorker);
}
port.close();
