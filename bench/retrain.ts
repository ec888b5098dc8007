/**
 * Retraining cost (#12): the time of one retrain on a reservoir of `--rows` sensor feature rows, on the retrain
 * worker thread as the model lifecycle runs it (model/retrain/run-retrain.ts: a fresh network, the champion and
 * the challenger scored on the held-out rows), and the main thread's scoring rate while it runs, as a share of
 * the rate before it (in-thread scoring of 2,048-row chunks with a yield between, as the pipeline scores).
 * Writes the "retrain" section of bench/RESULTS.md with the command, load and CPU steal.
 *
 *   npx tsx bench/retrain.ts [--rows 100000] [--epochs N] [--no-write]
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RetrainJob } from '../model/retrain/protocol.js';
import { runRetrain } from '../model/retrain/run-retrain.js';
import { SensorGenerator } from '../synth/sensor-generator.js';
import { ensureModel, openModel, sensorExtractor } from './lib/sensor.js';
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
const CHUNK = 2048;

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
  const score = rowsOf(20_000, 3);
  // Scores chunks for `ms` (or until `until` settles), yielding between chunks; returns rows per second.
  const scoreFor = async (ms: number, until?: Promise<unknown>): Promise<number> => {
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
    let scored = 0;
    let off = 0;
    while (!done && (until !== undefined || performance.now() - t0 < ms)) {
      const n = Math.min(CHUNK, score.n - off);
      champion.score(score.rows.subarray(off * d, (off + n) * d), n);
      scored += n;
      off = (off + n) % score.n;
      await new Promise((r) => setImmediate(r));
    }
    return scored / ((performance.now() - t0) / 1000);
  };
  await scoreFor(3_000); // warm-up
  const [s0, t0] = stealTotals();
  const steady = await scoreFor(15_000);
  const all = rowsOf(ROWS, 5);
  const k = 5;
  const nHeld = Math.floor(ROWS / k);
  const nTrain = ROWS - nHeld;
  const train = new Float32Array(nTrain * d);
  const held = new Float32Array(nHeld * d);
  for (let i = 0, a = 0, b = 0; i < ROWS; i++) {
    const row = all.rows.subarray(i * d, i * d + d);
    if (i % k === 0 && b < nHeld) held.set(row, b++ * d);
    else if (a < nTrain) train.set(row, a++ * d);
  }
  const job: RetrainJob = {
    d,
    train: { rows: train, n: nTrain, entities: [] },
    heldOut: { rows: held, n: nHeld, entities: [] },
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
  const during = await scoreFor(0, retrain);
  const result = await retrain;
  const retrainS = (performance.now() - r0) / 1000;
  const [s1, t1] = stealTotals();
  const stealPct = t1 > t0 ? (100 * (s1 - s0)) / (t1 - t0) : 0;
  champion.dispose();
  const m = machineInfo();
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
      `${stealPct.toFixed(1)}%`,
      load,
    ],
  ];
  const body = [
    '## retrain',
    '',
    'One retrain as the model lifecycle runs it (a worker thread, wasm backend: a fresh dense autoencoder with the',
    "trainer's defaults, then champion and challenger scored on the held-out rows), with the main thread scoring",
    '2,048-row chunks of the champion meanwhile (yielding between chunks, as the pipeline does): its rate during the',
    'retrain as a share of the rate just before. A proxy for consumption: decode, fetch and produce are not in it.',
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
        'scoring rows/s before',
        'rows/s during',
        'share',
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
