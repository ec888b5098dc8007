// Vigil's wire formats, checked with clients nobody here wrote: Debian's python3-confluent-kafka (librdkafka) with
// the Apache Avro library, and kcat. Python registers the sensor schema and writes Confluent-framed readings
// into Vigil's input topic; Vigil scores them; Python reads Vigil's anomaly events back through the registry
// (schema by id), decodes them and recomputes every event id; kcat writes two non-Avro records and reads the
// dead-letter topic's headers. Skipped, with the reason, only where the tools cannot be installed.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Service, startService } from '../../../cli/compose.js';
import { validateConfig } from '../../../core/config/load.js';
import { schemaPath } from '../../../schemas/catalog.js';
import type { AnomalyEvent } from '../../../schemas/types.js';
import { brokers, registryUrl, uniqueName } from '../../support/kafka.js';
import { type SensorArtifact, sensorArtifact, sensorStream } from '../../support/model-artifact.js';
import { REPO_ROOT } from '../../support/services.js';
import { client, createTopics, deleteTopics, testLogger, waitForProgress } from '../pipeline/robustness.js';

// Debian's python3 packages land in /usr/bin/python3, which a pyenv or venv python3 on PATH does not see.
const PYTHON = '/usr/bin/python3';
const HERE = path.join(REPO_ROOT, 'test/integration/interop');

function missingTools(): string[] {
  const missing: string[] = [];
  if (spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status !== 0) missing.push('kcat');
  const py = spawnSync(
    PYTHON,
    ['-c', 'import avro.io, requests\nfrom confluent_kafka.schema_registry import SchemaRegistryClient'],
    { stdio: 'ignore' },
  );
  if (py.status !== 0) missing.push('python3-confluent-kafka, python3-avro, python3-requests');
  return missing;
}

const missing = (() => {
  if (missingTools().length === 0) return [];
  // Installs what it can (root or passwordless sudo, and a network), says what it could not, never fails.
  spawnSync('bash', [path.join(REPO_ROOT, 'scripts/lib/ensure-system-deps.sh')], {
    stdio: 'inherit',
    timeout: 600_000,
  });
  return missingTools();
})();

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], stdin = '', timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

interface PythonEvent {
  schema_id: number;
  partition: number;
  offset: number;
  key: string | null;
  headers: Record<string, string>;
  recomputed_event_id: string;
  event: Omit<AnomalyEvent, 'key'> & { key: string | null };
}

let artifact: SensorArtifact;
beforeAll(async () => {
  if (missing.length === 0) artifact = await sensorArtifact();
}, 180_000);

const kafka = client();
const topics: string[] = [];
let service: Service | undefined;
afterAll(async () => {
  await service?.stop().catch(() => {});
  await deleteTopics(kafka, topics);
});

const skipReason = missing.length > 0 ? ` (skipped: cannot install ${missing.join(', ')})` : '';

describe('wire formats through foreign clients', () => {
  it.skipIf(missing.length > 0)(
    `python writes Confluent-framed Avro, vigil scores it, python decodes vigil's events via the registry, kcat reads dead-letter headers${skipReason}`,
    async () => {
      const bootstrap = brokers()[0]!;
      const input = uniqueName('interop-in');
      const anomalies = uniqueName('interop-anom');
      const dlq = uniqueName('interop-dlq');
      const groupId = uniqueName('interop-group');
      topics.push(input, anomalies, dlq);
      await createTopics(kafka, { [input]: 3, [anomalies]: 1, [dlq]: 1 });

      const events: AnomalyEvent[] = [];
      service = await startService(
        validateConfig({
          kafka: {
            brokers: brokers(),
            clientId: 'vigil-interop',
            groupId,
            consumer: { autoOffsetReset: 'earliest' },
          },
          input: {
            topics: [input],
            format: 'confluent',
            schema: schemaPath('sensor_reading'),
            registry: { url: registryUrl() },
          },
          features: { preset: 'sensor-reading', temporal: { enabled: false } },
          model: { artifact: artifact.dir },
          output: { anomaliesTopic: anomalies, deadLetterTopic: dlq },
          metrics: { enabled: false },
        }),
        testLogger('interop'),
        { onAnomaly: (e) => events.push(e) },
      );

      // (a) Python writes the readings: registry + Apache Avro + Confluent framing + librdkafka.
      const readings = sensorStream(1500, { streamSeed: 61, anomalyRate: 0.03 }).map((l) => l.record);
      const produced = await run(
        PYTHON,
        [
          path.join(HERE, 'sensor_producer.py'),
          '--bootstrap',
          bootstrap,
          '--registry',
          registryUrl(),
          '--topic',
          input,
          '--schema',
          schemaPath('sensor_reading'),
        ],
        `${readings.map((r) => JSON.stringify(r)).join('\n')}\n`,
      );
      expect(produced.code, produced.stderr).toBe(0);
      expect(JSON.parse(produced.stdout)).toMatchObject({ produced: readings.length });

      // kcat writes two records that are not Avro at all.
      const poison = await run(
        'kcat',
        ['-P', '-b', bootstrap, '-t', input, '-K', ':'],
        'kcat-1:plain text\nkcat-2:{"json":1}\n',
      );
      expect(poison.code, poison.stderr).toBe(0);

      const total = readings.length + 2;
      await waitForProgress(
        kafka,
        groupId,
        input,
        'vigil to commit the whole topic',
        (p) => p.high === total && p.caughtUp,
      );
      const stats = { ...service.pipeline.stats };
      await service.stop();
      service = undefined;
      // Every record Python wrote was decoded and scored; only kcat's two were refused.
      expect(stats.scored).toBe(readings.length);
      expect(stats.deadLettered).toBe(2);
      expect(events.length).toBeGreaterThan(0);

      // (b) Python reads the anomaly events: schema fetched by id from the registry, Apache Avro decoding.
      const read = await run(PYTHON, [
        path.join(HERE, 'anomaly_reader.py'),
        '--bootstrap',
        bootstrap,
        '--registry',
        registryUrl(),
        '--topic',
        anomalies,
        '--group',
        uniqueName('interop-reader'),
      ]);
      expect(read.code, read.stderr).toBe(0);
      const seen = read.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as PythonEvent);
      expect(seen).toHaveLength(events.length);
      const byId = new Map(events.map((e) => [e.event_id, e]));
      for (const p of seen) {
        const mine = byId.get(p.event.event_id);
        expect(mine, p.event.event_id).toBeDefined();
        // Anyone can recompute the id from the event's coordinates with a standard UUIDv5.
        expect(p.recomputed_event_id).toBe(p.event.event_id);
        expect(p.headers['vigil.event_id']).toBe(p.event.event_id);
        expect(p.event.source).toEqual(mine!.source);
        expect(p.event.entity).toBe(mine!.entity);
        expect(p.event.event_time).toBe(mine!.event_time);
        expect(p.event.detected_at).toBe(mine!.detected_at);
        expect(p.event.score).toBe(mine!.score);
        expect(p.event.threshold).toBe(mine!.threshold);
        expect(p.event.severity).toBe(mine!.severity);
        expect(p.event.model).toEqual(mine!.model);
        expect(p.event.contributions).toEqual(mine!.contributions);
        expect(Buffer.from(p.event.key!, 'base64').toString()).toBe(mine!.key!.toString());
        expect(p.key).toBe(mine!.key!.toString());
      }
      // The reading's own event time came through Python's encoder and Vigil's decoder unchanged.
      const times = new Set(readings.map((r) => `${r.device_id}@${r.event_time}`));
      for (const p of seen) expect(times.has(`${p.event.entity}@${p.event.event_time}`)).toBe(true);

      // (c) kcat reads the dead-letter topic's headers.
      const letters = await run('kcat', [
        '-C',
        '-b',
        bootstrap,
        '-t',
        dlq,
        '-o',
        'beginning',
        '-e',
        '-q',
        '-f',
        '%k\t%h\n',
      ]);
      expect(letters.code, letters.stderr).toBe(0);
      const lines = letters.stdout.trim().split('\n');
      expect(lines).toHaveLength(2);
      const headersByKey = new Map(
        lines.map((line) => {
          const [key, headers] = line.split('\t') as [string, string];
          return [key, Object.fromEntries(headers.split(',').map((kv) => kv.split('=') as [string, string]))];
        }),
      );
      for (const key of ['kcat-1', 'kcat-2']) {
        const h = headersByKey.get(key);
        expect(h, key).toBeDefined();
        expect(h).toMatchObject({
          'vigil.reason': 'DECODE_FAILED',
          'vigil.stage': 'decode',
          'vigil.source.topic': input,
        });
        expect(Number(h!['vigil.source.offset'])).toBeGreaterThanOrEqual(0);
      }
      console.info(
        `[interop] python wrote ${readings.length} readings, vigil scored ${stats.scored} and emitted ${events.length} anomalies; ` +
          `python decoded ${seen.length}; kcat saw ${lines.length} dead letters`,
      );
    },
    120_000,
  );
});
