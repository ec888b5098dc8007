import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import avro from 'avsc';
import type { AvroSchema } from '../../schemas/avro.js';
import type { RecordSink } from './types.js';

export type FileFormat = 'ocf' | 'jsonl';

export interface AvroFileSinkOptions {
  path: string;
  /** Written into the file header as is (keep logical types: pass the .avsc JSON, not a built type). */
  schema: AvroSchema;
  /** Block compression. Default null (none). */
  codec?: 'null' | 'deflate';
  /**
   * The container's 16-byte sync marker. avsc draws one at random, which would make two runs with the same seed
   * differ; the runner passes one derived from the seed.
   */
  syncMarker?: Buffer;
}

/** Waits for 'drain' when a stream's buffer is full (backpressure), failing if the stream errors meanwhile. */
async function drained(stream: NodeJS.WritableStream & NodeJS.EventEmitter): Promise<void> {
  await once(stream, 'drain');
}

/**
 * An Avro object container file (readable with avsc's createFileDecoder, avro-tools, Spark …). The same as
 * avsc's createFileEncoder, except that close() resolves only when the file is fully written.
 */
export class AvroFileSink<T> implements RecordSink<T> {
  private readonly encoder: InstanceType<typeof avro.streams.BlockEncoder>;
  private readonly file: WriteStream;
  private readonly done: Promise<void>;
  private failure: Error | undefined;
  private bytes = 0;
  private closed = false;

  constructor(options: AvroFileSinkOptions) {
    this.encoder = new avro.streams.BlockEncoder(options.schema, {
      codec: options.codec ?? 'null',
      ...(options.syncMarker ? { syncMarker: options.syncMarker } : {}),
    });
    this.file = createWriteStream(options.path);
    this.encoder.on('typeError', (err: Error) => {
      this.failure ??= err;
    });
    this.encoder.on('error', (err: Error) => {
      this.failure ??= err;
    });
    this.file.on('error', (err: Error) => {
      this.failure ??= err;
    });
    this.encoder.pipe(this.file);
    this.done = finished(this.file);
    // Keep an early failure from surfacing as an unhandled rejection; close() reports it.
    this.done.catch(() => {});
  }

  get bytesWritten(): number {
    return this.bytes;
  }

  async write(records: readonly T[]): Promise<void> {
    if (this.closed) throw new Error('file sink is closed');
    if (this.failure) throw this.failure;
    let full = false;
    for (const r of records) full = !this.encoder.write(r) || full;
    if (full) await drained(this.encoder);
    this.bytes = this.file.bytesWritten;
    if (this.failure) throw this.failure;
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.encoder.end();
    await this.done;
    this.bytes = this.file.bytesWritten;
    if (this.failure) throw this.failure;
  }
}

/** One JSON object per line: for eyeballing and for tools that do not read Avro. */
export class JsonLinesFileSink<T> implements RecordSink<T> {
  private readonly file: WriteStream;
  private readonly done: Promise<void>;
  private failure: Error | undefined;
  private closed = false;

  constructor(path: string) {
    this.file = createWriteStream(path);
    this.file.on('error', (err: Error) => {
      this.failure ??= err;
    });
    this.done = finished(this.file);
    this.done.catch(() => {});
  }

  get bytesWritten(): number {
    return this.file.bytesWritten;
  }

  async write(records: readonly T[]): Promise<void> {
    if (this.closed) throw new Error('file sink is closed');
    if (this.failure) throw this.failure;
    let text = '';
    for (const r of records) text += `${JSON.stringify(r)}\n`;
    if (!this.file.write(text)) await drained(this.file);
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.file.end();
    await this.done;
    if (this.failure) throw this.failure;
  }
}
