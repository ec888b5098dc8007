// helm/vigil/values.schema.json: the chart's own values described here, and `config` (the vigil.yaml tree the
// ConfigMap carries) generated from Vigil's config schema, so `helm install` refuses a config key or value that
// `vigil run` would refuse. `npm run chart:schema` writes it; a unit test fails when the file differs.
import * as z from 'zod';
import { ConfigSchema } from '../../core/config/schema.js';

type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const bool: Schema = { type: 'boolean' };
const int = (minimum = 0): Schema => ({ type: 'integer', minimum });
const map: Schema = { type: 'object' };
const strMap: Schema = { type: 'object', additionalProperties: { type: 'string' } };
const list: Schema = { type: 'array' };
const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  additionalProperties: false,
  properties,
  ...(required.length > 0 ? { required } : {}),
});

function configSchema(): Schema {
  // The input side: defaults are optional there, as in a vigil.yaml. `${ENV}` strings are allowed where the
  // schema says string only; a number given as `${VAR}` is refused here (write it as a number).
  const s = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as Schema;
  delete s.$schema;
  return s;
}

export function valuesSchema(): Schema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Vigil Helm chart values',
    type: 'object',
    additionalProperties: false,
    properties: {
      replicaCount: int(1),
      image: obj({ repository: str, tag: str, pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] } }),
      imagePullSecrets: list,
      nameOverride: str,
      fullnameOverride: str,
      config: configSchema(),
      model: obj({ volume: { type: 'object', minProperties: 1 } }, ['volume']),
      secrets: obj({ envFrom: str, tls: str }),
      service: obj({ type: { enum: ['ClusterIP', 'NodePort', 'LoadBalancer'] }, port: int(1) }),
      serviceAccount: obj({ create: bool, name: str, annotations: strMap }),
      terminationGracePeriodSeconds: int(1),
      probes: obj({
        liveness: obj({ path: str, periodSeconds: int(1), failureThreshold: int(1) }),
        readiness: obj({ path: str, periodSeconds: int(1), failureThreshold: int(1) }),
        startup: obj({ periodSeconds: int(1), failureThreshold: int(1) }),
      }),
      resources: map,
      podSecurityContext: map,
      securityContext: map,
      extraEnv: list,
      podAnnotations: strMap,
      podLabels: strMap,
      nodeSelector: strMap,
      tolerations: list,
      affinity: map,
      podDisruptionBudget: obj({ enabled: bool, maxUnavailable: { type: ['integer', 'string'] } }),
      gpu: obj({
        enabled: bool,
        repository: str,
        count: int(1),
        backend: { enum: ['webgpu', 'tensorflow-gpu'] },
        nodeSelector: strMap,
        tolerations: list,
      }),
      autoscaling: obj({
        hpa: obj({
          enabled: bool,
          minReplicas: int(1),
          maxReplicas: int(1),
          targetCPUUtilizationPercentage: int(1),
        }),
        keda: obj({
          enabled: bool,
          minReplicas: int(0),
          maxReplicas: int(1),
          lagThreshold: { type: 'string', pattern: '^[0-9]+$' },
          pollingInterval: int(1),
          cooldownPeriod: int(0),
        }),
      }),
      serviceMonitor: obj({
        enabled: bool,
        interval: { type: 'string', pattern: '^[0-9]+(ms|s|m|h)$' },
        labels: strMap,
      }),
      prometheusRule: obj({ enabled: bool, labels: strMap }),
      dashboards: obj({ enabled: bool, labels: strMap, annotations: strMap }),
    },
  };
}

export const VALUES_SCHEMA_PATH = 'helm/vigil/values.schema.json';

export function renderValuesSchema(): string {
  return `${JSON.stringify(valuesSchema(), null, 2)}\n`;
}
