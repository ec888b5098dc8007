import { VigilError } from '../../core/errors.js';
import type { OutputKind } from '../../core/metrics/vigil-metrics.js';
import { type RetryOptions, retry } from '../../core/retry.js';
import { errorMessage, isUnwritable } from '../transport/errors.js';
import type { ProduceMessage } from '../transport/types.js';
import { messageSize, type Outbound } from './outputs.js';

/**
 * Getting a batch's outputs acknowledged without letting one of them block its partition.
 *
 * Poison-output policy: an output the broker can never accept as it is (larger than the broker's or
 * librdkafka's `message.max.bytes`, or not a valid record) is replaced by its fallback, a dead letter that
 * keeps the source coordinates and the size and SHA-256 of the original bytes but not the bytes themselves
 * (they stay in the source partition, at their offset). Outputs estimated over `maxMessageBytes` are replaced
 * before sending; ones the broker refuses anyway (a topic with a smaller `max.message.bytes`) are isolated by
 * splitting the failed request in halves until the refused message stands alone, then replaced. Anything else
 * that fails for good (authorization, a config error) is not a property of one record and stops the pipeline.
 */

export interface DeliveryOptions {
  /** Outputs estimated over this many bytes are replaced by their fallback before sending. */
  readonly maxMessageBytes: number;
  readonly retry: Partial<RetryOptions>;
  /** A send failed and will be tried again; `outputs` are the kinds of output in the failed request. */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number, outputs: readonly OutputKind[]) => void;
  /** An output was replaced by its fallback. */
  readonly onReplaced?: (from: Outbound, to: Outbound, reason: string) => void;
}

export type Send = (messages: readonly ProduceMessage[]) => Promise<void>;

/** Replaces every output estimated over `maxBytes` by its fallback (repeatedly, while one is left). */
export function fitToLimit(
  outbounds: readonly Outbound[],
  maxBytes: number,
  onReplaced?: DeliveryOptions['onReplaced'],
): Outbound[] {
  return outbounds.map((o) => {
    let current = o;
    for (let size = messageSize(current.message); size > maxBytes; size = messageSize(current.message)) {
      const reason = `about ${size} bytes, over the ${maxBytes}-byte limit (output.maxMessageBytes)`;
      const next = current.fallback(reason);
      // Nothing smaller to write: send it anyway, and let the broker decide.
      if (next === null) break;
      onReplaced?.(current, next, reason);
      current = next;
    }
    return current;
  });
}

/** Sends the outputs until all are acknowledged, per the policy above. Rejects only when the pipeline must stop. */
export async function deliver(
  send: Send,
  outbounds: readonly Outbound[],
  options: DeliveryOptions,
): Promise<void> {
  await sendIsolating(send, fitToLimit(outbounds, options.maxMessageBytes, options.onReplaced), options);
}

async function sendIsolating(send: Send, outbounds: readonly Outbound[], o: DeliveryOptions): Promise<void> {
  if (outbounds.length === 0) return;
  const messages = outbounds.map((x) => x.message);
  try {
    await retry(() => send(messages), {
      ...o.retry,
      onRetry: (err, attempt, delay) => o.onRetry?.(err, attempt, delay, kindsOf(outbounds)),
    });
  } catch (err) {
    if (!isUnwritable(err)) throw err;
    // Which message was refused is not reported per message (kafkajs fails the whole request, and a record
    // batch over the limit is refused as one): halve until it stands alone. Messages of a half that had been
    // written before the failure are written again, as any resend in at-least-once mode may.
    if (outbounds.length > 1) {
      const mid = outbounds.length >>> 1;
      await sendIsolating(send, outbounds.slice(0, mid), o);
      await sendIsolating(send, outbounds.slice(mid), o);
      return;
    }
    const refused = outbounds[0]!;
    const reason = `refused by the broker: ${errorMessage(err)}`;
    const replacement = refused.fallback(reason);
    if (replacement === null) {
      throw new VigilError(
        'OUTPUT_UNWRITABLE',
        `a ${refused.output} output to ${refused.message.topic} was refused and has no smaller form: ${errorMessage(err)}`,
        { cause: err, details: { topic: refused.message.topic, output: refused.output } },
      );
    }
    o.onReplaced?.(refused, replacement, reason);
    await sendIsolating(send, [replacement], o);
  }
}

function kindsOf(outbounds: readonly Outbound[]): OutputKind[] {
  return [...new Set(outbounds.map((x) => x.output))];
}
