// The broker goes away and comes back while records flow through an in-process Vigil (startService, as
// `vigil run` builds it). Vigil must ride it out on its own — no restart, no operator — and lose nothing: every
// input record scored or dead-lettered at least once, every expected anomaly event present, the group's
// committed offsets at the high watermark. Uses a broker of this file's own (free ports, own state dir), so
// the shared one is never disturbed; it is stopped and removed at the end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Service, startService } from '../../../cli/compose.js';
import { plainAvroDecoder } from '../../../connector/pipeline/decode-stage.js';
import type { TransportKind } from '../../../connector/transport/types.js';
import { validateConfig } from '../../../core/config/load.js';
import { loadSchema, schemaPath } from '../../../schemas/catalog.js';
import type { AnomalyEvent } from '../../../schemas/types.js';
import { uniqueName } from '../../support/kafka.js';
import { type SensorArtifact, sensorArtifact, sensorStream } from '../../support/model-artifact.js';
import { sensorExtractor } from '../../support/sensor-fixture.js';
import { type PrivateBroker, startPrivateBroker } from '../transport/private-broker.js';
import {
  client,
  createTopics,
  deadLetterCounts,
  deliveryReport,
  expectedFromInput,
  producePaced,
  readTopic,
  scoreCounts,
  scoreMismatches,
  sleep,
  testLogger,
  waitForProgress,
} from './robustness.js';

const sensorType = loadSchema('sensor_reading');
const anomalyType = loadSchema('anomaly_event');

let broker: PrivateBroker | undefined;
let artifact: SensorArtifact;

beforeAll(async () => {
  artifact = await sensorArtifact();
  broker = await startPrivateBroker({ name: 'pipeline-restart' });
}, 240_000);

afterAll(async () => {
  await broker?.destroy();
}, 60_000);

describe.each<TransportKind>(['kafkajs', 'rdkafka'])('broker restart under vigil on %s', (kind) => {
  let service: Service | undefined;
  afterAll(async () => {
    await service?.stop().catch(() => {});
  });

  it('recovers by itself and loses nothing: every record scored or dead-lettered, every anomaly emitted, offsets committed', async () => {
    const bootstrap = broker!.env.KAFKA_BOOTSTRAP!;
    const kafka = client([bootstrap]);
    const input = uniqueName(`restart-in-${kind}`);
    const anomalies = uniqueName(`restart-anom-${kind}`);
    const dlq = uniqueName(`restart-dlq-${kind}`);
    const scores = uniqueName(`restart-scores-${kind}`);
    const groupId = uniqueName(`restart-group-${kind}`);
    await createTopics(kafka, { [input]: 3, [anomalies]: 3, [dlq]: 1, [scores]: 3 });

    const config = validateConfig({
      kafka: {
        transport: kind,
        brokers: [bootstrap],
        clientId: `vigil-restart-${kind}`,
        groupId,
        // The kafkajs transport replaces a consumer that crashed while the broker was down with a fresh client
        // (a new member id); the group then waits for the old member's session to expire before it assigns
        // anything. With the default 45 s that is most of a minute; a short session keeps the test short.
        consumer: { autoOffsetReset: 'earliest', sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000 },
      },
      input: { topics: [input], format: 'avro', schema: schemaPath('sensor_reading') },
      features: { preset: 'sensor-reading', temporal: { enabled: false } },
      model: { artifact: artifact.dir },
      output: { anomaliesTopic: anomalies, deadLetterTopic: dlq, scoresTopic: scores },
      batching: { maxRecords: 200, lingerMs: 20 },
      metrics: { enabled: false },
    });

    const labelled = sensorStream(4000, { streamSeed: 31, anomalyRate: 0.03 });
    const messages = labelled.map(({ record }) => ({
      key: record.device_id,
      value: sensorType.toBuffer(record),
    }));
    messages.splice(500, 0, { key: 'poison-before', value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) });
    messages.splice(3500, 0, { key: 'poison-after', value: Buffer.alloc(3) });

    service = await startService(config, testLogger(`restart-${kind}`));
    let failure: unknown;
    service.pipeline.closed.catch((err: unknown) => {
      failure = err;
    });

    const feed = producePaced(kafka, input, messages, { chunk: 100, intervalMs: 100 });
    await waitForProgress(
      kafka,
      groupId,
      input,
      'vigil to commit part of the stream',
      (p) => p.committed >= 800,
    );
    // The test's producer blocks (retrying) while the broker is down, then carries on: records keep flowing.
    const t0 = Date.now();
    await broker!.stop();
    await sleep(2_000);
    await broker!.start();
    const tUp = Date.now();
    const atRestart = feed.sent();
    await feed.done;
    const tFed = Date.now();

    await waitForProgress(
      kafka,
      groupId,
      input,
      'vigil to commit every input record after the restart',
      (p) => p.high >= messages.length && p.caughtUp,
      90_000,
      250,
    );
    const tDone = Date.now();
    expect(failure, 'the pipeline stopped by itself').toBeUndefined();
    const stats = { ...service.pipeline.stats };
    await service.stop();
    service = undefined;
    expect(failure).toBeUndefined();

    // A producer retry across the restart may have written a record twice: the expectation is the topic's content.
    const inputRecords = await readTopic(kafka, input);
    expect(inputRecords.length).toBeGreaterThanOrEqual(messages.length);
    const expected = expectedFromInput(
      inputRecords,
      input,
      plainAvroDecoder(sensorType),
      sensorExtractor(),
      artifact.detector,
    );
    expect(expected.dead.size).toBe(inputRecords.length - messages.length + 2);

    const scored = scoreCounts(await readTopic(kafka, scores));
    const letters = deadLetterCounts(await readTopic(kafka, dlq));
    const events = await readTopic(kafka, anomalies);
    const report = deliveryReport(
      expected,
      events.map((e) => e.headers['vigil.event_id']!),
    );
    const rescored = [...scored.values()].reduce((a, n) => a + n - 1, 0);
    console.info(
      `[broker restart ${kind}] restart after ${atRestart}/${messages.length} records produced; broker down+up ` +
        `${tUp - t0} ms, input fed ${tFed - tUp} ms later, all committed ${tDone - tFed} ms after that; stats ${JSON.stringify(stats)}; ` +
        `scored ${scored.size} records (${rescored} scored again); anomaly events expected ${report.expected} ` +
        `(+${report.borderline} borderline), received ${report.received}, duplicates ${report.duplicates}`,
    );

    expect(
      [...expected.scored].filter((at) => !scored.has(at)),
      'records never scored',
    ).toEqual([]);
    expect(new Set(letters.keys())).toEqual(expected.dead);
    const online = events.map((e) => anomalyType.fromBuffer(e.value!) as AnomalyEvent);
    expect(scoreMismatches(expected, online), 'online and offline scores differ').toEqual([]);
    expect(report.missing, 'anomaly events lost').toEqual([]);
    expect(report.unexpected).toEqual([]);
    expect(expected.sure.size).toBeGreaterThan(5);
  }, 180_000);
});
