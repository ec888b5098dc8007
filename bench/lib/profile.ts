/**
 * Reads a V8 .cpuprofile (the inspector's Profiler, or node --cpu-prof) and says where the main thread's time went: the top frames by self
 * time, and the time per pipeline stage. A sample is charged to the stage of the innermost frame on its stack
 * that belongs to one (walking from the leaf towards the root), so library and Node-internal frames count for
 * the stage that called them: avsc under decode-stage.ts is decode, avsc under output-codec.ts is event
 * encoding, Buffer.from under the producer is produce.
 *
 * Only the JS thread is sampled: librdkafka's own threads (network, compression, delivery) and the broker run
 * beside it and appear here only as the time the main thread spends in node-rdkafka's bindings.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface Rule {
  readonly stage: string;
  readonly test: (f: CallFrame) => boolean;
}

const inUrl =
  (...parts: string[]) =>
  (f: CallFrame) =>
    parts.some((p) => f.url.includes(p));

/** Checked in order on each frame; the first rule that matches names the frame's stage. */
const RULES: readonly Rule[] = [
  {
    stage: 'commit',
    test: (f) =>
      (f.url.includes('connector/transport/') || f.url.includes('connector/pipeline/pipeline')) &&
      /commit/i.test(f.functionName),
  },
  { stage: 'scoring (Detector, tfjs wasm)', test: inUrl('@tensorflow', '/model/', 'wasm://') },
  { stage: 'features', test: inUrl('schemas/features/') },
  { stage: 'decode (avsc)', test: inUrl('connector/pipeline/decode-stage', 'schemas/codec') },
  {
    stage: 'anomaly events (build, id, encode)',
    test: inUrl('connector/pipeline/output-codec', 'connector/events/'),
  },
  { stage: 'offset tracker', test: inUrl('connector/offsets/') },
  { stage: 'micro-batcher', test: inUrl('connector/batch/') },
  { stage: 'metrics (prom-client)', test: inUrl('prom-client', 'core/metrics/') },
  {
    stage: 'produce (transport + client JS)',
    test: (f) =>
      inUrl(
        'connector/transport/rdkafka/producer',
        'connector/transport/kafkajs/producer',
        'kafkajs/src/producer',
      )(f) ||
      (f.url.includes('node-rdkafka') && /produce|poll|deliver/i.test(f.functionName)) ||
      (f.url.includes('connector/pipeline/pipeline') && f.functionName.includes('produce')),
  },
  {
    stage: 'consume (transport + client JS)',
    test: inUrl(
      'connector/transport/rdkafka/consumer',
      'connector/transport/kafkajs/consumer',
      'kafkajs/src/consumer',
      'node-rdkafka/lib/kafka-consumer',
    ),
  },
  { stage: 'transport other', test: inUrl('connector/transport/') },
  { stage: 'kafkajs protocol / network', test: inUrl('kafkajs/src/') },
  { stage: 'node-rdkafka other', test: inUrl('node-rdkafka') },
  { stage: 'pipeline (stage glue)', test: inUrl('connector/pipeline/pipeline') },
  { stage: 'bench harness', test: inUrl('/bench/') },
];

export interface FrameTime {
  readonly frame: string;
  readonly selfMs: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly wallMs: number;
  /** Sampled time the main thread was not idle. */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly gcMs: number;
  readonly stages: readonly FrameTime[];
  readonly topFrames: readonly FrameTime[];
}

function shortUrl(url: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (m) return `${m[1]}/${m[2]!.split('/').slice(-2).join('/')}`;
  const i = url.indexOf('/work/');
  if (i >= 0) return url.slice(url.indexOf('/', i + 6) + 1);
  return url.replace(/^file:\/\//, '').replace(/^node:/, 'node:');
}

export function summarizeProfile(file: string, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const stageOf = new Map<number, string>();
  const resolveStage = (id: number): string => {
    const cached = stageOf.get(id);
    if (cached !== undefined) return cached;
    const f = byId.get(id)!.callFrame;
    let stage: string | undefined;
    if (f.functionName === '(garbage collector)') stage = 'GC';
    else if (f.functionName === '(idle)') stage = 'idle';
    else if (f.functionName === '(program)') stage = '(program: native, unattributed)';
    else stage = RULES.find((r) => r.test(f))?.stage;
    if (stage === undefined) {
      const p = parent.get(id);
      stage = p === undefined ? 'other (Node internals, event loop)' : resolveStage(p);
    }
    stageOf.set(id, stage);
    return stage;
  };

  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    // timeDeltas[i] is the time before sample i; the next delta is this sample's share.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  const stages = new Map<string, number>();
  const frames = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  let total = 0;
  for (const [id, us] of selfUs) {
    const stage = resolveStage(id);
    total += us;
    if (stage === 'idle') {
      idle += us;
      continue;
    }
    if (stage === 'GC') gc += us;
    stages.set(stage, (stages.get(stage) ?? 0) + us);
    const f = byId.get(id)!.callFrame;
    const name =
      `${f.functionName || '(anonymous)'} ${f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
    frames.set(name, (frames.get(name) ?? 0) + us);
  }
  const busy = total - idle;
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([frame, us]) => ({ frame, selfMs: us / 1000, share: busy > 0 ? us / busy : 0 }));
  return {
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    gcMs: gc / 1000,
    stages: list(stages),
    topFrames: list(frames).slice(0, top),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const s = summarizeProfile(process.argv[2]!, Number(process.argv[3] ?? 25));
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  console.log(
    `wall ${s.wallMs.toFixed(0)} ms, busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms`,
  );
  for (const st of s.stages)
    console.log(`${pct(st.share).padStart(6)}  ${st.selfMs.toFixed(0).padStart(7)} ms  ${st.frame}`);
  console.log('');
  for (const f of s.topFrames)
    console.log(`${pct(f.share).padStart(6)}  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.frame}`);
}
