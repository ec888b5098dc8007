/**
 * A pool of worker threads, each holding its own copy of one model, for scoring on more than one core
 * (tfjs-backend-wasm runs one thread per Node isolate). Batches go to a worker as transferred buffers and
 * come back as BatchScores buffers; nothing is copied on the way except where the caller keeps its buffer.
 *
 * Routing: by default each batch goes to the worker with the fewest batches in flight. Stateful scoring
 * (conv1d window history, adaptive thresholds) needs every batch of an entity on the same worker, in order:
 * pass an `affinity` key (e.g. the Kafka partition, when records are keyed by entity) and batches with the same
 * key always go to the same worker, which handles them in arrival order.
 *
 * Bounded: at most `maxInFlight` batches wait per worker; further calls wait in FIFO order for a slot.
 * Shutdown: close() stops taking work, lets the batches in flight finish, then asks each worker to dispose its
 * model and exit, terminating any that do not within `closeTimeoutMs`.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, type ErrorCode, VigilError } from '../../core/errors.js';
import type { BackendPreference } from '../backend.js';
import type { Detector, DetectorOptions } from '../detector.js';
import type { ThresholdCalibration } from '../threshold.js';
import type { AsyncScorer, BatchScores, ModelIdentity, ScoreOptions } from '../types.js';
import type {
  DetectorSource,
  FromWorker,
  ScoredMessage,
  ScoreMode,
  SerializedError,
  ToWorker,
  WeightBlob,
  WorkerInit,
} from './protocol.js';

export type { DetectorSource, WeightBlob } from './protocol.js';

export interface ScoringPoolOptions {
  /** Worker threads. Default 2. */
  size?: number;
  /** Backend each worker initialises. Default wasm (falling back as initBackend does). */
  backend?: BackendPreference;
  /** Detector options for every copy (maxBatch, adaptive, maxEntities). */
  detector?: Omit<DetectorOptions, 'logger'>;
  /** Batches queued per worker before callers wait. Default 2 (one running, one ready). */
  maxInFlight?: number;
  /** How long close() waits for a worker to exit before terminating it. Default 5,000 ms. */
  closeTimeoutMs?: number;
}

export interface ScoreCallOptions {
  /** Same key, same worker, in order (see the module comment). */
  affinity?: number;
  /**
   * Move the caller's buffer to the worker (default true): `rows` is detached afterwards. When `rows` is a
   * view onto a larger buffer, or `transfer` is false, the rows are copied instead.
   */
  transfer?: boolean;
}

interface Pending {
  readonly resolve: (value: ScoredMessage) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  readonly exited: Promise<number>;
  backend: string;
  d: number;
  dead: Error | undefined;
}

function toError(e: SerializedError): Error {
  if (e.code !== undefined && e.code in ERROR_CODES) {
    // Keep the worker's code and retry decision, so callers branch on them as on an in-thread error.
    return new VigilError(e.code as ErrorCode, e.message, {
      ...(e.details ? { details: e.details } : {}),
      ...(e.retriable !== undefined ? { retriable: e.retriable } : {}),
    });
  }
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

/** The model of an in-memory Detector as plain data, for ScoringPool.create. */
export function detectorSource(detector: Detector): DetectorSource {
  const named = detector.params.named();
  const weights: WeightBlob[] = Object.entries(named).map(([name, t]) => ({
    name,
    shape: [...t.shape],
    values: Float32Array.from(t.dataSync() as Float32Array),
  }));
  return { kind: 'weights', state: detector.state, weights };
}

/**
 * Start one worker. From compiled JavaScript (dist/) the worker script runs as is; from TypeScript sources
 * (tests, `tsx` scripts) a small bootstrap registers tsx's loader inside the worker first, because module
 * loaders given to the main thread are not inherited by worker threads on Node 20.
 */
function startWorker(init: WorkerInit): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./scoring-worker.js', import.meta.url), { workerData: init });
  }
  // tsx's tsImport loads one module graph through its TypeScript loader, from inside the worker.
  const tsxDir = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const api = pathToFileURL(path.join(tsxDir, 'dist', 'esm', 'api', 'index.mjs')).href;
  const target = new URL('./scoring-worker.ts', import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(target)}, ${JSON.stringify(import.meta.url)}));`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}

export class ScoringPool {
  private readonly slots: Slot[];
  private readonly maxInFlight: number;
  private readonly closeTimeoutMs: number;
  private readonly waiters: (() => void)[] = [];
  private nextId = 1;
  private closing: Promise<void> | undefined;

  private constructor(slots: Slot[], options: ScoringPoolOptions) {
    this.slots = slots;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 2);
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
  }

  /** Start the workers and resolve once every one has its model loaded (or reject, stopping them all). */
  static async create(source: DetectorSource, options: ScoringPoolOptions = {}): Promise<ScoringPool> {
    const size = options.size ?? 2;
    if (!Number.isInteger(size) || size < 1) {
      throw new VigilError('CONFIG_INVALID', `Pool size must be a positive integer, got ${size}.`, {
        details: { key: 'size', value: size },
      });
    }
    const init: WorkerInit = { source, backend: options.backend ?? 'wasm', detector: options.detector ?? {} };
    const slots: Slot[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < size; i++) {
      const worker = startWorker(init);
      let onExit!: (code: number) => void;
      const exited = new Promise<number>((resolve) => {
        onExit = resolve;
      });
      const slot: Slot = { worker, pending: new Map(), exited, backend: '', d: 0, dead: undefined };
      slots.push(slot);
      ready.push(
        new Promise<void>((resolve, reject) => {
          let started = false;
          worker.on('message', (msg: FromWorker) => {
            if (msg.type === 'ready') {
              slot.backend = msg.backend;
              slot.d = msg.d;
              started = true;
              resolve();
            } else if (msg.type === 'failed' && msg.id === undefined) {
              slot.dead = toError(msg.error);
              reject(slot.dead);
            } else if (msg.id !== undefined) {
              const p = slot.pending.get(msg.id);
              if (p === undefined) return;
              slot.pending.delete(msg.id);
              if (msg.type === 'scored') p.resolve(msg);
              else p.reject(toError(msg.error));
            }
          });
          const fail = (err: Error) => {
            slot.dead ??= err;
            for (const p of slot.pending.values()) p.reject(slot.dead);
            slot.pending.clear();
            if (!started) reject(slot.dead);
          };
          worker.on('error', fail);
          worker.on('exit', (code) => {
            onExit(code);
            fail(
              new VigilError('SHUTDOWN', `Scoring worker ${i} exited (code ${code}).`, {
                details: { worker: i, code },
              }),
            );
          });
        }),
      );
    }
    const pool = new ScoringPool(slots, options);
    try {
      await Promise.all(ready);
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Backend each worker ended up on. */
  get backends(): string[] {
    return this.slots.map((s) => s.backend);
  }

  /** Full BatchScores (scores, explanations, thresholds) for n rows; `explain` as in Detector.score. */
  async score(
    rows: Float32Array,
    n: number,
    entities?: readonly string[],
    call: ScoreCallOptions & ScoreOptions = {},
  ): Promise<BatchScores> {
    const mode = call.explain === 'anomalies' ? 'explain-anomalies' : 'full';
    const m = await this.dispatch(mode, rows, n, entities, call);
    return {
      n: m.n,
      d: m.d,
      scores: m.scores,
      contributions: m.contributions!,
      expected: m.expected!,
      severity: m.severity!,
      isAnomaly: m.isAnomaly!,
      threshold: m.threshold!,
    };
  }

  /**
   * The pool as the pipeline's AsyncScorer. The caller's rows are copied, not moved: the pipeline still reads
   * the flagged records' values when it builds their events. `calibration` is the workers' calibration in force
   * (the main thread's copy of the same Detector): with post-processing, the pipeline post-processes and judges
   * the workers' raw scores on its own thread, in record order (model/postprocess-stage.ts).
   */
  asScorer(identity: ModelIdentity, calibration?: ThresholdCalibration): AsyncScorer {
    return {
      identity,
      ...(calibration ? { activeCalibration: calibration } : {}),
      scoreAsync: (rows, n, entities, options) =>
        this.score(rows, n, entities, { ...options, transfer: false }),
    };
  }

  /** Anomaly scores only (Detector.scoreOnly in the worker). */
  async scoreOnly(
    rows: Float32Array,
    n: number,
    entities?: readonly string[],
    call: ScoreCallOptions = {},
  ): Promise<Float32Array> {
    return (await this.dispatch('scores', rows, n, entities, call)).scores;
  }

  private pick(affinity: number | undefined): Slot | undefined {
    const live = this.slots.filter((s) => s.dead === undefined);
    if (live.length === 0) return undefined;
    if (affinity !== undefined) {
      // Fixed over the pool's life (all slots, dead or not), so a key never moves to another worker.
      const slot = this.slots[((affinity % this.slots.length) + this.slots.length) % this.slots.length]!;
      return slot;
    }
    // The least busy worker, full or not: the caller waits for a slot on it when every worker is full.
    let best = live[0]!;
    for (const s of live) if (s.pending.size < best.pending.size) best = s;
    return best;
  }

  private async dispatch(
    mode: ScoreMode,
    rows: Float32Array,
    n: number,
    entities: readonly string[] | undefined,
    call: ScoreCallOptions,
  ): Promise<ScoredMessage> {
    if (this.closing) throw new VigilError('SHUTDOWN', 'The scoring pool is closed.');
    let slot = this.pick(call.affinity);
    while (slot !== undefined && slot.dead === undefined && slot.pending.size >= this.maxInFlight) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
      if (this.closing) throw new VigilError('SHUTDOWN', 'The scoring pool is closed.');
      slot = this.pick(call.affinity);
    }
    if (slot === undefined || slot.dead !== undefined) {
      throw slot?.dead ?? new VigilError('SHUTDOWN', 'No scoring worker is running.');
    }
    const need = n * slot.d;
    if (!Number.isInteger(n) || n < 0 || rows.length < need) {
      throw new VigilError(
        'INPUT_INVALID',
        `Row buffer holds ${rows.length} values, fewer than n×d = ${n}×${slot.d}.`,
      );
    }
    const whole = rows.byteOffset === 0 && rows.byteLength === rows.buffer.byteLength;
    const payload = (call.transfer ?? true) && whole ? rows : rows.slice(0, need);
    const id = this.nextId++;
    const target = slot;
    try {
      return await new Promise<ScoredMessage>((resolve, reject) => {
        target.pending.set(id, { resolve, reject });
        const msg: ToWorker = {
          type: 'score',
          id,
          mode,
          rows: payload,
          n,
          ...(entities ? { entities: [...entities.slice(0, n)] } : {}),
        };
        try {
          target.worker.postMessage(msg, [payload.buffer as ArrayBuffer]);
        } catch (err) {
          target.pending.delete(id);
          reject(err as Error);
        }
      });
    } finally {
      // Wake every waiter: each re-checks its own worker (affinity) and waits again if that one is still full.
      for (const w of this.waiters.splice(0)) w();
    }
  }

  /** Finish the batches in flight, stop the workers. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const w of this.waiters.splice(0)) w();
    await Promise.all(
      this.slots.map(async (s) => {
        await this.drained(s);
        if (s.dead === undefined) s.worker.postMessage({ type: 'close' } satisfies ToWorker);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), this.closeTimeoutMs);
        });
        const result = await Promise.race([s.exited, timeout]);
        clearTimeout(timer);
        if (result === 'timeout') await s.worker.terminate();
      }),
    );
  }

  /** Resolves when a worker has no batch in flight (or has died). */
  private async drained(s: Slot): Promise<void> {
    while (s.pending.size > 0 && s.dead === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}
