// `vigil train` as mounted by the composition root: with --config it reads data the way `vigil run` does (reader
// schema, feature mapping) and records the mapping in the artifact; without, bare columns. Real files: an Avro
// container written by the generator, CSVs, the shipped schema.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScoreCommand } from '../../../cli/score-command.js';
import { createTrainCommand } from '../../../cli/train-command.js';
import { silentLogger } from '../../../core/logger.js';
import { readManifest } from '../../../model/artifact.js';
import { initBackend } from '../../../model/backend.js';
import { checkFeatureMapping } from '../../../model/feature-mapping.js';
import { loadSchema, schemaPath } from '../../../schemas/catalog.js';
import { compileFeatures } from '../../../schemas/features/extractor.js';
import { SENSOR_READING_FEATURES } from '../../../schemas/features/presets.js';
import { generate } from '../../../synth/cli.js';
import { parseGenerateConfig } from '../../../synth/options.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-train-cli-'));
const config = path.join(dir, 'vigil.yaml');
const avroFile = path.join(dir, 'normal.avro');
const served = compileFeatures(SENSOR_READING_FEATURES, { readerSchema: loadSchema('sensor_reading') });

beforeAll(async () => {
  await initBackend({ preference: 'wasm' });
  writeFileSync(
    config,
    [
      'kafka: { brokers: ["127.0.0.1:1"], groupId: vigil-sensors }',
      'input:',
      '  topics: [sensor-readings]',
      '  format: avro',
      `  schema: ${JSON.stringify(schemaPath('sensor_reading'))}`,
      'features: { preset: sensor-reading }',
      'model: { artifact: models/sensor }',
      'output: { anomaliesTopic: sensor-anomalies, deadLetterTopic: sensor-dead-letter }',
      '',
    ].join('\n'),
  );
  await generate(parseGenerateConfig({ kind: 'sensor', count: '600', anomalyRate: '0', out: avroFile }));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function train(args: string[]): Promise<string> {
  const printed: string[] = [];
  await createTrainCommand({ logger: silentLogger(), env: {}, stdout: (t) => printed.push(t) }).parseAsync(
    [...args, '--epochs', '3', '--seed', '1'],
    { from: 'user' },
  );
  return printed.join('');
}

describe('vigil train --config', () => {
  it('trains on an Avro container file through the feature mapping of vigil run, and records it', async () => {
    const out = path.join(dir, 'from-avro');
    const printed = await train(['--config', config, '--data', avroFile, '--out', out]);
    expect(printed).toContain(`trained dense on 600 rows × ${served.width} features of ${avroFile}`);
    const manifest = await readManifest(out);
    expect(manifest.identity.featureNames).toEqual(served.featureNames);
    expect(manifest.identity.featureNames).not.toContain('event_time');
    expect(manifest.featureMapping?.fingerprint).toBe(served.fingerprint);
    expect(
      checkFeatureMapping(
        { featureNames: manifest.identity.featureNames, featureMapping: manifest.featureMapping },
        served,
      ),
    ).toBe('verified');
  });

  it('trains on a CSV of field paths, typed by the reader schema, with a split column in any case', async () => {
    const type = loadSchema('sensor_reading');
    const header = (type as unknown as { fields: { name: string }[] }).fields.map((f) => f.name);
    const records: Record<string, unknown>[] = [];
    const decoder = (await import('avsc')).default.createFileDecoder(avroFile);
    for await (const r of decoder as AsyncIterable<Record<string, unknown>>) records.push(r);
    const lines = [[...header, 'split', 'label'].join(',')];
    records.forEach((r, i) => {
      const cells = header.map((h) => (r[h] === null || r[h] === undefined ? '' : String(r[h])));
      // The last 100 rows test; two rows are labelled anomalous.
      lines.push([...cells, i < 500 ? 'Train' : 'TEST', i === 3 || i === 4 ? '1' : '0'].join(','));
    });
    const csv = path.join(dir, 'normal.csv');
    writeFileSync(csv, `${lines.join('\n')}\n`);
    const out = path.join(dir, 'from-csv');
    const printed = await train(['--config', config, '--data', csv, '--out', out]);
    expect(printed).toContain(`trained dense on 498 rows × ${served.width} features`);
    expect(printed).toContain('left out: 2 labelled anomalous, 100 split test');
    expect((await readManifest(out)).featureMapping?.fingerprint).toBe(served.fingerprint);
  });

  it('counts records the mapping refuses instead of dropping them silently', async () => {
    const header = 'device_id,event_time,status,bearing_temp_c';
    const csv = path.join(dir, 'partial.csv');
    writeFileSync(csv, `${header}\npump-1,1704067200000,OK,50\n`);
    await expect(
      train(['--config', config, '--data', csv, '--out', path.join(dir, 'partial')]),
    ).rejects.toThrow(/0 rows left to train on \(left out: 1 MISSING_VALUE\)/);
  });
});

describe('vigil score --config', () => {
  it('scores a file mapped as vigil run maps it, with labels from --truth, and refuses another mapping', async () => {
    const model = path.join(dir, 'from-avro');
    const live = path.join(dir, 'live.avro');
    const truth = path.join(dir, 'live.truth.jsonl');
    await generate(
      parseGenerateConfig({ kind: 'sensor', count: '300', anomalyRate: '0.05', out: live, truth, seed: '2' }),
    );
    const csvOut: string[] = [];
    const summary: string[] = [];
    const score = (cfg: string) =>
      createScoreCommand({
        logger: silentLogger(),
        env: {},
        stdout: (t) => csvOut.push(t),
        stderr: (t) => summary.push(t),
      }).parseAsync(['--config', cfg, '--model', model, '--data', live, '--truth', truth], { from: 'user' });
    await score(config);
    expect(csvOut.join('').trim().split('\n')).toHaveLength(301);
    expect(summary.join('')).toMatch(/^scored 300 rows with .*: \d+ flagged; AUC-ROC \d+\.\d\d %/);

    const other = path.join(dir, 'other.yaml');
    writeFileSync(
      other,
      readFileSync(config, 'utf8').replace(
        'features: { preset: sensor-reading }',
        'features: { entityKey: device_id, fields: [{ kind: numeric, path: flow_rate_m3h }] }',
      ),
    );
    await expect(score(other)).rejects.toThrow(
      /the model expects 97 features, the feature mapping yields 1;/,
    );
  });
});

describe('vigil train on bare columns', () => {
  it('trains on every row of a CSV that has no split column', async () => {
    const csv = path.join(dir, 'columns.csv');
    const rows = Array.from({ length: 200 }, (_, i) => `${Math.sin(i)},${Math.cos(i)},${(i % 7) / 7}`);
    writeFileSync(csv, `a,b,c\n${rows.join('\n')}\n`);
    const printed = await train(['--data', csv, '--out', path.join(dir, 'columns')]);
    expect(printed).toContain('trained dense on 200 rows × 3 features');
    expect(printed).toContain('no feature mapping recorded (bare columns)');
  });

  it('refuses a split value it does not know, with the row', async () => {
    const csv = path.join(dir, 'bad-split.csv');
    writeFileSync(csv, 'a,b,split\n1,2,train\n3,4,Train\n5,6,validation\n');
    await expect(train(['--data', csv, '--out', path.join(dir, 'bad-split')])).rejects.toThrow(
      /data row 3: split is "validation"/,
    );
  });

  it('does not take the Avro timestamp as a feature', async () => {
    const out = path.join(dir, 'columns-avro');
    await train(['--data', avroFile, '--out', out]);
    const names = (await readManifest(out)).identity.featureNames;
    expect(names).not.toContain('event_time');
    // The 30 numeric channels; the timestamp-millis field is no channel.
    expect(names).toHaveLength(30);
    expect(names).toContain('temp_bearing_front_c');
  });
});
