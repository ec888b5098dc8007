/**
 * Writing the benchmark's input: a backlog filled as fast as the broker takes it, or a stream paced at a
 * fixed rate (in a process of its own, see paced-producer.ts, so that producing never steals the measured
 * process's event loop). Both use the rdkafka transport's producer whatever transport is being measured: the
 * load generator is not what is measured, and it is the faster of the two.
 */
import { createTransport } from '../../connector/transport/index.js';
import type { ProduceMessage, Producer, Transport } from '../../connector/transport/types.js';
import { silentLogger } from '../../core/logger.js';
import type { EncodedRecord } from './sensor.js';
import { percentile, Samples } from './stats.js';

export function loadTransport(bootstrap: string, clientId: string): Transport {
  return createTransport(
    'rdkafka',
    { brokers: [bootstrap], clientId, security: { protocol: 'PLAINTEXT' } },
    silentLogger(),
  );
}

export async function createTopics(bootstrap: string, topics: readonly string[], partitions: number) {
  const transport = loadTransport(bootstrap, 'bench-admin');
  const admin = transport.admin();
  try {
    await admin.createTopics(topics.map((name) => ({ name, partitions })));
  } finally {
    await admin.close();
    await transport.close();
  }
}

/** Writes `total` records cycled from `pool`; resolves when all are acknowledged. Returns records/s. */
export async function fillBacklog(
  bootstrap: string,
  topic: string,
  pool: readonly EncodedRecord[],
  total: number,
): Promise<number> {
  const transport = loadTransport(bootstrap, 'bench-fill');
  const producer = transport.producer({ lingerMs: 20 });
  const chunk = 10_000;
  const maxInFlight = 8;
  const inFlight = new Set<Promise<void>>();
  const t0 = performance.now();
  try {
    await producer.connect();
    for (let start = 0; start < total; start += chunk) {
      const n = Math.min(chunk, total - start);
      const messages: ProduceMessage[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const r = pool[(start + i) % pool.length]!;
        messages[i] = { topic, key: r.key, value: r.value };
      }
      const p = producer.send(messages).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await producer.close();
    await transport.close();
  }
  return (total * 1000) / (performance.now() - t0);
}

export interface PacedJob {
  readonly bootstrap: string;
  readonly topic: string;
  readonly rate: number;
  /** Epoch ms at which producing starts. */
  readonly startAt: number;
  readonly durationMs: number;
  readonly lingerMs: number;
  readonly poolSize: number;
}

export interface PacedResult {
  readonly sent: number;
  readonly achievedRate: number;
  /** Furthest the producer fell behind its schedule, ms. */
  readonly maxBehindMs: number;
  /** Each send() → acknowledged, ms: p50, p99, max. Records are stamped at send(), so this is part of their latency. */
  readonly ack: { p50: number; p99: number; max: number };
}

/**
 * Sends `rate` records a second from `startAt` for `durationMs`, in small slices every 2 ms (a slice holds the
 * records due since the last one, so a late tick catches up instead of lowering the rate). Each record is
 * stamped by the client when handed over, which is where its latency starts.
 */
export async function pacedProduce(producer: Producer, job: PacedJob, pool: readonly EncodedRecord[]) {
  const total = Math.round((job.rate * job.durationMs) / 1000);
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  let maxBehindMs = 0;
  let failed: unknown;
  const acks = new Samples();
  while (Date.now() < job.startAt) await new Promise((r) => setTimeout(r, 1));
  const t0 = Date.now();
  while (sent < total) {
    const now = Date.now();
    const due = Math.min(total, Math.floor(((now - t0) * job.rate) / 1000));
    if (due > sent) {
      maxBehindMs = Math.max(maxBehindMs, ((due - sent) * 1000) / job.rate);
      const messages: ProduceMessage[] = [];
      for (; sent < due; sent++) {
        const r = pool[sent % pool.length]!;
        messages.push({ topic: job.topic, key: r.key, value: r.value });
      }
      const t0 = performance.now();
      const p = producer.send(messages).then(
        () => {
          acks.push(performance.now() - t0);
          inFlight.delete(p);
        },
        (err: unknown) => {
          failed ??= err;
          inFlight.delete(p);
        },
      );
      inFlight.add(p);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(inFlight);
  if (failed !== undefined) throw failed;
  const sorted = acks.sorted();
  return {
    sent,
    achievedRate: (sent * 1000) / (Date.now() - t0),
    maxBehindMs,
    ack: {
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
    },
  };
}
