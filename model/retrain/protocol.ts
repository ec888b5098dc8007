/**
 * Messages between the retraining runner (run-retrain.ts, on the consuming thread) and its worker thread
 * (retrain-worker.ts). Row matrices travel as transferred buffers; everything else is structured-clone data.
 */
import type { BackendPreference } from '../backend.js';
import type { TrainDetectorOptions } from '../trainer.js';

export interface RowSet {
  /** Row-major n × d. */
  readonly rows: Float32Array;
  readonly n: number;
  readonly entities: readonly string[];
}

/** What the worker needs: the training rows, the held-out sets both models are judged on, where to save. */
export interface RetrainJob {
  readonly d: number;
  readonly train: RowSet;
  /** Recent normal rows never trained on. */
  readonly heldOut: RowSet;
  /** Rows confirmed as anomalies by feedback (may be empty). */
  readonly labelled: RowSet;
  /** The champion's artifact directory: loaded in the worker and scored on the same sets. */
  readonly championDir: string;
  /** Where the challenger's artifact is written. */
  readonly outDir: string;
  readonly backend: BackendPreference;
  /** trainDetector's options, as `vigil train` passes them (no callbacks: they cannot cross threads). */
  readonly options: Omit<TrainDetectorOptions, 'onProgress' | 'signal' | 'logger' | 'entities' | 'detector'>;
}

/** Scores of one model on one set, with its decisions. */
export interface SetScores {
  readonly scores: Float32Array;
  readonly isAnomaly: Uint8Array;
}

export interface ModelScores {
  readonly heldOut: SetScores;
  readonly labelled: SetScores;
  /** The model's global threshold, for the record. */
  readonly threshold: number;
}

export type FromRetrainWorker =
  | {
      readonly type: 'done';
      readonly challenger: ModelScores;
      readonly champion: ModelScores;
      readonly trainMs: number;
      readonly epochsRun: number;
      readonly artifactVersion: string;
    }
  | { readonly type: 'failed'; readonly error: { name: string; message: string; code?: string } };
