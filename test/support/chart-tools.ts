// The chart tools (helm, helm-unittest, kubeconform and the offline schemas), built once into a cache outside
// the clone by scripts/lib/ensure-chart-tools.sh; a no-op when the cache is there.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export interface ChartTools {
  readonly helm: string;
  readonly unittest: string;
  readonly kubeconform: string;
  /** kubeconform -schema-location arguments: Kubernetes kinds, then the Prometheus-Operator and KEDA CRDs. */
  readonly schemaArgs: readonly string[];
}

const root = path.resolve(import.meta.dirname, '../..');

export function ensureChartTools(env: NodeJS.ProcessEnv = process.env): ChartTools {
  const out = execFileSync('bash', [path.join(root, 'scripts/lib/ensure-chart-tools.sh')], {
    encoding: 'utf8',
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const dir = out.trim().split('\n').at(-1)!;
  const schemas = path.join(dir, 'schemas/current');
  return {
    helm: path.join(dir, 'bin/helm'),
    unittest: path.join(dir, 'bin/helm-unittest'),
    kubeconform: path.join(dir, 'bin/kubeconform'),
    schemaArgs: [
      '-schema-location',
      `${schemas}/k8s/{{.ResourceKind}}{{.KindSuffix}}.json`,
      '-schema-location',
      `${schemas}/crd/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json`,
    ],
  };
}
