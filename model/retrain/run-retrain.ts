/**
 * Runs one retrain job on a worker thread and resolves with its result. One thread per job, ended after it:
 * a retrain is rare and its tfjs state (weights, optimizer, backend memory) is best given back whole.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { VigilError } from '../../core/errors.js';
import type { FromRetrainWorker, RetrainJob } from './protocol.js';

export type RetrainResult = Extract<FromRetrainWorker, { type: 'done' }>;

/**
 * From compiled JavaScript the worker script runs as is; from TypeScript sources a bootstrap registers tsx's
 * loader inside the worker first (Node 20 does not pass module loaders on to worker threads), as the scoring
 * pool does.
 */
function startWorker(job: RetrainJob, transfer: ArrayBuffer[]): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./retrain-worker.js', import.meta.url), {
      workerData: job,
      transferList: transfer,
    });
  }
  const tsxDir = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const api = pathToFileURL(path.join(tsxDir, 'dist', 'esm', 'api', 'index.mjs')).href;
  const target = new URL('./retrain-worker.ts', import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(target)}, ${JSON.stringify(import.meta.url)}));`;
  return new Worker(bootstrap, { eval: true, workerData: job, transferList: transfer });
}

/** The job's row buffers are transferred: the caller must not use them afterwards. */
export function runRetrain(job: RetrainJob, signal?: AbortSignal): Promise<RetrainResult> {
  const transfer = [job.train.rows, job.heldOut.rows, job.labelled.rows]
    .map((r) => r.buffer as ArrayBuffer)
    .filter((b, i, all) => b.byteLength > 0 && all.indexOf(b) === i);
  return new Promise((resolve, reject) => {
    const worker = startWorker(job, transfer);
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => {
      void worker.terminate();
      settle(() => reject(new VigilError('SHUTDOWN', 'Retraining was aborted.')));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (msg: FromRetrainWorker) => {
      if (msg.type === 'done') settle(() => resolve(msg));
      else
        settle(() =>
          reject(
            new VigilError('TRAINING_FAILED', `Retraining failed: ${msg.error.message}`, {
              details: { ...msg.error },
            }),
          ),
        );
    });
    worker.once('error', (err) =>
      settle(() =>
        reject(new VigilError('TRAINING_FAILED', `Retrain worker crashed: ${err.message}`, { cause: err })),
      ),
    );
    worker.once('exit', (code) =>
      settle(() =>
        reject(new VigilError('TRAINING_FAILED', `Retrain worker exited (${code}) without a result.`)),
      ),
    );
  });
}
