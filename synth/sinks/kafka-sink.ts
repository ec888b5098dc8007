import { CompressionTypes, type Message, type Producer } from 'kafkajs';
import { VigilError } from '../../core/errors.js';
import type { AvroEncoder } from '../../schemas/codec.js';
import type { RecordSink } from './types.js';

export type Acks = -1 | 0 | 1;

const MAX_CACHED_KEYS = 100_000;

export interface KafkaSinkOptions<T> {
  /** A connected producer; the sink never connects or disconnects it. */
  producer: Producer;
  topic: string;
  /** Plain (AvroCodec) or Confluent-framed (ConfluentEncoder) values. */
  encoder: AvroEncoder<T>;
  /** Sends awaiting acknowledgement at once. More than 1 lets a retried batch land after a later one. Default 4. */
  maxInFlight?: number;
  /** -1 = all in-sync replicas (default), 1 = leader only, 0 = none. */
  acks?: Acks;
  compression?: 'none' | 'gzip';
}

/**
 * Produces batches with kafkajs, several sends in flight. Each batch is encoded into one arena buffer (values
 * are views into it) instead of one allocation per record; an arena goes back to the pool once its send settles,
 * since kafkajs has copied the bytes into its request by then.
 */
export class KafkaSink<T> implements RecordSink<T> {
  private readonly producer: Producer;
  private readonly topic: string;
  private readonly encoder: AvroEncoder<T>;
  private readonly maxInFlight: number;
  private readonly acks: Acks;
  private readonly compression: CompressionTypes;
  private readonly inflight = new Set<Promise<void>>();
  private readonly pool: Buffer[] = [];
  /** Entity keys as bytes: kafkajs would otherwise make a Buffer from the string for every message. */
  private readonly keyBytes = new Map<string, Buffer>();
  private failure: VigilError | undefined;
  /** Running estimate of bytes per encoded record, to size arenas. */
  private bytesPerRecord = 512;
  private bytes = 0;
  private closed = false;

  constructor(options: KafkaSinkOptions<T>) {
    this.producer = options.producer;
    this.topic = options.topic;
    this.encoder = options.encoder;
    this.maxInFlight = options.maxInFlight ?? 4;
    this.acks = options.acks ?? -1;
    this.compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be an integer ≥ 1, got ${this.maxInFlight}`);
    }
  }

  get bytesWritten(): number {
    return this.bytes;
  }

  async write(records: readonly T[], keys: readonly string[]): Promise<void> {
    if (this.closed) throw new Error('KafkaSink is closed');
    this.throwIfFailed();
    while (this.inflight.size >= this.maxInFlight) {
      await Promise.race(this.inflight);
      this.throwIfFailed();
    }
    if (records.length === 0) return;

    let arena = this.acquire(Math.ceil(records.length * this.bytesPerRecord * 1.25));
    const arenas = [arena];
    const messages: Message[] = new Array(records.length);
    let pos = 0;
    let total = 0;
    for (let i = 0; i < records.length; i++) {
      let end = this.encoder.encodeInto(records[i]!, arena, pos);
      if (end < 0) {
        // Out of room: the rest of the batch goes into a bigger arena (earlier values keep viewing the old one).
        arena = this.acquire(Math.max(arena.length * 2, (pos - end) * 2));
        arenas.push(arena);
        pos = 0;
        end = this.encoder.encodeInto(records[i]!, arena, 0);
        if (end < 0) throw new RangeError(`record ${i} does not fit a ${arena.length}-byte arena`);
      }
      messages[i] = { key: this.keyOf(keys[i]!), value: arena.subarray(pos, end) };
      total += end - pos;
      pos = end;
    }
    this.bytes += total;
    this.bytesPerRecord = Math.max(16, total / records.length);

    const send = this.producer
      .send({ topic: this.topic, messages, acks: this.acks, compression: this.compression })
      .then(
        () => undefined,
        (cause: unknown) => {
          this.failure ??= new VigilError(
            'PRODUCE_FAILED',
            `producing to ${this.topic} failed: ${String(cause)}`,
            {
              cause,
              details: { topic: this.topic, records: records.length },
            },
          );
        },
      )
      .finally(() => {
        this.inflight.delete(send);
        for (const a of arenas) this.release(a);
      });
    this.inflight.add(send);
  }

  async flush(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all(this.inflight);
    this.throwIfFailed();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      this.pool.length = 0;
    }
  }

  private keyOf(key: string): Buffer | string {
    let bytes = this.keyBytes.get(key);
    if (bytes === undefined) {
      // Bounded: beyond this many entities the string goes to kafkajs as is.
      if (this.keyBytes.size >= MAX_CACHED_KEYS) return key;
      bytes = Buffer.from(key);
      this.keyBytes.set(key, bytes);
    }
    return bytes;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private acquire(size: number): Buffer {
    for (let i = 0; i < this.pool.length; i++) {
      if (this.pool[i]!.length >= size) return this.pool.splice(i, 1)[0]!;
    }
    return Buffer.allocUnsafeSlow(Math.max(size, 64 * 1024));
  }

  private release(arena: Buffer): void {
    // Bounded pool: one arena per send that can be in flight, plus the one being filled.
    if (this.pool.length <= this.maxInFlight) this.pool.push(arena);
  }
}
