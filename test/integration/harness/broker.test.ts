// The harness itself: the resolved broker carries messages, KAFKA_BROKERS is obeyed as given, and
// deploy/kafka/kafkactl.sh behaves (status, idempotent start, port-taken refusal).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { logLevel } from 'kafkajs';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  brokerSource,
  brokers,
  createTopic,
  deleteTopic,
  kafkajsClient,
  kafkajsSaslClient,
  localBroker,
  registryUrl,
  saslSsl,
  uniqueName,
} from '../../support/kafka.js';
import { KAFKACTL, REPO_ROOT, runCtl } from '../../support/services.js';

const execFileAsync = promisify(execFile);
const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function roundTrip(
  client: ReturnType<typeof kafkajsClient>,
  topic: string,
  values: string[],
): Promise<string[]> {
  const producer = client.producer();
  await producer.connect();
  try {
    // One key, so one partition, so the order is defined.
    await producer.send({ topic, messages: values.map((value) => ({ key: 'k', value })) });
  } finally {
    await producer.disconnect();
  }
  const consumer = client.consumer({ groupId: uniqueName('it-group') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`got ${received.length}/${values.length} messages in 30 s`)),
        30_000,
      );
      consumer
        .run({
          eachMessage: async ({ message }) => {
            received.push(message.value?.toString() ?? '');
            if (received.length >= values.length) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    return received;
  } finally {
    await consumer.disconnect();
  }
}

describe('resolved broker', () => {
  it('produces and consumes through a fresh topic and group', async () => {
    const topic = uniqueName('it-harness');
    await createTopic(topic, 3);
    try {
      const values = ['one', 'two', 'three'].map((v) => `${v}-${topic}`);
      expect(await roundTrip(kafkajsClient(), topic, values)).toEqual(values);
      const admin = kafkajsClient().admin();
      await admin.connect();
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      await admin.disconnect();
      expect(meta.topics[0]?.partitions).toHaveLength(3);
    } finally {
      await deleteTopic(topic);
    }
  });
});

describe('KAFKA_BROKERS', () => {
  it('is used as spelled and starts neither a broker nor a registry', async () => {
    const [first] = brokers();
    const port = first!.slice(first!.lastIndexOf(':') + 1);
    // Another spelling of the running broker: a harness that ignored or rewrote the list would either start a
    // broker of its own (in the decoy state dir, on the decoy port) or hand back 127.0.0.1.
    const external = `localhost:${port}`;
    const decoyState = tempDir('vigil-decoy-kafka-');
    const decoyRegistryState = tempDir('vigil-decoy-registry-');
    const decoyPort = await freePort();
    const registryDecoyPort = await freePort();
    let registry: string;
    try {
      registry = registryUrl();
    } catch {
      registry = 'http://127.0.0.1:1/apis/ccompat/v7';
    }

    const { stdout } = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'test/integration/harness/fixtures/run-global-setup.ts')],
      {
        cwd: REPO_ROOT,
        timeout: 60_000,
        env: {
          ...process.env,
          KAFKA_BROKERS: external,
          KAFKA_PORT: String(decoyPort),
          KAFKA_STATE_DIR: decoyState,
          REGISTRY_URL: registry,
          REGISTRY_PORT: String(registryDecoyPort),
          REGISTRY_STATE_DIR: decoyRegistryState,
          VIGIL_TEST_BROKER: '',
        },
      },
    );
    const provided = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(provided.vigilKafka).toEqual({ brokers: [external], source: 'env', local: null, saslSsl: null });
    expect(provided.vigilRegistry).toMatchObject({ url: registry, source: 'env' });
    expect(readdirSync(decoyState)).toEqual([]);
    expect(readdirSync(decoyRegistryState)).toEqual([]);

    // And the list it handed back reaches the same cluster the rest of the run uses.
    const viaExternal = kafkajsClient(undefined, { brokers: provided.vigilKafka.brokers }).admin();
    const viaResolved = kafkajsClient().admin();
    await Promise.all([viaExternal.connect(), viaResolved.connect()]);
    try {
      const [a, b] = await Promise.all([viaExternal.describeCluster(), viaResolved.describeCluster()]);
      expect(a.clusterId).toBe(b.clusterId);
    } finally {
      await Promise.all([viaExternal.disconnect(), viaResolved.disconnect()]);
    }
  });
});

describe('kafkactl.sh', () => {
  it('refuses to start on a port something else holds, in one line, without launching', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const state = tempDir('vigil-kafka-taken-');
    try {
      const result = await runCtl(KAFKACTL, ['start'], {
        ...process.env,
        KAFKA_PORT: String(port),
        KAFKA_STATE_DIR: state,
        KAFKA_SECURITY: 'plaintext',
      });
      expect(result.code).not.toBe(0);
      expect(result.stdout).toBe('');
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(
          `^kafkactl: port ${port} on 127\\.0\\.0\\.1 is already in use by pid ${process.pid} \\(node\\)`,
        ),
      );
      expect(existsSync(path.join(state, 'kafka.pid'))).toBe(false);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  describe('against the local broker', () => {
    beforeEach((ctx) => {
      ctx.skip(brokerSource() !== 'local', `the broker comes from ${brokerSource()}, not kafkactl.sh`);
    });
    const env = () => {
      const local = localBroker()!;
      return { ...process.env, KAFKA_PORT: String(local.port), KAFKA_STATE_DIR: local.stateDir };
    };

    it('status reports it running and answering', async () => {
      const local = localBroker()!;
      const result = await runCtl(KAFKACTL, ['status'], env());
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(
        new RegExp(`running \\(pid ${local.pid}.*answering on 127\\.0\\.0\\.1:${local.port}`),
      );
      expect(result.stdout).toContain(`KAFKA_BOOTSTRAP=127.0.0.1:${local.port}\n`);
      expect(result.stdout).toContain(`KAFKA_PID=${local.pid}\n`);
    });

    it('start again is a no-op success that keeps the same process', async () => {
      const local = localBroker()!;
      const autoStop = path.join(local.stateDir, 'auto-stop');
      const harnessOwned = existsSync(autoStop);
      try {
        const result = await runCtl(KAFKACTL, ['start'], env());
        expect(result.code).toBe(0);
        expect(result.stderr).toMatch(/already running/);
        expect(result.stdout).toContain('KAFKA_STARTED=0\n');
        expect(result.stdout).toContain(`KAFKA_PID=${local.pid}\n`);
      } finally {
        // A manual start adopts the broker (drops auto-stop); give it back to the harness that started it.
        if (harnessOwned) await execFileAsync('touch', [autoStop]);
      }
    });

    it('refuses a second broker on the occupied port with the port-taken line', async () => {
      const local = localBroker()!;
      const state = tempDir('vigil-kafka-second-');
      const result = await runCtl(KAFKACTL, ['start'], {
        ...process.env,
        KAFKA_PORT: String(local.port),
        KAFKA_STATE_DIR: state,
        KAFKA_SECURITY: 'plaintext',
      });
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(
          `^kafkactl: port ${local.port} on 127\\.0\\.0\\.1 is already in use by pid ${local.pid} \\(java\\)`,
        ),
      );
      expect(existsSync(path.join(state, 'kafka.pid'))).toBe(false);
    });
  });
});

describe('SASL_SSL listener', () => {
  beforeEach((ctx) => {
    ctx.skip(
      !saslSsl(),
      'the broker has no SASL_SSL listener (it is not the local one, or was already running plaintext)',
    );
  });
  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
    it(`carries messages with SASL ${mechanism} over TLS`, async () => {
      const topic = uniqueName(`it-sasl-${mechanism}`);
      await createTopic(topic, 1);
      try {
        const values = [`hello-${mechanism}`];
        expect(await roundTrip(kafkajsSaslClient(mechanism), topic, values)).toEqual(values);
      } finally {
        await deleteTopic(topic);
      }
    });
  }

  it('rejects a wrong SCRAM password', async () => {
    const info = saslSsl()!;
    const admin = kafkajsSaslClient('scram-sha-512', {
      sasl: { mechanism: 'scram-sha-512', username: info.username, password: 'not-the-password' },
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    }).admin();
    await expect(admin.connect()).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);
    await admin.disconnect();
  });

  it('is real TLS: a client that does not trust the CA is refused', async () => {
    const admin = kafkajsSaslClient('plain', {
      ssl: true,
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    }).admin();
    await expect(admin.connect()).rejects.toThrow(/self[- ]signed|certificate/i);
    await admin.disconnect();
  });
});
