/**
 * `vigil run` with `model.lifecycle.enabled`: the model lifecycle (connector/lifecycle) beside registry
 * serving. It makes its topics ready, keeps its own copy of the serving model's artifact (the retrain worker
 * scores the champion from it), follows every model the registry watcher swaps in, and follows the feedback
 * topic. A challenger it promotes reaches this replica the way it reaches the others: through the watcher.
 *
 * One replica of a group retrains: the one that holds partition 0 of the first input topic (`mayRetrain`),
 * on the reservoir of the partitions it holds. Every replica checks drift and applies feedback.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FeedbackFollower } from '../connector/lifecycle/feedback-topic.js';
import {
  type Champion,
  DEFAULT_LIFECYCLE,
  ModelLifecycle,
  type ModelLifecycleOptions,
} from '../connector/lifecycle/model-lifecycle.js';
import type { ModelRegistry } from '../connector/registry/model-registry.js';
import type { ModelServer, ServedModel } from '../connector/registry/model-server.js';
import type { TopicSpec, Transport } from '../connector/transport/types.js';
import type { VigilConfig } from '../core/config/schema.js';
import type { Logger } from '../core/logger.js';
import type { LifecycleMetrics } from '../core/metrics/lifecycle-metrics.js';
import { readManifest } from '../model/artifact.js';

export interface LifecycleServing {
  readonly lifecycle: ModelLifecycle;
  readonly feedback: FeedbackFollower | undefined;
  close(): Promise<void>;
}

export interface LifecycleServingDeps {
  readonly transport: Transport;
  readonly registry: ModelRegistry;
  readonly server: ModelServer;
  readonly logger: Logger;
  readonly metrics?: LifecycleMetrics;
  /** Whether this replica retrains now (it owns the first input partition). */
  readonly mayRetrain: () => boolean;
}

/** The lifecycle's options from `model.lifecycle` (the defaults of DEFAULT_LIFECYCLE for what is not a key). */
export function lifecycleOptions(config: VigilConfig, workDir: string): ModelLifecycleOptions {
  const lc = config.model.lifecycle;
  const { drift, retrain, gate, feedback } = lc;
  return {
    ...DEFAULT_LIFECYCLE,
    eventsTopic: lc.eventsTopic,
    ...(feedback.topic === undefined ? {} : { adjustmentsTopic: feedback.adjustmentsTopic }),
    reservoir: {
      capacity: lc.reservoir.capacity,
      ...(lc.reservoir.perEntity === undefined ? {} : { perEntity: lc.reservoir.perEntity }),
    },
    drift: {
      intervalMs: drift.intervalMs,
      consecutive: drift.consecutive,
      thresholds: {
        psi: drift.psi,
        ks: drift.ks,
        wasserstein: drift.wasserstein,
        scoreKs: drift.scoreKs,
        decideOn: drift.decideOn,
        minRows: drift.minRows,
      },
    },
    retrain: {
      intervalMs: retrain.intervalMs,
      onDrift: retrain.onDrift,
      cooldownMs: retrain.cooldownMs,
      minRows: retrain.minRows,
      heldOutFraction: retrain.heldOutFraction,
      workDir,
      // The retrain worker runs its own tfjs; the GPU bindings are not shared across threads.
      backend: config.model.backend === 'cpu' ? 'cpu' : 'wasm',
      seed: retrain.seed,
      ...(retrain.epochs === undefined ? {} : { epochs: retrain.epochs }),
      trimFraction: retrain.trimFraction,
      promote: retrain.promote,
    },
    gate: { ...gate },
    shadow: { ...lc.shadow },
    feedback: {
      falseAlarmsPerStep: feedback.falseAlarmsPerStep,
      stepFactor: feedback.stepFactor,
      maxFactor: feedback.maxFactor,
      maxEntities: feedback.maxEntities,
    },
  };
}

export async function startLifecycleServing(
  config: VigilConfig,
  first: ServedModel,
  deps: LifecycleServingDeps,
): Promise<LifecycleServing> {
  const lc = config.model.lifecycle;
  const log = deps.logger.child({ component: 'lifecycle-serving' });
  await createMissing(deps.transport, config, log);
  const ownDir = lc.retrain.workDir === undefined;
  const workDir = ownDir ? await mkdtemp(path.join(tmpdir(), 'vigil-lifecycle-')) : lc.retrain.workDir!;
  await mkdir(workDir, { recursive: true });
  const copy = async (version: string): Promise<Champion> => {
    const dir = path.join(workDir, `champion-${version}`);
    await deps.registry.loadInto(version, dir);
    return { dir, manifest: await readManifest(dir), registryVersion: version };
  };
  const lifecycle = new ModelLifecycle(
    lifecycleOptions(config, workDir),
    {
      transport: deps.transport,
      registry: deps.registry,
      logger: deps.logger,
      ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
      mayRetrain: deps.mayRetrain,
    },
    await copy(first.version),
  );
  // Swaps are serial in the server; following them is too, so the last one served is the one compared against.
  let following: Promise<void> = Promise.resolve();
  deps.server.onServed((served) => {
    following = following.then(async () => {
      const previous = lifecycle.currentChampion;
      if (previous.registryVersion === served.version) return;
      try {
        lifecycle.setChampion(await copy(served.version));
        if (previous.dir.startsWith(workDir)) await rm(previous.dir, { recursive: true, force: true });
        log.info({ version: served.version }, 'lifecycle now compares against the model serving');
      } catch (err) {
        log.error({ err, version: served.version }, 'lifecycle could not follow the model swap');
      }
    });
  });
  await lifecycle.start();
  let feedback: FeedbackFollower | undefined;
  if (lc.feedback.topic !== undefined) {
    feedback = new FeedbackFollower(
      deps.transport,
      lifecycle,
      { feedbackTopic: lc.feedback.topic, adjustmentsTopic: lc.feedback.adjustmentsTopic },
      deps.logger,
      deps.metrics,
    );
    try {
      await feedback.start();
    } catch (err) {
      await lifecycle.stop();
      throw err;
    }
  }
  log.info(
    {
      eventsTopic: lc.eventsTopic,
      feedbackTopic: lc.feedback.topic ?? null,
      driftEveryMs: lc.drift.intervalMs,
      retrainEveryMs: lc.retrain.intervalMs,
    },
    'model lifecycle started',
  );
  return {
    lifecycle,
    feedback,
    async close() {
      await feedback?.stop();
      await lifecycle.stop();
      await following;
      if (ownDir) await rm(workDir, { recursive: true, force: true });
    },
  };
}

/** The events topic, and with feedback the feedback topic and the compacted adjustments topic. */
async function createMissing(transport: Transport, config: VigilConfig, log: Logger): Promise<void> {
  const lc = config.model.lifecycle;
  const ct = config.output.createTopics;
  const admin = transport.admin();
  try {
    const existing = new Set(await admin.listTopics());
    const rf = ct.replicationFactor;
    const base = { partitions: 1, ...(rf === undefined ? {} : { replicationFactor: rf }) };
    const wanted: TopicSpec[] = [
      { name: lc.eventsTopic, ...base },
      ...(lc.feedback.topic === undefined
        ? []
        : [
            { name: lc.feedback.topic, ...base },
            { name: lc.feedback.adjustmentsTopic, ...base, config: { 'cleanup.policy': 'compact' } },
          ]),
    ];
    const missing = wanted.filter((t) => !existing.has(t.name));
    if (missing.length === 0) return;
    await admin.createTopics(missing);
    log.info({ topics: missing.map((t) => t.name) }, 'created the lifecycle topics');
  } finally {
    await admin.close();
  }
}
