// Shared pieces of the pipeline robustness tests (crash, broker restart, group changes, poison input): reading
// whole topics back, watching a group's committed offsets, producing at a steady pace, and the expected result
// computed offline. The expectation is derived from what is actually in the input topic, read back after the
// run, not from what the test meant to write, so a producer retry that wrote a record twice cannot skew it.

import { type Admin, type Kafka, logLevel, type Producer } from 'kafkajs';
import { anomalyEventId } from '../../../connector/events/event-id.js';
import type { RecordDecoder } from '../../../connector/pipeline/decode-stage.js';
import { waitUntilServed } from '../../../connector/transport/topic-readiness.js';
import { createLogger, type Logger, silentLogger } from '../../../core/logger.js';
import type { Detector } from '../../../model/detector.js';
import type { FeatureExtractor } from '../../../schemas/features/extractor.js';
import { kafkajsClient, uniqueName } from '../../support/kafka.js';

export interface ReadRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
}

export function client(bootstrap?: readonly string[]): Kafka {
  return kafkajsClient(
    uniqueName('robustness'),
    bootstrap === undefined
      ? {}
      : {
          brokers: [...bootstrap],
          logLevel: logLevel.NOTHING,
          // A producer that outlives a broker restart: retries for about half a minute before giving up.
          retry: { retries: 15, initialRetryTime: 300, maxRetryTime: 3_000 },
        },
  );
}

async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

export async function createTopics(kafka: Kafka, topics: Record<string, number>): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    await admin.createTopics({
      // Not kafkajs's waitForLeaders: it retries only LEADER_NOT_AVAILABLE, and a just-created topic's metadata can
      // answer UNKNOWN_TOPIC_OR_PARTITION ("does not host this topic-partition") first, which it throws. waitUntilServed
      // below retries every error until each partition's leader answers.
      waitForLeaders: false,
      topics: Object.entries(topics).map(([topic, numPartitions]) => ({
        topic,
        numPartitions,
        replicationFactor: 1,
      })),
    });
    // A leader named in metadata may not serve its partition for a moment yet (see waitUntilServed).
    await waitUntilServed(Object.keys(topics), (t) => admin.fetchTopicOffsets(t), 30_000);
  });
}

export async function deleteTopics(kafka: Kafka, topics: readonly string[]): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const gone = topics.filter((t) => existing.has(t));
    if (gone.length > 0) await admin.deleteTopics({ topics: gone, timeout: 10_000 });
  }).catch(() => {});
}

export interface Progress {
  /** Sum over partitions of the group's committed offset (0 where nothing is committed). */
  readonly committed: number;
  /** Sum of the partitions' high watermarks. */
  readonly high: number;
  /** Every partition's committed offset equals its high watermark. */
  readonly caughtUp: boolean;
}

/** Where the group stands on `topic`. */
export async function progress(admin: Admin, groupId: string, topic: string): Promise<Progress> {
  const [marks, groups] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const committed = new Map(
    (groups[0]?.partitions ?? []).map((p) => [p.partition, Math.max(0, Number(p.offset))]),
  );
  let c = 0;
  let h = 0;
  let caughtUp = true;
  for (const m of marks) {
    const high = Number(m.high);
    const at = committed.get(m.partition) ?? 0;
    c += at;
    h += high;
    if (at !== high) caughtUp = false;
  }
  return { committed: c, high: h, caughtUp };
}

/** Polls the group's committed offsets until `done` says so; fails naming `what` after `timeoutMs`. */
export async function waitForProgress(
  kafka: Kafka,
  groupId: string,
  topic: string,
  what: string,
  done: (p: Progress) => boolean,
  timeoutMs = 60_000,
  pollMs = 100,
): Promise<Progress> {
  return withAdmin(kafka, async (admin) => {
    const deadline = Date.now() + timeoutMs;
    let last: Progress | undefined;
    for (;;) {
      try {
        last = await progress(admin, groupId, topic);
        if (done(last)) return last;
      } catch {
        // The broker may be restarting; keep asking.
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last ${JSON.stringify(last)}`);
      }
      await sleep(pollMs);
    }
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface PacedProducer {
  /** Messages acknowledged so far. */
  readonly sent: () => number;
  /** Settles once every message is acknowledged (or the producer gave up). */
  readonly done: Promise<void>;
}

/**
 * Sends `messages` in chunks of `chunk`, one chunk every `intervalMs`, so records keep arriving while the test
 * does something to Vigil or the broker. A send that fails is retried by kafkajs (see `client`), idempotently.
 */
export function producePaced(
  kafka: Kafka,
  topic: string,
  messages: readonly { key: string; value: Buffer }[],
  options: { chunk: number; intervalMs: number },
): PacedProducer {
  let sent = 0;
  // Idempotent: a send retried after a timeout (a loaded machine, a leader moving) must not write its records
  // twice, or the input holds more than the test wrote and "every record committed" is never reached.
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const done = (async () => {
    await producer.connect();
    try {
      for (let i = 0; i < messages.length; i += options.chunk) {
        const started = Date.now();
        const slice = messages.slice(i, i + options.chunk);
        await producer.send({ topic, messages: [...slice] });
        sent += slice.length;
        await sleep(Math.max(0, options.intervalMs - (Date.now() - started)));
      }
    } finally {
      await producer.disconnect().catch(() => {});
    }
  })();
  return { sent: () => sent, done };
}

/**
 * Every record of `topic`, from the beginning, in each partition's offset order. Reads until every partition
 * reached the high watermark it had when reading began or, where control records of transactions make that
 * unreachable (read_committed), until nothing new has come for `idleMs` after the group was joined.
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  options: { isolation?: 'read_committed' | 'read_uncommitted'; idleMs?: number; timeoutMs?: number } = {},
): Promise<ReadRecord[]> {
  const marks = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  const high = new Map(marks.map((m) => [m.partition, Number(m.high)]));
  const seen = new Map<number, number>();
  const out: ReadRecord[] = [];
  const consumer = kafka.consumer({
    groupId: uniqueName('robustness-reader'),
    readUncommitted: options.isolation === 'read_uncommitted',
    sessionTimeout: 10_000,
  });
  let joinedAt: number | undefined;
  let lastAt = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joinedAt = Date.now();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) {
          if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
        }
        const offset = Number(message.offset);
        out.push({ partition, offset, key: message.key, value: message.value, headers });
        seen.set(partition, Math.max(seen.get(partition) ?? -1, offset));
        lastAt = Date.now();
      },
    });
    const idleMs = options.idleMs ?? 1_500;
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      const reached = [...high].every(([p, h]) => h === 0 || (seen.get(p) ?? -1) + 1 >= h);
      if (reached) break;
      if (joinedAt !== undefined && Date.now() - Math.max(joinedAt, lastAt) > idleMs) break;
      if (Date.now() > deadline) throw new Error(`timed out reading ${topic}: ${out.length} records so far`);
      await sleep(50);
    }
  } finally {
    await consumer.disconnect();
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

export const coordinate = (partition: number, offset: number): string => `${partition}:${offset}`;

export interface Expected {
  /** Coordinates (`partition:offset`) of records the model flags by a clear margin: their events must exist. */
  readonly sure: ReadonlySet<string>;
  /** Those plus records within a hair of the threshold, where float rounding in a different batch may flip. */
  readonly possible: ReadonlySet<string>;
  /** Records that cannot be decoded or turned into features: they must be dead-lettered. */
  readonly dead: ReadonlySet<string>;
  /** Records that decoded and were scored. */
  readonly scored: ReadonlySet<string>;
  /** Event id (UUIDv5 of the coordinates and model) → coordinate, for every possible anomaly. */
  readonly byEventId: ReadonlyMap<string, string>;
  /** The offline score of every scored record, by coordinate. */
  readonly scoreAt: ReadonlyMap<string, number>;
}

/** Relative band around the threshold inside which the offline and online decisions may differ. */
const MARGIN = 1e-4;

/** Scores the input topic's records offline with the artifact Vigil served: what Vigil must have emitted. */
export function expectedFromInput(
  input: readonly ReadRecord[],
  topic: string,
  decoder: RecordDecoder,
  extractor: FeatureExtractor,
  detector: Detector,
): Expected {
  const d = extractor.width;
  const rows = new Float32Array(input.length * d);
  const entities: string[] = [];
  const kept: ReadRecord[] = [];
  const dead = new Set<string>();
  for (const r of input) {
    let value: unknown;
    try {
      if (r.value === null) throw new Error('tombstone');
      value = decoder.decode(r.value);
    } catch {
      dead.add(coordinate(r.partition, r.offset));
      continue;
    }
    if (!extractor.extractInto(value, rows, kept.length * d).ok) {
      dead.add(coordinate(r.partition, r.offset));
      continue;
    }
    entities.push(extractor.entityOf(value) ?? r.key?.toString('utf8') ?? '');
    kept.push(r);
  }
  const scores = detector.score(rows, kept.length, entities);
  const sure = new Set<string>();
  const possible = new Set<string>();
  const scored = new Set<string>();
  const byEventId = new Map<string, string>();
  const scoreAt = new Map<string, number>();
  const { id, version } = detector.identity;
  for (let i = 0; i < kept.length; i++) {
    const r = kept[i]!;
    const at = coordinate(r.partition, r.offset);
    scored.add(at);
    const s = scores.scores[i]!;
    scoreAt.set(at, s);
    const t = scores.threshold[i]!;
    if (s > t * (1 - MARGIN)) {
      possible.add(at);
      byEventId.set(
        anomalyEventId({
          topic,
          partition: r.partition,
          offset: r.offset,
          modelId: id,
          modelVersion: version,
        }),
        at,
      );
    }
    if (s > t * (1 + MARGIN)) sure.add(at);
  }
  return { sure, possible, dead, scored, byEventId, scoreAt };
}

export interface DeliveryReport {
  readonly expected: number;
  /** Records within the rounding band of the threshold (allowed either way). */
  readonly borderline: number;
  readonly received: number;
  readonly unique: number;
  /** received - unique: outputs written more than once (replays after a crash or a lost commit). */
  readonly duplicates: number;
  /** Coordinates of expected events that never arrived. */
  readonly missing: readonly string[];
  /** Event ids that arrived but match no record the model flags. */
  readonly unexpected: readonly string[];
}

/** Compares the event ids read from the anomalies topic with the offline expectation. */
export function deliveryReport(expected: Expected, eventIds: readonly string[]): DeliveryReport {
  const unique = new Set(eventIds);
  const arrived = new Set<string>();
  const unexpected: string[] = [];
  for (const id of unique) {
    const at = expected.byEventId.get(id);
    if (at === undefined) unexpected.push(id);
    else arrived.add(at);
  }
  const missing = [...expected.sure].filter((at) => !arrived.has(at));
  return {
    expected: expected.sure.size,
    borderline: expected.possible.size - expected.sure.size,
    received: eventIds.length,
    unique: unique.size,
    duplicates: eventIds.length - unique.size,
    missing,
    unexpected,
  };
}

/** How many times each source coordinate appears among dead letters (by their `vigil.source.*` headers). */
export function deadLetterCounts(letters: readonly ReadRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const l of letters) {
    const at = coordinate(
      Number(l.headers['vigil.source.partition']),
      Number(l.headers['vigil.source.offset']),
    );
    counts.set(at, (counts.get(at) ?? 0) + 1);
  }
  return counts;
}

/** How many times each input coordinate was scored, from the scores topic's JSON records. */
export function scoreCounts(scores: readonly ReadRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of scores) {
    const body = JSON.parse(s.value!.toString('utf8')) as { partition: number; offset: number };
    const at = coordinate(body.partition, body.offset);
    counts.set(at, (counts.get(at) ?? 0) + 1);
  }
  return counts;
}

/** VIGIL_TEST_LOG=debug|info|warn shows an in-process Vigil's logs while debugging a failure. */
export function testLogger(name: string): Logger {
  const level = process.env.VIGIL_TEST_LOG;
  return level ? createLogger({ level, name }) : silentLogger();
}

/**
 * Events whose score is not the offline score of their record: the model Vigil served is not the one scored
 * offline (a different artifact, or model code changed under a running test). Named in failures so such a
 * mismatch is not mistaken for lost events.
 */
export function scoreMismatches(
  expected: Expected,
  events: readonly { source: { partition: number; offset: number }; score: number }[],
): string[] {
  const out: string[] = [];
  for (const e of events) {
    const at = coordinate(e.source.partition, e.source.offset);
    const offline = expected.scoreAt.get(at);
    if (offline === undefined || Math.abs(offline - e.score) > MARGIN * Math.max(Math.abs(offline), 1e-12)) {
      out.push(`${at}: online ${e.score}, offline ${offline}`);
    }
  }
  return out;
}
