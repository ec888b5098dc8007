import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deadLetterFromError } from '../../../../connector/events/dead-letter.js';
import { anomalyEventId } from '../../../../connector/events/event-id.js';
import { jsonOutputCodec, plainAvroOutputCodec } from '../../../../connector/pipeline/output-codec.js';
import { buildOutputs, type Item } from '../../../../connector/pipeline/outputs.js';
import { VigilError } from '../../../../core/errors.js';
import type { BatchScores } from '../../../../model/types.js';
import { loadSchema } from '../../../../schemas/catalog.js';
import type { AnomalyEvent, DeadLetter } from '../../../../schemas/types.js';

const anomalyType = loadSchema('anomaly_event');
const deadLetterType = loadSchema('dead_letter');
const model = { id: 'm', version: '3', featureNames: ['a', 'b'] };

function item(offset: number, dead = false): Item {
  const key = Buffer.from(`k${offset}`);
  const value = Buffer.from([offset, 1, 2]);
  const record = {
    topic: 'in',
    partition: 1,
    offset: BigInt(offset),
    key,
    value,
    headers: [],
    timestamp: 1000 + offset,
  };
  const letter = dead
    ? deadLetterFromError(new VigilError('DECODE_FAILED', 'bad'), 'decode', {
        source: { topic: 'in', partition: 1, offset },
        timestamp: record.timestamp,
        key,
        value,
        failedAt: 5,
      })
    : null;
  return {
    record,
    offset,
    generation: 1,
    rows: dead ? null : new Float32Array([offset, 2 * offset]),
    row: 0,
    entity: `e${offset}`,
    eventTime: 2000 + offset,
    fetchedAt: 0,
    dead: letter,
  };
}

/** Two scored rows, the second over its threshold. */
const scores: BatchScores = {
  n: 2,
  d: 2,
  scores: new Float32Array([0.1, 0.9]),
  contributions: new Float32Array([0, 0, 0.75, 0.25]),
  expected: new Float32Array([0, 0, 1, 1]),
  severity: new Float32Array([0, 0.5]),
  isAnomaly: new Uint8Array([0, 1]),
  threshold: new Float32Array([0.5, 0.5]),
};

function build(items: Item[], scored: Item[]) {
  return buildOutputs({
    topics: { anomaliesTopic: 'anom', deadLetterTopic: 'dlq', scoresTopic: 'scores' },
    codec: plainAvroOutputCodec(),
    model,
    items,
    scoredItems: scored,
    scores,
    rows: new Float32Array([0, 0, 7, 14]),
    detectedAt: 9,
    maxContributions: 10,
    keyByEntity: false,
  });
}

describe('buildOutputs', () => {
  it('writes a score per scored record, an event per anomaly, a dead letter per dead record', () => {
    const a = item(10);
    const b = item(11);
    const dead = item(12, true);
    const { outbounds, events } = build([a, dead, b], [a, b]);
    expect(outbounds.map((o) => `${o.output}@${o.message.topic}`)).toEqual([
      'scores@scores',
      'anomalies@anom',
      'scores@scores',
      'dead_letters@dlq',
    ]);
    const score = JSON.parse(outbounds[2]!.message.value as string);
    expect(score).toMatchObject({
      topic: 'in',
      partition: 1,
      offset: 11,
      entity: 'e11',
      anomaly: true,
      model: '3',
    });
    expect(score.score).toBeCloseTo(0.9, 6);
    expect(events).toHaveLength(1);
    const event = anomalyType.fromBuffer(outbounds[1]!.message.value as Buffer) as AnomalyEvent;
    expect(event.event_id).toBe(
      anomalyEventId({ topic: 'in', partition: 1, offset: 11, modelId: 'm', modelVersion: '3' }),
    );
    expect(outbounds[1]!.message.headers).toEqual([{ key: 'vigil.event_id', value: event.event_id }]);
    expect(outbounds[1]!.message.key?.toString()).toBe('k11');
    const letter = deadLetterType.fromBuffer(outbounds[3]!.message.value as Buffer) as DeadLetter;
    expect(letter.source_offset).toBe(12);
  });

  it("replaces a refused event or score by an OUTPUT_UNWRITABLE dead letter naming it, without the record's bytes", () => {
    const a = item(10);
    const b = item(11);
    const { outbounds } = build([a, b], [a, b]);
    const event = outbounds.find((o) => o.output === 'anomalies')!;
    const stand = event.fallback('refused by the broker: too large')!;
    expect(stand.output).toBe('dead_letters');
    expect(stand.message.topic).toBe('dlq');
    const letter = deadLetterType.fromBuffer(stand.message.value as Buffer) as DeadLetter;
    expect(letter.reason_code).toBe('OUTPUT_UNWRITABLE');
    expect(letter.stage).toBe('emit');
    expect(letter.source_offset).toBe(11);
    expect(letter.details.output).toBe('anomalies');
    expect(letter.original_value).toBeNull();
    expect(letter.details.original_value_sha256).toBe(
      createHash('sha256').update(b.record.value!).digest('hex'),
    );
    expect(stand.fallback('again')).toBeNull();
    const json = buildOutputs({
      topics: { anomaliesTopic: 'anom', deadLetterTopic: 'dlq' },
      codec: jsonOutputCodec(),
      model,
      items: [a],
      scoredItems: [a],
      scores: { ...scores, n: 1 },
      rows: new Float32Array(2),
      detectedAt: 9,
      maxContributions: 10,
      keyByEntity: false,
    });
    expect(json.outbounds).toEqual([]);
  });
});
