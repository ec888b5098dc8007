// `vigil run` as a process, started in ways that cannot work: each must release what it started and exit
// non-zero within 10 s, with one line that names the problem (`vigil: CODE: …`), instead of hanging on with
// /healthz answering "ok". The 10 s bound is the brief's contract for an operator, not a performance figure.
import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaPath } from '../../../schemas/catalog.js';
import { brokers, createTopic, deleteTopic, uniqueName } from '../../support/kafka.js';
import { type SensorArtifact, sensorArtifact } from '../../support/model-artifact.js';
import { removeVigilConfigs, spawnVigil, writeVigilConfig } from '../../support/vigil-process.js';

const EXIT_WITHIN_MS = 10_000;

let artifact: SensorArtifact;
const topics: string[] = [];
beforeAll(async () => {
  artifact = await sensorArtifact();
}, 180_000);
afterAll(async () => {
  removeVigilConfigs();
  for (const t of topics) await deleteTopic(t).catch(() => {});
});

type Transport = 'kafkajs' | 'rdkafka';

function baseConfig(
  transport: Transport,
  overrides: {
    kafka?: Record<string, unknown>;
    model?: Record<string, unknown>;
    input?: Record<string, unknown>;
  } = {},
) {
  return {
    kafka: { brokers: brokers(), transport, groupId: uniqueName('startup-group'), ...overrides.kafka },
    input: {
      topics: [uniqueName('startup-in')],
      format: 'avro',
      schema: schemaPath('sensor_reading'),
      ...overrides.input,
    },
    features: { preset: 'sensor-reading', temporal: { enabled: false } },
    model: { artifact: artifact.dir, ...overrides.model },
    output: { anomaliesTopic: uniqueName('startup-anom'), deadLetterTopic: uniqueName('startup-dlq') },
    metrics: { enabled: false },
  };
}

/** Runs `vigil run`, waits at most EXIT_WITHIN_MS for it to exit; returns its exit and its `vigil: ` lines. */
async function runToExit(config: Record<string, unknown>) {
  const vigil = spawnVigil(['run', '--config', await writeVigilConfig(config)]);
  const started = Date.now();
  const timer = setTimeout(() => void vigil.kill(), EXIT_WITHIN_MS);
  const exit = await vigil.exited;
  clearTimeout(timer);
  const elapsedMs = Date.now() - started;
  const lines = vigil
    .output()
    .split('\n')
    .filter((l) => l.startsWith('vigil: '));
  console.info(`[start-up failure] exit ${exit.code} after ${elapsedMs} ms: ${lines.join(' | ')}`);
  return { exit, lines, output: vigil.output() };
}

function expectOneLine(r: Awaited<ReturnType<typeof runToExit>>, pattern: RegExp) {
  expect(r.exit.signal, `not exited within ${EXIT_WITHIN_MS} ms:\n${r.output.slice(-3000)}`).toBeNull();
  expect(r.exit.code).not.toBe(0);
  expect(r.lines, r.output.slice(-3000)).toHaveLength(1);
  expect(r.lines[0]).toMatch(pattern);
}

describe.each<Transport>(['kafkajs', 'rdkafka'])(
  'vigil run on %s exits non-zero within 10 s with one clear line when it cannot start',
  (transport) => {
    it('invalid config: one line, then the problem naming the key', async () => {
      const config = baseConfig(transport);
      const r = await runToExit({ ...config, batching: { maxRecords: -5 } });
      expectOneLine(r, /^vigil: CONFIG_INVALID: invalid configuration in .*vigil\.yaml \(1 problem\):$/);
      expect(r.output).toMatch(/batching\.maxRecords/);
    });

    it('a model artifact that fails its checks (a corrupted weights file)', async () => {
      const dir = path.join(await mkdtemp(path.join(tmpdir(), 'vigil-bad-model-')), 'model');
      cpSync(artifact.dir, dir, { recursive: true });
      const largest = readdirSync(dir)
        .map((f) => path.join(dir, f))
        .filter((f) => statSync(f).isFile())
        .sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
      const bytes = readFileSync(largest);
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      writeFileSync(largest, bytes);
      const r = await runToExit(baseConfig(transport, { model: { artifact: dir } }));
      expectOneLine(r, /^vigil: MODEL_INVALID: /);
    });

    it('a missing input topic: named, not "This server does not host this topic-partition"', async () => {
      const config = baseConfig(transport);
      const r = await runToExit(config);
      expectOneLine(
        r,
        new RegExp(`^vigil: TOPIC_NOT_FOUND: input\\.topics: "${config.input.topics[0]}" does not exist`),
      );
    });

    it('an unreachable broker', async () => {
      const input = uniqueName('startup-in');
      topics.push(input);
      await createTopic(input, 1);
      // Port 1 on loopback: nothing listens, connections are refused.
      const r = await runToExit(
        baseConfig(transport, { kafka: { brokers: ['127.0.0.1:1'] }, input: { topics: [input] } }),
      );
      expectOneLine(r, /^vigil: BROKER_UNAVAILABLE: /);
    });

    it('output topics missing while output.createTopics.enabled is false: named, nothing created', async () => {
      const input = uniqueName('startup-in');
      topics.push(input);
      await createTopic(input, 1);
      const config = baseConfig(transport, { input: { topics: [input] } });
      const r = await runToExit({
        ...config,
        output: { ...config.output, createTopics: { enabled: false } },
      });
      expectOneLine(
        r,
        new RegExp(
          `^vigil: TOPIC_NOT_FOUND: output\\.anomaliesTopic "${config.output.anomaliesTopic}", output\\.deadLetterTopic`,
        ),
      );
    });
  },
);
