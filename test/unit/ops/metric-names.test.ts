// Every metric a dashboard panel or an alert rule names is one Vigil exports: a renamed or dropped metric must
// fail here, not show up as an empty panel or an alert that can never fire.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { panelQueries } from '../../../ops/dashboards/index.js';
import { exportedMetrics, exportedNames, labelNames, metricNames } from '../../support/promql.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}

const rules = parse(
  readFileSync(path.join(REPO_ROOT, 'helm/vigil/rules/vigil.rules.yaml'), 'utf8'),
) as RuleFile;

describe('metricNames', () => {
  it('finds selectors and leaves out functions, labels, windows and keywords', () => {
    expect(
      metricNames(
        'sum by (job, reason) (rate(vigil_records_dead_lettered_total{stage="decode"}[10m])) / ignoring (reason) group_left sum by (job) (rate(vigil_records_consumed_total[$__rate_interval])) > 0.01',
      ).sort(),
    ).toEqual(['vigil_records_consumed_total', 'vigil_records_dead_lettered_total']);
    expect(
      metricNames('(up{job="vigil"} == 1) unless on (job, instance) (vigil_model_info == 1)').sort(),
    ).toEqual(['up', 'vigil_model_info']);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 1e3')).toEqual([
      'x_bucket',
    ]);
  });
});

describe('dashboards and alert rules name only metrics Vigil exports', async () => {
  const exported = await exportedNames();

  it('every dashboard panel query', () => {
    const queries = panelQueries();
    expect(queries.length).toBeGreaterThan(20);
    const unknown = queries.flatMap(({ dashboard, panel, query }) =>
      metricNames(query.expr)
        .filter((n) => !exported.has(n))
        .map((n) => `${dashboard} / ${panel}: ${n}`),
    );
    expect(unknown).toEqual([]);
    // Each query selects something: an expression with no metric would be a constant panel.
    for (const { query } of queries) expect(metricNames(query.expr).length).toBeGreaterThan(0);
  });

  it('every alert rule expression', () => {
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.length).toBeGreaterThanOrEqual(9);
    const unknown = all.flatMap((r) =>
      metricNames(r.expr)
        .filter((n) => !exported.has(n))
        .map((n) => `${r.alert ?? r.record}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('every label a panel or rule matches or groups on is one its metrics carry', async () => {
    const metrics = await exportedMetrics();
    const exprs = [
      ...panelQueries().map((q) => ({ where: `${q.dashboard} / ${q.panel}`, expr: q.query.expr })),
      ...rules.groups.flatMap((g) =>
        g.rules.map((r) => ({ where: r.alert ?? r.record ?? '', expr: r.expr })),
      ),
    ];
    const wrong = exprs.flatMap(({ where, expr }) => {
      const carried = new Set(metricNames(expr).flatMap((n) => [...(metrics.get(n) ?? [])]));
      return labelNames(expr)
        .filter((l) => !carried.has(l))
        .map((l) => `${where}: ${l}`);
    });
    expect(wrong).toEqual([]);
    // The check can fail: vigil_records_scored_total has no reason label.
    expect(labelNames('sum by (reason) (rate(vigil_records_scored_total{stage="x"}[5m]))').sort()).toEqual([
      'reason',
      'stage',
    ]);
    expect(metrics.get('vigil_records_scored_total')?.has('reason')).toBe(false);
  });

  it('catches a name Vigil does not export', () => {
    expect(metricNames('rate(vigil_records_processed_total[5m])').filter((n) => !exported.has(n))).toEqual([
      'vigil_records_processed_total',
    ]);
  });
});
