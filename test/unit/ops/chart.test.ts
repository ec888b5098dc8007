// The Helm chart, checked with the real tools: `helm lint --strict` and `helm template` for the defaults and
// every ci/*-values.yaml, every rendered manifest validated offline by kubeconform (-strict: unknown fields
// refused) against the Kubernetes 1.33 and Prometheus-Operator / KEDA CRD schemas, the helm-unittest suites
// under helm/vigil/tests, and the rendered vigil.yaml accepted by Vigil's own config loader.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../../core/config/load.js';
import { renderValuesSchema, VALUES_SCHEMA_PATH } from '../../../ops/chart/values-schema.js';
import { type ChartTools, ensureChartTools } from '../../support/chart-tools.js';

const root = path.resolve(import.meta.dirname, '../../..');
const chart = path.join(root, 'helm/vigil');
const valuesFiles = readdirSync(path.join(chart, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .sort();
// What the cluster offers: the operator's and KEDA's CRDs, so the templates guarded by Capabilities render.
const CLUSTER = [
  '--kube-version',
  '1.33.0',
  '--api-versions',
  'monitoring.coreos.com/v1',
  '--api-versions',
  'keda.sh/v1alpha1',
];

let tools: ChartTools;
beforeAll(() => {
  tools = ensureChartTools();
}, 1_200_000);

function run(cmd: string, args: readonly string[], input?: string) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: root, input, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, out: r.stdout, err: r.stderr, all: `${r.stdout}\n${r.stderr}` };
}

function render(
  values: string,
): { kind: string; metadata: { name: string }; data?: Record<string, string> }[] {
  const r = run(tools.helm, [
    'template',
    'vigil-test',
    chart,
    '-f',
    path.join(chart, 'ci', values),
    ...CLUSTER,
  ]);
  expect(r.status, r.all).toBe(0);
  return parseAllDocuments(r.out)
    .map((d) => d.toJS())
    .filter((d) => d !== null);
}

describe('helm/vigil', () => {
  it('has a values file per feature', () => {
    expect(valuesFiles).toEqual(
      expect.arrayContaining([
        'default-values.yaml',
        'monitoring-values.yaml',
        'keda-values.yaml',
        'hpa-values.yaml',
        'gpu-values.yaml',
        'sasl-tls-values.yaml',
        'exactly-once-values.yaml',
      ]),
    );
  });

  it('values.schema.json is generated from the config schema (run `npm run chart:schema`)', () => {
    expect(readFileSync(path.join(root, VALUES_SCHEMA_PATH), 'utf8')).toBe(renderValuesSchema());
  });

  it('every value in values.yaml is commented (helm-docs style `# --` documents a key and what is under it)', () => {
    const lines = readFileSync(path.join(chart, 'values.yaml'), 'utf8').split('\n');
    const uncommented: string[] = [];
    // Keys open above this line: their indent and whether a `# --` comment documents them with all they hold.
    const open: { indent: number; documented: boolean }[] = [];
    lines.forEach((line, i) => {
      const key = /^(\s*)(?:- )?([A-Za-z][\w./-]*):/.exec(line);
      if (key === null) return;
      const indent = key[1]!.length;
      while (open.length > 0 && open.at(-1)!.indent >= indent) open.pop();
      const prev =
        lines
          .slice(0, i)
          .reverse()
          .find((l) => l.trim() !== '') ?? '';
      const documented = prev.trim().startsWith('# --');
      const commented = prev.trim().startsWith('#');
      // config is vigil.yaml itself, documented key by key in docs/configuration.md (and the schema).
      const inherited =
        open.some((o) => o.documented) ||
        (open[0]?.indent === 0 &&
          lines
            .slice(0, i)
            .reverse()
            .find((l) => /^[A-Za-z]/.test(l))
            ?.startsWith('config:'));
      const opensSection = /:\s*$/.test(line) && !documented;
      if (!commented && !inherited && !opensSection) uncommented.push(`${i + 1}: ${line.trim()}`);
      open.push({ indent, documented: documented || (commented && !opensSection) });
    });
    expect(uncommented).toEqual([]);
  });

  it.each(valuesFiles)('helm lint --strict with ci/%s', (values) => {
    const r = run(tools.helm, [
      'lint',
      '--strict',
      chart,
      '-f',
      path.join(chart, 'ci', values),
      ...CLUSTER.slice(0, 2),
    ]);
    expect(r.status, r.all).toBe(0);
    expect(r.out).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it.each(valuesFiles)('ci/%s renders manifests kubeconform accepts', (values) => {
    const docs = render(values);
    const kinds = docs.map((d) => d.kind);
    expect(kinds).toEqual(expect.arrayContaining(['StatefulSet', 'Service', 'ConfigMap']));
    const rendered = run(tools.helm, [
      'template',
      'vigil-test',
      chart,
      '-f',
      path.join(chart, 'ci', values),
      ...CLUSTER,
    ]);
    const r = run(
      tools.kubeconform,
      ['-strict', '-summary', '-output', 'json', ...tools.schemaArgs, '-'],
      rendered.out,
    );
    expect(r.status, r.all).toBe(0);
    const summary = (JSON.parse(r.out) as { summary: Record<string, number> }).summary;
    expect(summary).toEqual({ valid: docs.length, invalid: 0, errors: 0, skipped: 0 });
  });

  it('each feature file renders its feature', () => {
    const kinds = (v: string) => render(v).map((d) => d.kind);
    expect(kinds('default-values.yaml')).not.toContain('ServiceMonitor');
    expect(kinds('default-values.yaml')).not.toContain('PrometheusRule');
    expect(kinds('monitoring-values.yaml')).toEqual(
      expect.arrayContaining(['ServiceMonitor', 'PrometheusRule']),
    );
    expect(kinds('keda-values.yaml')).toContain('ScaledObject');
    expect(kinds('hpa-values.yaml')).toContain('HorizontalPodAutoscaler');
    expect(kinds('default-values.yaml')).toContain('PodDisruptionBudget');
  });

  it.each(valuesFiles)('the vigil.yaml rendered from ci/%s is one `vigil run` accepts', (values) => {
    const cm = render(values).find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'vigil-test')!;
    const config = parseConfig(cm.data!['vigil.yaml']!, {
      env: {
        KAFKA_PASSWORD: 'k',
        SR_SECRET: 's',
        VIGIL__KAFKA__CLIENT_ID: 'vigil-test-0',
        VIGIL__KAFKA__INSTANCE_ID: 'vigil-test-0',
      },
      source: `ConfigMap from ci/${values}`,
    });
    expect(config.kafka.clientId).toBe('vigil-test-0');
    expect(config.kafka.instanceId).toBe('vigil-test-0');
  });

  it('kubeconform refuses a wrong manifest (a numeric ServiceMonitor port, an unknown field)', () => {
    const rendered = run(tools.helm, [
      'template',
      'vigil-test',
      chart,
      '-f',
      path.join(chart, 'ci/monitoring-values.yaml'),
      ...CLUSTER,
    ]).out;
    const badPort = rendered.replace('- port: metrics', '- port: 9464');
    expect(badPort).not.toBe(rendered);
    expect(run(tools.kubeconform, ['-strict', ...tools.schemaArgs, '-'], badPort).status).toBe(1);
    const unknown = rendered.replace(
      'podManagementPolicy: Parallel',
      'podManagementPolicy: Parallel\n  replicasWanted: 3',
    );
    expect(run(tools.kubeconform, ['-strict', ...tools.schemaArgs, '-'], unknown).status).toBe(1);
  });

  it('the helm-unittest suites pass (probes, security context, limits, GPU, ServiceMonitor selection)', () => {
    const r = run(tools.unittest, [chart]);
    // Its closing line is not the "N passed, N failed" form: the exit code decides.
    expect(r.status, r.all).toBe(0);
    expect(r.out).toMatch(/Test Suites:\s+\d+ passed/);
  });
});
