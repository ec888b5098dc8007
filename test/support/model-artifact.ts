// A trained sensor model saved as a real artifact directory, for tests that run Vigil the way it is deployed
// (config.model.artifact → loadDetector). Training takes seconds to tens of seconds on a busy machine, so the
// artifact is kept in the OS temp dir, keyed by what it was trained with, and reused by later test files and
// runs; an artifact the current loader refuses (format change, corruption) is trained again.
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ARTIFACT_FORMAT_VERSION, loadDetector, saveDetector } from '../../model/artifact.js';
import { initBackend } from '../../model/backend.js';
import type { Detector } from '../../model/detector.js';
import type { SensorReading } from '../../schemas/types.js';
import type { Labelled } from '../../synth/ground-truth.js';
import { SensorGenerator } from '../../synth/sensor-generator.js';
import { sensorExtractor, trainSensorDetector } from './sensor-fixture.js';

export interface SensorArtifact {
  /** The artifact directory: put it in `model.artifact`. */
  readonly dir: string;
  /** The same artifact loaded here, for scoring offline what Vigil scored online. */
  readonly detector: Detector;
}

export interface SensorArtifactOptions {
  /** Normal readings trained on. Default 4000. */
  readonly rows?: number;
  readonly seed?: number;
  /** Where artifacts are kept. Default `<tmpdir>/vigil-test-models`. */
  readonly cacheDir?: string;
  /** The model version it records (what outputs name): another one tells a swapped-in model apart. Default v1. */
  readonly version?: string;
}

export async function sensorArtifact(options: SensorArtifactOptions = {}): Promise<SensorArtifact> {
  const rows = options.rows ?? 4000;
  const seed = options.seed ?? 7;
  const version = options.version ?? 'v1';
  // Keyed by the columns too: an artifact cached before the feature mapping changed (temporal features, say)
  // still loads, but `vigil run` rightly refuses it for the mapping of today. And by the operating point (the
  // fixture's 0.99 quantile under the small-set rule of model/threshold.ts), not an older calibration.
  const columns = createHash('sha256')
    .update(sensorExtractor().featureNames.join('\u0000'))
    .digest('hex')
    .slice(0, 12);
  const dir = path.join(
    options.cacheDir ?? path.join(tmpdir(), 'vigil-test-models'),
    `sensor-dense-r${rows}-s${seed}-f${ARTIFACT_FORMAT_VERSION}-c${columns}-q99-minrate1n${version === 'v1' ? '' : `-${version}`}`,
  );
  await initBackend();
  try {
    return { dir, detector: await loadDetector(dir) };
  } catch {
    // Missing or refused: train and save below.
  }
  const trained = await trainSensorDetector(rows, seed, undefined, version);
  try {
    await saveDetector(trained, dir, { overwrite: true });
  } catch (err) {
    // Another test run may have saved the same artifact at the same moment; theirs is as good as ours.
    try {
      await loadDetector(dir);
    } catch {
      throw err;
    }
  }
  trained.dispose();
  // Loaded back rather than the trained object, so offline scoring uses exactly what Vigil will load.
  return { dir, detector: await loadDetector(dir) };
}

/**
 * Live readings for a model from `sensorArtifact`: the fleet it was trained on (same `seed`, same 20 units, same
 * hours of the day) with readings its training never saw (`streamSeed`), and injected anomalies. Readings of
 * another fleet would all look anomalous to it.
 */
export function sensorStream(
  count: number,
  options: { streamSeed: number; anomalyRate: number; seed?: number },
): Labelled<SensorReading>[] {
  const gen = new SensorGenerator({
    seed: options.seed ?? 7,
    streamSeed: options.streamSeed,
    devices: 20,
    anomalyRate: options.anomalyRate,
  });
  const out: Labelled<SensorReading>[] = [];
  for (let i = 0; i < count; i++) out.push(gen.next());
  return out;
}
