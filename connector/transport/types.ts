/**
 * The Kafka transport contract the pipeline is written against. Two implementations sit behind it
 * (kafkajs, node-rdkafka), chosen by config; test/integration/transport/conformance.ts holds them to the same
 * behaviour. Nothing here imports a Kafka client.
 *
 * Offsets are `bigint` everywhere. The pipeline's only arithmetic on offsets is "commit = last + 1" and
 * comparisons; bigint keeps both exact over Kafka's whole int64 range, and the type system refuses the two
 * classic string-offset bugs ('9' > '10', '41' + 1 === '411'). The cost, measured here, is 15–50 ns per record
 * (BigInt from a number / from kafkajs's decimal string). node-rdkafka hands offsets over as JS doubles, so on
 * that transport offsets above 2^53 are already rounded before we see them (see `capabilities.exactOffsets`).
 */

export type TransportKind = 'kafkajs' | 'rdkafka';

// ---------------------------------------------------------------- connection and security

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface SaslOptions {
  mechanism: SaslMechanism;
  username: string;
  password: string;
}

export interface SslOptions {
  /** PEM file of the CA(s) that signed the brokers' certificates; the system store when absent. */
  caFile?: string;
  /** Client certificate (PEM) for mutual TLS; needs `keyFile`. */
  certFile?: string;
  /** Client private key (PEM) for mutual TLS; needs `certFile`. */
  keyFile?: string;
  /** Passphrase of `keyFile`, when it is encrypted. */
  keyPassword?: string;
  /** Verify the broker certificate chain and host name. Default true; false only for local experiments. */
  rejectUnauthorized?: boolean;
}

export interface SecurityOptions {
  protocol: SecurityProtocol;
  /** Required for SASL_PLAINTEXT and SASL_SSL, refused otherwise. */
  sasl?: SaslOptions;
  /** Allowed only for SSL and SASL_SSL. */
  ssl?: SslOptions;
}

/** Everything both clients need to reach the cluster. The zod config schema in core/config maps onto this. */
export interface TransportOptions {
  /** `host:port` bootstrap addresses. */
  brokers: readonly string[];
  clientId: string;
  security: SecurityOptions;
  /** Time allowed to open a connection (TCP + TLS + SASL). Default 10 000 ms. */
  connectionTimeoutMs?: number;
  /** Time allowed for one request/response round trip. Default 30 000 ms. */
  requestTimeoutMs?: number;
  /**
   * Extra librdkafka properties, applied last (rdkafka transport only), for tuning Vigil does not model
   * (e.g. `socket.keepalive.enable`). Security and commit settings set by Vigil cannot be overridden here.
   */
  librdkafka?: Readonly<Record<string, string | number | boolean>>;
}

export interface TransportCapabilities {
  /** Exactly-once consume-transform-produce (transactional producer + offsets in the transaction). */
  readonly transactions: boolean;
  /**
   * Offsets sent in a transaction carry the consumer's generation and member id (KIP-447), so a consumer that
   * lost its partitions cannot commit them through a transaction. Without it, use one transactional id per
   * input partition for fencing.
   */
  readonly transactionalGroupFencing: boolean;
  /** Offsets are exact over the whole int64 range (false: exact up to 2^53). */
  readonly exactOffsets: boolean;
  /**
   * Header values may be any bytes. False on rdkafka: node-rdkafka writes header values as NUL-terminated
   * UTF-8 text, so send() refuses other values with a TypeError rather than corrupt them. Reading is exact on both.
   */
  readonly binaryHeaders: boolean;
}

// ---------------------------------------------------------------- records

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  readonly offset: bigint;
}

/** One record header. Kafka allows repeated keys and keeps their order, so headers are a list, not a map. */
export interface RecordHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Shared frozen empty array when the record has none (no allocation per record). */
  readonly headers: readonly RecordHeader[];
  /** Record timestamp, ms since the epoch (create or log-append time, per topic config). */
  readonly timestamp: number;
}

/** Records of one partition, in offset order, delivered to the handler as a unit. */
export interface RecordBatch {
  readonly topic: string;
  readonly partition: number;
  /** Never empty. */
  readonly records: readonly KafkaRecord[];
  /**
   * The offset to commit once every record of this batch is done: last record + 1, or past the end of a
   * transaction's control record where the client saw it (so a finished transactional partition shows no lag).
   */
  readonly nextOffset: bigint;
  /** Partition high watermark as of the fetch, -1n when the client did not report it. */
  readonly highWatermark: bigint;
  /**
   * Assignment epoch this batch was delivered under. It changes on every assignment; pass it back in
   * `CommitOffset.epoch` and a commit produced from work of an older assignment is refused even if the same
   * partition was assigned to this consumer again since.
   */
  readonly epoch: number;
}

/**
 * Called with one partition's batch at a time. The returned promise gates the next delivery for that
 * partition (backpressure): nothing more of that partition is delivered until it settles. Batches of
 * different partitions may be in flight together. A rejection is fatal: the consumer stops delivering, closes
 * (onRevoked with reason 'close'), and `closed` rejects with the error.
 *
 * kafkajs heartbeats only from its fetch loop, so the transport heartbeats for the handler while it runs;
 * a handler may take longer than the session timeout on either transport, but not longer than the
 * rebalance timeout / max.poll.interval (`ConsumerOptions.maxPollIntervalMs`).
 */
export type BatchHandler = (batch: RecordBatch) => Promise<void>;

// ---------------------------------------------------------------- consumer

export type RevokeReason =
  /** A group rebalance: the partitions are still ours until the hook returns; commits in the hook apply. */
  | 'rebalance'
  /** close() was called: same guarantees as 'rebalance'. */
  | 'close'
  /**
   * The partitions were lost (session expired, client crash, fatal error): another member may already own
   * them. Commits are refused; drop state without committing.
   */
  | 'lost';

export interface RevokeInfo {
  readonly reason: RevokeReason;
}

export interface RebalanceHooks {
  /**
   * After partitions are assigned and before any of their records are delivered. Deliveries wait for it.
   * Pause state does not carry over a rebalance: re-pause here if needed.
   */
  onAssigned?(partitions: readonly TopicPartition[]): Promise<void> | void;
  /**
   * Before partitions are given up, after every handler call for them has settled and no further batch of
   * theirs will be delivered. Drain outputs, commit, then drop per-partition state. When it returns (or
   * rejects, which is logged), commits for these partitions are refused. Must finish within the rebalance
   * timeout, or the group moves on without this member.
   */
  onRevoked?(partitions: readonly TopicPartition[], info: RevokeInfo): Promise<void> | void;
}

export interface ConsumerOptions {
  groupId: string;
  topics: readonly string[];
  /** Where to start a partition the group has no committed offset for. Default 'earliest'. */
  startFrom?: 'earliest' | 'latest';
  /** Default 'read_committed': records of aborted or open transactions are never delivered. */
  isolation?: 'read_committed' | 'read_uncommitted';
  /** Most records per handler call. Default 500. */
  maxBatchRecords?: number;
  /** Default 30 000 ms. */
  sessionTimeoutMs?: number;
  /** Default 3 000 ms. */
  heartbeatIntervalMs?: number;
  /**
   * Longest a member may take to rejoin during a rebalance (kafkajs rebalanceTimeout, librdkafka
   * max.poll.interval.ms), which bounds a handler call plus onRevoked. Default 300 000 ms.
   */
  maxPollIntervalMs?: number;
  /**
   * Records buffered ahead of the handler per partition (rdkafka transport; kafkajs buffers one fetch
   * response). Fetching for a partition pauses at this many and resumes at half. Default 4 × maxBatchRecords.
   */
  maxBufferedRecordsPerPartition?: number;
  /** Fetch request sizing, passed to the client as they are; each has the Java client's default. */
  fetch?: FetchOptions;
  hooks?: RebalanceHooks;
}

export interface FetchOptions {
  /** fetch.min.bytes (kafkajs minBytes). Default 1. */
  minBytes?: number;
  /** fetch.max.bytes (kafkajs maxBytes). Default 52 428 800; librdkafka refuses less than 1 000 000. */
  maxBytes?: number;
  /** max.partition.fetch.bytes (kafkajs maxBytesPerPartition). Default 1 048 576. */
  maxBytesPerPartition?: number;
  /**
   * fetch.max.wait.ms (kafkajs maxWaitTimeInMs). Default 100: it also bounds how long close() and pause() wait
   * for an idle long-poll, and how long kafkajs sleeps with every partition paused.
   */
  maxWaitMs?: number;
}

/** A commit request: `offset` is the next offset to read (last processed + 1). */
export interface CommitOffset extends TopicPartitionOffset {
  /** The `RecordBatch.epoch` the offset came from; when given, a commit from an older assignment is refused. */
  readonly epoch?: number;
}

export interface CommitResult {
  /** Offsets the broker accepted. */
  readonly committed: readonly TopicPartitionOffset[];
  /**
   * Offsets refused without being sent, because this consumer no longer owns the partition (revoked, lost,
   * never assigned) or `epoch` is stale. A revoke racing a commit is normal operation, not an error: the
   * records will be delivered again to the partition's new owner.
   */
  readonly refused: readonly TopicPartitionOffset[];
}

export interface PartitionLag extends TopicPartition {
  /** High watermark as last reported by a fetch, -1n before the first fetch. */
  readonly highWatermark: bigint;
  /** Next offset to be delivered, -1n before the first delivery. */
  readonly position: bigint;
  /** highWatermark - position, or -1n when either is unknown. */
  readonly lag: bigint;
}

export interface Consumer {
  readonly kind: TransportKind;
  readonly groupId: string;
  /**
   * Connects, subscribes and starts delivering to `handler`. Resolves once the group is being joined (not
   * once partitions are assigned: watch onAssigned for that). Rejects with BROKER_UNAVAILABLE if the cluster
   * cannot be reached within the connection timeout. Call once.
   */
  start(handler: BatchHandler): Promise<void>;
  /** Stops delivery from these partitions (after any in-flight handler call) until resume(). */
  pause(partitions: readonly TopicPartition[]): void;
  resume(partitions: readonly TopicPartition[]): void;
  /**
   * Next delivery for the partition starts at `offset`. Records of the partition buffered or fetched before
   * the seek are dropped; an in-flight handler call is not interrupted. Ignored for partitions not owned.
   */
  seek(position: TopicPartitionOffset): void;
  /**
   * Commits the given offsets (auto-commit is always off). Offsets of partitions not owned are refused
   * without being sent (see CommitResult). Rejects with COMMIT_FAILED when the broker refuses or cannot be
   * reached; `details.rebalance` is true when the failure is the group moving on (not worth retrying: the
   * partitions are about to be revoked).
   */
  commit(offsets: readonly CommitOffset[]): Promise<CommitResult>;
  /** Partitions currently owned (assigned and not being revoked). */
  assignment(): TopicPartition[];
  /** Per owned partition: high watermark, position and lag, from client state (no request). */
  lag(): PartitionLag[];
  /**
   * Stops fetching, lets in-flight handler calls settle, runs onRevoked (reason 'close'), leaves the group
   * and disconnects. Idempotent.
   */
  close(): Promise<void>;
  /**
   * Settles when the consumer has stopped for good: resolves after close(); rejects with the error when it
   * died instead (handler rejection, restarts exhausted). Never reported as an unhandled rejection.
   */
  readonly closed: Promise<void>;
}

// ---------------------------------------------------------------- group-less whole-topic reader

export interface TopicReaderOptions {
  readonly topic: string;
  /**
   * After catching up, keep delivering records written later, until close(). Default false: the reader
   * closes itself once caught up.
   */
  readonly follow?: boolean;
  /** Most records per handler call. Default 500. */
  readonly maxBatchRecords?: number;
  /** Longest one fetch waits for new records once a partition is caught up (follow mode). Default 500 ms. */
  readonly maxWaitMs?: number;
}

/**
 * Reads every partition of one topic from its earliest retained offset, without joining a consumer group
 * and without committing anything (so any number of readers see the whole topic, and nothing is left on the
 * broker afterwards). Records are read uncommitted: it is meant for topics Vigil writes without
 * transactions, such as the model registry. Handler calls are awaited per partition, as for Consumer.
 */
export interface TopicReader {
  readonly kind: TransportKind;
  readonly topic: string;
  /**
   * Starts reading and resolves once caught up: every record below each partition's high watermark, as it
   * stood when start() was called, has been handed to `handler` and its call has settled. Rejects (and
   * closes the reader) when the topic does not exist, the cluster cannot be reached within the connection
   * timeout, or the handler rejects. Call once.
   */
  start(handler: BatchHandler): Promise<void>;
  /** Stops fetching, lets an in-flight handler call settle, disconnects. Idempotent. */
  close(): Promise<void>;
  /** Resolves after close() (or after catching up when not following); rejects with the error that stopped it. */
  readonly closed: Promise<void>;
}

// ---------------------------------------------------------------- producer

export interface ProduceHeader {
  readonly key: string;
  readonly value: Buffer | string | null;
}

export interface ProduceMessage {
  readonly topic: string;
  readonly key: Buffer | string | null;
  /** null produces a tombstone. */
  readonly value: Buffer | string | null;
  readonly headers?: readonly ProduceHeader[];
  /** Partition to write to; the key hash (murmur2, Java-compatible on both transports) when absent. */
  readonly partition?: number;
  /** ms since the epoch; the producer's clock when absent. */
  readonly timestamp?: number;
}

export interface ProducerOptions {
  /**
   * Longest a send() waits for every acknowledgement before rejecting with PRODUCE_FAILED (retriable).
   * Default 30 000 ms.
   */
  deliveryTimeoutMs?: number;
  /** Time the client waits to fill a batch (rdkafka linger.ms; kafkajs sends each call at once). Default 5. */
  lingerMs?: number;
  /**
   * Default 'none'. snappy and lz4 are compiled into node-rdkafka but need codec packages kafkajs does not
   * ship: the kafkajs transport refuses them (CONFIG_INVALID). zstd is in neither build here.
   */
  compression?: 'none' | 'gzip' | 'snappy' | 'lz4';
  /**
   * enable.idempotence. Default true. Off (for clusters that refuse the IDEMPOTENT_WRITE operation), a retried
   * send may write a message twice, and one request in flight per connection keeps retries in order.
   * Transactional producers are always idempotent.
   */
  idempotent?: boolean;
}

/**
 * Idempotent (enable.idempotence, acks=all) producer. A send resolves only when every message of it is
 * acknowledged by all in-sync replicas; otherwise it rejects with PRODUCE_FAILED, `retriable` set from the
 * client's classification, the client error as `cause`. Messages of one send to the same partition keep
 * their order; a rejected send may have written some of its messages (at-least-once).
 */
export interface Producer {
  readonly kind: TransportKind;
  /** Connects now (fail fast at start-up); send() connects on first use otherwise. BROKER_UNAVAILABLE. */
  connect(): Promise<void>;
  send(messages: readonly ProduceMessage[]): Promise<void>;
  /** Resolves when every message handed to send() so far is acknowledged or failed. */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes (bounded by deliveryTimeoutMs), then disconnects. Idempotent. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------- transactions

export interface TransactionalProducerOptions extends ProducerOptions {
  /** Stable per logical producer instance (e.g. `${app}-${instanceId}`); a restart with the same id fences the old one. */
  transactionalId: string;
  /** Broker aborts a transaction left open longer than this. Default 60 000 ms. */
  transactionTimeoutMs?: number;
}

export interface Transaction {
  /** Resolves when the messages are acknowledged (still invisible to read_committed consumers until commit). */
  send(messages: readonly ProduceMessage[]): Promise<void>;
  /**
   * Adds consumer offsets (next offset to read) to the transaction; they are committed if and only if the
   * transaction commits. `consumer` must come from the same transport; offsets of partitions it no longer owns
   * are refused with COMMIT_FAILED (non-retriable) before anything is sent.
   */
  sendOffsets(consumer: Consumer, offsets: readonly CommitOffset[]): Promise<void>;
  /** PRODUCE_FAILED on failure; the transaction is then aborted (best effort) and nothing of it is visible. */
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface TransactionalProducer {
  readonly kind: TransportKind;
  /**
   * Registers the transactional id now: an older instance with the same id is fenced and its open transaction
   * aborted. Call it before consuming: until that transaction ends, the offsets it carries are unstable and a
   * read_committed consumer's offset fetch waits (KIP-447; librdkafka waits, up to the transaction timeout).
   */
  init(): Promise<void>;
  /** Registers the transactional id (fencing older instances) on first call. One open transaction at a time. */
  begin(): Promise<Transaction>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- admin

export interface TopicSpec {
  readonly name: string;
  /** Default 3; -1: the broker's `num.partitions`. */
  readonly partitions?: number;
  /** Default 1 (the local broker has one node); -1: the broker's `default.replication.factor`. */
  readonly replicationFactor?: number;
  readonly config?: Readonly<Record<string, string>>;
}

export interface PartitionWatermarks {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
}

export interface TransportAdmin {
  /** Names of the topics the cluster has (those this client may describe). */
  listTopics(): Promise<string[]>;
  /**
   * Creates the topics that do not exist yet (existing ones are left as they are, and need no CREATE right);
   * resolves when every partition of the created ones is served by its leader.
   */
  createTopics(topics: readonly TopicSpec[]): Promise<void>;
  /** Deletes the topics; unknown ones are ignored. */
  deleteTopics(names: readonly string[]): Promise<void>;
  /** Low and high watermark of every partition of `topic`, by partition. */
  fetchWatermarks(topic: string): Promise<PartitionWatermarks[]>;
  /** Committed offsets of `groupId` for every partition of the topics; -1n where nothing is committed. */
  fetchCommittedOffsets(groupId: string, topics: readonly string[]): Promise<TopicPartitionOffset[]>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- factory result

export interface Transport {
  readonly kind: TransportKind;
  readonly capabilities: TransportCapabilities;
  consumer(options: ConsumerOptions): Consumer;
  producer(options?: ProducerOptions): Producer;
  /** Throws CONFIG_INVALID when `capabilities.transactions` is false. */
  transactionalProducer(options: TransactionalProducerOptions): TransactionalProducer;
  admin(): TransportAdmin;
  /** A group-less reader of a whole topic (see TopicReader). */
  topicReader(options: TopicReaderOptions): TopicReader;
  /** Closes every consumer, producer and admin client this transport created that is still open. */
  close(): Promise<void>;
}
