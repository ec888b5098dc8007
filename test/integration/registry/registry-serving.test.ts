// Registry serving across processes on the real broker: `vigil run` replicas (one scoring in a worker thread,
// one in-thread) serve the promoted version of a registry topic; `vigil models publish --promote` of another
// model is swapped in by both while records keep arriving, and a read_committed reader of the scores topic
// sees every input offset scored exactly once, each partition by v1 up to some offset and by v2 after it. A
// replica started later serves v2 from the start. A corrupted and a truncated artifact promoted afterwards are
// refused (log, vigil_model_refusals_total{reason}) while v2 keeps scoring.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkKey, ModelRegistry } from '../../../connector/registry/index.js';
import { createTransport } from '../../../connector/transport/index.js';
import { silentLogger } from '../../../core/logger.js';
import { loadSchema, schemaPath } from '../../../schemas/catalog.js';
import { brokers, deleteTopic, uniqueName } from '../../support/kafka.js';
import { type SensorArtifact, sensorArtifact, sensorStream } from '../../support/model-artifact.js';
import {
  removeVigilConfigs,
  spawnVigil,
  startVigil,
  type VigilProcess,
  writeVigilConfig,
} from '../../support/vigil-process.js';
import {
  client,
  createTopics,
  deleteTopics,
  producePaced,
  readTopic,
  waitForProgress,
} from '../pipeline/robustness.js';
import { plaintextOptions } from '../transport/conformance.js';

const sensorType = loadSchema('sensor_reading');

let v1: SensorArtifact;
let v2: SensorArtifact;
beforeAll(async () => {
  v1 = await sensorArtifact();
  // Same fleet, another training run that records another model version: outputs tell the two apart.
  v2 = await sensorArtifact({ rows: 3000, version: 'v2' });
}, 300_000);

const running: VigilProcess[] = [];
afterAll(async () => {
  for (const p of running) await p.kill();
  removeVigilConfigs();
  v1?.detector.dispose();
  v2?.detector.dispose();
});

/** One series of `name` from Vigil's /metrics, by its label text (`reason="digest"`), or summed when absent. */
async function metric(port: number, name: string, labels?: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(labels === undefined ? name : `${name}{${labels}}`))
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function servingVersion(port: number): Promise<string | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('vigil_model_registry_version_info{'));
  return line?.match(/version="([^"]*)"/)?.[1];
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function models(configPath: string, args: readonly string[]): Promise<string> {
  const p = spawnVigil(['models', ...args, '--config', configPath]);
  const exit = await p.exited;
  expect(exit.code, p.output()).toBe(0);
  return p.output();
}

describe('vigil run serving from the model registry topic (kafkajs, exactly-once)', () => {
  const input = uniqueName('regserve-in');
  const anomalies = uniqueName('regserve-anom');
  const dlq = uniqueName('regserve-dlq');
  const scores = uniqueName('regserve-scores');
  const registryTopic = uniqueName('regserve-models');
  const groupId = uniqueName('regserve-group');
  const kafka = client();
  const base = 23_000 + Math.floor(Math.random() * 2_000);
  const ports = { a: base, b: base + 1, c: base + 2 };

  beforeAll(async () => {
    await createTopics(kafka, { [input]: 3, [anomalies]: 3, [dlq]: 1, [scores]: 3 });
  });
  afterAll(async () => {
    await deleteTopics(kafka, [input, anomalies, dlq, scores]);
    await deleteTopic(registryTopic).catch(() => {});
  });

  const config = (instanceId: string, port: number, workers: number) =>
    writeVigilConfig({
      kafka: {
        transport: 'kafkajs',
        brokers: brokers(),
        clientId: 'vigil',
        instanceId,
        groupId,
        consumer: {
          autoOffsetReset: 'earliest',
          sessionTimeoutMs: 6_000,
          heartbeatIntervalMs: 1_000,
          rebalanceTimeoutMs: 10_000,
        },
      },
      input: { topics: [input], format: 'avro', schema: schemaPath('sensor_reading') },
      features: { preset: 'sensor-reading', temporal: { enabled: false } },
      model: { workers, registry: { topic: registryTopic, watchMaxWaitMs: 200 } },
      output: { anomaliesTopic: anomalies, deadLetterTopic: dlq, scoresTopic: scores },
      batching: { maxRecords: 200, lingerMs: 20 },
      delivery: 'exactly-once',
      metrics: { enabled: true, host: '127.0.0.1', port },
      logging: { level: 'info' },
    });

  it('swaps both replicas to a promoted model under load, scores every offset once, and refuses bad artifacts', async () => {
    const cfgA = await config('reg-a', ports.a, 1);
    const cfgB = await config('reg-b', ports.b, 0);
    const cfgC = await config('reg-c', ports.c, 0);
    expect(await models(cfgA, ['publish', v1.dir, '--as', 'reg-v1', '--promote'])).toContain('reg-v1');

    const messages = sensorStream(9000, { streamSeed: 31, anomalyRate: 0.03 }).map(({ record }) => ({
      key: record.device_id,
      value: sensorType.toBuffer(record),
    }));
    const logs = process.env.VIGIL_TEST_KEEP_LOGS;
    const a = await startVigil(cfgA, logs ? { logFile: `${logs}/${input}-a.log` } : {});
    running.push(a);
    const b = await startVigil(cfgB, logs ? { logFile: `${logs}/${input}-b.log` } : {});
    running.push(b);
    expect(await servingVersion(ports.a)).toBe('reg-v1');
    expect(await servingVersion(ports.b)).toBe('reg-v1');

    // Records keep arriving through the promotion: the swap happens while both replicas consume.
    const feed = producePaced(kafka, input, messages.slice(0, 6000), { chunk: 100, intervalMs: 100 });
    await a.whileRunning(
      waitForProgress(kafka, groupId, input, 'a first share committed', (p) => p.committed >= 1500, 90_000),
    );
    const promotedAt = Date.now();
    await models(cfgB, ['publish', v2.dir, '--as', 'reg-v2', '--promote', '--reason', 'test swap']);
    await until('both replicas to serve reg-v2', async () => {
      return (await servingVersion(ports.a)) === 'reg-v2' && (await servingVersion(ports.b)) === 'reg-v2';
    });
    const swapSeconds = (Date.now() - promotedAt) / 1000;
    expect(await metric(ports.a, 'vigil_model_swaps_total')).toBe(1);
    expect(await metric(ports.b, 'vigil_model_swaps_total')).toBe(1);
    await a.waitForLog((l) => l.msg === 'previous model disposed' && l['version'] === 'reg-v1');
    await b.waitForLog((l) => l.msg === 'previous model disposed' && l['version'] === 'reg-v1');

    // A replica started after the promotion serves it from the start (no swap).
    const c = await startVigil(cfgC, logs ? { logFile: `${logs}/${input}-c.log` } : {});
    running.push(c);
    expect(await servingVersion(ports.c)).toBe('reg-v2');
    expect(await metric(ports.c, 'vigil_model_swaps_total')).toBe(0);
    await feed.done;

    // A corrupted chunk and a truncated artifact, each promoted: refused everywhere, reg-v2 keeps serving.
    const t = createTransport('kafkajs', plaintextOptions(), silentLogger());
    const reg = new ModelRegistry(t, { topic: registryTopic, chunkBytes: 512 * 1024 }, silentLogger());
    const writer = t.producer();
    try {
      await writer.connect();
      const corrupted = await reg.publish(v1.dir, { version: 'reg-corrupted' });
      const original = await reg.load(corrupted);
      const flipped = Buffer.from(original.bundle.subarray(0, Math.min(512 * 1024, original.bundle.length)));
      flipped[100] = flipped[100]! ^ 0x01;
      await writer.send([{ topic: registryTopic, key: chunkKey(corrupted, 0), value: flipped }]);
      await reg.setStatus(corrupted, 'promoted', 'test: corrupted');
      await until(
        'the corrupted version to be refused',
        async () =>
          (await metric(ports.a, 'vigil_model_refusals_total', 'reason="digest"')) === 1 &&
          (await metric(ports.b, 'vigil_model_refusals_total', 'reason="digest"')) === 1 &&
          (await metric(ports.c, 'vigil_model_refusals_total', 'reason="digest"')) === 1,
      );
      const truncated = await reg.publish(v1.dir, { version: 'reg-truncated' });
      const chunks = (await reg.list()).find((e) => e.version === truncated)!.manifest.chunks;
      await writer.send([{ topic: registryTopic, key: chunkKey(truncated, chunks - 1), value: null }]);
      await reg.setStatus(truncated, 'promoted', 'test: truncated');
      await until(
        'the truncated version to be refused',
        async () =>
          (await metric(ports.a, 'vigil_model_refusals_total', 'reason="truncated"')) === 1 &&
          (await metric(ports.b, 'vigil_model_refusals_total', 'reason="truncated"')) === 1 &&
          (await metric(ports.c, 'vigil_model_refusals_total', 'reason="truncated"')) === 1,
      );
    } finally {
      await writer.close();
      await reg.close();
      await t.close();
    }
    for (const p of [a, b, c]) {
      const refusal = await p.waitForLog(
        (l) =>
          l.msg === 'model version refused: the current model keeps serving' &&
          l['version'] === 'reg-truncated',
      );
      expect(refusal).toMatchObject({ reason: 'truncated', serving: 'reg-v2' });
      expect(p.logs().some((l) => l['version'] === 'reg-corrupted' && l['reason'] === 'digest')).toBe(true);
    }
    for (const port of [ports.a, ports.b, ports.c]) {
      expect(await servingVersion(port)).toBe('reg-v2');
      expect(await metric(port, 'vigil_model_swaps_total')).toBe(port === ports.c ? 0 : 1);
    }

    // The rest of the stream after the refusals: scored, by reg-v2.
    const rest = producePaced(kafka, input, messages.slice(6000), { chunk: 200, intervalMs: 50 });
    await rest.done;
    await a.whileRunning(
      waitForProgress(
        kafka,
        groupId,
        input,
        'every input record committed',
        (p) => p.high === messages.length && p.caughtUp,
        120_000,
      ),
    );
    for (const p of [a, b, c]) expect((await p.stop()).code, p.tail()).toBe(0);

    // Per partition, by offset: each input record scored once, by v1 up to a point and by v2 after it.
    const scored = await readTopic(kafka, scores, { isolation: 'read_committed' });
    const byPartition = new Map<number, Map<number, string[]>>();
    for (const s of scored) {
      const body = JSON.parse(s.value!.toString('utf8')) as {
        partition: number;
        offset: number;
        model: string;
      };
      const offsets = byPartition.get(body.partition) ?? new Map<number, string[]>();
      byPartition.set(body.partition, offsets);
      offsets.set(body.offset, [...(offsets.get(body.offset) ?? []), body.model]);
    }
    const inputRecords = await readTopic(kafka, input);
    expect(inputRecords).toHaveLength(messages.length);
    const lost: string[] = [];
    const twice: string[] = [];
    const switches: Record<number, number> = {};
    for (const r of inputRecords) {
      const got = byPartition.get(r.partition)?.get(Number(r.offset));
      if (got === undefined) lost.push(`${r.partition}@${r.offset}`);
      else if (got.length > 1) twice.push(`${r.partition}@${r.offset}`);
    }
    for (const [partition, offsets] of byPartition) {
      const ordered = [...offsets.entries()].sort((x, y) => x[0] - y[0]).map(([, m]) => m[0]!);
      const firstV2 = ordered.indexOf('v2');
      expect(firstV2, `partition ${partition} never scored by v2`).toBeGreaterThan(0);
      expect(ordered.slice(0, firstV2).every((m) => m === 'v1')).toBe(true);
      expect(
        ordered.slice(firstV2).every((m) => m === 'v2'),
        `partition ${partition} went back to v1`,
      ).toBe(true);
      switches[partition] = firstV2;
    }
    console.info(
      `[registry serving] ${messages.length} records, 3 partitions; both replicas on reg-v2 ${swapSeconds.toFixed(1)} s ` +
        `after 'vigil models publish --promote' was spawned (its own tsx start included); first v2 offset per partition ${JSON.stringify(switches)}; ` +
        `lost ${lost.length}, scored twice ${twice.length}`,
    );
    expect(lost).toEqual([]);
    expect(twice).toEqual([]);
  }, 600_000);
});
