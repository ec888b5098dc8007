import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { describeMetrics, renderMetricsDocs } from '../../../../core/metrics/docs.js';
import { VigilMetrics } from '../../../../core/metrics/vigil-metrics.js';

const DOC = fileURLToPath(new URL('../../../../docs/metrics.md', import.meta.url));

describe('docs/metrics.md', () => {
  it('is what renderMetricsDocs() produces (run `npm run docs:metrics` after changing a metric)', () => {
    expect(readFileSync(DOC, 'utf8')).toBe(renderMetricsDocs());
  });

  it('lists every metric VigilMetrics registers, with its type and labels', async () => {
    const registry = new Registry();
    new VigilMetrics(registry);
    const registered = await registry.getMetricsAsJSON();
    const described = describeMetrics();
    expect(described.map((m) => m.name).sort()).toEqual(registered.map((m) => m.name).sort());
    const text = renderMetricsDocs();
    for (const m of registered) {
      expect(text).toContain(`| \`${m.name}\` | ${m.type} |`);
    }
    expect(text).toContain('`vigil_processing_latency_seconds` | histogram');
    expect(text).toContain('`reason`, `stage`');
  });
});
