// Incidents inside the Pipeline over the in-memory transport, with a real model and real Avro bytes: scoring
// that completes out of order (an async scorer whose batches finish in another order than they started, as the
// worker pool's do) must give each entity's incident the records in offset order, exactly as scoring one batch
// at a time does; and a restart that replays records already counted writes no incident event again.
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { IncidentStage } from '../../../../connector/incidents/incident-stage.js';
import { IncidentFold } from '../../../../connector/incidents/recovery.js';
import { plainAvroDecoder } from '../../../../connector/pipeline/decode-stage.js';
import { plainAvroOutputCodec } from '../../../../connector/pipeline/output-codec.js';
import { Pipeline, type PipelineOptions } from '../../../../connector/pipeline/pipeline.js';
import type { ProduceMessage } from '../../../../connector/transport/types.js';
import { silentLogger } from '../../../../core/logger.js';
import { VigilMetrics } from '../../../../core/metrics/vigil-metrics.js';
import type { Detector } from '../../../../model/detector.js';
import type { AsyncScorer } from '../../../../model/types.js';
import { loadSchema } from '../../../../schemas/catalog.js';
import type { IncidentEvent } from '../../../../schemas/types.js';
import { type EncodedRecord, memoryTransport } from '../../../support/memory-transport.js';
import { sensorExtractor, sensorRecords, trainSensorDetector } from '../../../support/sensor-fixture.js';

const sensorType = loadSchema('sensor_reading');
const codec = plainAvroOutputCodec();

let detector: Detector;
let pool: EncodedRecord[];
beforeAll(async () => {
  detector = await trainSensorDetector(2000);
  // Failures that last: four units each run their bearing 60 °C hot for a stretch of 8–12 readings.
  const failing = new Map([
    ['pump-00003', [100, 220]],
    ['pump-00007', [150, 390]],
    ['pump-00011', [300, 520]],
    ['pump-00016', [40, 200]],
  ]);
  pool = sensorRecords(600, 7, 0).map(({ record }, i) => {
    const w = failing.get(record.device_id);
    const r =
      w !== undefined && i >= w[0]! && i < w[1]!
        ? { ...record, temp_bearing_front_c: record.temp_bearing_front_c + 60 }
        : record;
    return { key: Buffer.from(record.device_id), value: sensorType.toBuffer(r) };
  });
}, 180_000);

const OPTIONS: PipelineOptions = {
  topics: ['in'],
  groupId: 'g',
  anomaliesTopic: 'anomalies',
  deadLetterTopic: 'dlq',
  batching: { maxRecords: 40, maxBytes: 10_000_000, lingerMs: 1, maxBuffered: 2000, yieldEvery: 64 },
  delivery: 'at-least-once',
  commitIntervalMs: 0,
  maxFetchRecords: 40,
};

/** Batch k takes longer than batch k+1 often enough that later batches finish first. */
function shuffledScorer(completions: number[]): AsyncScorer {
  let calls = 0;
  return {
    identity: detector.identity,
    async scoreAsync(rows, n, entities, options) {
      const call = calls++;
      const scores = detector.score(rows, n, entities, options);
      await new Promise((r) => setTimeout(r, [25, 0, 12, 3][call % 4]));
      completions.push(call);
      return scores;
    },
  };
}

async function run(
  scorer: AsyncScorer | Detector,
  maxInFlightBatches: number,
  recover?: (parts: readonly { topic: string; partition: number }[]) => Promise<IncidentEvent[]>,
) {
  const t = memoryTransport({ pool, recordsPerPartition: 600, partitions: 2, keepMessages: true });
  const incidents = new IncidentStage({
    topic: 'incidents',
    gapMs: 60_000,
    maxOpen: 1000,
    maxEventIds: 1000,
    maxFeatures: 3,
    encode: (e) => codec.incident(e),
    ...(recover === undefined ? {} : { recover }),
  });
  const pipeline = new Pipeline(
    { ...OPTIONS, maxInFlightBatches },
    {
      transport: t,
      decoder: plainAvroDecoder(sensorType),
      extractor: sensorExtractor(),
      scorer,
      output: codec,
      logger: silentLogger(),
      metrics: new VigilMetrics(new Registry()),
      incidents,
    },
  );
  await pipeline.start();
  const deadline = Date.now() + 60_000;
  while (!(t.counters.committed.get(0) === 600n && t.counters.committed.get(1) === 600n)) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the commits');
    await new Promise((r) => setTimeout(r, 5));
  }
  await pipeline.stop();
  const sent = t.counters.sent;
  const events = sent
    .filter((m: ProduceMessage) => m.topic === 'incidents')
    .map((m) => codec.decodeIncident(m.value as Buffer));
  return { events, sent, stats: pipeline.stats, open: incidents.openIncidents() };
}

/** The last event of each incident, wall-clock fields left out. */
function finalStates(events: readonly IncidentEvent[]) {
  const last = new Map<string, IncidentEvent>();
  for (const e of events) last.set(e.incident_id, e);
  return [...last.values()]
    .map(({ updated_at: _u, opened_at: _o, sequence: _s, kind: _k, ...rest }) => rest)
    .sort((a, b) => (a.incident_id < b.incident_id ? -1 : 1));
}

describe('incidents in the pipeline', () => {
  it('out-of-order scoring gives the incidents that scoring one batch at a time gives', async () => {
    const completions: number[] = [];
    const shuffled = await run(shuffledScorer(completions), 4);
    const sequential = await run(detector, 1);

    // The scorer did finish batches out of order, or this test would prove nothing.
    expect(completions.some((c, i) => i > 0 && c < completions[i - 1]!)).toBe(true);
    const final = finalStates(sequential.events);
    expect(final.filter((s) => s.count >= 5).length).toBeGreaterThanOrEqual(4);
    expect(finalStates(shuffled.events)).toEqual(final);

    // Per incident: one OPEN first, sequences 0, 1, 2, … and offsets only growing; every listed anomaly
    // event id is one the pipeline wrote to the anomalies topic.
    const anomalyIds = new Set(
      shuffled.sent
        .filter((m) => m.topic === 'anomalies')
        .map((m) => m.headers?.find((h) => h.key === 'vigil.event_id')?.value),
    );
    const byIncident = new Map<string, IncidentEvent[]>();
    for (const e of shuffled.events)
      byIncident.set(e.incident_id, [...(byIncident.get(e.incident_id) ?? []), e]);
    let counted = 0;
    for (const events of byIncident.values()) {
      expect(events[0]!.kind).toBe('OPEN');
      expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i));
      // An UPDATE carries more anomalies, at later offsets; a CLOSE may add none.
      for (let i = 1; i < events.length; i++) {
        const [e, prev] = [events[i]!, events[i - 1]!];
        if (e.kind === 'UPDATE') {
          expect(e.last_offset).toBeGreaterThan(prev.last_offset);
          expect(e.count).toBeGreaterThan(prev.count);
        } else {
          expect(e.kind).toBe('CLOSE');
          expect(e.last_offset).toBeGreaterThanOrEqual(prev.last_offset);
        }
      }
      expect(events.filter((e) => e.kind !== 'UPDATE').length).toBeLessThanOrEqual(2);
      const last = events.at(-1)!;
      for (const id of last.event_ids) expect(anomalyIds.has(id)).toBe(true);
      counted += last.count;
    }
    // Every anomaly belongs to exactly one incident.
    expect(counted).toBe(shuffled.stats.anomalies);
  }, 120_000);

  it('a restart that replays what was already counted writes no incident event again and resumes the open ones', async () => {
    const first = await run(detector, 4);
    const published = first.events;
    const replay = await run(detector, 4, async (parts) => {
      const fold = new IncidentFold(parts);
      for (const e of published) fold.add(e);
      return fold.result();
    });
    expect(replay.events).toEqual([]);
    expect(replay.open.map((s) => s.incidentId).sort()).toEqual(first.open.map((s) => s.incidentId).sort());
  }, 120_000);
});
