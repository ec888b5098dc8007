// The model lifecycle through `vigil run` itself (cli/lifecycle-serving.ts, cli/compose.ts), end to end on the
// real broker, once per transport (kafkajs, node-rdkafka): two replicas, each its own OS process, in one
// consumer group on a two-partition input topic, serving the promoted champion of a registry topic with
// model.lifecycle.enabled. Fresh normal readings keep every drift check stable; then a season change (+10 °C
// ambient, +6 °C coolant: test/support/season-fleet.ts) raises drift on both replicas, and only the one that owns partition 0 of the input topic retrains (one
// `retrain` event on the lifecycle topic; only its vigil_retrains_total moves). The challenger passes the gate,
// is promoted in the registry with the champion as its parent, and both replicas swap to it
// (vigil_model_registry_version_info). More of the new season is then scored by the challenger, and no drift
// check against it reads a score shift (its score window holds its own scores only). The cooldown outlasts the
// test: the features may still drift while the new season's rows replace the old ones in the reservoir (a
// challenger trained early in the change learnt a mixture), and a second retrain for that is the cooldown's call,
// which is timing and not what this test is about. Every record is scored
// (at-least-once: the replicas' counts add up to at least what was produced), the group's committed offsets
// reach the end of both partitions, and both replicas exit 0 on SIGTERM.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry, registryTopicSpec } from '../../../connector/registry/index.js';
import { createTransport } from '../../../connector/transport/index.js';
import { silentLogger } from '../../../core/logger.js';
import { loadSchema, schemaPath } from '../../../schemas/catalog.js';
import type { SensorReading } from '../../../schemas/types.js';
import { brokers, deleteTopic, uniqueName } from '../../support/kafka.js';
import { freePort } from '../../support/prometheus.js';
import { seasonFleet, shifted, trainSeasonChampion } from '../../support/season-fleet.js';
import {
  type LogLine,
  metricTotals,
  removeVigilConfigs,
  startVigil,
  type VigilProcess,
  writeVigilConfig,
} from '../../support/vigil-process.js';
import {
  client,
  createTopics,
  deleteTopics,
  producePaced,
  progress,
  readTopic,
  waitForProgress,
} from '../pipeline/robustness.js';
import { plaintextOptions } from '../transport/conformance.js';

const sensorType = loadSchema('sensor_reading');

const { trainRecords, sameRecords, later } = seasonFleet();
const SHIFTED = 2_000;
const AFTER = 1_000;

let champion: { dir: string; base: string; dispose(): void };
beforeAll(async () => {
  const trained = await trainSeasonChampion(trainRecords);
  champion = { dir: trained.dir, base: trained.base, dispose: () => trained.detector.dispose() };
}, 300_000);

const running: VigilProcess[] = [];
afterAll(async () => {
  for (const p of running) await p.kill();
  removeVigilConfigs();
  champion?.dispose();
  if (champion !== undefined) await rm(champion.base, { recursive: true, force: true });
});

async function servingVersion(port: number): Promise<string | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('vigil_model_registry_version_info{'));
  return line?.match(/version="([^"]*)"/)?.[1];
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The partitions of a replica's latest assignment (its last 'partitions assigned' line). */
function assignment(p: VigilProcess): string[] {
  const lines = p.logs().filter((l) => l.msg === 'partitions assigned');
  return (lines.at(-1)?.['partitions'] as string[] | undefined) ?? [];
}

describe.each(['kafkajs', 'rdkafka'] as const)(
  'model lifecycle across two vigil run replicas on %s',
  (kind) => {
    const input = uniqueName('lcrep-in');
    const anomalies = uniqueName('lcrep-anom');
    const dlq = uniqueName('lcrep-dlq');
    const events = uniqueName('lcrep-events');
    const registryTopic = uniqueName('lcrep-models');
    const groupId = uniqueName('lcrep-group');
    const kafka = client();

    beforeAll(async () => {
      await createTopics(kafka, { [input]: 2, [anomalies]: 2, [dlq]: 1, [events]: 1 });
    });
    afterAll(async () => {
      await deleteTopics(kafka, [input, anomalies, dlq, events]);
      await deleteTopic(registryTopic).catch(() => {});
    });

    const config = (instanceId: string, port: number) =>
      writeVigilConfig({
        kafka: {
          transport: kind,
          brokers: brokers(),
          clientId: 'vigil',
          instanceId,
          groupId,
          consumer: {
            autoOffsetReset: 'earliest',
            sessionTimeoutMs: 10_000,
            heartbeatIntervalMs: 1_000,
            rebalanceTimeoutMs: 20_000,
          },
        },
        input: { topics: [input], format: 'avro', schema: schemaPath('sensor_reading') },
        features: { preset: 'sensor-reading', temporal: { enabled: false } },
        model: {
          registry: { topic: registryTopic, watchMaxWaitMs: 200 },
          lifecycle: {
            enabled: true,
            eventsTopic: events,
            reservoir: { capacity: 3_000 },
            drift: { intervalMs: 1_500, consecutive: 2 },
            // Small and brief, as in lifecycle.test.ts; no cooldown, so a drift check that drifted again after
            // the swap would retrain again at once (the test counts retrains).
            retrain: { cooldownMs: 600_000, minRows: 1_500, epochs: 15, trimFraction: 0 },
            // The test models run at the 0.99 quantile: 1 % of normal rows flagged by design. On the ~500
            // held-out rows of a replica that is 5 rows, and two models' rates differ by a point or two by
            // chance (one run: 2.1 % against 0.97 %); the default tolerance, 0.2 points, is for the default
            // operating point, 1e-4, on a larger held-out set.
            gate: { maxFalseAlarmRate: 0.05, falseAlarmTolerance: 0.03 },
          },
        },
        output: { anomaliesTopic: anomalies, deadLetterTopic: dlq },
        batching: { maxRecords: 250, lingerMs: 20 },
        delivery: 'at-least-once',
        metrics: { enabled: true, host: '127.0.0.1', port },
        logging: { level: 'info' },
      });

    it('a drift-triggered retrain on the owner of partition 0 is promoted, both replicas swap to it, every record is scored and committed', async () => {
      const t0 = Date.now();
      // The champion, promoted in a fresh registry topic.
      const t = createTransport('kafkajs', plaintextOptions(), silentLogger());
      const registry = new ModelRegistry(t, { topic: registryTopic, chunkBytes: 256 * 1024 }, silentLogger());
      let championVersion: string;
      try {
        const admin = t.admin();
        await admin.createTopics([registryTopicSpec(registryTopic)]);
        await admin.close();
        championVersion = await registry.publish(champion.dir, { version: 'lcrep-champion' });
        await registry.setStatus(championVersion, 'promoted', 'initial model');
      } finally {
        await registry.close();
        await t.close();
      }

      const ports = { a: await freePort(), b: await freePort() };
      const logs = process.env.VIGIL_TEST_KEEP_LOGS;
      const a = await startVigil(await config('lcrep-a', ports.a), {
        readyTimeoutMs: 120_000,
        ...(logs ? { logFile: `${logs}/${input}-a.log` } : {}),
      });
      running.push(a);
      const b = await startVigil(await config('lcrep-b', ports.b), {
        readyTimeoutMs: 120_000,
        ...(logs ? { logFile: `${logs}/${input}-b.log` } : {}),
      });
      running.push(b);
      const replicas = [
        { name: 'a', p: a, port: ports.a },
        { name: 'b', p: b, port: ports.b },
      ];
      // The group settles with one partition each (a held both until b joined).
      await until(
        'one partition each',
        async () => assignment(a).length === 1 && assignment(b).length === 1,
        120_000,
      );
      for (const r of replicas) expect(await servingVersion(r.port)).toBe(championVersion);
      const owner = replicas.find((r) => assignment(r.p).includes(`${input}:0`))!;
      const other = replicas.find((r) => r !== owner)!;

      // Fresh normal readings of the training period, then the season changes; keyed by index, so both
      // partitions get about half of each.
      const encode = (phase: string) => (r: SensorReading, i: number) => ({
        key: `${phase}${i}`,
        value: sensorType.toBuffer(r),
      });
      const normal = sameRecords.map(encode('n'));
      const season = later(SHIFTED).map(shifted).map(encode('s'));
      await producePaced(kafka, input, normal, { chunk: 500, intervalMs: 0 }).done;
      await owner.p.whileRunning(
        waitForProgress(kafka, groupId, input, 'the normal readings committed', (p) => p.caughtUp, 120_000),
      );
      // A drift check on each replica over the normal readings (judged: more rows than drift.minRows, 500).
      const judgedCheck = (l: LogLine) => l.msg === 'drift check' && Number(l['rows']) >= 500;
      await Promise.all(replicas.map((r) => r.p.whileRunning(r.p.waitForLog(judgedCheck, 60_000))));
      const shiftAt = Date.now();
      await producePaced(kafka, input, season, { chunk: 500, intervalMs: 0 }).done;

      // The owner retrains on drift and promotes; the registry watcher of each replica swaps to the challenger.
      const finished = await owner.p.whileRunning(
        owner.p.waitForLog((l: LogLine) => l.msg === 'retrain finished', 360_000),
      );
      expect(finished, owner.p.tail()).toMatchObject({ trigger: 'drift', result: 'promoted' });
      const challenger = finished['version'] as string;
      expect(challenger).not.toBe(championVersion);
      await until(
        'both replicas to serve the challenger',
        async () =>
          (await servingVersion(ports.a)) === challenger && (await servingVersion(ports.b)) === challenger,
        120_000,
      );
      const promotedSeconds = (Date.now() - shiftAt) / 1000;
      // The other replica's lifecycle follows the swap (the owner's compares against its challenger already).
      await other.p.whileRunning(
        other.p.waitForLog(
          (l) => l.msg === 'lifecycle now compares against the model serving' && l['version'] === challenger,
          60_000,
        ),
      );
      for (const r of replicas) {
        expect((await metricTotals(r.port, ['vigil_model_swaps_total'])).vigil_model_swaps_total).toBe(1);
      }
      // More of the new season, scored by the challenger on both replicas.
      const after = later(AFTER).map(shifted).map(encode('t'));
      await producePaced(kafka, input, after, { chunk: 500, intervalMs: 0 }).done;
      const messages = [...normal, ...season, ...after];

      // Every record scored and committed, on both partitions.
      const end = await owner.p.whileRunning(
        waitForProgress(
          kafka,
          groupId,
          input,
          'every input record committed',
          (p) => p.high === messages.length && p.caughtUp,
          180_000,
        ),
      );
      // A few more drift checks on each replica, against the challenger.
      const checksSoFar = replicas.map((r) => r.p.logs().filter((l) => l.msg === 'drift check').length);
      await Promise.all(
        replicas.map((r, i) =>
          r.p.whileRunning(
            r.p.waitForLog(
              () => r.p.logs().filter((l) => l.msg === 'drift check').length >= checksSoFar[i]! + 3,
              60_000,
            ),
          ),
        ),
      );
      const admin = kafka.admin();
      await admin.connect();
      try {
        const [marks, committed] = await Promise.all([
          admin.fetchTopicOffsets(input),
          admin.fetchOffsets({ groupId, topics: [input] }),
        ]);
        expect(marks).toHaveLength(2);
        for (const m of marks) {
          const c = committed[0]!.partitions.find((p) => p.partition === m.partition);
          expect(Number(c?.offset), `partition ${m.partition}`).toBe(Number(m.high));
          expect(Number(m.high)).toBeGreaterThan(0);
        }
        expect((await progress(admin, groupId, input)).caughtUp).toBe(true);
      } finally {
        await admin.disconnect();
      }
      const counts = await Promise.all(
        replicas.map((r) =>
          metricTotals(r.port, [
            'vigil_records_scored_total',
            'vigil_retrains_total',
            'vigil_drift_checks_total',
          ]),
        ),
      );
      const scored = counts.reduce((s, c) => s + c.vigil_records_scored_total!, 0);
      expect(scored).toBeGreaterThanOrEqual(messages.length);
      const ownerCounts = counts[replicas.indexOf(owner)]!;
      const otherCounts = counts[replicas.indexOf(other)]!;
      expect(ownerCounts.vigil_retrains_total).toBe(1);
      expect(otherCounts.vigil_retrains_total).toBe(0);
      // The other replica checks drift too; it leaves the retrain to the owner.
      expect(otherCounts.vigil_drift_checks_total).toBeGreaterThan(0);
      expect(other.p.logs().some((l) => l.msg === 'retrain started')).toBe(false);

      for (const r of replicas) expect((await r.p.stop()).code, r.p.tail()).toBe(0);
      const seconds = (Date.now() - t0) / 1000;

      // The lifecycle topic: one retrain, drift-triggered and promoted, whose parent is the champion.
      const lifecycleEvents = (await readTopic(kafka, events)).map(
        (r) => JSON.parse(r.value!.toString('utf8')) as Record<string, unknown>,
      );
      const retrains = lifecycleEvents.filter((e) => e['type'] === 'retrain');
      expect(retrains).toHaveLength(1);
      expect(retrains[0]).toMatchObject({
        trigger: 'drift',
        result: 'promoted',
        version: challenger,
        parentVersion: championVersion,
      });
      const checks = lifecycleEvents.filter((e) => e['type'] === 'drift_check');
      const against = (e: Record<string, unknown>) =>
        (e['model'] as { registryVersion: string }).registryVersion;
      const judged = (e: Record<string, unknown>) => e['insufficient'] === false;
      // Before the season changed: stable, on both replicas.
      const before = checks.filter((e) => judged(e) && Date.parse(e['at'] as string) < shiftAt);
      expect(before.length).toBeGreaterThanOrEqual(2);
      expect(before.every((e) => e['drifted'] === false)).toBe(true);
      expect(checks.some((e) => against(e) === championVersion && e['drifted'] === true)).toBe(true);
      // Against the challenger: its scores read as its own (a window still holding the champion's read as a
      // score shift of KS 0.27-0.29 > 0.25, and retrained again at once).
      const onChallenger = checks.filter((e) => judged(e) && against(e) === challenger);
      // Three more per replica were waited for; at least two each (a streak) must have reached the topic.
      expect(onChallenger.length).toBeGreaterThanOrEqual(4);
      expect(
        onChallenger
          .flatMap((e) => (e['reasons'] as string[] | undefined) ?? [])
          .filter((r) => /score/i.test(r)),
        'score-shift reasons of the drift checks against the challenger',
      ).toEqual([]);

      // The registry as a fresh replica reads it: the challenger is the latest promoted, child of the champion.
      const t2 = createTransport('kafkajs', plaintextOptions(), silentLogger());
      const fresh = new ModelRegistry(t2, { topic: registryTopic }, silentLogger());
      try {
        const latest = await fresh.latestPromoted();
        expect(latest?.version).toBe(challenger);
        expect(latest?.manifest.lineage.parentVersion).toBe(championVersion);
        expect((latest!.manifest.evaluation as { gate: { passed: boolean } }).gate.passed).toBe(true);
      } finally {
        await fresh.close();
        await t2.close();
      }
      console.info(
        `[lifecycle replicas] ${normal.length} normal + ${SHIFTED} shifted + ${AFTER} shifted after the swap on 2 partitions; owner of partition 0: ` +
          `replica ${owner.name}; both on ${challenger} ${promotedSeconds.toFixed(1)} s after the shift was produced ` +
          `(retrain ${(Number(finished['ms']) / 1000).toFixed(1)} s); scored ${scored} (committed ${end.committed}); ` +
          `drift checks ${ownerCounts.vigil_drift_checks_total}/${otherCounts.vigil_drift_checks_total} (${before.length} before the shift, ${onChallenger.length} against the challenger); ${seconds.toFixed(0)} s in all`,
      );
    }, 600_000);
  },
);
