/**
 * Kafka I/O of feedback: restores the persisted per-entity adjustments at start, then follows the feedback
 * topic and hands each record to the lifecycle. Group-less (TopicReader), so every replica applies every
 * label: thresholds and reservoir exclusions are per replica state that must agree across them.
 *
 * A restart must not count the same feedback twice: the adjustments topic also holds, under one key, the next
 * feedback offset per partition that its adjustments already include; records below it are skipped. The
 * offsets are written after the adjustments they cover, so a crash between the two re-applies at most the
 * records of one batch (at-least-once, like the rest of Vigil).
 */
import type { Logger } from '../../core/logger.js';
import type { LifecycleMetrics } from '../../core/metrics/lifecycle-metrics.js';
import type { Producer, TopicReader, Transport } from '../transport/types.js';
import { parseAdjustment, parseFeedback } from './lifecycle-records.js';
import type { ModelLifecycle } from './model-lifecycle.js';

export const FEEDBACK_OFFSETS_KEY = 'feedback-offsets';

export interface FeedbackTopicOptions {
  readonly feedbackTopic: string;
  /** The compacted adjustments topic (model.lifecycle.feedback.adjustmentsTopic). */
  readonly adjustmentsTopic: string;
}

export class FeedbackFollower {
  private reader: TopicReader | undefined;
  private producer: Producer | undefined;
  private readonly applied = new Map<number, number>();
  private readonly log: Logger;
  /** Feedback records applied (for tests and logs). */
  appliedCount = 0;

  constructor(
    private readonly transport: Transport,
    private readonly lifecycle: ModelLifecycle,
    private readonly options: FeedbackTopicOptions,
    logger: Logger,
    private readonly metrics?: LifecycleMetrics,
  ) {
    this.log = logger.child({ component: 'feedback', topic: options.feedbackTopic });
  }

  /** Restores adjustments, then starts following; resolves once the feedback retained so far is applied. */
  async start(): Promise<void> {
    const restore = this.transport.topicReader({ topic: this.options.adjustmentsTopic });
    let restored = 0;
    await restore.start(async (batch) => {
      for (const r of batch.records) {
        const key = r.key?.toString('utf8');
        if (key === FEEDBACK_OFFSETS_KEY && r.value !== null) {
          try {
            const o = JSON.parse(r.value.toString('utf8')) as Record<string, number>;
            for (const [p, off] of Object.entries(o)) this.applied.set(Number(p), off);
          } catch {
            // A foreign value under our key: start from the beginning of the feedback topic.
          }
          continue;
        }
        const a = parseAdjustment(r.key, r.value);
        if (a === undefined) continue;
        this.lifecycle.restoreAdjustment(a.entity, a.adjustment);
        restored++;
      }
    });
    await restore.closed;
    this.producer = this.transport.producer();
    await this.producer.connect();
    this.log.info({ restored, offsets: Object.fromEntries(this.applied) }, 'feedback adjustments restored');
    this.reader = this.transport.topicReader({
      topic: this.options.feedbackTopic,
      follow: true,
      maxWaitMs: 200,
    });
    this.reader.closed.catch((err) => this.log.error({ err }, 'feedback reader stopped'));
    await this.reader.start(async (batch) => {
      let applied = false;
      for (const r of batch.records) {
        const off = Number(r.offset);
        if (off < (this.applied.get(batch.partition) ?? 0)) continue;
        const parsed = parseFeedback(r.key, r.value);
        if (!parsed.ok) {
          this.metrics?.feedback.inc({ label: 'invalid' });
          this.log.warn(
            { partition: batch.partition, offset: off, why: parsed.why },
            'feedback record ignored',
          );
        } else {
          await this.lifecycle.applyFeedback(parsed.feedback);
          this.appliedCount++;
        }
        this.applied.set(batch.partition, off + 1);
        applied = true;
      }
      if (applied) await this.saveOffsets();
    });
  }

  private async saveOffsets(): Promise<void> {
    await this.producer?.send([
      {
        topic: this.options.adjustmentsTopic,
        key: FEEDBACK_OFFSETS_KEY,
        value: Buffer.from(JSON.stringify(Object.fromEntries(this.applied))),
      },
    ]);
  }

  async stop(): Promise<void> {
    await this.reader?.close();
    await this.producer?.close();
  }
}
