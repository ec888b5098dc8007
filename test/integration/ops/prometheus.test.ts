// Dashboards and alert rules against a live Vigil: `vigil run` (its own process, metrics on a loopback port)
// scores a synthetic sensor stream with injected failures (multi-record anomaly episodes) and poison records,
// while Debian's Prometheus scrapes it and evaluates Vigil's alert rules, sending to Alertmanager.
// It fails if any panel query of the serving dashboards returns no finite sample over the run, and it waits for an
// alert to reach Alertmanager's webhook (the record-level VigilDeadLettersGrowing, with its windows and `for`
// shortened to fit a test; the incident alert has its own test, incidents.test.ts). Incidents are on, as the chart
// has them, so the incident panels have data too. The model lifecycle's dashboard is held only to parse here: its
// metrics have data only with model.lifecycle enabled (a registry and a retraining replica), which this run is
// not. Its queries return data over lifecycle-shaped series in test/unit/ops/lifecycle-dashboard.test.ts (promtool),
// and the lifecycle's metrics are checked in test/integration/lifecycle/lifecycle.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIFECYCLE_DASHBOARD, panelQueries, SERVING_DASHBOARDS } from '../../../ops/dashboards/index.js';
import { loadSchema, schemaPath } from '../../../schemas/catalog.js';
import { brokers, uniqueName } from '../../support/kafka.js';
import { type SensorArtifact, sensorArtifact, sensorStream } from '../../support/model-artifact.js';
import {
  ALERTMANAGER_BIN,
  type Daemon,
  freePort,
  installed,
  PROMETHEUS_BIN,
  query,
  queryRange,
  startAlertmanager,
  startPrometheus,
  startWebhook,
  testRules,
  until,
  type Webhook,
} from '../../support/prometheus.js';
import {
  removeVigilConfigs,
  startVigil,
  type VigilProcess,
  writeVigilConfig,
} from '../../support/vigil-process.js';
import { client, createTopics, deleteTopics, producePaced, sleep } from '../pipeline/robustness.js';

const haveTools = installed(PROMETHEUS_BIN) && installed(ALERTMANAGER_BIN);
const sensorType = loadSchema('sensor_reading');

describe.skipIf(!haveTools)(
  'Prometheus scraping a live vigil run (needs Debian prometheus, prometheus-alertmanager)',
  () => {
    const input = uniqueName('prom-in');
    const anomalies = uniqueName('prom-anom');
    const dlq = uniqueName('prom-dlq');
    const incidents = uniqueName('prom-incidents');
    const groupId = uniqueName('prom-group');
    const kafka = client();
    let artifact: SensorArtifact;
    let vigil: VigilProcess | undefined;
    let prometheus: Daemon | undefined;
    let alertmanager: Daemon | undefined;
    let webhook: Webhook | undefined;
    let metricsPort: number;
    let startedAt: number;

    beforeAll(async () => {
      artifact = await sensorArtifact();
      await createTopics(kafka, { [input]: 3, [anomalies]: 3, [dlq]: 1, [incidents]: 3 });
      metricsPort = await freePort();
      const config = await writeVigilConfig({
        kafka: {
          brokers: brokers(),
          clientId: 'vigil-prom',
          groupId,
          consumer: { autoOffsetReset: 'earliest' },
        },
        input: { topics: [input], format: 'avro', schema: schemaPath('sensor_reading') },
        features: { preset: 'sensor-reading', temporal: { enabled: false } },
        model: { artifact: artifact.dir },
        output: {
          anomaliesTopic: anomalies,
          deadLetterTopic: dlq,
          incidents: { enabled: true, topic: incidents },
        },
        batching: { maxRecords: 200, lingerMs: 20 },
        metrics: { enabled: true, host: '127.0.0.1', port: metricsPort },
      });
      webhook = await startWebhook();
      alertmanager = await startAlertmanager(webhook.url);
      prometheus = await startPrometheus({
        targets: [`127.0.0.1:${metricsPort}`],
        rules: [testRules()],
        alertmanager: new URL(alertmanager.url).host,
      });
      startedAt = Date.now() / 1000;
      vigil = await startVigil(config);
    }, 300_000);

    afterAll(async () => {
      await vigil?.stop();
      await prometheus?.stop();
      await alertmanager?.stop();
      await webhook?.close();
      await deleteTopics(kafka, [input, anomalies, dlq, incidents]);
      removeVigilConfigs();
    });

    it('every serving dashboard panel query returns data, the threshold is the one in force, and an alert reaches Alertmanager', async () => {
      const v = vigil!;
      const prom = prometheus!.url;
      // 20 units, 4% of readings in anomaly episodes of 20–60 readings of one unit (a failure that lasts), and 2%
      // undecodable records so dead letters go over the 1% of VigilDeadLettersGrowing.
      const labelled = sensorStream(6000, { streamSeed: 31, anomalyRate: 0.04 });
      const messages = labelled.map(({ record }) => ({
        key: record.device_id,
        value: sensorType.toBuffer(record),
      }));
      for (let i = 50; i < messages.length; i += 50)
        messages.splice(i, 0, { key: 'poison', value: Buffer.from([0xde, 0xad]) });
      // Spread over about 25 s, so rates and histograms have many scrapes of data.
      const paced = producePaced(kafka, input, messages, { chunk: 250, intervalMs: 1_000 });
      await v.whileRunning(paced.done);

      await v.whileRunning(
        until(
          'Vigil to score the stream (vigil_records_scored_total in Prometheus)',
          async () => {
            const r = await query(prom, `sum(vigil_records_scored_total{topic="${input}"})`);
            return r.length > 0 && Number(r[0]!.value[1]) >= labelled.length ? true : undefined;
          },
          120_000,
        ),
      );
      // Two more scrapes so the last counts are in every window.
      await sleep(2_500);

      const end = Date.now() / 1000;
      const empty: string[] = [];
      for (const { dashboard, panel, query: q } of panelQueries(SERVING_DASHBOARDS)) {
        const expr = q.expr.replaceAll('$__rate_interval', '20s');
        const series = await queryRange(prom, expr, startedAt, end, 1);
        const finite = series.some((s) => s.values.some(([, value]) => Number.isFinite(Number(value))));
        if (!finite) empty.push(`${dashboard} / ${panel}: ${expr}`);
      }
      expect(empty, 'panels whose query returned no finite sample').toEqual([]);
      // This Prometheus accepts every lifecycle panel query (queryRange throws on an error), data or none.
      for (const { query: q } of panelQueries([LIFECYCLE_DASHBOARD]))
        await queryRange(prom, q.expr.replaceAll('$__rate_interval', '20s'), startedAt, end, 1);

      // The metrics tell the stream's story: anomalies and dead letters of this topic, by reason.
      const anomalous = await query(prom, `sum(vigil_anomalies_total{topic="${input}"})`);
      expect(Number(anomalous[0]!.value[1])).toBeGreaterThan(0);
      const dead = await query(prom, 'sum by (reason) (vigil_records_dead_lettered_total)');
      expect(dead.map((d) => d.metric.reason)).toContain('DECODE_FAILED');

      // vigil_threshold is the calibrated threshold Vigil scores against (it read 0 before issue #13).
      const threshold = await query(prom, 'vigil_threshold');
      expect(threshold).toHaveLength(1);
      expect(Number(threshold[0]!.value[1])).toBeCloseTo(artifact.detector.activeCalibration.threshold, 5);

      const alert = await until(
        'VigilDeadLettersGrowing at the Alertmanager webhook',
        async () =>
          webhook!.alerts.find(
            (a) => a.labels.alertname === 'VigilDeadLettersGrowing' && a.status === 'firing',
          ),
        60_000,
      );
      expect(alert.labels).toMatchObject({ job: 'vigil', reason: 'DECODE_FAILED', severity: 'warning' });
      expect(alert.annotations.summary).toBe('Dead letters for DECODE_FAILED above 1% of input');

      // With a model serving and a threshold set, the availability alerts stay quiet.
      const firing = (await query(prom, 'ALERTS{alertstate="firing"}')).map((a) => a.metric.alertname);
      for (const quiet of ['VigilInstanceDown', 'VigilNoModelLoaded', 'VigilThresholdUnset'])
        expect(firing).not.toContain(quiet);
    }, 300_000);

    // The container images run node as PID 1 with no init (Dockerfile): Vigil itself must turn SIGTERM into a
    // clean stop, and Prometheus then sees the instance go.
    it('exits 0 on SIGTERM after an orderly shutdown, and Prometheus sees it down', async () => {
      const v = vigil!;
      const exit = await v.stop(30_000);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(
        v.logs().some((l) => l.msg === 'shutting down: stop fetching, drain, flush, commit, leave the group'),
      ).toBe(true);
      expect(v.logs().some((l) => l.msg === 'stopped')).toBe(true);
      await until(
        'up{job="vigil"} == 0',
        async () => ((await query(prometheus!.url, 'up{job="vigil"} == 0')).length === 1 ? true : undefined),
        30_000,
      );
    }, 60_000);
  },
);
