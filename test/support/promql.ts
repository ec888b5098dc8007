// Metric names in a PromQL expression and the names Vigil exports, for the tests that hold dashboards and alert
// rules to the metrics that exist.
import { Registry } from 'prom-client';
import { VigilMetrics } from '../../core/metrics/vigil-metrics.js';

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring']);
const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g;

/**
 * The metric names an expression selects: identifiers left once strings, label matchers, range windows and
 * grouping clauses are cut out, that are not a function call, a keyword or a number.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(GROUPING, ' ')
    .replace(/\b(group_left|group_right)\b/g, ' ')
    .replace(/\boffset\s+-?\w+/g, ' ')
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = bare.slice(m.index + m[0].length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(m[0])) continue;
    if (/^(inf|nan)$/i.test(m[0])) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** The label names an expression matches or groups on: `{name=...}` matchers and by/without/on/ignoring lists. */
export function labelNames(expr: string): string[] {
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  const names = new Set<string>();
  for (const m of bare.matchAll(/\{([^}]*)\}/g))
    for (const l of m[1]!.matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)/g)) names.add(l[1]!);
  for (const m of bare.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g))
    for (const l of m[1]!.split(',')) if (l.trim() !== '') names.add(l.trim());
  return [...names];
}

// Labels Prometheus attaches to every scraped series.
const TARGET_LABELS = ['job', 'instance'];

/**
 * Every series name `vigil run` exports (process metrics and histogram suffixes included), plus Prometheus's
 * `up`, each with the label names its series carry (target labels included; `le` on histogram buckets).
 */
export async function exportedMetrics(): Promise<Map<string, Set<string>>> {
  const registry = new Registry();
  new VigilMetrics(registry, { processMetrics: true });
  const metrics = new Map<string, Set<string>>([['up', new Set(TARGET_LABELS)]]);
  for (const m of registry.getMetricsAsArray()) {
    const {
      name,
      labelNames = [],
      type,
    } = m as unknown as { name: string; labelNames?: string[]; type?: string };
    const labels = new Set([...labelNames, ...TARGET_LABELS]);
    metrics.set(name, labels);
    if (String(type) === 'histogram') {
      metrics.set(`${name}_bucket`, new Set([...labels, 'le']));
      metrics.set(`${name}_sum`, labels);
      metrics.set(`${name}_count`, labels);
    }
  }
  return metrics;
}

export async function exportedNames(): Promise<Set<string>> {
  return new Set((await exportedMetrics()).keys());
}
