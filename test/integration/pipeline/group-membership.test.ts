// Two Vigil instances share one consumer group, and one of them leaves mid-stream: first gracefully (stop():
// drain, flush, commit, leave the group), then the hard way (SIGKILL of a `vigil run` process; its partitions
// come back to the survivor once its session expires). Nothing may be lost either way; duplicates are counted.
// A graceful leave hands partitions over only after their outputs are flushed and offsets committed, so it
// must cause no duplicates at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Service, startService } from '../../../cli/compose.js';
import { plainAvroDecoder } from '../../../connector/pipeline/decode-stage.js';
import type { TransportKind } from '../../../connector/transport/types.js';
import { validateConfig } from '../../../core/config/load.js';
import { loadSchema, schemaPath } from '../../../schemas/catalog.js';
import type { AnomalyEvent } from '../../../schemas/types.js';
import { brokers, uniqueName } from '../../support/kafka.js';
import { type SensorArtifact, sensorArtifact, sensorStream } from '../../support/model-artifact.js';
import { sensorExtractor } from '../../support/sensor-fixture.js';
import {
  removeVigilConfigs,
  startVigil,
  type VigilProcess,
  writeVigilConfig,
} from '../../support/vigil-process.js';
import {
  client,
  createTopics,
  deadLetterCounts,
  deleteTopics,
  deliveryReport,
  expectedFromInput,
  producePaced,
  readTopic,
  scoreCounts,
  scoreMismatches,
  testLogger,
  waitForProgress,
} from './robustness.js';

const sensorType = loadSchema('sensor_reading');
const anomalyType = loadSchema('anomaly_event');

let artifact: SensorArtifact;
beforeAll(async () => {
  artifact = await sensorArtifact();
}, 180_000);

const kafka = client();
const services: Service[] = [];
const processes: VigilProcess[] = [];
const topics: string[] = [];
afterAll(async () => {
  for (const s of services) await s.stop().catch(() => {});
  for (const p of processes) await p.kill();
  removeVigilConfigs();
  await deleteTopics(kafka, topics);
});

function setup(name: string, transport: TransportKind) {
  const t = {
    input: uniqueName(`${name}-in`),
    anomalies: uniqueName(`${name}-anom`),
    dlq: uniqueName(`${name}-dlq`),
    scores: uniqueName(`${name}-scores`),
    groupId: uniqueName(`${name}-group`),
  };
  topics.push(t.input, t.anomalies, t.dlq, t.scores);
  const config = (clientId: string) => ({
    kafka: {
      transport,
      brokers: brokers(),
      clientId,
      groupId: t.groupId,
      consumer: {
        autoOffsetReset: 'earliest',
        sessionTimeoutMs: 6_000,
        heartbeatIntervalMs: 1_000,
        rebalanceTimeoutMs: 10_000,
      },
    },
    input: { topics: [t.input], format: 'avro', schema: schemaPath('sensor_reading') },
    features: { preset: 'sensor-reading', temporal: { enabled: false } },
    model: { artifact: artifact.dir },
    output: { anomaliesTopic: t.anomalies, deadLetterTopic: t.dlq, scoresTopic: t.scores },
    batching: { maxRecords: 200, lingerMs: 20 },
    metrics: { enabled: false },
    logging: { level: 'info' },
  });
  const messages = sensorStream(4000, { streamSeed: 41, anomalyRate: 0.03 }).map(({ record }) => ({
    key: record.device_id,
    value: sensorType.toBuffer(record),
  }));
  messages.splice(1000, 0, { key: 'poison-1', value: Buffer.from([0xff, 0xfe]) });
  messages.splice(3000, 0, { key: 'poison-2', value: Buffer.from([0x02]) });
  return { ...t, config, messages };
}

/** The pipeline's own rebalance log lines (the transport logs the same messages with a count instead of a list). */
function pipelineLog(vigil: VigilProcess, msg: string) {
  return vigil
    .logs()
    .filter((l) => l.msg === msg && Array.isArray(l['partitions']) && l['partitions'].length > 0);
}

/** Reads the outputs back and compares them with the offline expectation; returns the report for logging. */
async function outcome(t: ReturnType<typeof setup>) {
  const inputRecords = await readTopic(kafka, t.input);
  expect(inputRecords).toHaveLength(t.messages.length);
  const expected = expectedFromInput(
    inputRecords,
    t.input,
    plainAvroDecoder(sensorType),
    sensorExtractor(),
    artifact.detector,
  );
  const events = await readTopic(kafka, t.anomalies);
  const report = deliveryReport(
    expected,
    events.map((e) => e.headers['vigil.event_id']!),
  );
  const scored = scoreCounts(await readTopic(kafka, t.scores));
  const letters = deadLetterCounts(await readTopic(kafka, t.dlq));
  expect(expected.dead.size).toBe(2);
  expect(expected.sure.size).toBeGreaterThan(5);
  expect(
    [...expected.scored].filter((at) => !scored.has(at)),
    'records never scored',
  ).toEqual([]);
  expect(new Set(letters.keys())).toEqual(expected.dead);
  const online = events.map((e) => anomalyType.fromBuffer(e.value!) as AnomalyEvent);
  expect(scoreMismatches(expected, online), 'online and offline scores differ').toEqual([]);
  expect(report.missing, 'anomaly events lost').toEqual([]);
  expect(report.unexpected).toEqual([]);
  const rescored = [...scored.values()].reduce((a, n) => a + n - 1, 0);
  return { report, rescored };
}

describe.each<TransportKind>(['kafkajs', 'rdkafka'])('two vigil instances in one group (%s)', (kind) => {
  it('one stops gracefully mid-stream: the other takes its partitions over, nothing lost, nothing twice', async () => {
    const t = setup(`group-leave-${kind}`, kind);
    await createTopics(kafka, { [t.input]: 6, [t.anomalies]: 3, [t.dlq]: 1, [t.scores]: 3 });
    const a = await startService(validateConfig(t.config('vigil-a')), testLogger('group-a'));
    services.push(a);
    const b = await startService(validateConfig(t.config('vigil-b')), testLogger('group-b'));
    services.push(b);
    let failure: unknown;
    for (const s of [a, b]) s.pipeline.closed.catch((err: unknown) => (failure ??= err));

    const feed = producePaced(kafka, t.input, t.messages, { chunk: 100, intervalMs: 60 });
    await waitForProgress(
      kafka,
      t.groupId,
      t.input,
      'both instances to be working',
      (p) => p.committed >= 1000 && a.pipeline.stats.consumed > 0 && b.pipeline.stats.consumed > 0,
    );
    const bStats = { ...b.pipeline.stats };
    await b.stop();
    await feed.done;
    await waitForProgress(
      kafka,
      t.groupId,
      t.input,
      'the remaining instance to commit everything',
      (p) => p.high === t.messages.length && p.caughtUp,
    );
    await a.stop();
    expect(failure).toBeUndefined();

    const { report, rescored } = await outcome(t);
    console.info(
      `[group graceful leave, ${kind}] b consumed ${bStats.consumed} before leaving, a ${a.pipeline.stats.consumed} in all; ` +
        `anomaly events expected ${report.expected} (+${report.borderline} borderline), received ${report.received}, ` +
        `duplicates ${report.duplicates}; records scored twice ${rescored}`,
    );
    expect(report.duplicates).toBe(0);
    expect(rescored).toBe(0);
  }, 120_000);

  it('one is killed (SIGKILL) mid-stream: its partitions come back to the survivor, nothing lost', async () => {
    const t = setup(`group-kill-${kind}`, kind);
    await createTopics(kafka, { [t.input]: 6, [t.anomalies]: 3, [t.dlq]: 1, [t.scores]: 3 });
    const a = await startService(validateConfig(t.config('vigil-a')), testLogger('group-a'));
    services.push(a);
    const b = await startVigil(await writeVigilConfig(t.config('vigil-b')));
    processes.push(b);
    let failure: unknown;
    a.pipeline.closed.catch((err: unknown) => (failure ??= err));

    const feed = producePaced(kafka, t.input, t.messages, { chunk: 100, intervalMs: 60 });
    // b logs its assignment when the group settles with both members; then wait for real progress.
    await b.whileRunning(
      waitForProgress(
        kafka,
        t.groupId,
        t.input,
        'both instances to be working',
        (p) =>
          p.committed >= 1000 &&
          a.pipeline.stats.consumed > 0 &&
          pipelineLog(b, 'partitions assigned').length > 0,
      ),
    );
    const bAssigned = pipelineLog(b, 'partitions assigned');
    const bRevoked = pipelineLog(b, 'partitions revoked');
    // b owns partitions when it dies (every revoke of its was followed by a new assignment).
    expect(bAssigned.length).toBeGreaterThan(bRevoked.length);
    await b.kill();
    const committedAtKill = await waitForProgress(
      kafka,
      t.groupId,
      t.input,
      'offsets at the kill',
      () => true,
    );
    await feed.done;
    await waitForProgress(
      kafka,
      t.groupId,
      t.input,
      'the survivor to commit everything',
      (p) => p.high === t.messages.length && p.caughtUp,
      60_000,
    );
    await a.stop();
    expect(failure).toBeUndefined();
    expect(committedAtKill.committed).toBeLessThan(t.messages.length);

    const { report, rescored } = await outcome(t);
    console.info(
      `[group member killed, ${kind}] b held ${JSON.stringify(bAssigned.at(-1)?.['partitions'])}; committed at kill ` +
        `${committedAtKill.committed}/${t.messages.length}; anomaly events expected ${report.expected} ` +
        `(+${report.borderline} borderline), received ${report.received}, duplicates ${report.duplicates}; ` +
        `records scored twice ${rescored}`,
    );
  }, 120_000);
});
