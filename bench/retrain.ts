/**
 * Retraining cost (#12): the time of one retrain on a reservoir of `--rows` sensor feature rows, on the retrain
 * worker thread as the model lifecycle runs it (model/retrain/run-retrain.ts: a fresh network, the champion and
 * the challenger scored on the held-out rows), and the consumption rate of the real Pipeline on the main thread
 * while it runs, as a share of the rate before it. The pipeline (decode, features, micro-batch, score,
 * post-process, events, offsets; bench/pipeline-core.ts) runs over the in-memory transport, in back-to-back passes
 * of 18,000 records, so the Kafka client's own cost is not in either rate.
 * Writes the "retrain" section of bench/RESULTS.md with the command, load and CPU steal.
 *
 *   npx tsx bench/retrain.ts [--rows 100000] [--epochs N] [--no-write]
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { plainAvroDecoder } from '../connector/pipeline/decode-stage.js';
import { plainAvroOutputCodec } from '../connector/pipeline/output-codec.js';
import { Pipeline } from '../connector/pipeline/pipeline.js';
import { ConfigSchema } from '../core/config/schema.js';
import { silentLogger } from '../core/logger.js';
import { VigilMetrics } from '../core/metrics/vigil-metrics.js';
import type { Detector } from '../model/detector.js';
import { judge } from '../model/promotion-gate.js';
import type { RetrainJob } from '../model/retrain/protocol.js';
import { runRetrain } from '../model/retrain/run-retrain.js';
import { loadSchema } from '../schemas/catalog.js';
import { SensorGenerator } from '../synth/sensor-generator.js';
import { memoryTransport } from '../test/support/memory-transport.js';
import { ensureModel, openModel, sensorExtractor, sensorPool } from './lib/sensor.js';
import { fmtInt } from './lib/stats.js';
import { machineInfo, machineLines, markdownTable, writeSection } from './results-file.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORK = path.resolve(HERE, '../.vigil/bench-retrain');
const MODEL_DIR = path.join(WORK, 'champion');

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    epochs: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});
const ROWS = Number(values.rows);
/** Records per pipeline pass: three partitions, keyed (each device in one partition, in order), within the pool. */
const PASS_PER_PARTITION = 6_000;
const PARTITIONS = 3;
const recordPool = sensorPool();

/** One pass of the real pipeline over PASS records of the in-memory transport; returns the records it took. */
async function pipelinePass(scorer: Detector): Promise<number> {
  const total = PASS_PER_PARTITION * PARTITIONS;
  const transport = memoryTransport({
    pool: recordPool,
    recordsPerPartition: PASS_PER_PARTITION,
    partitions: PARTITIONS,
    keyed: true,
  });
  const pipeline = new Pipeline(
    {
      topics: ['bench-in'],
      groupId: 'bench',
      anomaliesTopic: 'bench-anomalies',
      deadLetterTopic: 'bench-dlq',
      batching: ConfigSchema.shape.batching.parse(undefined),
      delivery: 'at-least-once',
    },
    {
      transport,
      decoder: plainAvroDecoder(loadSchema('sensor_reading'), undefined, { reuse: true }),
      extractor: sensorExtractor(),
      scorer,
      output: plainAvroOutputCodec(),
      logger: silentLogger(),
      metrics: new VigilMetrics(new Registry()),
    },
  );
  await pipeline.start();
  while (pipeline.stats.scored + pipeline.stats.deadLettered < total) {
    await new Promise((r) => setTimeout(r, 1));
  }
  await pipeline.stop();
  return total;
}

/** [steal, total] jiffies of all CPUs, from /proc/stat's first line. */
function stealTotals(): [number, number] {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return [f[7] ?? 0, f.reduce((a, b) => a + b, 0)];
}

function rowsOf(n: number, seed: number): { rows: Float32Array; n: number; entities: string[] } {
  const ex = sensorExtractor();
  const d = ex.width;
  const gen = new SensorGenerator({ seed, devices: 200, anomalyRate: 0 });
  const rows = new Float32Array(n * d);
  const entities: string[] = [];
  let k = 0;
  while (k < n) {
    const { record } = gen.next();
    if (ex.extractInto(record, rows, k * d).ok) {
      entities.push(record.device_id);
      k++;
    }
  }
  return { rows, n, entities };
}

async function main(): Promise<void> {
  await ensureModel(MODEL_DIR);
  const champion = await openModel(MODEL_DIR);
  const d = champion.identity.featureNames.length;
  // Consumes for `ms` (or until `until` settles), pass after pass; returns records per second.
  const consumeFor = async (ms: number, until?: Promise<unknown>): Promise<number> => {
    let done = false;
    until?.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    const t0 = performance.now();
    let records = 0;
    while (!done && (until !== undefined || performance.now() - t0 < ms))
      records += await pipelinePass(champion);
    return records / ((performance.now() - t0) / 1000);
  };
  const m = machineInfo(); // date and load at the start
  await consumeFor(5_000); // warm-up
  const [s0, t0] = stealTotals();
  const steady = await consumeFor(20_000);
  const all = rowsOf(ROWS, 5);
  const k = 5;
  const nHeld = Math.floor(ROWS / k);
  const nTrain = ROWS - nHeld;
  const train = new Float32Array(nTrain * d);
  const held = new Float32Array(nHeld * d);
  // Entity keys go with their rows: a model with post-processing scores each entity's rows in order.
  const trainEntities: string[] = [];
  const heldEntities: string[] = [];
  for (let i = 0, a = 0, b = 0; i < ROWS; i++) {
    const row = all.rows.subarray(i * d, i * d + d);
    if (i % k === 0 && b < nHeld) {
      held.set(row, b++ * d);
      heldEntities.push(all.entities[i]!);
    } else if (a < nTrain) {
      train.set(row, a++ * d);
      trainEntities.push(all.entities[i]!);
    }
  }
  const job: RetrainJob = {
    d,
    train: { rows: train, n: nTrain, entities: trainEntities },
    heldOut: { rows: held, n: nHeld, entities: heldEntities },
    labelled: { rows: new Float32Array(0), n: 0, entities: [] },
    championDir: MODEL_DIR,
    outDir: path.join(WORK, `challenger-${Date.now()}`),
    backend: 'wasm',
    options: {
      featureNames: champion.identity.featureNames,
      id: 'bench-sensor',
      seed: 42,
      trimFraction: 0.01,
      threshold: { falseAlarmRate: 1e-4 },
      ...(values.epochs === undefined ? {} : { epochs: Number(values.epochs) }),
    },
  };
  const r0 = performance.now();
  const retrain = runRetrain(job);
  const during = await consumeFor(0, retrain);
  const result = await retrain;
  // What the fit bought: the gate's view (default rules) of challenger and champion on the held-out rows.
  const verdict = judge(result.challenger, result.champion);
  const fa = (x: number) => `${(100 * x).toFixed(3)} %`;
  const retrainS = (performance.now() - r0) / 1000;
  const [s1, t1] = stealTotals();
  const stealPct = t1 > t0 ? (100 * (s1 - s0)) / (t1 - t0) : 0;
  champion.dispose();
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const rows = [
    [
      fmtInt(ROWS),
      `${fmtInt(nTrain)} / ${fmtInt(nHeld)}`,
      String(result.epochsRun),
      retrainS.toFixed(1),
      (result.trainMs / 1000).toFixed(1),
      fmtInt(steady),
      fmtInt(during),
      `${((100 * during) / steady).toFixed(0)} %`,
      `${fa(verdict.challenger.falseAlarmRate)} / ${fa(verdict.champion.falseAlarmRate)} (${verdict.passed ? 'passes' : 'fails'})`,
      `${stealPct.toFixed(1)}%`,
      load,
    ],
  ];
  const body = [
    '## retrain',
    '',
    'One retrain as the model lifecycle runs it (a worker thread, wasm backend: a fresh dense autoencoder with the',
    "trainer's defaults, then champion and challenger scored on the held-out rows), with the real pipeline consuming",
    'on the main thread meanwhile (decode, features, micro-batches, scoring, events and offsets over the in-memory',
    'transport, in passes of 18,000 records): its records/s during the retrain as a share of the rate just before.',
    "The Kafka client's own cost is in neither rate.",
    '',
    '```',
    `npx tsx bench/retrain.ts --rows ${ROWS}${values.epochs === undefined ? '' : ` --epochs ${values.epochs}`}`,
    '```',
    '',
    machineLines(m),
    '',
    markdownTable(
      [
        'reservoir rows',
        'train / held out',
        'epochs run',
        'retrain (s)',
        'of which fit (s)',
        'records/s before',
        'records/s during',
        'share',
        'held-out flagged: challenger / champion (gate)',
        'steal',
        'load at end',
      ],
      rows,
    ),
  ].join('\n');
  console.log(body);
  if (!values['no-write']) writeSection('retrain', body);
}

await main();
