import { VigilError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { KafkajsAdmin } from './kafkajs/admin.js';
import { createKafka } from './kafkajs/client.js';
import { KafkajsConsumer } from './kafkajs/consumer.js';
import { KafkajsProducer, KafkajsTransactionalProducer } from './kafkajs/producer.js';
import { KafkajsTopicReader } from './kafkajs/topic-reader.js';
import { RdkafkaAdmin } from './rdkafka/admin.js';
import { RdkafkaConsumer } from './rdkafka/consumer.js';
import { loadRdkafka } from './rdkafka/load.js';
import { RdkafkaProducer, RdkafkaTransactionalProducer } from './rdkafka/producer.js';
import { RdkafkaTopicReader } from './rdkafka/topic-reader.js';
import { validateTransportOptions } from './security.js';
import type {
  ConsumerOptions,
  ProducerOptions,
  TopicReaderOptions,
  TransactionalProducerOptions,
  Transport,
  TransportCapabilities,
  TransportKind,
  TransportOptions,
} from './types.js';

export { type ClientFailure, classifyKafkajsError, classifyRdkafkaError } from './errors.js';
export * from './types.js';

const CAPABILITIES: Record<TransportKind, TransportCapabilities> = {
  kafkajs: Object.freeze({
    transactions: true,
    transactionalGroupFencing: false,
    exactOffsets: true,
    binaryHeaders: true,
  }),
  rdkafka: Object.freeze({
    transactions: true,
    transactionalGroupFencing: true,
    exactOffsets: false,
    binaryHeaders: false,
  }),
};

interface Closable {
  close(): Promise<void>;
}

/**
 * The transport for `kind`, configured once from `options` (validated here: a bad security block fails now,
 * naming the key). Clients are created lazily by the returned methods; `close()` closes whatever is still open.
 */
export function createTransport(kind: TransportKind, options: TransportOptions, logger: Logger): Transport {
  validateTransportOptions(options);
  const frozen: TransportOptions = Object.freeze({
    ...options,
    brokers: Object.freeze([...options.brokers]),
  });
  const log = logger.child({ component: 'transport', transport: kind });
  const open = new Set<Closable>();
  const register = <T extends Closable>(make: (onClosed: () => void) => T): T => {
    let instance: T | undefined;
    instance = make(() => {
      if (instance) open.delete(instance);
    });
    open.add(instance);
    return instance;
  };

  if (kind === 'kafkajs') {
    const kafka = createKafka(frozen, log);
    return {
      kind,
      capabilities: CAPABILITIES.kafkajs,
      consumer: (o: ConsumerOptions) => register((done) => new KafkajsConsumer(kafka, o, log, done)),
      producer: (o: ProducerOptions = {}) =>
        register((done) => new KafkajsProducer(kafka, frozen, o, log, done)),
      transactionalProducer: (o: TransactionalProducerOptions) =>
        register((done) => new KafkajsTransactionalProducer(kafka, frozen, o, log, done)),
      admin: () => register((done) => new KafkajsAdmin(kafka, done)),
      topicReader: (o: TopicReaderOptions) => register((done) => new KafkajsTopicReader(kafka, o, log, done)),
      close: () => closeAll(open),
    };
  }
  if (kind === 'rdkafka') {
    loadRdkafka();
    return {
      kind,
      capabilities: CAPABILITIES.rdkafka,
      consumer: (o: ConsumerOptions) => register((done) => new RdkafkaConsumer(frozen, o, log, done)),
      producer: (o: ProducerOptions = {}) => register((done) => new RdkafkaProducer(frozen, o, log, done)),
      transactionalProducer: (o: TransactionalProducerOptions) =>
        register((done) => new RdkafkaTransactionalProducer(frozen, o, log, done)),
      admin: () => register((done) => new RdkafkaAdmin(frozen, done)),
      topicReader: (o: TopicReaderOptions) =>
        register((done) => new RdkafkaTopicReader(frozen, o, log, done)),
      close: () => closeAll(open),
    };
  }
  throw new VigilError('CONFIG_INVALID', `transport = ${JSON.stringify(kind)}: 'kafkajs' or 'rdkafka'`, {
    details: { key: 'transport', value: kind, allowed: ['kafkajs', 'rdkafka'] },
  });
}

async function closeAll(open: Set<Closable>): Promise<void> {
  // Consumers first (their onRevoked may still produce and commit), then producers and admin clients.
  const all = [...open];
  const isConsumer = (c: Closable) =>
    c instanceof KafkajsConsumer ||
    c instanceof RdkafkaConsumer ||
    c instanceof KafkajsTopicReader ||
    c instanceof RdkafkaTopicReader;
  await Promise.allSettled(all.filter(isConsumer).map((c) => c.close()));
  await Promise.allSettled(all.filter((c) => !isConsumer(c)).map((c) => c.close()));
}
