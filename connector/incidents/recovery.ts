import type { IncidentEvent } from '../../schemas/types.js';
import type { TopicPartition, Transport } from '../transport/types.js';

/**
 * Reading incidents back after a restart or a rebalance. Every incident event carries the incident's whole
 * state, so the latest event of each incident (highest `sequence`; a replay can write one twice, and sends of
 * two batches can land out of order) is all a new owner needs: the open ones are resumed, and each one's
 * `last_offset` tells the tracker which replayed records it already counted.
 *
 * Why the incidents topic and not a separate store: it is the record of what was published, written in the
 * same delivery discipline as the other outputs (inside the transaction in exactly-once mode, acknowledged
 * before the offsets are committed in at-least-once mode), so what is read back is never behind the committed
 * input offsets. The cost is a read of the whole retained topic per assignment (keep its `retention.ms` to
 * days, or compact it: it is keyed by entity), with the group-less TopicReader, which reads uncommitted: in
 * exactly-once mode an aborted transaction's events are read back too, so a batch retried after an abort
 * is taken as already counted (its anomalies stay listed on the anomalies topic).
 */

/** Folds incident events into the latest event per incident, for the given input partitions. */
export class IncidentFold {
  private readonly latest = new Map<string, IncidentEvent>();
  private readonly wanted: Set<string>;

  constructor(partitions: readonly TopicPartition[]) {
    this.wanted = new Set(partitions.map((p) => `${p.topic}:${p.partition}`));
  }

  add(e: IncidentEvent): void {
    if (!this.wanted.has(`${e.source_topic}:${e.source_partition}`)) return;
    const prev = this.latest.get(e.incident_id);
    if (prev === undefined || e.sequence > prev.sequence) this.latest.set(e.incident_id, e);
  }

  result(): IncidentEvent[] {
    return [...this.latest.values()];
  }
}

export type IncidentDecoder = (value: Buffer) => IncidentEvent;

/** Reads the incidents topic from its start and folds it for `partitions` (see above). */
export async function readIncidents(
  transport: Pick<Transport, 'topicReader'>,
  topic: string,
  decode: IncidentDecoder,
  partitions: readonly TopicPartition[],
  onUnreadable?: (err: unknown) => void,
): Promise<IncidentEvent[]> {
  const fold = new IncidentFold(partitions);
  const reader = transport.topicReader({ topic, maxBatchRecords: 2000 });
  await reader.start(async (batch) => {
    for (const r of batch.records) {
      if (r.value === null) continue;
      try {
        fold.add(decode(r.value));
      } catch (err) {
        // Someone else's bytes on our topic, or a schema we cannot read: not a reason to stop scoring.
        onUnreadable?.(err);
      }
    }
  });
  return fold.result();
}
