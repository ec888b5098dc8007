/**
 * The demo's detection figures without a broker: the same warm-up fleet, feature mapping, training and live
 * stream as `vigil demo` (cli/demo.ts), scored offline in stream order through the same Detector and
 * post-processing stage the pipeline runs (streamed = offline is an integration test), then judged against the
 * generator's ground truth per anomaly kind. One trained model per seed and config; several operating points
 * (per-record false-alarm rates) are read from the same scores.
 *
 *   npx tsx bench/demo-quality.ts --stream sensors --seeds 1,2,3 \
 *     --configs '[{"label":"default"},{"label":"tanh","model":{"kind":"dense","activation":"tanh"}}]' \
 *     [--rates 1e-4,1e-3,5e-3] [--records 30000] [--warmup 20000]
 *
 * Each config is {label, model?: SpecOverrides, train?: trainer options (epochs, threshold, postprocess, …),
 * temporal?: features.temporal overrides}.
 */
import os from 'node:os';
import { type DemoStreamName, STREAMS, warmupStart } from '../cli/demo-streams.js';
import { type Summary, score as scoreTruth } from '../cli/demo-summary.js';
import type { FeaturesConfigInput } from '../core/config/features-schema.js';
import { initBackend } from '../model/backend.js';
import { PostprocessStage } from '../model/postprocess-stage.js';
import type { SpecOverrides } from '../model/spec.js';
import { atFalseAlarmRate, falseAlarmRateOf } from '../model/threshold.js';
import { type TrainDetectorOptions, trainDetector } from '../model/trainer.js';
import { loadSchema } from '../schemas/catalog.js';
import { compileFeatures } from '../schemas/features/extractor.js';
import type { AnomalyEvent } from '../schemas/types.js';
import { buildGenerator } from '../synth/cli.js';
import { parseGenerateConfig } from '../synth/options.js';
import type { parseTruthLines } from '../synth/truth-writer.js';
import { arg, flag } from './lib/args.js';
import { machineInfo, machineLines, markdownTable, writeSection } from './results-file.js';

interface Config {
  label: string;
  model?: SpecOverrides;
  train?: Partial<TrainDetectorOptions>;
  temporal?: Record<string, unknown>;
  /** Drop these fields (by name or path) from the stream's preset mapping. */
  dropFields?: string[];
}

const streamName = arg('stream', 'sensors') as DemoStreamName;
const stream = STREAMS[streamName];
const seeds = arg('seeds', '1').split(',').map(Number);
const configs = JSON.parse(arg('configs', '[{"label":"default"}]')) as Config[];
const rates = arg('rates', '').split(',').filter(Boolean).map(Number);
const records = Number(arg('records', '30000'));
const warmup = Number(arg('warmup', '20000'));
const anomalyRate = Number(arg('anomaly-rate', '0.02'));
const entities = stream.defaultEntities;
const streamStart = Date.UTC(2024, 0, 8);

await initBackend({ preference: 'wasm' });
console.log(
  `# ${streamName}: ${warmup} warm-up, ${records} live, ${entities} entities; node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg()[0]!.toFixed(1)}`,
);

const pct = (x: number) => `${(x * 100).toFixed(1)}`;
const start = machineInfo();
const collected: {
  label: string;
  seed: number;
  summary: Summary;
  normalFlagged: number;
  after: number;
  fp: number;
  trainS: number;
}[] = [];

for (const c of configs) {
  for (const seed of seeds) {
    const base: FeaturesConfigInput = c.dropFields
      ? {
          ...stream.features,
          fields: (stream.features.fields ?? []).filter((f) => !c.dropFields!.includes(f.name ?? f.path)),
        }
      : stream.features;
    const features: FeaturesConfigInput = c.temporal
      ? { ...base, temporal: { ...(base.temporal ?? {}), ...c.temporal } }
      : base;
    const extractor = compileFeatures(features, { readerSchema: loadSchema(stream.schema) });
    const d = extractor.width;
    const gen = stream.warmup({
      seed,
      streamSeed: seed + 1_000_003,
      entities,
      startTime: warmupStart(stream, entities, warmup, streamStart),
    });
    const rows = new Float32Array(warmup * d);
    const keys: string[] = [];
    let n = 0;
    for (let i = 0; i < warmup; i++) {
      const r = gen.next().record;
      if (extractor.extractInto(r, rows, n * d).ok) {
        keys.push(
          String((r as Record<string, unknown>)[stream.name === 'sensors' ? 'device_id' : 'card_id']),
        );
        n++;
      }
    }
    const t0 = Date.now();
    const detector = await trainDetector(rows.subarray(0, n * d), n, d, {
      featureNames: extractor.featureNames,
      id: `bench-${streamName}`,
      seed,
      entities: keys,
      ...(c.model ? { model: c.model } : {}),
      ...(c.train ?? {}),
    });
    const trainS = (Date.now() - t0) / 1000;

    // The live stream: the generator `vigil demo` produces to the topic, with its ground truth.
    const live = buildGenerator(
      parseGenerateConfig({
        kind: stream.generatorKind,
        seed,
        count: records,
        entities,
        start: streamStart,
        intervalMs: stream.intervalMs(entities),
        anomalyRate,
        out: '/dev/null',
      }),
    );
    const truth: ReturnType<typeof parseTruthLines> = [];
    const batch = 512;
    const buf = new Float32Array(batch * d);
    const bufKeys: string[] = [];
    const meta: { entity: string; event_time: number }[] = [];
    const scores: number[] = [];
    const rawScores: number[] = [];
    const stage = new PostprocessStage();
    const cal = detector.activeCalibration;
    // Experiment: each feature's squared error in units of its mean on the warm-up rows (--weighted).
    const weighted = flag('weighted');
    const v = new Float64Array(d);
    if (weighted) {
      for (let s = 0; s < n; s += 1024) {
        const m = Math.min(1024, n - s);
        const out = detector.score(rows.subarray(s * d, (s + m) * d), m);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < d; j++) v[j]! += out.contributions[i * d + j]! * out.scores[i]! * d;
      }
      for (let j = 0; j < d; j++) v[j] = Math.max(v[j]! / n, 1e-6);
    }
    const wScores: number[] = [];
    const explainKind = arg('explain-kind', '') || undefined;
    // --explain-normals N: the N highest-scoring normal records and the features behind their scores.
    const explainNormals = Number(arg('explain-normals', '0'));
    const liveRows: Float32Array[] = [];
    const explainRows = flag('explain') || explainKind !== undefined;
    let explained = 0;
    const flush = () => {
      if (bufKeys.length === 0) return;
      if (explainNormals > 0) liveRows.push(buf.slice(0, bufKeys.length * d));
      const raw = detector.score(buf.subarray(0, bufKeys.length * d), bufKeys.length, bufKeys);
      const out = stage.apply(raw, bufKeys, bufKeys, cal);
      for (let i = 0; i < out.n; i++) {
        scores.push(out.scores[i]!);
        rawScores.push(raw.scores[i]!);
        const tr = truth[scores.length - 1]!;
        if (
          explainRows &&
          tr.label === 1 &&
          (explainKind === undefined || tr.anomaly === explainKind) &&
          explained++ < 12
        ) {
          const top = [...raw.contributions.subarray(i * d, i * d + d)]
            .map((c, j) => ({ c, j }))
            .sort((a, b) => b.c - a.c)
            .slice(0, 4)
            .map(
              ({ c, j }) =>
                `${extractor.featureNames[j]} ${(c * 100).toFixed(0)}% x=${buf[i * d + j]!.toPrecision(3)} exp=${raw.expected[i * d + j]!.toPrecision(3)}`,
            );
          console.log(
            `  ${truth[scores.length - 1]!.anomaly} score ${raw.scores[i]!.toPrecision(3)}: ${top.join(', ')}`,
          );
        }
        if (weighted) {
          let w = 0;
          for (let j = 0; j < d; j++) w += (raw.contributions[i * d + j]! * raw.scores[i]! * d) / v[j]!;
          wScores.push(w / d);
        }
      }
      bufKeys.length = 0;
    };
    for (let i = 0; i < records; i++) {
      const { record, truth: t } = live.next() as {
        record: Record<string, unknown>;
        truth: ReturnType<typeof parseTruthLines>[number];
      };
      const at = bufKeys.length * d;
      if (!extractor.extractInto(record, buf, at).ok) continue;
      truth.push(t);
      bufKeys.push(t.entity);
      meta.push({ entity: t.entity, event_time: t.event_time });
      if (bufKeys.length === batch) flush();
    }
    flush();
    if (explainNormals > 0) {
      const top = truth
        .map((t, i) => ({ t, i }))
        .filter(({ t }) => t.label !== 1)
        .sort((a, b) => scores[b.i]! - scores[a.i]!)
        .slice(0, explainNormals);
      for (const { t, i } of top) {
        const row = liveRows[Math.floor(i / batch)]!.subarray((i % batch) * d, ((i % batch) + 1) * d);
        const out = detector.score(row, 1);
        const parts = [...out.contributions]
          .map((c, j) => ({ c, j }))
          .sort((a, b) => b.c - a.c)
          .slice(0, 4)
          .map(
            ({ c, j }) =>
              `${extractor.featureNames[j]} ${(c * 100).toFixed(0)}% x=${row[j]!.toPrecision(3)} exp=${out.expected[j]!.toPrecision(3)}`,
          );
        console.log(
          `  normal ${t.entity} score ${scores[i]!.toPrecision(3)} (threshold ${cal.threshold.toPrecision(3)}): ${parts.join(', ')}`,
        );
      }
    }

    const points: { name: string; threshold: number }[] = [
      { name: `default (rate ${falseAlarmRateOf(cal).toExponential(1)})`, threshold: cal.threshold },
      ...rates.map((r) => ({ name: `rate ${r}`, threshold: atFalseAlarmRate(cal, r).threshold })),
    ];
    // Oracle operating points (live normal rows flagged at a fixed share): compares scores, not calibration.
    const oracle = (xs: readonly number[], share: number) => {
      const normal = xs.filter((_, i) => truth[i]!.label !== 1).sort((a, b) => b - a);
      return normal[Math.floor(share * normal.length)]!;
    };
    const judged: { name: string; threshold: number; xs: readonly number[] }[] = [];
    for (const share of [1e-3, 3e-3]) {
      judged.push({ name: `oracle ${share} raw`, threshold: oracle(scores, share), xs: scores });
      if (weighted)
        judged.push({ name: `oracle ${share} weighted`, threshold: oracle(wScores, share), xs: wScores });
    }
    for (const p of [...points.map((q) => ({ ...q, xs: scores as readonly number[] })), ...judged]) {
      const events = meta.filter((_, i) => p.xs[i]! > p.threshold) as unknown as AnomalyEvent[];
      const s: Summary = scoreTruth(truth, events);
      const negatives = truth.filter((t) => t.label !== 1).length;
      const fp = s.flagged - Math.round(s.precision * s.flagged);
      // False positives within 16 records of the same entity after one of its anomalous records: the
      // temporal columns (and smoothing) still carry the episode there.
      let after = 0;
      const sinceAnomaly = new Map<string, number>();
      truth.forEach((t, i) => {
        const k = sinceAnomaly.get(t.entity);
        if (t.label === 1) sinceAnomaly.set(t.entity, 0);
        else if (k !== undefined) sinceAnomaly.set(t.entity, k + 1);
        if (t.label !== 1 && p.xs[i]! > p.threshold && k !== undefined && k < 16) after++;
      });
      const kinds = Object.entries(s.byKind)
        .map(([k, v]) => `${k} ${v.episodesHit}/${v.episodes} (${pct(v.hit / v.total)}%)`)
        .join(', ');
      if (flag('misses') && p.name === points[0]!.name) {
        const best = new Map<
          string,
          { kind: string; max: number; n: number; fields: string; entity: string }
        >();
        truth.forEach((t, i) => {
          if (t.label !== 1) return;
          const ep = t.episode ?? t.id;
          const e = best.get(ep) ?? {
            kind: t.anomaly ?? '?',
            max: 0,
            n: 0,
            fields: t.fields.join('+'),
            entity: t.entity,
          };
          e.max = Math.max(e.max, scores[i]!);
          e.n++;
          best.set(ep, e);
        });
        for (const [ep, e] of best)
          if (e.max <= p.threshold)
            console.log(
              `  missed ${ep} ${e.kind} ${e.entity} ${e.fields} ×${e.n}: max score ${e.max.toPrecision(3)} ≤ ${p.threshold.toPrecision(3)}`,
            );
      }
      if (p.name === points[0]!.name)
        collected.push({
          label: c.label,
          seed,
          summary: s,
          normalFlagged: fp / negatives,
          after,
          fp,
          trainS,
        });
      console.log(
        `${c.label} seed ${seed} ${p.name}: P ${pct(s.precision)} R ${pct(s.recall)} ep ${s.episodesHit}/${s.episodes} normal flagged ${pct(fp / negatives)}% (${after}/${fp} after an episode) | ${kinds} | train ${trainS.toFixed(0)} s, ${detector.state.training.epochsRun} ep`,
      );
    }
    detector.dispose();
  }
}

// With --section NAME: the default operating point's figures, per seed and pooled over the seeds (episodes
// per kind summed, precision and recall over all flagged and anomalous records), as a RESULTS.md section.
const section = arg('section', '') || undefined;
if (section !== undefined) {
  const kinds = stream.kinds;
  const cell = (hit: number, total: number) =>
    total === 0 ? '–' : `${hit}/${total} (${pct(hit / total)} %)`;
  const rowOf = (label: string, seed: string, ss: typeof collected) => {
    let tp = 0;
    let flagged = 0;
    let positives = 0;
    let hitRecords = 0;
    for (const r of ss) {
      tp += Math.round(r.summary.precision * r.summary.flagged);
      flagged += r.summary.flagged;
      positives += r.summary.positives;
      hitRecords += Math.round(r.summary.recall * r.summary.positives);
    }
    const fp = ss.reduce((a, r) => a + r.fp, 0);
    const after = ss.reduce((a, r) => a + r.after, 0);
    return [
      label,
      seed,
      flagged === 0 ? '–' : pct(tp / flagged),
      pct(hitRecords / positives),
      ...kinds.map((k) =>
        cell(
          ss.reduce((a, r) => a + (r.summary.byKind[k]?.episodesHit ?? 0), 0),
          ss.reduce((a, r) => a + (r.summary.byKind[k]?.episodes ?? 0), 0),
        ),
      ),
      `${pct(ss.reduce((a, r) => a + r.normalFlagged, 0) / ss.length)} % (${fp === 0 ? '–' : `${pct(after / fp)} %`})`,
      `${(ss.reduce((a, r) => a + r.trainS, 0) / ss.length).toFixed(0)} s`,
    ];
  };
  const rows: string[][] = [];
  for (const label of [...new Set(collected.map((r) => r.label))]) {
    const ss = collected.filter((r) => r.label === label);
    for (const r of ss) rows.push(rowOf(label, String(r.seed), [r]));
    if (ss.length > 1) rows.push(rowOf(`**${label}**`, '**all**', ss));
  }
  const body = [
    `## Demo detection quality, ${streamName}: ${section} (\`bench/demo-quality.ts\`)`,
    '',
    machineLines(start, {
      command: `npx tsx bench/demo-quality.ts ${process.argv.slice(2).join(' ')}`,
      'load average at end': machineInfo()
        .loadavg.map((x) => x.toFixed(2))
        .join(' / '),
    }),
    '',
    `The demo's warm-up fleet, training, live stream (${records} records, ${entities} entities, ${(anomalyRate * 100).toFixed(0)} % anomalous) and ground truth, scored offline in stream order through the Detector and the post-processing stage at the model's own threshold (the default operating point). Precision and recall per record; episodes detected per kind (an episode counts when one of its records is flagged); "all" pools the seeds. The last-but-one column is the share of normal records flagged and, in brackets, how many of those false positives fall within 16 records of the same entity after one of its anomalous records.`,
    '',
    markdownTable(
      [
        'config',
        'seed',
        'precision %',
        'recall %',
        ...kinds.map((k) => `${k} episodes`),
        'normal flagged (after an episode)',
        'training',
      ],
      rows,
    ),
  ].join('\n');
  writeSection(`demo-quality-${streamName}-${section}`, body);
}
