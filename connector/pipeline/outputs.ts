import type { OutputKind } from '../../core/metrics/vigil-metrics.js';
import type { BatchScores, ModelIdentity } from '../../model/types.js';
import type { AnomalyEvent } from '../../schemas/types.js';
import { buildAnomalyEvent } from '../events/anomaly-event.js';
import {
  type DeadLetterMessage,
  deadLetterForUnwritableOutput,
  withoutOriginal,
} from '../events/dead-letter.js';
import type { KafkaRecord, ProduceMessage } from '../transport/types.js';
import type { OutputCodec } from './output-codec.js';

/**
 * Output building: what one scored micro-batch writes. Pure apart from the codec: records and scores in,
 * produce messages out, each with the output it replaces itself by when the broker refuses it for good.
 */

/** One fetched record on its way through the pipeline. */
export interface Item {
  readonly record: KafkaRecord;
  readonly offset: number;
  readonly generation: number;
  /** The features, or null when the record is dead-lettered instead. */
  readonly rows: Float32Array | null;
  readonly row: number;
  readonly entity: string;
  readonly eventTime: number;
  /** When the client handed the record over: the start of Vigil's own latency. */
  readonly fetchedAt: number;
  readonly dead: DeadLetterMessage | null;
}

/** A message to produce, and what to write instead if the broker can never accept it. */
export interface Outbound {
  readonly output: OutputKind;
  readonly message: ProduceMessage;
  /**
   * The smaller stand-in (a dead letter without the original bytes, naming the refused output), or null when
   * there is none left. Called only on the failure path.
   */
  readonly fallback: (reason: string) => Outbound | null;
}

export interface OutputTopics {
  readonly anomaliesTopic: string;
  readonly deadLetterTopic: string;
  readonly scoresTopic?: string;
}

export interface BuildOutputsInput {
  readonly topics: OutputTopics;
  readonly codec: OutputCodec;
  readonly model: ModelIdentity;
  /** Every item of the batch, in order; dead ones produce their dead letter. */
  readonly items: readonly Item[];
  /** The scored items, row k of `scores` and `rows` being scoredItems[k]. */
  readonly scoredItems: readonly Item[];
  readonly scores: BatchScores | null;
  readonly rows: Float32Array;
  readonly detectedAt: number;
  readonly maxContributions: number;
  /**
   * Key anomaly events by entity, as documented, so one entity's events stay in order on one partition; false
   * when no entity key is mapped (the entity is then the record's key, whose bytes are kept as they are).
   */
  readonly keyByEntity: boolean;
}

export interface BuiltOutputs {
  readonly outbounds: Outbound[];
  readonly events: AnomalyEvent[];
}

export function buildOutputs(input: BuildOutputsInput): BuiltOutputs {
  const { topics, codec, model, scores } = input;
  const outbounds: Outbound[] = [];
  const events: AnomalyEvent[] = [];
  if (scores !== null) {
    for (let k = 0; k < input.scoredItems.length; k++) {
      const item = input.scoredItems[k]!;
      if (scores.isAnomaly[k] === 1) {
        const event = buildAnomalyEvent({
          source: { topic: item.record.topic, partition: item.record.partition, offset: item.offset },
          key: item.record.key,
          eventTime: item.eventTime,
          entity: item.entity,
          scores,
          row: k,
          rows: input.rows,
          model,
          detectedAt: input.detectedAt,
          maxContributions: input.maxContributions,
        });
        events.push(event);
        outbounds.push({
          output: 'anomalies',
          message: {
            topic: topics.anomaliesTopic,
            key: input.keyByEntity ? item.entity : item.record.key,
            value: codec.anomaly(event),
            headers: [{ key: 'vigil.event_id', value: event.event_id }],
          },
          fallback: (reason) =>
            unwritableOutput(item, 'anomalies', reason, input, {
              event_id: event.event_id,
              score: event.score,
            }),
        });
      }
      if (topics.scoresTopic !== undefined) {
        outbounds.push({
          output: 'scores',
          message: {
            topic: topics.scoresTopic,
            key: item.record.key,
            value: JSON.stringify({
              topic: item.record.topic,
              partition: item.record.partition,
              offset: item.offset,
              entity: item.entity,
              event_time: item.eventTime,
              score: scores.scores[k],
              raw_score: (scores.rawScores ?? scores.scores)[k],
              threshold: scores.threshold[k],
              severity: scores.severity[k],
              anomaly: scores.isAnomaly[k] === 1,
              model: model.version,
            }),
          },
          fallback: (reason) => unwritableOutput(item, 'scores', reason, input, { score: scores.scores[k] }),
        });
      }
    }
  }
  for (const item of input.items) {
    if (item.dead !== null) outbounds.push(deadLetterOutbound(item.dead, input));
  }
  return { outbounds, events };
}

function deadLetterOutbound(letter: DeadLetterMessage, input: BuildOutputsInput): Outbound {
  return {
    output: 'dead_letters',
    message: {
      topic: input.topics.deadLetterTopic,
      key: letter.key,
      value: input.codec.deadLetter(letter.value),
      headers: Object.entries(letter.headers).map(([key, value]) => ({ key, value })),
    },
    fallback: (reason) => {
      const slim = withoutOriginal(letter, reason);
      return slim === null ? null : deadLetterOutbound(slim, input);
    },
  };
}

function unwritableOutput(
  item: Item,
  output: OutputKind,
  reason: string,
  input: BuildOutputsInput,
  extra: Readonly<Record<string, unknown>>,
): Outbound {
  const letter = deadLetterForUnwritableOutput(
    {
      source: { topic: item.record.topic, partition: item.record.partition, offset: item.offset },
      timestamp: item.record.timestamp,
      key: item.record.key,
      value: item.record.value,
      failedAt: input.detectedAt,
    },
    output,
    reason,
    extra,
  );
  return deadLetterOutbound(letter, input);
}

/**
 * What a message weighs against a size limit: its bytes plus Kafka's record and record-batch overhead (61 bytes
 * of batch header and at most about 25 of per-record framing), so a message estimated under the limit fits.
 */
export function messageSize(m: ProduceMessage): number {
  let n = 96 + byteLength(m.key) + byteLength(m.value);
  for (const h of m.headers ?? []) n += Buffer.byteLength(h.key) + 10 + byteLength(h.value);
  return n;
}

function byteLength(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}
