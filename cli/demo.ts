import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createTransport } from '../connector/transport/index.js';
import { parseConfig } from '../core/config/load.js';
import type { Logger } from '../core/logger.js';
import { initBackend } from '../model/backend.js';
import { trainDetector } from '../model/trainer.js';
import { loadSchema, schemaPath } from '../schemas/catalog.js';
import { compileFeatures } from '../schemas/features/extractor.js';
import type { AnomalyEvent } from '../schemas/types.js';
import { generate } from '../synth/cli.js';
import { parseGenerateConfig } from '../synth/options.js';
import { parseTruthLines } from '../synth/truth-writer.js';
import { startService, transportOptions } from './compose.js';
import { type DemoStreamName, STREAMS, warmupStart } from './demo-streams.js';
import { formatSeedSummary, type Summary, score } from './demo-summary.js';
import { ensureLocalBroker, type LocalBroker, repoRoot } from './local-services.js';

/**
 * `vigil demo`: the whole product on one machine. A local KRaft broker, a model trained on a normal warm-up
 * window of the synthetic sensor fleet (or card population), the detection service consuming a live stream with
 * injected anomalies, anomalies printed as they come, and at the end precision and recall against the
 * generator's ground truth. With several seeds, each seed is a fresh fleet, model and stream, and the summary
 * gives the mean and the worst seed.
 */
export interface DemoOptions {
  port: number;
  /** Which stream: the sensor fleet or card transactions (cli/demo-streams.ts). */
  stream: DemoStreamName;
  records: number;
  rate: number;
  /** Entities: sensor units or cards; undefined takes the stream's default (50 units, 500 cards). */
  devices?: number;
  anomalyRate: number;
  warmup: number;
  seed: number;
  /** Run once per seed (fresh fleet, model and stream each time), then report mean and worst; default [seed]. */
  seeds?: readonly number[];
  metricsPort: number;
  transport: 'kafkajs' | 'rdkafka';
  show: number;
  /** Serve the live view on the metrics server. */
  ui: boolean;
  /** After the summary, keep the detector (and its live view) running until the signal. */
  hold: boolean;
}

export const DEMO_DEFAULTS: DemoOptions = {
  port: 19392,
  stream: 'sensors',
  records: 30_000,
  rate: 5_000,
  anomalyRate: 0.02,
  warmup: 20_000,
  seed: 1,
  metricsPort: 9464,
  transport: 'kafkajs',
  show: 20,
  ui: true,
  hold: false,
};

export async function runDemo(o: DemoOptions, logger: Logger, signal: AbortSignal): Promise<number> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const workDir = join(repoRoot(), '.vigil', 'demo');
  await mkdir(workDir, { recursive: true });

  say(`▶ starting a local Kafka broker on 127.0.0.1:${o.port} …`);
  const t0 = Date.now();
  const broker = await ensureLocalBroker(o.port);
  say(
    `  broker ${broker.startedHere ? 'started' : 'already running'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  try {
    const seeds = o.seeds && o.seeds.length > 0 ? o.seeds : [o.seed];
    const summaries: { seed: number; summary: Summary }[] = [];
    for (const seed of seeds) {
      if (seeds.length > 1) say(`\n━━ seed ${seed} (${summaries.length + 1} of ${seeds.length}) ━━`);
      // Only the last seed holds: an earlier one would keep the detector up and the remaining seeds waiting.
      const last = summaries.length === seeds.length - 1;
      const summary = await runOnce(
        { ...o, seed, hold: o.hold && last },
        broker,
        workDir,
        say,
        logger,
        signal,
      );
      if (summary === undefined) return 130;
      summaries.push({ seed, summary });
    }
    if (summaries.length > 1) {
      say('');
      for (const line of formatSeedSummary(STREAMS[o.stream], summaries)) say(line);
    }
    return 0;
  } finally {
    if (broker.startedHere) say('▶ stopping the local broker …');
    await broker.stop();
  }
}

/** One seed: train, stream, detect, compare with the ground truth. Undefined when interrupted. */
async function runOnce(
  o: DemoOptions,
  broker: LocalBroker,
  workDir: string,
  say: (line: string) => void,
  logger: Logger,
  signal: AbortSignal,
): Promise<Summary | undefined> {
  const stream = STREAMS[o.stream];
  const entities = o.devices ?? stream.defaultEntities;
  const interval = stream.intervalMs(entities);
  let service: Awaited<ReturnType<typeof startService>> | undefined;
  try {
    const backend = await initBackend({ logger });
    const streamStart = Date.UTC(2024, 0, 8);

    // A normal warm-up window: the same fleet, in the week before the live stream, no anomalies injected.
    say(`▶ training a dense autoencoder on ${o.warmup} normal ${stream.noun} (backend ${backend.name}) …`);
    const extractor = compileFeatures(stream.features, {
      readerSchema: loadSchema(stream.schema),
    });
    const d = extractor.width;
    const gen = stream.warmup({
      seed: o.seed,
      // Same fleet as the live stream, different readings: the model never sees a live reading in training.
      streamSeed: o.seed + 1_000_003,
      entities,
      startTime: warmupStart(stream, entities, o.warmup, streamStart),
    });
    const rows = new Float32Array(o.warmup * d);
    let n = 0;
    for (let i = 0; i < o.warmup; i++) if (extractor.extractInto(gen.next().record, rows, n * d).ok) n++;
    const t1 = Date.now();
    let lastEpoch = 0;
    const detector = await trainDetector(rows.subarray(0, n * d), n, d, {
      featureNames: extractor.featureNames,
      featureMapping: { fingerprint: extractor.fingerprint, spec: extractor.spec },
      id: `demo-${stream.name}-dense`,
      seed: o.seed,
      // The default operating point, as `vigil train` sets it: a per-record false-alarm rate of 1e-4, raised to
      // 1/n for the ~4,000 held-out warm-up scores (model/threshold.ts). bench/demo-quality.ts measures it.
      logger,
      signal,
      onProgress: (p) => {
        if (p.epoch - lastEpoch >= 10) {
          lastEpoch = p.epoch;
          say(`  epoch ${p.epoch}: val loss ${p.valLoss.toFixed(4)}`);
        }
      },
    });
    const cal = detector.activeCalibration;
    say(
      `  trained in ${((Date.now() - t1) / 1000).toFixed(1)} s (${detector.state.training.epochsRun} epochs); threshold ${cal.threshold.toPrecision(4)}`,
    );
    if (signal.aborted) return undefined;

    const suffix = Date.now().toString(36);
    const topic = `vigil-demo.${stream.name}.${suffix}`;
    const anomaliesTopic = `vigil-demo.anomalies.${suffix}`;
    const deadLetterTopic = `vigil-demo.dead-letter.${suffix}`;
    const config = parseConfig(
      [
        'kafka:',
        `  transport: ${o.transport}`,
        `  brokers: ["${broker.bootstrap}"]`,
        `  groupId: vigil-demo-${suffix}`,
        '  consumer: { autoOffsetReset: earliest }',
        'input:',
        `  topics: ["${topic}"]`,
        '  format: avro',
        `  schema: ${JSON.stringify(schemaPath(stream.schema))}`,
        `features: { preset: ${stream.preset} }`,
        'output:',
        `  anomaliesTopic: ${anomaliesTopic}`,
        `  deadLetterTopic: ${deadLetterTopic}`,
        // The live view's incidents are the tracker's (it groups none itself): on with the page.
        `  incidents: { enabled: ${o.ui}, topic: vigil-demo.incidents.${suffix} }`,
        'metrics:',
        '  host: 127.0.0.1',
        `  port: ${o.metricsPort}`,
        `ui: { enabled: ${o.ui} }`,
        'logging: { level: warn }',
      ].join('\n'),
      { source: 'demo configuration' },
    );

    const admin = createTransport(o.transport, transportOptions(config), logger).admin();
    await admin.createTopics([{ name: topic, partitions: 3 }]);
    await admin.close();

    const seen: AnomalyEvent[] = [];
    let shown = 0;
    service = await startService(config, logger, {
      scorer: detector,
      onAnomaly: (e) => {
        seen.push(e);
        if (shown++ < o.show) say(formatAnomaly(e));
        else if (shown === o.show + 1) say('  … (more anomalies are counted, not printed)');
      },
    });
    say(`▶ detector running (${o.transport}); metrics on http://127.0.0.1:${o.metricsPort}/metrics`);
    if (o.ui) say(`  live view on http://127.0.0.1:${o.metricsPort}${config.ui.path}`);

    const truthFile = join(workDir, `truth-${suffix}.jsonl`);
    say(
      `▶ streaming ${o.records} ${stream.noun} of ${entities} ${stream.entityNoun} at ${o.rate}/s with ${(o.anomalyRate * 100).toFixed(1)} % injected anomalies …`,
    );
    const report = await generate(
      parseGenerateConfig({
        kind: stream.generatorKind,
        seed: o.seed,
        count: o.records,
        entities,
        start: streamStart,
        intervalMs: interval,
        anomalyRate: o.anomalyRate,
        topic,
        brokers: broker.bootstrap,
        rate: o.rate,
        truth: truthFile,
      }),
      { logger, signal },
    );
    const total = report.records;
    const deadline = Date.now() + 120_000;
    const stats = service.pipeline.stats;
    while (stats.scored + stats.deadLettered < total && Date.now() < deadline && !signal.aborted) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const metricsText = await fetchMetrics(o.metricsPort);
    const running = service;
    if (!o.hold) {
      await service.stop();
      service = undefined;
    }

    const truth = parseTruthLines(await readFile(truthFile, 'utf8'));
    await rm(truthFile, { force: true });
    const summary = score(truth, seen);
    say('');
    say('■ summary');
    say(
      `  records: ${total} produced, ${stats.scored} scored, ${stats.deadLettered} dead-lettered, ${stats.anomalies} anomalies`,
    );
    say(`  injected: ${summary.positives} anomalous ${stream.noun} in ${summary.episodes} episodes`);
    say(
      `  precision ${(summary.precision * 100).toFixed(1)} %  recall ${(summary.recall * 100).toFixed(1)} % (per reading)  ` +
        `episodes detected ${summary.episodesHit}/${summary.episodes} (${(summary.episodeRecall * 100).toFixed(1)} %)`,
    );
    for (const [kind, k] of Object.entries(summary.byKind)) {
      say(
        `    ${kind.padEnd(26)} episodes ${k.episodesHit}/${k.episodes} (${((k.episodesHit / k.episodes) * 100).toFixed(1).padStart(5)} %)  ` +
          `${stream.noun} ${((k.hit / k.total) * 100).toFixed(1).padStart(5)} % (${k.hit}/${k.total})`,
      );
    }
    say('  metrics (from /metrics):');
    for (const line of metricsText.split('\n')) {
      if (
        /^vigil_(records_scored_total|anomalies_total|records_dead_lettered_total|commits_total)/.test(line)
      ) {
        say(`    ${line}`);
      }
    }
    if (o.hold && !signal.aborted) {
      const view =
        running.live === undefined
          ? ''
          : ` and the live view (http://127.0.0.1:${o.metricsPort}${config.ui.path})`;
      say(`▶ holding: the detector${view} stay up; Ctrl-C stops`);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    return summary;
  } finally {
    await service?.stop();
  }
}

function formatAnomaly(e: AnomalyEvent): string {
  const top = e.contributions
    .slice(0, 3)
    .map((c) => `${c.feature} ${(c.contribution * 100).toFixed(0)}% (${fmt(c.value)} vs ${fmt(c.expected)})`)
    .join(', ');
  return `  ⚠ ${e.entity.padEnd(10)} ${new Date(e.event_time).toISOString()} score ${e.score.toPrecision(3)} > ${e.threshold.toPrecision(3)} sev ${e.severity.toFixed(3)} | ${top}`;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}

async function fetchMetrics(port: number): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    return await res.text();
  } catch {
    return '';
  }
}
