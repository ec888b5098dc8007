import { describe, expect, it } from 'vitest';
import { exactlyOnceId, prepareTopics } from '../../../cli/compose.js';
import type { TopicSpec, TransportAdmin, TransportCapabilities } from '../../../connector/transport/types.js';
import { validateConfig } from '../../../core/config/load.js';
import { isVigilError } from '../../../core/errors.js';
import { silentLogger } from '../../../core/logger.js';

const caps = (transactionalGroupFencing: boolean): TransportCapabilities => ({
  transactions: true,
  transactionalGroupFencing,
  exactOffsets: true,
  binaryHeaders: true,
});

function config(extra: { kafka?: Record<string, unknown>; output?: Record<string, unknown> } = {}) {
  return validateConfig({
    kafka: { groupId: 'sensors', ...extra.kafka },
    input: { topics: ['readings'], format: 'avro', schema: 'reading.avsc' },
    features: { preset: 'sensor-reading' },
    output: { anomaliesTopic: 'anomalies', deadLetterTopic: 'dlq', ...extra.output },
    delivery: 'exactly-once',
  });
}

describe('exactlyOnceId', () => {
  it('is prefix-group-instanceId: the same on every restart of a replica, distinct between replicas', () => {
    const id = (instanceId: string) =>
      exactlyOnceId(config({ kafka: { instanceId } }), caps(false), silentLogger(), () => 'random');
    expect(id('vigil-0')).toBe('vigil-sensors-vigil-0');
    expect(id('vigil-0')).toBe(id('vigil-0'));
    expect(id('vigil-1')).not.toBe(id('vigil-0'));
  });

  it('without an instance id and without group fencing (kafkajs), refuses exactly-once naming the key', () => {
    let error: unknown;
    try {
      exactlyOnceId(config(), caps(false), silentLogger());
    } catch (err) {
      error = err;
    }
    expect(isVigilError(error) && error.code).toBe('CONFIG_INVALID');
    expect((error as Error).message).toMatch(/^kafka\.instanceId: /);
  });

  it('without an instance id but with KIP-447 fencing (rdkafka), takes an id of its own per process', () => {
    let n = 0;
    const next = () => exactlyOnceId(config(), caps(true), silentLogger(), () => `u${n++}`);
    const a = next();
    const b = next();
    expect(a).toBe('vigil-sensors-vigil-u0');
    expect(b).not.toBe(a);
  });
});

/** An admin over an in-memory topic list that records what it was asked to create. */
function fakeAdmin(existing: string[]) {
  const created: TopicSpec[] = [];
  const admin: TransportAdmin = {
    listTopics: async () => [...existing],
    createTopics: async (specs) => {
      created.push(...specs);
      existing.push(...specs.map((s) => s.name));
    },
    deleteTopics: async () => {},
    fetchWatermarks: async () => [],
    fetchCommittedOffsets: async () => [],
    close: async () => {},
  };
  return { admin, created };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return isVigilError(err) ? `${err.code}: ${err.message}` : String(err);
  }
}

describe('prepareTopics', () => {
  it('a missing input topic is named, and nothing is created', async () => {
    const { admin, created } = fakeAdmin(['anomalies', 'dlq']);
    expect(await codeOf(prepareTopics(admin, config(), silentLogger()))).toMatch(
      /^TOPIC_NOT_FOUND: input\.topics: "readings" does not exist/,
    );
    expect(created).toEqual([]);
  });

  it('asks for no creation when every output topic exists (no CREATE right needed)', async () => {
    const { admin, created } = fakeAdmin(['readings', 'anomalies', 'dlq']);
    await prepareTopics(admin, config(), silentLogger());
    expect(created).toEqual([]);
  });

  it('creates only the missing outputs, with the broker defaults unless sized by config', async () => {
    const first = fakeAdmin(['readings', 'anomalies']);
    await prepareTopics(first.admin, config(), silentLogger());
    expect(first.created).toEqual([{ name: 'dlq', partitions: -1, replicationFactor: -1, config: {} }]);

    const sized = fakeAdmin(['readings']);
    const createTopics = { partitions: 6, replicationFactor: 3, config: { 'min.insync.replicas': '2' } };
    await prepareTopics(sized.admin, config({ output: { createTopics } }), silentLogger());
    expect(sized.created.map((s) => s.name)).toEqual(['anomalies', 'dlq']);
    for (const s of sized.created) {
      expect(s).toMatchObject({
        partitions: 6,
        replicationFactor: 3,
        config: { 'min.insync.replicas': '2' },
      });
    }
  });

  it('with creation off, a missing output topic stops the start with its key and name', async () => {
    const { admin, created } = fakeAdmin(['readings', 'anomalies']);
    const cfg = config({ output: { createTopics: { enabled: false } } });
    expect(await codeOf(prepareTopics(admin, cfg, silentLogger()))).toMatch(
      /^TOPIC_NOT_FOUND: output\.deadLetterTopic "dlq": not on the cluster/,
    );
    expect(created).toEqual([]);
  });
});
