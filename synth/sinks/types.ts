/** Where generated records go. Implementations own their I/O; the runner only paces and batches. */
export interface RecordSink<T> {
  /**
   * Hands over a batch (`keys[i]` is the entity key of `records[i]`). Resolves when the sink can take another
   * batch, which for a pipelined sink is before this one is acknowledged. Rejects with the first failure of any
   * earlier batch. The caller reuses both arrays once this resolves: a sink must not keep them.
   */
  write(records: readonly T[], keys: readonly string[]): Promise<void>;
  /** Resolves once everything written so far is acknowledged (Kafka) or on disk (files). */
  flush(): Promise<void>;
  /** Flushes and releases resources; the sink cannot be written after. */
  close(): Promise<void>;
  /** Encoded bytes handed over so far (record values only). */
  readonly bytesWritten: number;
}
