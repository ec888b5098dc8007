/**
 * Follows the registry topic and hands each newly promoted version to the ModelServer. A follow-mode
 * TopicReader (group-less, nothing committed) folds manifests and statuses as they arrive; chunks are skipped
 * by the fold, so memory holds statuses only. When the newest promoted version is not the one serving, its
 * artifact is read afresh and verified (ModelRegistry.load), unpacked to a scratch directory, and swapped in.
 *
 * A version refused once (digest, truncated, mapping, load) is not tried again until its status changes
 * (promoted anew): the registry is read on every record, and a bad artifact would be reloaded forever.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../../core/logger.js';
import type { TopicReader, Transport } from '../transport/types.js';
import type { ModelRegistry } from './model-registry.js';
import type { ModelServer, SwapOutcome } from './model-server.js';
import { type RegistryEntry, RegistryFold } from './registry-records.js';

export interface RegistryWatcherOptions {
  /** Longest one fetch waits for new records once caught up: how soon a promotion is seen. Default 500 ms. */
  readonly maxWaitMs?: number;
  /** Where artifacts are unpacked before loading. Default the OS temp dir. */
  readonly scratchDir?: string;
}

export class RegistryWatcher {
  private readonly fold = new RegistryFold();
  private readonly refused = new Map<string, string>();
  private reader: TopicReader | undefined;
  private caughtUp = false;
  private tail: Promise<unknown> = Promise.resolve();
  private wanted: string | undefined;
  private readonly log: Logger;
  private stopped = false;

  constructor(
    private readonly transport: Transport,
    private readonly registry: ModelRegistry,
    private readonly server: ModelServer,
    private readonly options: RegistryWatcherOptions,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'registry-watcher', topic: registry.topic });
  }

  /** Reads the registry up to its end and adopts the newest promoted version (awaited), then keeps following. */
  async start(): Promise<void> {
    const reader = this.transport.topicReader({
      topic: this.registry.topic,
      follow: true,
      maxWaitMs: this.options.maxWaitMs ?? 500,
    });
    this.reader = reader;
    reader.closed.catch((err: unknown) => {
      if (!this.stopped) this.log.error({ err }, 'registry watcher stopped: promotions are no longer seen');
    });
    await reader.start(async (batch) => {
      for (const r of batch.records) this.fold.apply(r);
      if (this.caughtUp) this.check();
    });
    this.caughtUp = true;
    this.check();
    await this.tail;
  }

  /** The newest promoted version, as folded so far. */
  latestPromoted(): RegistryEntry | undefined {
    return this.fold.latestPromoted();
  }

  /** Why the newest promoted version is not serving, when it was refused. */
  refusal(version: string): string | undefined {
    for (const [key, why] of this.refused) if (key.startsWith(`${version}@`)) return why;
    return undefined;
  }

  /** Settles once every adoption asked for so far has finished (tests, shutdown). */
  idle(): Promise<void> {
    return this.tail.then(() => {});
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.reader?.close().catch(() => {});
    await this.tail.catch(() => {});
  }

  private check(): void {
    const latest = this.fold.latestPromoted();
    if (latest === undefined || this.stopped) return;
    const key = `${latest.version}@${latest.statusAt}`;
    if (latest.version === this.server.current?.version || this.refused.has(key) || this.wanted === key)
      return;
    this.wanted = key;
    this.log.info({ version: latest.version, reason: latest.reason }, 'newly promoted model version seen');
    const work = this.tail.then(() => this.adopt(latest, key));
    this.tail = work.catch((err: unknown) => this.log.error({ err }, 'registry watcher: adoption failed'));
  }

  private async adopt(entry: RegistryEntry, key: string): Promise<void> {
    if (this.stopped) return;
    const dir = await mkdtemp(path.join(this.options.scratchDir ?? tmpdir(), 'vigil-registry-'));
    const modelDir = path.join(dir, 'model');
    let outcome: SwapOutcome;
    try {
      outcome = await this.registry.loadInto(entry.version, modelDir).then(
        () => this.server.swapFromDir(modelDir, entry.version),
        (err: unknown) => this.server.refuse(entry.version, err),
      );
    } finally {
      // loadDetector holds the weights in memory: the unpacked files are not needed once it has returned.
      await rm(dir, { recursive: true, force: true });
      if (this.wanted === key) this.wanted = undefined;
    }
    if (!outcome.swapped) this.refused.set(key, outcome.reason);
  }
}
