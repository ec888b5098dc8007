// The model registry on the real broker, on both transports: publish a real trained artifact in chunks,
// promote it, see it from a second replica's registry, load it back into a working detector; a corrupted or
// truncated artifact is refused. One random registry topic per test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chunkKey, ModelRegistry, registryTopicSpec } from '../../../connector/registry/index.js';
import { createTransport, type Transport, type TransportKind } from '../../../connector/transport/index.js';
import { isVigilError, type VigilError } from '../../../core/errors.js';
import { silentLogger } from '../../../core/logger.js';
import { loadDetector } from '../../../model/artifact.js';
import { deleteTopic, uniqueName } from '../../support/kafka.js';
import { type SensorArtifact, sensorArtifact } from '../../support/model-artifact.js';
import { plaintextOptions } from '../transport/conformance.js';

let artifact: SensorArtifact;
const scratch: string[] = [];

beforeAll(async () => {
  artifact = await sensorArtifact();
});
afterAll(async () => {
  artifact?.detector.dispose();
  for (const d of scratch) await rm(d, { recursive: true, force: true });
});

async function refusal(p: Promise<unknown>): Promise<VigilError> {
  try {
    await p;
  } catch (err) {
    expect(isVigilError(err, 'MODEL_INVALID')).toBe(true);
    return err as VigilError;
  }
  throw new Error('expected MODEL_INVALID');
}

describe.each(['kafkajs', 'rdkafka'] as TransportKind[])('model registry on %s', (kind) => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
  });

  function transport(): Transport {
    const t = createTransport(kind, plaintextOptions(), silentLogger());
    cleanups.push(() => t.close());
    return t;
  }

  async function registryTopic(t: Transport): Promise<string> {
    const name = uniqueName(`registry-${kind}`);
    cleanups.push(() => deleteTopic(name));
    await t.admin().createTopics([registryTopicSpec(name)]);
    return name;
  }

  function registry(t: Transport, topic: string, chunkBytes = 4096): ModelRegistry {
    const r = new ModelRegistry(t, { topic, chunkBytes }, silentLogger());
    cleanups.push(() => r.close());
    return r;
  }

  it('publishes in chunks, promotes, and a second replica sees the promoted version and loads a working model', async () => {
    const a = transport();
    const topic = await registryTopic(a);
    const writer = registry(a, topic);
    const v1 = await writer.publish(artifact.dir, {
      trainingWindow: { from: '2026-12-01T00:00:00Z', to: '2026-12-01T06:00:00Z' },
      featureMappingFingerprint: 'fp-123',
      evaluation: { heldOutP99: 0.42 },
    });
    const v2 = await writer.publish(artifact.dir, { parentVersion: v1 });
    const listed = await writer.list();
    expect(listed.map((e) => [e.version, e.status])).toEqual([
      [v1, 'candidate'],
      [v2, 'candidate'],
    ]);
    const m1 = listed[0]!.manifest;
    // A real artifact is far larger than 4 KiB: it went out in many chunks.
    expect(m1.chunks).toBeGreaterThan(3);
    expect(m1.lineage).toMatchObject({
      trainingWindow: { from: '2026-12-01T00:00:00Z', to: '2026-12-01T06:00:00Z' },
      featureMappingFingerprint: 'fp-123',
      parentVersion: null,
    });
    expect((m1.lineage.dataSummary as { n: number }).n).toBe(artifact.detector.state.trainingData.n);
    expect(m1.evaluation).toEqual({ heldOutP99: 0.42 });
    expect(listed[1]!.manifest.lineage.parentVersion).toBe(v1);
    expect(await writer.latestPromoted()).toBeUndefined();

    await writer.setStatus(v1, 'promoted', 'first model');
    await writer.setStatus(v2, 'rejected', 'worse than the champion on held-out data');

    // Another replica: its own client and registry object, nothing shared but the topic.
    const replica = registry(transport(), topic);
    const promoted = await replica.latestPromoted();
    expect(promoted).toMatchObject({ version: v1, status: 'promoted', reason: 'first model' });
    expect((await replica.list()).find((e) => e.version === v2)).toMatchObject({
      status: 'rejected',
      reason: 'worse than the champion on held-out data',
    });

    const root = await mkdtemp(path.join(tmpdir(), 'registry-load-'));
    scratch.push(root);
    const dir = path.join(root, 'model');
    await replica.loadInto(promoted!.version, dir);
    const loaded = await loadDetector(dir);
    try {
      expect(loaded.identity).toEqual(artifact.detector.identity);
      const d = loaded.identity.featureNames.length;
      const rows = new Float32Array(8 * d).map((_, i) => Math.sin(i) * 3);
      expect(Array.from(loaded.score(rows, 8).scores)).toEqual(
        Array.from(artifact.detector.score(rows, 8).scores),
      );
    } finally {
      loaded.dispose();
    }
  });

  it('refuses a corrupted chunk and a truncated artifact with MODEL_INVALID, and keeps listing the rest', async () => {
    const t = transport();
    const topic = await registryTopic(t);
    const reg = registry(t, topic);
    const good = await reg.publish(artifact.dir);
    const corrupted = await reg.publish(artifact.dir);
    const truncated = await reg.publish(artifact.dir);
    const chunks = (await reg.list())[0]!.manifest.chunks;
    const writer = t.producer();
    cleanups.push(() => writer.close());
    // A later record under the same key is what compaction keeps: the registry must use it, and refuse it.
    const original = await reg.load(corrupted);
    const flipped = Buffer.from(original.bundle.subarray(4096, 8192));
    flipped[100] = flipped[100]! ^ 0x01;
    await writer.send([{ topic, key: chunkKey(corrupted, 1), value: flipped }]);
    await writer.send([{ topic, key: chunkKey(truncated, chunks - 1), value: null }]);
    await writer.send([{ topic, key: 'not-a-registry-key', value: 'garbage' }]);

    const e1 = await refusal(reg.load(corrupted));
    expect(e1.details).toMatchObject({ version: corrupted, reason: 'digest' });
    const e2 = await refusal(reg.load(truncated));
    expect(e2.details).toMatchObject({ version: truncated, reason: 'truncated', missing: [chunks - 1] });
    expect((await refusal(reg.load('no-such-version'))).details.reason).toBe('unknown');

    expect((await reg.load(good)).bundle.length).toBe(original.bundle.length);
    expect((await reg.list()).map((e) => e.version)).toEqual([good, corrupted, truncated]);
    expect(reg.problems().map((p) => p.key)).toEqual(['not-a-registry-key']);
    await expect(reg.setStatus('no-such-version', 'promoted', 'x')).rejects.toSatisfy((e: unknown) =>
      isVigilError(e, 'INPUT_INVALID'),
    );
  });
});
