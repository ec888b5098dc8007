// Cold start on the real broker: `vigil run` with an empty registry and model.registry.coldStart.mode train, on
// an input topic that already holds history, trains a first model from the retained records, publishes and
// promotes it, and detects: the history holds 2 % injected anomalies and no labels, and coldStart.contamination
// (its default) trims them out of the refit and the calibration, so most are flagged and few normal readings are.
// The time from spawn to consuming is printed (bench/RESULTS.md records it); it is bounded only by the
// generous waits below (they guard against a hang, not a slowdown). 10,000 records by default: one fit of
// 20,000 took 154 s at load 12-24 on the shared machine, and a trimmed cold start fits twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchema, schemaPath } from '../../../schemas/catalog.js';
import { brokers, deleteTopic, uniqueName } from '../../support/kafka.js';
import { sensorStream } from '../../support/model-artifact.js';
import {
  removeVigilConfigs,
  spawnVigil,
  type VigilProcess,
  writeVigilConfig,
} from '../../support/vigil-process.js';
import { client, createTopics, deleteTopics, readTopic, waitForProgress } from '../pipeline/robustness.js';

const sensorType = loadSchema('sensor_reading');
const HISTORY = Number(process.env.VIGIL_COLD_START_RECORDS ?? 10_000);

const running: VigilProcess[] = [];
afterAll(async () => {
  for (const p of running) await p.kill();
  removeVigilConfigs();
});

describe('cold start from the input topic history', () => {
  const input = uniqueName('cold-in');
  const anomalies = uniqueName('cold-anom');
  const dlq = uniqueName('cold-dlq');
  const scores = uniqueName('cold-scores');
  const registryTopic = uniqueName('cold-models');
  const groupId = uniqueName('cold-group');
  const kafka = client();

  beforeAll(async () => {
    await createTopics(kafka, { [input]: 3, [anomalies]: 3, [dlq]: 1, [scores]: 3 });
  });
  afterAll(async () => {
    await deleteTopics(kafka, [input, anomalies, dlq, scores]);
    await deleteTopic(registryTopic).catch(() => {});
  });

  it('trains, promotes and serves a first model from retained records, and flags the injected anomalies', async () => {
    const labelled = sensorStream(HISTORY, { streamSeed: 41, anomalyRate: 0.02 });
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < labelled.length; i += 1000) {
      await producer.send({
        topic: input,
        messages: labelled.slice(i, i + 1000).map(({ record }) => ({
          key: record.device_id,
          value: sensorType.toBuffer(record),
        })),
      });
    }
    await producer.disconnect();

    const configPath = await writeVigilConfig({
      kafka: {
        transport: 'kafkajs',
        brokers: brokers(),
        clientId: 'vigil-cold',
        groupId,
        consumer: { autoOffsetReset: 'earliest' },
      },
      input: { topics: [input], format: 'avro', schema: schemaPath('sensor_reading') },
      features: { preset: 'sensor-reading', temporal: { enabled: false } },
      model: {
        registry: { topic: registryTopic, coldStart: { mode: 'train', maxRecords: HISTORY, seed: 7 } },
      },
      output: { anomaliesTopic: anomalies, deadLetterTopic: dlq, scoresTopic: scores },
      batching: { maxRecords: 500, lingerMs: 20 },
      metrics: { enabled: false },
      logging: { level: 'info' },
    });
    const logs = process.env.VIGIL_TEST_KEEP_LOGS;
    const t0 = Date.now();
    // Not startVigil: the cold start's own training read logs 'partitions assigned' (its group) before serving.
    const vigil = spawnVigil(
      ['run', '--config', configPath],
      logs ? { logFile: `${logs}/${input}.log` } : {},
    );
    running.push(vigil);
    const promoted = await vigil.waitForLog('cold start: first model published and promoted', 540_000);
    await vigil.waitForLog('vigil is running', 120_000);
    const readySeconds = (Date.now() - t0) / 1000;
    const read = await vigil.waitForLog('cold start: training rows read');
    expect(read['rows']).toBeGreaterThan(HISTORY * 0.9);
    await vigil.whileRunning(
      waitForProgress(
        kafka,
        groupId,
        input,
        'every history record committed',
        (p) => p.high === HISTORY && p.caughtUp,
        300_000,
      ),
    );
    const detectingSeconds = (Date.now() - t0) / 1000;
    expect((await vigil.stop()).code, vigil.tail()).toBe(0);

    const scored = await readTopic(kafka, scores);
    const inputRecords = await readTopic(kafka, input);
    const seqOf = new Map(inputRecords.map((r, i) => [`${r.partition}@${r.offset}`, i]));
    // Input order per key is kept, not across partitions: match scores to truth by the record id instead.
    const truthById = new Map(labelled.map(({ truth }) => [truth.id, truth]));
    const idAt = new Map(
      inputRecords.map((r) => {
        const rec = sensorType.fromBuffer(r.value!) as { device_id: string; event_time: number | Date };
        return [`${r.partition}@${r.offset}`, `${rec.device_id}@${Number(rec.event_time)}`];
      }),
    );
    let flaggedAnomalous = 0;
    let anomalous = 0;
    let flaggedNormal = 0;
    let normal = 0;
    const byKind = new Map<string, { flagged: number; of: number }>();
    for (const s of scored) {
      const body = JSON.parse(s.value!.toString('utf8')) as {
        partition: number;
        offset: number;
        anomaly: boolean;
      };
      const at = `${body.partition}@${body.offset}`;
      expect(seqOf.has(at)).toBe(true);
      const truth = truthById.get(idAt.get(at)!)!;
      if (truth.label === 1) {
        anomalous++;
        if (body.anomaly) flaggedAnomalous++;
        const k = byKind.get(truth.anomaly!) ?? { flagged: 0, of: 0 };
        k.of++;
        if (body.anomaly) k.flagged++;
        byKind.set(truth.anomaly!, k);
      } else {
        normal++;
        if (body.anomaly) flaggedNormal++;
      }
    }
    const recall = flaggedAnomalous / anomalous;
    const falseRate = flaggedNormal / normal;
    console.info(
      `[cold start] ${HISTORY} retained records: consuming ${readySeconds.toFixed(1)} s after spawn ` +
        `(training rows read in ${Number(read['seconds']).toFixed(1)} s, promoted at ${Number(promoted['seconds']).toFixed(1)} s into cold start), ` +
        `history scored and committed ${detectingSeconds.toFixed(1)} s after spawn; ` +
        `flagged ${flaggedAnomalous}/${anomalous} injected anomalies, ${flaggedNormal}/${normal} normal readings; ` +
        `by kind ${[...byKind].map(([kind, k]) => `${kind} ${k.flagged}/${k.of}`).join(', ')}`,
    );
    expect(scored.length).toBeGreaterThanOrEqual(HISTORY);
    expect(anomalous).toBeGreaterThan(0);
    // Detecting, judged per record with temporal features off: a stuck sensor holds its last, plausible value,
    // which no row-wise model can tell from a reading, so it counts in the overall figure only; every other kind
    // (spike, level shift, slow drift, broken correlation) moves the reading off the normal manifold. False
    // alarms stay below the trimmed share (the default contamination 0.05).
    const visible = [...byKind].filter(([kind]) => kind !== 'stuck_sensor').map(([, k]) => k);
    const visibleOf = visible.reduce((a, k) => a + k.of, 0);
    expect(visibleOf).toBeGreaterThan(0);
    expect(visible.reduce((a, k) => a + k.flagged, 0) / visibleOf).toBeGreaterThan(0.6);
    expect(falseRate).toBeLessThan(0.05);
    expect(recall).toBeGreaterThan(10 * falseRate);
  }, 600_000);
});
