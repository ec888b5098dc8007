// The live view in a real browser: `vigil run --ui` (its own process) scores a synthetic sensor stream on the
// real broker, with injected failures that each last tens of readings of one unit; headless Chromium, driven by
// playwright-core, opens the page the service serves and the test reads what the page shows from its DOM:
// scores drawn against the threshold in force, and an incident of a failing unit, which must be the incident
// tracker's (its id, entity, count and event-time span those of its latest event on the incidents topic, read
// back from the broker). It saves a screenshot and
// prints where (a temp dir, so a run never dirties the tree; docs/img/live-view.png is one such copy).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchema, schemaPath } from '../../../schemas/catalog.js';
import type { IncidentEvent } from '../../../schemas/types.js';
import { brokers, uniqueName } from '../../support/kafka.js';
import { type SensorArtifact, sensorArtifact, sensorStream } from '../../support/model-artifact.js';
import { freePort } from '../../support/prometheus.js';
import {
  removeVigilConfigs,
  startVigil,
  type VigilProcess,
  writeVigilConfig,
} from '../../support/vigil-process.js';
import { client, createTopics, deleteTopics, producePaced, readTopic } from '../pipeline/robustness.js';

// Debian's chromium (VERIFIED.md); playwright-core downloads no browser of its own.
const CHROMIUM = process.env['VIGIL_TEST_CHROMIUM'] ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(
    `live view browser test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set VIGIL_TEST_CHROMIUM)`,
  );
}
const sensorType = loadSchema('sensor_reading');
const incidentType = loadSchema('incident_event');

interface Shown {
  chartPoints: number;
  chartThreshold: number;
  scorePoints: number;
  thresholdPoints: number;
  anomalyMarks: number;
  thresholdCard: string;
  model: string;
  anomalyRows: number;
  incidents: {
    id: string | null;
    state: string | null;
    entity: string | undefined;
    count: number;
    start: number;
    end: number;
    label: string;
  }[];
  lanes: string[];
}

/** What the page shows, read from its DOM; a string, as it runs in the page (we compile without the DOM lib). */
const READ_PAGE = `(() => {
  const q = (id) => document.querySelector('[data-testid=' + id + ']');
  const all = (id) => [...document.querySelectorAll('[data-testid=' + id + ']')];
  const points = (id) => (q(id)?.getAttribute('points') ?? '').split(' ').filter((p) => p !== '').length;
  return {
    chartPoints: Number(q('chart').getAttribute('data-points')),
    chartThreshold: Number(q('chart').getAttribute('data-threshold')),
    scorePoints: points('score-line'),
    thresholdPoints: points('threshold-line'),
    anomalyMarks: all('anomaly-mark').length,
    thresholdCard: q('threshold')?.textContent ?? '',
    model: q('model')?.textContent ?? '',
    anomalyRows: all('anomaly-row').length,
    incidents: all('incident-row').map((row) => {
      const cells = [...row.querySelectorAll('td')].map((td) => td.textContent ?? '');
      return {
        id: row.getAttribute('data-id'),
        state: row.getAttribute('data-state'),
        entity: cells[1],
        count: Number(cells[2]),
        start: Number(row.getAttribute('data-start')),
        end: Number(row.getAttribute('data-end')),
        label: cells[6] ?? '',
      };
    }),
    lanes: [...document.querySelectorAll('#chart text')].map((t) => t.textContent ?? '').filter((t) => t.startsWith('incident ·')),
  };
})()`;

describe.skipIf(!haveChromium)(`the live view in headless Chromium (${CHROMIUM})`, () => {
  const input = uniqueName('live-in');
  const anomalies = uniqueName('live-anom');
  const dlq = uniqueName('live-dlq');
  const incidentsTopic = uniqueName('live-incidents');
  const kafka = client();
  let artifact: SensorArtifact;
  let vigil: VigilProcess | undefined;
  let browser: Browser | undefined;
  let metricsPort: number;

  beforeAll(async () => {
    artifact = await sensorArtifact();
    await createTopics(kafka, { [input]: 3, [anomalies]: 3, [dlq]: 1, [incidentsTopic]: 3 });
    metricsPort = await freePort();
    const config = await writeVigilConfig({
      kafka: {
        brokers: brokers(),
        clientId: 'vigil-live',
        groupId: uniqueName('live-group'),
        consumer: { autoOffsetReset: 'earliest' },
      },
      input: { topics: [input], format: 'avro', schema: schemaPath('sensor_reading') },
      features: { preset: 'sensor-reading', temporal: { enabled: false } },
      model: { artifact: artifact.dir },
      // The page's incidents are the tracker's; `--ui` does not turn it on.
      output: {
        anomaliesTopic: anomalies,
        deadLetterTopic: dlq,
        incidents: { enabled: true, topic: incidentsTopic },
      },
      batching: { maxRecords: 200, lingerMs: 20 },
      metrics: { enabled: true, host: '127.0.0.1', port: metricsPort },
    });
    // The flag, not `ui.enabled` in the file: what a user types to watch one instance.
    vigil = await startVigil(config, { args: ['--ui'] });
    browser = await chromium.launch({ executablePath: CHROMIUM });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await vigil?.stop();
    await deleteTopics(kafka, [input, anomalies, dlq, incidentsTopic]);
    removeVigilConfigs();
  });

  it('shows the scores against the threshold in force and an incident of a failing unit, and saves a screenshot', async () => {
    const v = vigil!;
    // 20 units, 4 % of readings in anomaly episodes of 20–60 consecutive readings of one unit.
    const labelled = sensorStream(4000, { streamSeed: 43, anomalyRate: 0.04 });
    const failing = new Set(labelled.filter((l) => l.truth.label === 1).map((l) => l.truth.entity));
    expect(failing.size).toBeGreaterThan(0);
    const messages = labelled.map(({ record }) => ({
      key: record.device_id,
      value: sensorType.toBuffer(record),
    }));

    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`http://127.0.0.1:${metricsPort}/live`);
    // Spread over about 16 s, so the chart has many seconds of scores.
    const paced = producePaced(kafka, input, messages, { chunk: 250, intervalMs: 1_000 });
    await v.whileRunning(paced.done);

    // Waits until the page itself (its poll of /live/data, drawn into the DOM) shows every record scored and an
    // incident. A string, as it runs in the page (this project compiles without the DOM library).
    await v.whileRunning(
      page.waitForFunction(
        `Number((document.getElementById('totals').textContent || '').split('·')[0]) >= ${messages.length}` +
          ` && document.querySelector('[data-testid=incident-row]') !== null`,
        undefined,
        { timeout: 120_000, polling: 500 },
      ),
    );

    // Read in one go: the page redraws every second.
    const shown = await page.evaluate<Shown>(READ_PAGE);

    // Scores: one point per second with records, drawn as a line against the threshold line.
    expect(shown.chartPoints).toBeGreaterThan(1);
    expect(shown.scorePoints).toBe(shown.chartPoints);
    expect(shown.thresholdPoints).toBe(shown.chartPoints);
    expect(shown.anomalyMarks).toBeGreaterThan(0);
    expect(shown.anomalyRows).toBeGreaterThan(0);
    // The threshold drawn and printed is the calibrated one the service scores against.
    const threshold = artifact.detector.activeCalibration.threshold;
    expect(shown.chartThreshold).toBeCloseTo(threshold, 6);
    expect(Number(shown.thresholdCard)).toBeCloseTo(threshold, 2 - Math.floor(Math.log10(threshold)));
    // A failure lasting many readings of one unit is one incident with several anomalies, not one per record.
    const ofFailing = shown.incidents.filter((i) => i.entity !== undefined && failing.has(i.entity));
    expect(ofFailing.length, JSON.stringify(shown.incidents)).toBeGreaterThan(0);
    const biggest = ofFailing.reduce((a, b) => (b.count > a.count ? b : a));
    expect(biggest.count).toBeGreaterThan(2);
    // It is the tracker's incident as the broker holds it: every row shown is its incident's latest event.
    const events = (await readTopic(kafka, incidentsTopic)).map(
      (r) => incidentType.fromBuffer(r.value!) as IncidentEvent,
    );
    const latest = new Map<string, IncidentEvent>();
    for (const e of events) {
      if ((latest.get(e.incident_id)?.sequence ?? -1) < e.sequence) latest.set(e.incident_id, e);
    }
    for (const row of shown.incidents) {
      const e = latest.get(row.id ?? '');
      expect(e, `incident ${row.id} on ${incidentsTopic}`).toBeDefined();
      expect(row).toMatchObject({
        entity: e!.entity,
        count: e!.count,
        start: e!.start,
        end: e!.end,
        state: e!.kind === 'CLOSE' ? 'closed' : 'open',
      });
    }
    expect(latest.get(biggest.id!)!.event_ids.length).toBeGreaterThan(2);
    // Lane labels count in words that agree with the number.
    expect(shown.lanes.length).toBeGreaterThan(0);
    for (const lane of shown.lanes)
      expect(lane).toMatch(/^incident · (1 anomaly|(\d{2,}|[02-9]) anomalies) ·/);
    console.log(
      `page: ${shown.incidents.length} incidents shown, largest ${biggest.entity} ${biggest.count} anomalies ` +
        `(${biggest.state}); topic: ${events.length} incident events of ${latest.size} incidents`,
    );
    // The model it scores with, as the artifact names it.
    const { id, version } = artifact.detector.identity;
    expect(shown.model).toContain(`model ${id} · version ${version}`);

    const dir = path.join(tmpdir(), 'vigil-live-view');
    await mkdir(dir, { recursive: true });
    const png = path.join(dir, 'live-view.png');
    await page.screenshot({ path: png, fullPage: true });
    console.log(`live view screenshot: ${png}`);
    await page.close();
  }, 300_000);
});
