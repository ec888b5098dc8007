// One failure, one incident, one page: `vigil run` (its own process, the default incident settings) scores a
// normal stream of 20 units in which one unit's bearing fails for 60 readings (10 minutes of event time) and
// then recovers. Its consecutive anomaly events must become exactly one incident on the incidents topic (OPEN,
// UPDATEs, CLOSE by event-time gap once the unit has been normal for longer than the gap), and Prometheus,
// evaluating the chart's alert rules, must send exactly one VigilIncidentOpened for it to Alertmanager.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchema, schemaPath } from '../../../schemas/catalog.js';
import type { AnomalyEvent, IncidentEvent, SensorReading } from '../../../schemas/types.js';
import { brokers, uniqueName } from '../../support/kafka.js';
import { type SensorArtifact, sensorArtifact, sensorStream } from '../../support/model-artifact.js';
import {
  ALERTMANAGER_BIN,
  type Daemon,
  freePort,
  installed,
  PROMETHEUS_BIN,
  startAlertmanager,
  startPrometheus,
  startWebhook,
  testRules,
  until,
  type Webhook,
} from '../../support/prometheus.js';
import {
  metricTotals,
  removeVigilConfigs,
  startVigil,
  type VigilProcess,
  writeVigilConfig,
} from '../../support/vigil-process.js';
import { client, createTopics, deleteTopics, producePaced, readTopic } from '../pipeline/robustness.js';

const haveTools = installed(PROMETHEUS_BIN) && installed(ALERTMANAGER_BIN);
const sensorType = loadSchema('sensor_reading');
const anomalyType = loadSchema('anomaly_event');
const incidentType = loadSchema('incident_event');

const ROUNDS = 240;
/** The failing unit's readings [FAIL_FROM, FAIL_TO): 60 readings, 10 minutes at one reading per 10 s. */
const FAIL_FROM = 100;
const FAIL_TO = 160;

/** A worn front bearing: hot, and vibrating several times harder on every axis. */
function failBearing(r: SensorReading): SensorReading {
  return {
    ...r,
    temp_bearing_front_c: r.temp_bearing_front_c + 35,
    vibration_x_mm_s: r.vibration_x_mm_s * 6,
    vibration_y_mm_s: r.vibration_y_mm_s * 6,
    vibration_z_mm_s: r.vibration_z_mm_s * 6,
    vibration_rms_mm_s: r.vibration_rms_mm_s * 6,
  };
}

describe.skipIf(!haveTools)(
  'a failure lasting many records is one incident and one alert (needs Debian prometheus, prometheus-alertmanager)',
  () => {
    const input = uniqueName('inc-in');
    const anomalies = uniqueName('inc-anom');
    const dlq = uniqueName('inc-dlq');
    const incidents = uniqueName('inc-incidents');
    const kafka = client();
    let artifact: SensorArtifact;
    let vigil: VigilProcess | undefined;
    let prometheus: Daemon | undefined;
    let alertmanager: Daemon | undefined;
    let webhook: Webhook | undefined;
    let metricsPort: number;

    beforeAll(async () => {
      artifact = await sensorArtifact();
      await createTopics(kafka, { [input]: 3, [anomalies]: 3, [dlq]: 1, [incidents]: 3 });
      metricsPort = await freePort();
      const config = await writeVigilConfig({
        kafka: {
          brokers: brokers(),
          clientId: 'vigil-incidents',
          groupId: uniqueName('inc-group'),
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

    it('opens one incident for the failure, updates it, closes it after the gap, and pages once', async () => {
      const v = vigil!;
      const readings = sensorStream(20 * ROUNDS, { streamSeed: 53, anomalyRate: 0 }).map((l) => l.record);
      const unit = readings[0]!.device_id;
      let seen = 0;
      let failFrom = 0;
      let failTo = 0;
      const stream = readings.map((r) => {
        if (r.device_id !== unit) return r;
        const k = seen++;
        if (k === FAIL_FROM) failFrom = r.event_time;
        if (k === FAIL_TO - 1) failTo = r.event_time;
        return k >= FAIL_FROM && k < FAIL_TO ? failBearing(r) : r;
      });
      const messages = stream.map((r) => ({ key: r.device_id, value: sensorType.toBuffer(r) }));
      // About 20 s, so Prometheus scrapes the counters rising.
      await v.whileRunning(producePaced(kafka, input, messages, { chunk: 250, intervalMs: 1_000 }).done);
      await v.whileRunning(
        until(
          'every record scored',
          async () => {
            const t = await metricTotals(metricsPort, ['vigil_records_scored_total']);
            return t.vigil_records_scored_total! >= messages.length ? true : undefined;
          },
          120_000,
        ),
      );

      const anomalyEvents = (await readTopic(kafka, anomalies)).map(
        (r) => anomalyType.fromBuffer(r.value!) as AnomalyEvent,
      );
      const failureAnomalies = anomalyEvents.filter(
        (a) => a.entity === unit && a.event_time >= failFrom && a.event_time <= failTo,
      );
      // The failure is plain to the model: most of its readings are anomaly events.
      expect(failureAnomalies.length).toBeGreaterThanOrEqual(0.8 * (FAIL_TO - FAIL_FROM));

      const events = (await readTopic(kafka, incidents)).map(
        (r) => incidentType.fromBuffer(r.value!) as IncidentEvent,
      );
      const ofUnit = events.filter((e) => e.entity === unit && e.end >= failFrom && e.start <= failTo);
      const ids = new Set(ofUnit.map((e) => e.incident_id));
      expect(ids.size, 'incidents of the failing unit overlapping the failure').toBe(1);

      const story = ofUnit.sort((a, b) => a.sequence - b.sequence);
      expect(story.map((e) => e.sequence)).toEqual(story.map((_, i) => i));
      expect(story[0]!.kind).toBe('OPEN');
      expect(story.slice(1, -1).length).toBeGreaterThan(0);
      expect(story.slice(1, -1).every((e) => e.kind === 'UPDATE')).toBe(true);
      const close = story.at(-1)!;
      expect(close.kind).toBe('CLOSE');
      expect(close.close_reason).toBe('GAP');
      // The incident holds exactly the failure's anomaly events, from the first to the last.
      expect(close.count).toBe(failureAnomalies.length);
      expect(close.start).toBe(Math.min(...failureAnomalies.map((a) => a.event_time)));
      expect(close.end).toBe(Math.max(...failureAnomalies.map((a) => a.event_time)));
      expect(close.event_ids).toEqual(
        failureAnomalies.map((a) => a.event_id).slice(0, close.event_ids.length),
      );
      expect(close.top_features.map((f) => f.feature)).toEqual(
        expect.arrayContaining([expect.stringMatching(/vibration|bearing/)]),
      );

      // One page for it: the alert of its severity band, once (Alertmanager may resend a group; the labels
      // tell one alert from another).
      const alerts = await until(
        'VigilIncidentOpened at the Alertmanager webhook',
        async () => {
          const firing = webhook!.alerts.filter(
            (a) =>
              a.labels.alertname === 'VigilIncidentOpened' &&
              a.labels.band === close.severity_band.toLowerCase(),
          );
          return firing.length > 0 ? firing : undefined;
        },
        60_000,
      );
      const distinct = new Set(alerts.map((a) => JSON.stringify(Object.entries(a.labels).sort())));
      expect(distinct.size).toBe(1);
      expect(alerts[0]!.labels).toMatchObject({ job: 'vigil', topic: input });
      const totals = await metricTotals(metricsPort, [
        'vigil_incidents_opened_total',
        'vigil_anomalies_total',
      ]);
      console.log(
        `failure: ${failureAnomalies.length} anomaly events of ${FAIL_TO - FAIL_FROM} readings → 1 incident ` +
          `(${story.length} events, band ${close.severity_band}); whole stream: ${totals.vigil_anomalies_total} ` +
          `anomalies, ${totals.vigil_incidents_opened_total} incidents opened`,
      );
    }, 300_000);
  },
);
