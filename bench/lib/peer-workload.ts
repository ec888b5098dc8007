/**
 * The Python peer's workload run through Vigil (bench/pipeline.ts `--phases peer`): the records
 * ../shared/peers/python_peer.py writes (device, ts, 30 doubles; plain Avro), read from the same topic the peer
 * reads, with the same work the peer does per record: decode, 30 numeric features, a dense autoencoder of
 * Vigil's default widths for 30 inputs (30-64-10-64-30; the peer's is 30-64-16-64-30), threshold, events,
 * commit after the outputs are acknowledged. Temporal features are off because the peer has none; everything
 * else (robust scaling, explanations of flagged rows, metrics, dead-lettering) is Vigil's default.
 *
 * The sensor workload (sensor.ts) measures what a Vigil user runs; this one measures the two stacks doing the
 * same job on the same bytes.
 */
import { existsSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import type { FeaturesConfigInput } from '../../core/config/features-schema.js';
import { saveDetector } from '../../model/artifact.js';
import { initBackend } from '../../model/backend.js';
import { trainDetector } from '../../model/trainer.js';
import { type AvroType, parseSchema } from '../../schemas/avro.js';
import { compileFeatures, type FeatureExtractor } from '../../schemas/features/extractor.js';

const COLUMNS = 30;

/** python_peer.py's SCHEMA, field for field. */
export function peerSchema(): AvroType {
  return parseSchema(
    {
      type: 'record',
      name: 'Reading',
      namespace: 'peer',
      fields: [
        { name: 'device', type: 'string' },
        { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
        ...Array.from({ length: COLUMNS }, (_, i) => ({ name: `c${i}`, type: 'double' })),
      ],
    },
    'python_peer.py schema',
  );
}

export const PEER_FEATURES: FeaturesConfigInput = {
  entityKey: 'device',
  eventTime: { path: 'ts', unit: 'millis' },
  temporal: { enabled: false },
  fields: Array.from({ length: COLUMNS }, (_, i) => ({ kind: 'numeric' as const, path: `c${i}` })),
};

export function peerExtractor(): FeatureExtractor {
  return compileFeatures(PEER_FEATURES, { readerSchema: peerSchema() });
}

/** The first `n` record values of `topic`, in whatever order its partitions deliver them. */
async function readValues(bootstrap: string, topic: string, n: number): Promise<Buffer[]> {
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'bench-peer-train', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `bench-peer-train-${Date.now().toString(36)}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const values: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) if (m.value !== null && values.length < n) values.push(m.value);
          if (values.length >= n) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return values;
}

/**
 * Trains Vigil's default dense model on the first `rows` records of the peer's topic (0.1 % of them carry the
 * peer's injected spike; the threshold's rate is Vigil's default) and saves it to `dir`. Trained per run, since
 * the peer's fill decides the data.
 */
export async function trainPeerModel(dir: string, bootstrap: string, topic: string, rows = 20_000) {
  await initBackend({ preference: 'wasm', allowFallback: true });
  const type = peerSchema();
  const extractor = peerExtractor();
  const d = extractor.width;
  const values = await readValues(bootstrap, topic, rows);
  const matrix = new Float32Array(values.length * d);
  let n = 0;
  for (const v of values) if (extractor.extractInto(type.fromBuffer(v), matrix, n * d).ok) n++;
  const detector = await trainDetector(matrix.subarray(0, n * d), n, d, {
    featureNames: extractor.featureNames,
    id: 'bench-peer',
    version: 'v1',
    epochs: 15,
    seed: 7,
  });
  await saveDetector(detector, dir, { overwrite: true });
  detector.dispose();
  if (!existsSync(`${dir}/manifest.json`)) throw new Error(`no model saved in ${dir}`);
}
