// /healthz and /readyz tell the truth: two instances in one group over a one-partition topic. The one that owns
// the partition is ready; the other is live but not ready (nothing assigned), until the first leaves and the
// partition comes to it. After stop() nothing answers.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Service, startService } from '../../../cli/compose.js';
import { validateConfig } from '../../../core/config/load.js';
import { schemaPath } from '../../../schemas/catalog.js';
import { brokers, createTopic, deleteTopic, uniqueName } from '../../support/kafka.js';
import { type SensorArtifact, sensorArtifact } from '../../support/model-artifact.js';
import {
  removeVigilConfigs,
  spawnVigil,
  startVigil,
  type VigilProcess,
  writeVigilConfig,
} from '../../support/vigil-process.js';
import { testLogger } from '../pipeline/robustness.js';

let artifact: SensorArtifact;
const input = uniqueName('health-in');
const anomalies = uniqueName('health-anom');
const dlq = uniqueName('health-dlq');
const services: Service[] = [];
const processes: VigilProcess[] = [];
beforeAll(async () => {
  artifact = await sensorArtifact();
  await createTopic(input, 1);
}, 180_000);
afterAll(async () => {
  for (const s of services) await s.stop().catch(() => {});
  for (const p of processes) await p.kill();
  removeVigilConfigs();
  for (const t of [input, anomalies, dlq]) await deleteTopic(t).catch(() => {});
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: (await res.text()).trim() };
}

/** Polls until `path` answers `status` (state changes with the group, not at once); returns the answer. */
async function until(port: number, path: string, status: number, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await get(port, path);
    if (r.status === status) return r;
    if (Date.now() > deadline) throw new Error(`${path} on :${port} still answers ${r.status} ${r.body}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function start(name: string, groupId: string): Promise<{ service: Service; port: number }> {
  const port = await freePort();
  const config = validateConfig({
    kafka: {
      brokers: brokers(),
      clientId: name,
      groupId,
      consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000, rebalanceTimeoutMs: 10_000 },
    },
    input: { topics: [input], format: 'avro', schema: schemaPath('sensor_reading') },
    features: { preset: 'sensor-reading', temporal: { enabled: false } },
    model: { artifact: artifact.dir },
    output: { anomaliesTopic: anomalies, deadLetterTopic: dlq },
    metrics: { enabled: true, host: '127.0.0.1', port },
  });
  const service = await startService(config, testLogger(name));
  services.push(service);
  return { service, port };
}

describe('health endpoints', () => {
  it('/readyz is 200 only with partitions assigned; /healthz is 200 while live', async () => {
    const groupId = uniqueName('health-group');
    const a = await start('health-a', groupId);
    expect(await until(a.port, '/readyz', 200)).toEqual({ status: 200, body: '1 partitions assigned' });
    expect(await get(a.port, '/healthz')).toEqual({ status: 200, body: 'ok' });

    const b = await start('health-b', groupId);
    // b joins; the group settles with the one partition on one of them, and the other has none.
    const owner = await until(b.port, '/readyz', 503).then(async (r) => {
      expect(r.body).toMatch(/^no partitions assigned|^starting/);
      return (await get(a.port, '/readyz')).status === 200 ? a : b;
    });
    const other = owner === a ? b : a;
    await until(owner.port, '/readyz', 200);
    expect(await until(other.port, '/readyz', 503)).toEqual({
      status: 503,
      body: 'no partitions assigned (joining the group)',
    });
    expect(await get(other.port, '/healthz')).toEqual({ status: 200, body: 'ok' });

    await owner.service.stop();
    await expect(get(owner.port, '/healthz')).rejects.toThrow();
    expect(await until(other.port, '/readyz', 200)).toEqual({ status: 200, body: '1 partitions assigned' });
    await other.service.stop();
  }, 120_000);

  it('after a kill -9, the restarted instance says why it waits for its partitions', async () => {
    const groupId = uniqueName('health-kill-group');
    const sessionTimeoutMs = 20_000;
    const config = await writeVigilConfig({
      kafka: {
        brokers: brokers(),
        clientId: 'health-killed',
        groupId,
        // Long enough that the restart surely joins while the killed member still holds the partition.
        consumer: { sessionTimeoutMs, heartbeatIntervalMs: 2_000, rebalanceTimeoutMs: sessionTimeoutMs },
      },
      input: { topics: [input], format: 'avro', schema: schemaPath('sensor_reading') },
      features: { preset: 'sensor-reading', temporal: { enabled: false } },
      model: { artifact: artifact.dir },
      output: { anomaliesTopic: anomalies, deadLetterTopic: dlq },
      metrics: { enabled: false },
    });
    const first = await startVigil(config);
    processes.push(first);
    await first.kill();
    const second = spawnVigil(['run', '--config', config]);
    processes.push(second);
    const why = await second.waitForLog((l) => l.msg?.startsWith('no partitions assigned yet') === true);
    expect(why).toMatchObject({ groupId, sessionTimeoutMs });
    expect(why.msg).toMatch(/died without leaving \(kill -9/);
    await second.waitForLog('partitions assigned');
    await second.waitForLog('vigil is running');
    expect((await second.stop()).code).toBe(0);
  }, 120_000);
});
