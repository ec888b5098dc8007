import { VigilError } from '../../core/errors.js';
import { sleep } from '../../core/retry.js';

/**
 * Resolves once `probe` (a ListOffsets of every partition, which only each partition's leader answers)
 * succeeds for every topic. CreateTopics returns before the partitions are served: metadata, and the leader it
 * names, may answer "This server does not host this topic-partition" for a moment after that (kafkajs's
 * `waitForLeaders` throws on that answer rather than retrying it), and a produce or fetch sent then fails. Rejects with BROKER_UNAVAILABLE naming the topic after `timeoutMs`.
 */
export async function waitUntilServed(
  topics: readonly string[],
  probe: (topic: string) => Promise<unknown>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const topic of topics) {
    for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
      try {
        await probe(topic);
        break;
      } catch (err) {
        if (Date.now() + delay > deadline) {
          throw new VigilError(
            'BROKER_UNAVAILABLE',
            `topic ${topic} was created but its partitions are not served after ${timeoutMs} ms`,
            { cause: err, details: { topic } },
          );
        }
        await sleep(delay);
      }
    }
  }
}
