// What each dashboard shows, as PromQL over the metrics of core/metrics/vigil-metrics.ts (and Prometheus's `up`
// for job="vigil", the job name the chart's ServiceMonitor sets). `$__rate_interval` is Grafana's; the
// Prometheus integration test (test/integration/ops/prometheus.test.ts) substitutes a window for it and runs every
// query of the serving dashboards (SERVING_DASHBOARDS) against live data. The model lifecycle's dashboard has data
// only where model.lifecycle is enabled, which that test's `vigil run` is not: its queries are run by promtool
// over series shaped like a lifecycle's (test/unit/ops/lifecycle-dashboard.test.ts), and its metrics' values are
// checked in the lifecycle's integration test. Entities are never a label (cardinality), so "top entities" is the
// anomaly and incident topics' job; the overview ranks partitions.
import type { DashboardSpec } from './panels.js';

const rate = (metric: string, by: string, filter = '') =>
  `sum by (${by}) (rate(${metric}${filter}[$__rate_interval]))`;
const quantile = (q: number, histogram: string, by = 'le') =>
  `histogram_quantile(${q}, sum by (${by}) (rate(${histogram}_bucket[$__rate_interval])))`;

export const overview: DashboardSpec = {
  uid: 'vigil-overview',
  title: 'Vigil / Overview',
  description: 'Throughput, lag, anomaly, incident and dead-letter rates by input topic.',
  rows: [
    {
      title: 'Throughput',
      panels: [
        {
          kind: 'stat',
          title: 'Instances up',
          description: 'Vigil processes Prometheus scrapes successfully.',
          queries: [{ expr: 'sum(up{job="vigil"})' }],
          width: 6,
        },
        {
          kind: 'stat',
          title: 'Records scored /s',
          description: 'All input topics together.',
          unit: 'rps',
          queries: [{ expr: 'sum(rate(vigil_records_scored_total[$__rate_interval]))' }],
          width: 6,
        },
        {
          kind: 'stat',
          title: 'Anomalies /s',
          description: 'Anomaly events produced, all input topics together.',
          unit: 'rps',
          queries: [{ expr: 'sum(rate(vigil_anomalies_total[$__rate_interval]))' }],
          width: 6,
        },
        {
          kind: 'stat',
          title: 'Consumer lag',
          description: 'Records behind the high watermarks, all assigned partitions together.',
          unit: 'short',
          queries: [{ expr: 'sum(vigil_consumer_lag_records)' }],
          width: 6,
        },
        {
          kind: 'timeseries',
          title: 'Records consumed and scored /s by topic',
          description:
            'Fetched from the input topics, and scored by the model; the gap is dead letters and records in flight.',
          unit: 'rps',
          queries: [
            { expr: rate('vigil_records_consumed_total', 'topic'), legend: 'consumed {{topic}}' },
            { expr: rate('vigil_records_scored_total', 'topic'), legend: 'scored {{topic}}' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Consumer lag by topic',
          description:
            'Records between the high watermark and the last fetched offset, summed over partitions.',
          unit: 'short',
          queries: [{ expr: 'sum by (topic) (vigil_consumer_lag_records)', legend: '{{topic}}' }],
        },
      ],
    },
    {
      title: 'Detections',
      panels: [
        {
          kind: 'timeseries',
          title: 'Anomalies /s by topic',
          description: 'Anomaly events produced per second.',
          unit: 'rps',
          queries: [{ expr: rate('vigil_anomalies_total', 'topic'), legend: '{{topic}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Anomalous fraction by topic',
          description:
            'Anomalies over records scored: the false-positive budget the threshold was calibrated for shows here.',
          unit: 'percentunit',
          min: 0,
          queries: [
            {
              expr: `${rate('vigil_anomalies_total', 'topic')} / ${rate('vigil_records_scored_total', 'topic')}`,
              legend: '{{topic}}',
            },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Dead letters /s by reason',
          description:
            'Records refused (bad bytes, schema, feature values) and sent to the dead-letter topic.',
          unit: 'rps',
          queries: [{ expr: rate('vigil_records_dead_lettered_total', 'reason'), legend: '{{reason}}' }],
        },
        {
          kind: 'table',
          title: 'Partitions furthest behind',
          description: 'The ten assigned partitions with the most lag, now.',
          queries: [{ expr: 'topk(10, vigil_consumer_lag_records)', instant: true }],
        },
      ],
    },
    {
      title: 'Incidents',
      panels: [
        {
          kind: 'stat',
          title: 'Open incidents',
          description:
            'Incidents open now, all replicas and input topics together (an entity’s consecutive anomalies, output.incidents).',
          unit: 'short',
          queries: [{ expr: 'sum(vigil_incidents_open)' }],
          width: 6,
        },
        {
          kind: 'timeseries',
          title: 'Incidents opened /min by topic and band',
          description:
            'Incidents opened per minute, by the severity band of the anomaly that opened each: what VigilIncidentOpened pages on.',
          unit: 'short',
          queries: [
            {
              expr: `${rate('vigil_incidents_opened_total', 'topic, band')} * 60`,
              legend: '{{topic}} {{band}}',
            },
          ],
          width: 18,
        },
        {
          kind: 'timeseries',
          title: 'Open incidents by topic and band',
          description: 'Incidents open, by the band of their peak severity so far.',
          unit: 'short',
          min: 0,
          queries: [{ expr: 'sum by (topic, band) (vigil_incidents_open)', legend: '{{topic}} {{band}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Incidents closed /min by reason',
          description:
            'gap: the entity was quiet for output.incidents.gapMs of event time; evicted: closed early to stay within output.incidents.maxOpen.',
          unit: 'short',
          queries: [{ expr: `${rate('vigil_incidents_closed_total', 'reason')} * 60`, legend: '{{reason}}' }],
        },
      ],
    },
    {
      title: 'Latency',
      panels: [
        {
          kind: 'timeseries',
          title: 'End-to-end and processing latency (p50, p99)',
          description:
            'End-to-end runs from the record timestamp (includes upstream and lag); processing from the moment Vigil got the record.',
          unit: 's',
          width: 24,
          queries: [
            { expr: quantile(0.5, 'vigil_end_to_end_latency_seconds'), legend: 'end-to-end p50' },
            { expr: quantile(0.99, 'vigil_end_to_end_latency_seconds'), legend: 'end-to-end p99' },
            { expr: quantile(0.5, 'vigil_processing_latency_seconds'), legend: 'processing p50' },
            { expr: quantile(0.99, 'vigil_processing_latency_seconds'), legend: 'processing p99' },
          ],
        },
      ],
    },
  ],
};

export const detector: DashboardSpec = {
  uid: 'vigil-detector',
  title: 'Vigil / Detector quality',
  description: 'Scores against the threshold, severities of anomalies, the threshold and model in force.',
  rows: [
    {
      title: 'Scores',
      panels: [
        {
          kind: 'timeseries',
          title: 'Score / threshold quantiles',
          description:
            'Each record’s score divided by the threshold it was judged against; the dashed line at 1 is the threshold.',
          line: 1,
          queries: [
            { expr: quantile(0.5, 'vigil_score_ratio'), legend: 'p50' },
            { expr: quantile(0.9, 'vigil_score_ratio'), legend: 'p90' },
            { expr: quantile(0.99, 'vigil_score_ratio'), legend: 'p99' },
            { expr: quantile(0.999, 'vigil_score_ratio'), legend: 'p99.9' },
          ],
        },
        {
          kind: 'heatmap',
          title: 'Score / threshold distribution',
          description: 'Records per score-ratio bucket over time; buckets above 1 are anomalies.',
          queries: [
            {
              expr: 'sum by (le) (increase(vigil_score_ratio_bucket[$__rate_interval]))',
              legend: '{{le}}',
              heatmap: true,
            },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Fraction of records over the threshold',
          description: 'From the score-ratio histogram: records whose score exceeded their threshold.',
          unit: 'percentunit',
          min: 0,
          queries: [
            {
              expr: '1 - sum(rate(vigil_score_ratio_bucket{le="1"}[$__rate_interval])) / sum(rate(vigil_score_ratio_count[$__rate_interval]))',
              legend: 'over threshold',
            },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Severity of anomalies (p50, p99)',
          description:
            'Severity is the calibrated CDF at the score: the threshold’s quantile at the threshold, towards 1 far beyond it.',
          queries: [
            { expr: quantile(0.5, 'vigil_anomaly_severity'), legend: 'p50' },
            { expr: quantile(0.99, 'vigil_anomaly_severity'), legend: 'p99' },
          ],
        },
      ],
    },
    {
      title: 'Model',
      panels: [
        {
          kind: 'timeseries',
          title: 'Threshold in force',
          description: 'The global anomaly score threshold each instance scores against.',
          queries: [{ expr: 'vigil_threshold', legend: '{{instance}}' }],
        },
        {
          kind: 'table',
          title: 'Models serving',
          description: 'Model id, version and TensorFlow.js backend of each instance.',
          queries: [{ expr: 'vigil_model_info == 1', instant: true }],
        },
      ],
    },
  ],
};

export const health: DashboardSpec = {
  uid: 'vigil-health',
  title: 'Vigil / Health',
  description: 'Errors, dead letters, commits, backpressure, event-loop lag and memory of each instance.',
  rows: [
    {
      title: 'Errors',
      panels: [
        {
          kind: 'timeseries',
          title: 'Dead letters /s by reason and stage',
          description: 'Error code and the pipeline stage that refused the record.',
          unit: 'rps',
          queries: [
            {
              expr: rate('vigil_records_dead_lettered_total', 'reason, stage'),
              legend: '{{stage}} {{reason}}',
            },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Offset commits /s by result',
          description:
            'Offsets are committed only after outputs are acknowledged; failed commits mean replays.',
          unit: 'ops',
          queries: [{ expr: rate('vigil_commits_total', 'result'), legend: '{{result}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Produce errors /s by output',
          description: 'Failed produce requests (retried) to the anomalies, scores and dead-letter topics.',
          unit: 'ops',
          queries: [{ expr: rate('vigil_produce_errors_total', 'output'), legend: '{{output}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Instances up',
          description: 'Prometheus’s scrape result per instance.',
          min: 0,
          queries: [{ expr: 'up{job="vigil"}', legend: '{{instance}}' }],
        },
      ],
    },
    {
      title: 'Throughput and backpressure',
      panels: [
        {
          kind: 'timeseries',
          title: 'Buffer fill',
          description: 'Records held as a fraction of batching.maxBuffered; fetching pauses at 1.',
          unit: 'percentunit',
          min: 0,
          line: 1,
          queries: [{ expr: 'vigil_buffer_fill_ratio', legend: '{{instance}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Paused partitions',
          description: 'Partitions whose fetching backpressure has paused.',
          min: 0,
          queries: [{ expr: 'vigil_paused_partitions', legend: '{{instance}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Batch size (p50, p99)',
          description: 'Records per scored micro-batch.',
          queries: [
            { expr: quantile(0.5, 'vigil_batch_size_records'), legend: 'p50' },
            { expr: quantile(0.99, 'vigil_batch_size_records'), legend: 'p99' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Scoring time per batch (p50, p99)',
          description: 'Features to scores for one micro-batch.',
          unit: 's',
          queries: [
            { expr: quantile(0.5, 'vigil_scoring_duration_seconds'), legend: 'p50' },
            { expr: quantile(0.99, 'vigil_scoring_duration_seconds'), legend: 'p99' },
          ],
        },
      ],
    },
    {
      title: 'Process',
      panels: [
        {
          kind: 'timeseries',
          title: 'Event-loop lag p99',
          description: 'A blocked event loop misses consumer heartbeats.',
          unit: 's',
          width: 8,
          queries: [{ expr: 'vigil_nodejs_eventloop_lag_p99_seconds', legend: '{{instance}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Memory',
          description: 'Resident set size and V8 heap used.',
          unit: 'bytes',
          width: 8,
          queries: [
            { expr: 'vigil_process_resident_memory_bytes', legend: 'rss {{instance}}' },
            { expr: 'vigil_nodejs_heap_size_used_bytes', legend: 'heap {{instance}}' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'CPU',
          description: 'CPU seconds per second (1 = one core).',
          unit: 'percentunit',
          width: 8,
          queries: [
            { expr: 'rate(vigil_process_cpu_seconds_total[$__rate_interval])', legend: '{{instance}}' },
          ],
        },
      ],
    },
  ],
};

// Drift checks run every model.lifecycle.drift.intervalMs (5 min) and retrains a few times a day at most, so
// their counters are shown as counts over a fixed hour, not per-second rates over $__rate_interval (mostly 0).
export const lifecycle: DashboardSpec = {
  uid: 'vigil-lifecycle',
  title: 'Vigil / Model lifecycle',
  description:
    'Drift of the reservoir against the training reference, retrains and the promotion gate, the training reservoir, and feedback on anomalies (model.lifecycle, docs/lifecycle.md).',
  rows: [
    {
      title: 'Drift',
      panels: [
        {
          kind: 'timeseries',
          title: 'Drift checks in the last hour by result',
          description:
            'drift: a feature over its threshold (PSI > 0.2 by default) or the score shift over 0.25; insufficient: fewer reservoir rows than drift.minRows. drift.consecutive drifted checks in a row start a retrain.',
          unit: 'short',
          min: 0,
          queries: [
            {
              expr: 'sum by (result) (increase(vigil_drift_checks_total[1h]))',
              legend: '{{result}}',
            },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Largest per-feature PSI against the 0.2 rule',
          description:
            'The largest population stability index of any feature in the last check, per instance (each checks its own reservoir); the dashed line is the default drift.psi threshold (under 0.1 stable, over 0.2 shifted).',
          line: 0.2,
          min: 0,
          queries: [{ expr: 'max by (instance) (vigil_drift_max{statistic="psi"})', legend: '{{instance}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Features over their threshold by statistic',
          description:
            'Features whose PSI, KS or Wasserstein distance crossed its threshold in the last check (the most of any instance); only drift.decideOn statistics (PSI by default) make a check drifted.',
          unit: 'short',
          min: 0,
          queries: [
            {
              expr: 'max by (statistic) (vigil_drift_features_over_threshold)',
              legend: '{{statistic}}',
            },
          ],
          width: 8,
        },
        {
          kind: 'timeseries',
          title: 'Largest per-feature KS and Wasserstein',
          description:
            'KS distance (threshold drift.ks, 0.1) and Wasserstein-1 in units of the training spread (drift.wasserstein, 0.25) of the most-drifted feature in the last check.',
          min: 0,
          queries: [
            {
              expr: 'max by (instance, statistic) (vigil_drift_max{statistic!="psi"})',
              legend: '{{statistic}} {{instance}}',
            },
          ],
          width: 8,
        },
        {
          kind: 'timeseries',
          title: 'Score shift (KS) against 0.25',
          description:
            'KS distance between recent anomaly scores and the calibration scores in the artifact: the model’s own view of drift; over drift.scoreKs (0.25, the dashed line) the check is drifted.',
          line: 0.25,
          min: 0,
          queries: [{ expr: 'max by (instance) (vigil_drift_score_ks)', legend: '{{instance}}' }],
          width: 8,
        },
      ],
    },
    {
      title: 'Retraining',
      panels: [
        {
          kind: 'timeseries',
          title: 'Retrain running',
          description:
            '1 while a retrain runs on the worker thread of that instance (one at a time; only the replica holding partition 0 of the first input topic retrains).',
          min: 0,
          queries: [{ expr: 'max by (instance) (vigil_retrain_running)', legend: '{{instance}}' }],
          width: 8,
        },
        {
          kind: 'timeseries',
          title: 'Retrains in the last hour by result',
          description:
            'promoted: passed the gate and published; candidate: passed, left for `vigil models promote`; rejected: failed the gate (reasons in the registry manifest); failed: a training error (the log says why).',
          unit: 'short',
          min: 0,
          queries: [
            {
              expr: 'sum by (result) (increase(vigil_retrains_total[1h]))',
              legend: '{{result}}',
            },
          ],
          width: 8,
        },
        {
          kind: 'timeseries',
          title: 'Retrain duration (p50, p95)',
          description:
            'Wall time of one retrain (training, saving, scoring the held-out sets with both models), over the retrains that finished in the last 6 hours.',
          unit: 's',
          queries: [
            {
              expr: 'histogram_quantile(0.5, sum by (le) (increase(vigil_retrain_duration_seconds_bucket[6h])))',
              legend: 'p50',
            },
            {
              expr: 'histogram_quantile(0.95, sum by (le) (increase(vigil_retrain_duration_seconds_bucket[6h])))',
              legend: 'p95',
            },
          ],
          width: 8,
        },
      ],
    },
    {
      title: 'Reservoir',
      panels: [
        {
          kind: 'timeseries',
          title: 'Reservoir fill',
          description:
            'Rows in the training reservoir over its capacity (model.lifecycle.reservoir.capacity), per instance; drift checks need drift.minRows and retrains retrain.minRows.',
          unit: 'percentunit',
          min: 0,
          line: 1,
          queries: [
            {
              expr: 'vigil_reservoir_rows / vigil_reservoir_capacity_rows',
              legend: '{{instance}}',
            },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Reservoir exclusions /min',
          description:
            'Records kept out of, or taken out of, the reservoir because feedback confirmed them as anomalies.',
          unit: 'short',
          min: 0,
          queries: [
            {
              expr: 'sum(rate(vigil_reservoir_excluded_total[$__rate_interval])) * 60',
              legend: 'excluded',
            },
          ],
        },
      ],
    },
    {
      title: 'Feedback',
      panels: [
        {
          kind: 'timeseries',
          title: 'Feedback /min by label',
          description:
            'Records read from model.lifecycle.feedback.topic: false_alarm, confirmed_anomaly, unknown_event (no entity to apply it to), invalid.',
          unit: 'short',
          min: 0,
          queries: [{ expr: `${rate('vigil_feedback_total', 'label')} * 60`, legend: '{{label}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Alerts suppressed by feedback /min',
          description:
            'Records over the model’s threshold but under their entity’s feedback-raised one: not reported as anomalies.',
          unit: 'short',
          min: 0,
          queries: [
            {
              expr: 'sum(rate(vigil_feedback_suppressed_total[$__rate_interval])) * 60',
              legend: 'suppressed',
            },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Entities with a raised threshold',
          description: 'Entities whose threshold repeated false alarms have raised, per instance.',
          unit: 'short',
          min: 0,
          queries: [{ expr: 'vigil_threshold_adjusted_entities', legend: '{{instance}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Largest threshold adjustment factor',
          description:
            'The most any entity’s threshold has been multiplied by (1: none); never beyond model.lifecycle.feedback.maxFactor.',
          min: 1,
          queries: [{ expr: 'vigil_threshold_adjustment_max_factor', legend: '{{instance}}' }],
        },
      ],
    },
  ],
};

/** The dashboards of every deployment: their panels have data wherever Vigil scores (prometheus.test.ts). */
export const SERVING_DASHBOARDS: readonly DashboardSpec[] = [overview, detector, health];

export const DASHBOARDS: readonly DashboardSpec[] = [...SERVING_DASHBOARDS, lifecycle];
