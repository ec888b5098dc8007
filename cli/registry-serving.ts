/**
 * `vigil run` with `model.registry`: the registry topic made ready, the watcher started, and the first model
 * served — the newest promoted version, or, when there is none, what `model.registry.coldStart` says: wait
 * (nothing consumed or committed; /readyz says why) or train a first model from the input topics' retained
 * records with `vigil train --topic`'s path, publish and promote it, and serve it. Later promotions are
 * swapped in by the watcher while the pipeline runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ModelRegistry, registryTopicSpec } from '../connector/registry/model-registry.js';
import type { ModelServer, ServedModel } from '../connector/registry/model-server.js';
import { RegistryWatcher } from '../connector/registry/registry-watcher.js';
import type { Transport } from '../connector/transport/types.js';
import type { VigilConfig } from '../core/config/schema.js';
import { VigilError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { trainAndSave } from '../model/eval/cli.js';
import { topicTrainingRows } from './train-command.js';

export interface RegistryServing {
  readonly registry: ModelRegistry;
  readonly watcher: RegistryWatcher;
  close(): Promise<void>;
}

export interface RegistryServingDeps {
  readonly transport: Transport;
  readonly server: ModelServer;
  readonly logger: Logger;
  /** Says why the service is not ready while it waits (the /readyz reason); undefined once serving. */
  readonly setWaiting: (reason: string | undefined) => void;
  /** Aborted when a signal asks the process to stop while it waits for a first model. */
  readonly signal?: AbortSignal;
}

export async function startRegistryServing(
  config: VigilConfig,
  deps: RegistryServingDeps,
): Promise<{ serving: RegistryServing; first: ServedModel }> {
  const rc = config.model.registry!;
  const { transport, server, logger } = deps;
  const log = logger.child({ component: 'registry-serving', topic: rc.topic });
  const admin = transport.admin();
  try {
    const existing = new Set(await admin.listTopics());
    if (!existing.has(rc.topic)) {
      if (!rc.create) {
        throw new VigilError(
          'TOPIC_NOT_FOUND',
          `model.registry.topic: "${rc.topic}" does not exist, and model.registry.create is false`,
          { details: { key: 'model.registry.topic', topic: rc.topic } },
        );
      }
      await admin.createTopics([registryTopicSpec(rc.topic)]);
      log.info('created the model registry topic (1 partition, compacted)');
    }
  } finally {
    await admin.close();
  }
  const registry = new ModelRegistry(transport, { topic: rc.topic, chunkBytes: rc.chunkBytes }, logger);
  const watcher = new RegistryWatcher(transport, registry, server, { maxWaitMs: rc.watchMaxWaitMs }, logger);
  const serving: RegistryServing = {
    registry,
    watcher,
    async close() {
      await watcher.close();
      await registry.close();
    },
  };
  try {
    deps.setWaiting(`reading the model registry ${rc.topic}`);
    await watcher.start();
    if (server.current === undefined) {
      const latest = watcher.latestPromoted();
      if (latest === undefined && rc.coldStart.mode === 'train') {
        deps.setWaiting(`no promoted model in registry ${rc.topic}: training a first one (cold start)`);
        await coldStartTrain(config, transport, registry, log);
      } else {
        const why =
          latest === undefined
            ? `no promoted model in registry ${rc.topic}`
            : `promoted version ${latest.version} was refused (${watcher.refusal(latest.version) ?? 'see logs'})`;
        const reason = `${why}: waiting for one to be promoted; records are not consumed`;
        deps.setWaiting(reason);
        log.warn({ coldStart: rc.coldStart.mode }, reason);
      }
    }
    const first = await untilAborted(server.whenServing(), deps.signal);
    deps.setWaiting(undefined);
    return { serving, first };
  } catch (err) {
    await serving.close();
    throw err;
  }
}

function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new VigilError('SHUTDOWN', 'stopped while waiting for a promoted model'));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Trains a first model on the input topics' retained records (model.registry.coldStart's window), publishes
 * it and promotes it; the watcher then serves it like any promotion. Two replicas cold-starting together each
 * train one; the newer promotion wins on both.
 */
async function coldStartTrain(
  config: VigilConfig,
  transport: Transport,
  registry: ModelRegistry,
  log: Logger,
): Promise<void> {
  const cs = config.model.registry!.coldStart;
  const t0 = performance.now();
  const data = await topicTrainingRows(config, transport, config.input.topics, {
    entities: false,
    maxRecords: cs.maxRecords,
    ...(cs.maxAgeMs === undefined ? {} : { minTimestamp: Date.now() - cs.maxAgeMs }),
  });
  const readS = (performance.now() - t0) / 1000;
  log.info({ rows: data.n, leftOut: data.leftOut, seconds: readS }, 'cold start: training rows read');
  const root = await mkdtemp(path.join(tmpdir(), 'vigil-cold-start-'));
  try {
    const out = path.join(root, 'model');
    await trainAndSave(
      data,
      {
        out,
        model: 'dense',
        seed: String(cs.seed),
        labelColumn: 'label',
        trim: String(cs.contamination),
        backend: config.model.backend,
        id: 'cold-start',
      },
      { logger: log, stdout: (text) => log.info({ summary: text.trim() }, 'cold start: model trained') },
    );
    const window =
      data.window === undefined
        ? undefined
        : { from: new Date(data.window.from).toISOString(), to: new Date(data.window.to).toISOString() };
    const version = await registry.publish(out, window === undefined ? {} : { trainingWindow: window });
    await registry.setStatus(
      version,
      'promoted',
      `cold start: trained on ${data.n} retained records of ${config.input.topics.join(', ')}`,
    );
    log.info(
      { version, rows: data.n, seconds: (performance.now() - t0) / 1000 },
      'cold start: first model published and promoted',
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
