import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from 'prom-client';
import type { ErrorCode } from '../errors.js';
import { BucketHistogram } from './bucket-histogram.js';
import { LifecycleMetrics } from './lifecycle-metrics.js';

/**
 * Vigil's metrics, all in one place, registered on the registry the caller passes (never prom-client's global
 * one, so tests and several pipelines in one process do not collide). Labels are fixed, low-cardinality sets:
 * error codes, pipeline stages, output kinds, topic and partition of the consumed topics. Never a key, an
 * entity or an offset.
 */

export type PipelineStage = 'decode' | 'features' | 'score' | 'emit';
export type OutputKind = 'anomalies' | 'scores' | 'dead_letters' | 'incidents';
/** Incident severity bands (connector/incidents): the band of the anomaly that opened it, or of its peak. */
export type IncidentBand = 'LOW' | 'MEDIUM' | 'HIGH';
export type BatchCloseReason = 'records' | 'bytes' | 'linger' | 'flush' | 'idle';

export interface MetricsOptions {
  /** Also register Node.js process metrics (CPU, memory, event-loop lag), prefixed `vigil_`. Default false. */
  processMetrics?: boolean;
  /** Buckets of the batch size histogram (records). */
  batchSizeBuckets?: number[];
  /** Buckets of the scoring duration histogram (seconds). */
  scoringBuckets?: number[];
  /** Buckets of the end-to-end latency histogram (seconds). */
  latencyBuckets?: number[];
}

/** What `recordScores` reads of a scored batch (model/ BatchScores fits; core/ does not import model/). */
export interface ScoredRows {
  readonly scores: ArrayLike<number>;
  readonly threshold: ArrayLike<number>;
  readonly severity: ArrayLike<number>;
  readonly isAnomaly: ArrayLike<number>;
}

export const DEFAULT_BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];
export const DEFAULT_SCORING_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];
export const DEFAULT_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
// Score over the row's own threshold, so one set of buckets fits every model's scale and 1 is the threshold.
export const SCORE_RATIO_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.85, 1, 1.25, 1.5, 2, 3, 5, 10, 30, 100];
// Severity is 0 at the threshold and rises by 1/3 per tenfold drop of the tail probability (docs/models.md).
export const SEVERITY_BUCKETS = [0, 0.05, 0.1, 0.2, 1 / 3, 0.5, 2 / 3, 0.8, 0.9, 1];
const OUTPUT_KINDS: readonly OutputKind[] = ['anomalies', 'scores', 'dead_letters', 'incidents'];
/** Why a promoted registry version was not served: a fixed set, so the label stays low-cardinality. */
export const MODEL_REFUSAL_REASONS = [
  'digest',
  'truncated',
  'size',
  'unknown',
  'feature_mismatch',
  'load_failed',
] as const;
export type ModelRefusalReason = (typeof MODEL_REFUSAL_REASONS)[number];
const INCIDENT_BANDS: readonly IncidentBand[] = ['LOW', 'MEDIUM', 'HIGH'];

/** What the features stage reports of its per-entity temporal state. */
export interface EntityStateCounts {
  readonly size: number;
  readonly evicted: number;
}

/** What the incident stage reports of its open incidents, read at scrape time. */
export interface OpenIncidentCounts {
  openCounts(): ReadonlyMap<string, ReadonlyMap<IncidentBand, number>>;
}

/**
 * Bounded per-entity state as two series read at scrape time: `<name>` (entities held) and
 * `<name>_evicted_total` (evictions). The counter is advanced by the growth of the source's own count, so a
 * new source (watch) starts from its own zero and the counter never goes down.
 */
class EntityStateMetrics {
  readonly held: Gauge;
  readonly evicted: Counter;
  private source: EntityStateCounts | undefined;
  private reported = 0;

  constructor(registers: Registry[], names: { name: string; help: string; evictedHelp: string }) {
    this.held = new Gauge({
      name: names.name,
      help: names.help,
      registers,
      collect: () => {
        if (this.source !== undefined) this.held.set(this.source.size);
      },
    });
    this.evicted = new Counter({
      name: `${names.name}_evicted_total`,
      help: names.evictedHelp,
      registers,
      collect: () => {
        const s = this.source;
        if (s === undefined || s.evicted <= this.reported) return;
        this.evicted.inc(s.evicted - this.reported);
        this.reported = s.evicted;
      },
    });
  }

  watch(counts: EntityStateCounts): void {
    this.source = counts;
    this.reported = 0;
  }
}

export class VigilMetrics {
  readonly recordsConsumed: Counter<'topic'>;
  readonly recordsScored: Counter<'topic'>;
  readonly recordsDeadLettered: Counter<'reason' | 'stage'>;
  readonly anomalies: Counter<'topic'>;
  readonly scoreRatio: BucketHistogram;
  readonly anomalySeverity: Histogram;
  readonly batches: Counter<'reason'>;
  readonly batchSize: Histogram;
  readonly scoringDuration: Histogram;
  /** Observed once per record, as scoreRatio: BucketHistogram, not prom-client's Histogram (see there). */
  readonly endToEndLatency: BucketHistogram;
  readonly processingLatency: BucketHistogram;
  readonly consumerLag: Gauge<'topic' | 'partition'>;
  readonly bufferRecords: Gauge;
  readonly bufferBytes: Gauge;
  readonly bufferFill: Gauge;
  readonly pausedPartitions: Gauge;
  readonly commits: Counter<'result'>;
  readonly produceErrors: Counter<'output'>;
  readonly outputsReplaced: Counter<'output'>;
  readonly modelInfo: Gauge<'model_id' | 'model_version' | 'backend'>;
  readonly threshold: Gauge;
  readonly modelRegistryVersion: Gauge<'version'>;
  readonly modelSwaps: Counter;
  readonly modelRefusals: Counter<'reason'>;
  readonly featureEntities: Gauge;
  readonly featureEntitiesEvicted: Counter;
  readonly incidentsOpen: Gauge<'topic' | 'band'>;
  readonly incidentsOpened: Counter<'topic' | 'band'>;
  readonly incidentsClosed: Counter<'topic' | 'reason'>;
  readonly incidentsRecovered: Counter;
  private incidentSource: OpenIncidentCounts | undefined;
  private incidentTopics: readonly string[] = [];
  readonly postprocessEntities: Gauge;
  readonly postprocessEntitiesEvicted: Counter;
  private readonly featureState: EntityStateMetrics;
  private readonly postprocessState: EntityStateMetrics;
  /** Reservoir, drift checks, retraining, feedback (lifecycle-metrics.ts). */
  readonly lifecycle: LifecycleMetrics;

  constructor(
    readonly registry: Registry,
    options: MetricsOptions = {},
  ) {
    const registers = [registry];
    this.lifecycle = new LifecycleMetrics(registry);
    this.recordsConsumed = new Counter({
      name: 'vigil_records_consumed_total',
      help: 'Records fetched from the input topics.',
      labelNames: ['topic'],
      registers,
    });
    this.recordsScored = new Counter({
      name: 'vigil_records_scored_total',
      help: 'Records scored by the model, by input topic.',
      labelNames: ['topic'],
      registers,
    });
    this.recordsDeadLettered = new Counter({
      name: 'vigil_records_dead_lettered_total',
      help: 'Records sent to the dead-letter topic, by error code and the pipeline stage that refused them.',
      labelNames: ['reason', 'stage'],
      registers,
    });
    this.anomalies = new Counter({
      name: 'vigil_anomalies_total',
      help: 'Records judged anomalous (anomaly events produced), by input topic.',
      labelNames: ['topic'],
      registers,
    });
    this.scoreRatio = new BucketHistogram({
      name: 'vigil_score_ratio',
      help: "Each scored record's anomaly score divided by the threshold it was judged against (1 = at the threshold).",
      buckets: SCORE_RATIO_BUCKETS,
      registers,
    });
    this.anomalySeverity = new Histogram({
      name: 'vigil_anomaly_severity',
      help: 'Severity (the calibrated score CDF, 0–1) of each record judged anomalous.',
      buckets: SEVERITY_BUCKETS,
      registers,
    });
    this.batches = new Counter({
      name: 'vigil_batches_total',
      help: 'Micro-batches scored, by what closed them: records, bytes, linger, flush, or idle (taken at once while nothing else was in flight).',
      labelNames: ['reason'],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'vigil_batch_size_records',
      help: 'Records per scored micro-batch.',
      buckets: options.batchSizeBuckets ?? DEFAULT_BATCH_SIZE_BUCKETS,
      registers,
    });
    this.scoringDuration = new Histogram({
      name: 'vigil_scoring_duration_seconds',
      help: 'Time to score one micro-batch (features to scores), in seconds.',
      buckets: options.scoringBuckets ?? DEFAULT_SCORING_BUCKETS,
      registers,
    });
    this.endToEndLatency = new BucketHistogram({
      name: 'vigil_end_to_end_latency_seconds',
      help: "From a record's Kafka timestamp to its outputs being acknowledged by Kafka, in seconds.",
      buckets: options.latencyBuckets ?? DEFAULT_LATENCY_BUCKETS,
      registers,
    });
    // The end-to-end figure also holds the producer's and the broker's time and any consumer lag; this one is
    // Vigil's own part, so an alert can tell a slow Vigil from a slow upstream.
    this.processingLatency = new BucketHistogram({
      name: 'vigil_processing_latency_seconds',
      help: 'From a record being handed to Vigil by the Kafka client to its outputs being acknowledged, in seconds.',
      buckets: options.latencyBuckets ?? DEFAULT_LATENCY_BUCKETS,
      registers,
    });
    this.consumerLag = new Gauge({
      name: 'vigil_consumer_lag_records',
      help: 'Records between the high watermark and the last fetched offset, per assigned partition.',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.bufferRecords = new Gauge({
      name: 'vigil_buffer_records',
      help: 'Records held: fetched and not yet finished (queued for a batch, being scored or produced).',
      registers,
    });
    this.bufferBytes = new Gauge({
      name: 'vigil_buffer_bytes',
      help: 'Encoded bytes of the records held.',
      registers,
    });
    this.bufferFill = new Gauge({
      name: 'vigil_buffer_fill_ratio',
      help: 'Records held as a fraction of batching.maxBuffered; fetching pauses at 1.',
      registers,
    });
    this.pausedPartitions = new Gauge({
      name: 'vigil_paused_partitions',
      help: 'Partitions whose fetching is paused by backpressure.',
      registers,
    });
    this.commits = new Counter({
      name: 'vigil_commits_total',
      help: 'Offset commits, by result (ok or failed).',
      labelNames: ['result'],
      registers,
    });
    this.produceErrors = new Counter({
      name: 'vigil_produce_errors_total',
      help: 'Produce requests that failed, by output (anomalies, scores, dead_letters).',
      labelNames: ['output'],
      registers,
    });
    this.outputsReplaced = new Counter({
      name: 'vigil_outputs_replaced_total',
      help: 'Outputs the broker can never accept (too large, not a valid record) replaced by a dead letter without the original bytes, by the output replaced (anomalies, scores, dead_letters).',
      labelNames: ['output'],
      registers,
    });
    this.modelInfo = new Gauge({
      name: 'vigil_model_info',
      help: 'The model serving now: always 1, labelled with its id, version and TensorFlow.js backend.',
      labelNames: ['model_id', 'model_version', 'backend'],
      registers,
    });
    this.threshold = new Gauge({
      name: 'vigil_threshold',
      help: 'Global anomaly score threshold in force (per-entity thresholds are not exported); NaN when the scorer has no calibrated threshold.',
      registers,
    });
    this.modelRegistryVersion = new Gauge({
      name: 'vigil_model_registry_version_info',
      help: 'The model registry version serving now (model.registry): always 1, labelled with that version; absent when serving model.artifact.',
      labelNames: ['version'],
      registers,
    });
    this.modelSwaps = new Counter({
      name: 'vigil_model_swaps_total',
      help: 'Hot swaps to a newly promoted registry version, done between batches while consuming.',
      registers,
    });
    this.modelRefusals = new Counter({
      name: 'vigil_model_refusals_total',
      help: 'Promoted registry versions refused (the current model kept serving), by reason: digest, truncated, size, unknown (registry checks), feature_mismatch (another feature mapping), load_failed (the artifact does not load).',
      labelNames: ['reason'],
      registers,
    });
    // Known label values start at 0, so a rate over them is 0 rather than no data before the first failure
    // (dashboards and alerts then tell "none" from "not scraped").
    for (const reason of MODEL_REFUSAL_REASONS) this.modelRefusals.inc({ reason }, 0);
    for (const result of ['ok', 'failed']) this.commits.inc({ result }, 0);
    for (const output of OUTPUT_KINDS) this.produceErrors.inc({ output }, 0);
    // Read at scrape time from the extractor's and the post-processing stage's counts: nothing on the hot path.
    this.featureState = new EntityStateMetrics(registers, {
      name: 'vigil_feature_entities',
      help: 'Entities whose recent readings the features stage holds for temporal features.',
      evictedHelp:
        'Entities dropped from the temporal feature state for room (least recently seen first); each starts again cold.',
    });
    this.featureEntities = this.featureState.held;
    this.featureEntitiesEvicted = this.featureState.evicted;
    this.postprocessState = new EntityStateMetrics(registers, {
      name: 'vigil_postprocess_entities',
      help: 'Entities whose score post-processing state (smoothed score, likelihood statistics) is held.',
      evictedHelp:
        'Entities dropped from the score post-processing state for room (least recently seen first); each starts again in warm-up.',
    });
    this.incidentsOpen = new Gauge({
      name: 'vigil_incidents_open',
      help: 'Incidents open on this replica, by input topic and band of their peak severity (low, medium, high).',
      labelNames: ['topic', 'band'],
      registers,
      collect: () => {
        const source = this.incidentSource;
        if (source === undefined) return;
        this.incidentsOpen.reset();
        const counts = source.openCounts();
        for (const topic of new Set([...this.incidentTopics, ...counts.keys()])) {
          for (const band of INCIDENT_BANDS) {
            this.incidentsOpen.set({ topic, band: band.toLowerCase() }, counts.get(topic)?.get(band) ?? 0);
          }
        }
      },
    });
    this.incidentsOpened = new Counter({
      name: 'vigil_incidents_opened_total',
      help: 'Incidents opened, by input topic and band of the severity of the anomaly that opened them (low, medium, high).',
      labelNames: ['topic', 'band'],
      registers,
    });
    this.incidentsClosed = new Counter({
      name: 'vigil_incidents_closed_total',
      help: 'Incidents closed, by input topic and reason: gap (quiet for output.incidents.gapMs of event time) or evicted (over output.incidents.maxOpen).',
      labelNames: ['topic', 'reason'],
      registers,
    });
    this.incidentsRecovered = new Counter({
      name: 'vigil_incidents_recovered_total',
      help: 'Open incidents read back from the incidents topic on partition assignment (restart, rebalance).',
      registers,
    });
    this.postprocessEntities = this.postprocessState.held;
    this.postprocessEntitiesEvicted = this.postprocessState.evicted;
    if (options.processMetrics === true) collectDefaultMetrics({ register: registry, prefix: 'vigil_' });
  }

  /** Exports the temporal feature state's counts (the extractor's), read at each scrape. */
  watchEntityState(counts: EntityStateCounts): void {
    this.featureState.watch(counts);
  }

  /** Exports the score post-processing stage's counts (the pipeline's), read at each scrape. */
  watchPostprocessState(counts: EntityStateCounts): void {
    this.postprocessState.watch(counts);
  }

  /**
   * Exports the incident stage's open incidents (read at each scrape) and starts the opened and closed counters
   * of the input topics at 0, so the first incident is an increase an alert can see rather than a new series.
   */
  watchIncidents(source: OpenIncidentCounts, topics: readonly string[]): void {
    this.incidentSource = source;
    this.incidentTopics = [...topics];
    for (const topic of topics) {
      for (const band of INCIDENT_BANDS) this.incidentsOpened.inc({ topic, band: band.toLowerCase() }, 0);
      for (const reason of ['gap', 'evicted']) this.incidentsClosed.inc({ topic, reason }, 0);
    }
  }

  incidentOpened(topic: string, band: IncidentBand): void {
    this.incidentsOpened.inc({ topic, band: band.toLowerCase() });
  }

  incidentClosed(topic: string, reason: 'GAP' | 'EVICTED'): void {
    this.incidentsClosed.inc({ topic, reason: reason.toLowerCase() });
  }

  incidentsRecoveredCount(count: number): void {
    if (count > 0) this.incidentsRecovered.inc(count);
  }

  recordDeadLetter(reason: ErrorCode, stage: PipelineStage, count = 1): void {
    this.recordsDeadLettered.inc({ reason, stage }, count);
  }

  recordBatch(records: number, seconds: number, reason: BatchCloseReason): void {
    this.batches.inc({ reason });
    this.batchSize.observe(records);
    this.scoringDuration.observe(seconds);
  }

  /** Score ratio and severity histograms of one scored batch's first `n` rows. */
  recordScores(rows: ScoredRows, n: number): void {
    for (let k = 0; k < n; k++) {
      const t = rows.threshold[k]!;
      if (t > 0) this.scoreRatio.observe(rows.scores[k]! / t);
      if (rows.isAnomaly[k] === 1) this.anomalySeverity.observe(rows.severity[k]!);
    }
  }

  /** Scored records and anomalies by input topic, once their outputs are acknowledged. */
  recordScored(
    scored: readonly { readonly topic: string }[],
    anomalies: readonly { readonly topic: string }[],
  ): void {
    for (const [topic, count] of tally(scored)) this.recordsScored.inc({ topic }, count);
    for (const [topic, count] of tally(anomalies)) this.anomalies.inc({ topic }, count);
  }

  recordCommit(ok: boolean): void {
    this.commits.inc({ result: ok ? 'ok' : 'failed' });
  }

  recordProduceError(output: OutputKind): void {
    this.produceErrors.inc({ output });
  }

  recordOutputReplaced(output: OutputKind): void {
    this.outputsReplaced.inc({ output });
  }

  /** Buffer gauges from the batcher's accounts. */
  setBuffer(records: number, bytes: number, maxBuffered: number, paused: number): void {
    this.bufferRecords.set(records);
    this.bufferBytes.set(bytes);
    this.bufferFill.set(maxBuffered > 0 ? records / maxBuffered : 0);
    this.pausedPartitions.set(paused);
  }

  setLag(topic: string, partition: number, lag: number): void {
    this.consumerLag.set({ topic, partition: String(partition) }, lag);
  }

  /** A revoked partition's lag is no longer ours to report: remove the series rather than leave it stale. */
  removePartition(topic: string, partition: number): void {
    this.consumerLag.remove({ topic, partition: String(partition) });
  }

  /**
   * Replaces the model info series, so exactly one model is reported after a swap, and sets the threshold in
   * force with it: the threshold is required, so a caller cannot leave the gauge at its initial 0 (issue #13).
   * Pass NaN for a scorer without a calibrated threshold.
   */
  setModel(id: string, version: string, backend: string, threshold: number): void {
    this.modelInfo.reset();
    this.modelInfo.set({ model_id: id, model_version: version, backend }, 1);
    this.threshold.set(threshold);
  }

  /** The registry version now served (one series), after a start or a swap. */
  setRegistryVersion(version: string): void {
    this.modelRegistryVersion.reset();
    this.modelRegistryVersion.set({ version }, 1);
  }
}

function tally(items: readonly { readonly topic: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { topic } of items) counts.set(topic, (counts.get(topic) ?? 0) + 1);
  return counts;
}
