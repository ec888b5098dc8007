// The model lifecycle's dashboard (vigil-lifecycle) has data only where model.lifecycle is enabled, so the live
// Prometheus test (test/integration/ops/prometheus.test.ts) runs the serving dashboards only. Here every lifecycle
// panel query runs in Prometheus's own engine (`promtool test rules`) over series shaped like a lifecycle's: a
// stable stretch, drifted checks, a promoted retrain, a filling reservoir and feedback. Each query becomes an alert
// that fires when the query has a finite sample, and each must fire. And the lifecycle metrics stay on that
// dashboard: a serving panel naming one would be empty in every deployment without the lifecycle.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { LIFECYCLE_DASHBOARD, panelQueries, SERVING_DASHBOARDS } from '../../../ops/dashboards/index.js';
import { metricNames } from '../../support/promql.js';

const promtool = spawnSync('promtool', ['--version']).status === 0;
const LIFECYCLE_METRIC = /^vigil_(reservoir|drift|retrain|feedback|threshold_adjust)/;
const target = 'job="vigil", instance="a:9464"';

// Two hours at one sample a minute (promtool's notation: `a+bxn` is n steps of b from a, `axn` is a held n times).
// Stable until minute 90, then drifted checks every 5 minutes; a retrain runs from minute 95 and is promoted at 100.
const INPUT: { series: string; values: string }[] = [
  { series: `vigil_drift_checks_total{${target}, result="stable"}`, values: '0+0.2x90 18x30' },
  { series: `vigil_drift_checks_total{${target}, result="drift"}`, values: '0x90 1x5 2x5 3x20' },
  { series: `vigil_drift_checks_total{${target}, result="insufficient"}`, values: '0+0.2x10 2x110' },
  ...['psi', 'ks', 'wasserstein'].flatMap((statistic, i) => [
    {
      series: `vigil_drift_max{${target}, statistic="${statistic}"}`,
      values: `${0.05 + i * 0.02}x90 ${0.3 + i * 0.1}x30`,
    },
    {
      series: `vigil_drift_features_over_threshold{${target}, statistic="${statistic}"}`,
      values: `0x90 ${3 - i}x30`,
    },
  ]),
  { series: `vigil_drift_score_ks{${target}}`, values: '0.05x90 0.3x30' },
  { series: `vigil_retrains_total{${target}, result="promoted"}`, values: '0x100 1x20' },
  ...['candidate', 'rejected', 'failed'].map((result) => ({
    series: `vigil_retrains_total{${target}, result="${result}"}`,
    values: '0x120',
  })),
  { series: `vigil_retrain_running{${target}}`, values: '0x95 1x5 0x20' },
  // One retrain of about 4 minutes.
  ...['1', '2.5', '5', '10', '20', '30', '60', '120'].map((le) => ({
    series: `vigil_retrain_duration_seconds_bucket{${target}, le="${le}"}`,
    values: '0x120',
  })),
  ...['300', '600', '1200', '+Inf'].map((le) => ({
    series: `vigil_retrain_duration_seconds_bucket{${target}, le="${le}"}`,
    values: '0x100 1x20',
  })),
  { series: `vigil_retrain_duration_seconds_sum{${target}}`, values: '0x100 240x20' },
  { series: `vigil_retrain_duration_seconds_count{${target}}`, values: '0x100 1x20' },
  { series: `vigil_reservoir_rows{${target}}`, values: '0+800x120' },
  { series: `vigil_reservoir_capacity_rows{${target}}`, values: '100000x120' },
  { series: `vigil_reservoir_excluded_total{${target}}`, values: '0x30 0+1x90' },
  ...['false_alarm', 'confirmed_anomaly', 'unknown_event', 'invalid'].map((label, i) => ({
    series: `vigil_feedback_total{${target}, label="${label}"}`,
    values: `0+${4 - i}x120`,
  })),
  { series: `vigil_feedback_suppressed_total{${target}}`, values: '0x60 0+2x60' },
  { series: `vigil_threshold_adjusted_entities{${target}}`, values: '0x60 1x60' },
  { series: `vigil_threshold_adjustment_max_factor{${target}}`, values: '1x60 1.5x60' },
];

// A query has data when it returns a sample that is a finite number (NaN and ±Inf compare false with < +Inf).
const hasData = (expr: string) => `count(abs(${expr.replaceAll('$__rate_interval', '5m')}) < +Inf) > 0`;

describe('the lifecycle dashboard', () => {
  const queries = panelQueries([LIFECYCLE_DASHBOARD]);

  it('names every lifecycle metric, and the serving dashboards name none', () => {
    const named = new Set(queries.flatMap((q) => metricNames(q.query.expr)));
    for (const n of named)
      expect(n, 'lifecycle panels name lifecycle metrics only').toMatch(LIFECYCLE_METRIC);
    const series = new Set(INPUT.map((i) => i.series.replace(/\{.*$/, '')));
    // Every metric a panel names has series below (histograms by their buckets).
    for (const n of named) expect(series.has(n), `${n} has input series`).toBe(true);
    // All fourteen lifecycle metrics of core/metrics/lifecycle-metrics.ts are on the dashboard.
    const bare = new Set([...named].map((n) => n.replace(/_bucket$/, '')));
    expect(bare.size).toBe(14);
    const serving = panelQueries(SERVING_DASHBOARDS).flatMap(({ dashboard, panel, query }) =>
      metricNames(query.expr)
        .filter((n) => LIFECYCLE_METRIC.test(n))
        .map((n) => `${dashboard} / ${panel}: ${n}`),
    );
    expect(serving).toEqual([]);
  });

  describe.skipIf(!promtool)('in Prometheus (needs Debian prometheus: promtool)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-lifecycle-dash-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('every panel query parses and returns finite data over lifecycle-shaped series', () => {
      const rules = queries.map((q, i) => ({
        alert: `LifecyclePanel${i}`,
        expr: hasData(q.query.expr),
        annotations: { summary: `${q.panel} (query ${i})` },
      }));
      // The check can fail: a query selecting a label value no series has returns nothing.
      rules.push({
        alert: 'LifecyclePanelControl',
        expr: hasData('max by (instance) (vigil_drift_max{statistic="chi2"})'),
        annotations: { summary: 'control' },
      });
      writeFileSync(path.join(dir, 'panels.rules.yaml'), stringify({ groups: [{ name: 'panels', rules }] }));
      const alertTests = rules.map((r) => ({
        eval_time: '110m',
        alertname: r.alert,
        exp_alerts: r.alert === 'LifecyclePanelControl' ? [] : [{ exp_annotations: r.annotations }],
      }));
      writeFileSync(
        path.join(dir, 'panels.test.yaml'),
        stringify({
          rule_files: ['panels.rules.yaml'],
          evaluation_interval: '1m',
          tests: [
            { name: 'lifecycle panels', interval: '1m', input_series: INPUT, alert_rule_test: alertTests },
          ],
        }),
      );
      const check = spawnSync('promtool', ['check', 'rules', 'panels.rules.yaml'], {
        encoding: 'utf8',
        cwd: dir,
      });
      expect(check.status, check.stdout + check.stderr).toBe(0);
      const r = spawnSync('promtool', ['test', 'rules', 'panels.test.yaml'], { encoding: 'utf8', cwd: dir });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout + r.stderr).toContain('SUCCESS');
    });
  });
});
