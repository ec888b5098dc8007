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

/** Every series name `vigil run` exports (process metrics and histogram suffixes included), plus Prometheus's `up`. */
export async function exportedNames(): Promise<Set<string>> {
  const registry = new Registry();
  new VigilMetrics(registry, { processMetrics: true });
  const names = new Set<string>(['up']);
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}
