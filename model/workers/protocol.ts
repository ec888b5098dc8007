/**
 * Messages between a ScoringPool and its worker threads. Every array crosses as a transferable buffer (moved,
 * not copied): the batch goes in, the BatchScores arrays come back.
 */
import type { BackendPreference } from '../backend.js';
import type { DetectorOptions, DetectorState } from '../detector.js';

/** One named weight tensor as plain data. */
export interface WeightBlob {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

/** Where a worker gets its model copy: an artifact directory, or a state plus weights sent from memory. */
export type DetectorSource =
  | { readonly kind: 'artifact'; readonly dir: string }
  | { readonly kind: 'weights'; readonly state: DetectorState; readonly weights: readonly WeightBlob[] };

export interface WorkerInit {
  readonly source: DetectorSource;
  readonly backend: BackendPreference;
  /** Detector options that survive cloning (no logger). */
  readonly detector: Omit<DetectorOptions, 'logger'>;
}

/** `explain-anomalies`: Detector.score with `explain: 'anomalies'` (see ScoreOptions). */
export type ScoreMode = 'full' | 'explain-anomalies' | 'scores';

export interface ScoreRequest {
  readonly type: 'score';
  readonly id: number;
  readonly mode: ScoreMode;
  readonly rows: Float32Array;
  readonly n: number;
  readonly entities?: readonly string[];
  /** Which loaded model scores it (0: the one the worker started with; see LoadRequest). */
  readonly generation?: number;
}

/**
 * A hot swap's load message: build another model beside the current one, under a new generation. Score
 * requests name their generation, so batches sent before the swap finish on the old model while later ones
 * use the new; the old one is disposed by an UnloadRequest once its batches have settled.
 */
export interface LoadRequest {
  readonly type: 'load';
  readonly id: number;
  readonly generation: number;
  readonly source: DetectorSource;
}

export interface UnloadRequest {
  readonly type: 'unload';
  readonly generation: number;
}

export interface CloseRequest {
  readonly type: 'close';
}

export type ToWorker = ScoreRequest | LoadRequest | UnloadRequest | CloseRequest;

export interface ReadyMessage {
  readonly type: 'ready';
  readonly backend: string;
  /** Features per row the model takes. */
  readonly d: number;
}

export interface LoadedMessage {
  readonly type: 'loaded';
  readonly id: number;
  readonly generation: number;
  readonly d: number;
}

export interface ScoredMessage {
  readonly type: 'scored';
  readonly id: number;
  readonly n: number;
  readonly d: number;
  readonly scores: Float32Array;
  /** Absent in 'scores' mode. */
  readonly contributions?: Float32Array;
  readonly expected?: Float32Array;
  readonly severity?: Float32Array;
  readonly isAnomaly?: Uint8Array;
  readonly threshold?: Float32Array;
}

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly retriable?: boolean;
  readonly details?: Record<string, unknown>;
}

export interface FailedMessage {
  readonly type: 'failed';
  /** Absent when initialisation failed. */
  readonly id?: number;
  readonly error: SerializedError;
}

export type FromWorker = ReadyMessage | LoadedMessage | ScoredMessage | FailedMessage;

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; retriable?: unknown; details?: unknown };
    return {
      name: e.name,
      message: e.message,
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      ...(typeof e.retriable === 'boolean' ? { retriable: e.retriable } : {}),
      ...(e.details !== null && typeof e.details === 'object'
        ? { details: e.details as Record<string, unknown> }
        : {}),
    };
  }
  return { name: 'Error', message: String(err) };
}
