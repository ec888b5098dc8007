import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { TruthRow } from './ground-truth.js';

export type TruthMode = 'all' | 'anomalies';

/** Where ground-truth rows go: the runner writes the batch's rows after the batch's records. */
export interface TruthSink {
  write(rows: readonly TruthRow[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Ground truth as JSON Lines, one TruthRow per line. Mode "anomalies" keeps only label-1 rows (a scorer then
 * treats every other record as normal): much smaller files at high volume.
 */
export class TruthFileWriter implements TruthSink {
  private readonly file: WriteStream;
  private readonly done: Promise<void>;
  private readonly mode: TruthMode;
  private failure: Error | undefined;
  private closed = false;

  constructor(path: string, mode: TruthMode = 'all') {
    this.mode = mode;
    this.file = createWriteStream(path);
    this.file.on('error', (err: Error) => {
      this.failure ??= err;
    });
    this.done = finished(this.file);
    this.done.catch(() => {});
  }

  async write(rows: readonly TruthRow[]): Promise<void> {
    if (this.failure) throw this.failure;
    let text = '';
    for (const row of rows) {
      if (this.mode === 'anomalies' && row.label === 0) continue;
      text += `${JSON.stringify(row)}\n`;
    }
    if (text.length > 0 && !this.file.write(text)) await once(this.file, 'drain');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.file.end();
    await this.done;
    if (this.failure) throw this.failure;
  }
}

/** Keeps rows in memory (tests, small runs). */
export class MemoryTruthSink implements TruthSink {
  readonly rows: TruthRow[] = [];

  async write(rows: readonly TruthRow[]): Promise<void> {
    for (const r of rows) this.rows.push(r);
  }

  async close(): Promise<void> {}
}

/** Parses a ground-truth JSONL file's text. */
export function parseTruthLines(text: string): TruthRow[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as TruthRow);
}
