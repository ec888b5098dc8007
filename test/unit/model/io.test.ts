import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVigilError } from '../../../core/errors.js';
import { readAvroContainer, readCsv, readMatrix, splitCsvLine } from '../../../model/io.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vigil-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readCsv', () => {
  it('reads features row-major and splits off label, entity and kept columns', async () => {
    const file = path.join(dir, 'a.csv');
    await writeFile(
      file,
      'timestamp,host,f0,f1,label,split\n1,"web,1",1.5,2,0,train\n2,db,,3e2,1,test\r\n3,db,NaN,-4,0,test\n',
    );
    const m = await readCsv(file, { entityColumn: 'host', keepColumns: ['split'] });
    expect(m.featureNames).toEqual(['f0', 'f1']);
    expect(m.n).toBe(3);
    expect(m.d).toBe(2);
    expect(Array.from(m.rows)).toEqual([1.5, 2, Number.NaN, 300, Number.NaN, -4]);
    expect(Array.from(m.labels!)).toEqual([0, 1, 0]);
    expect(m.entities).toEqual(['web,1', 'db', 'db']);
    expect(m.columns.split).toEqual(['train', 'test', 'test']);
  });

  it('honours an explicit feature list and a row limit', async () => {
    const file = path.join(dir, 'b.csv');
    await writeFile(file, 'a,b,c\n1,2,3\n4,5,6\n7,8,9\n');
    const m = await readMatrix(file, { features: ['c', 'a'], limit: 2 });
    expect(Array.from(m.rows)).toEqual([3, 1, 6, 4]);
    expect(m.labels).toBeUndefined();
  });

  it('refuses ragged rows and unknown columns with INPUT_INVALID', async () => {
    const ragged = path.join(dir, 'c.csv');
    await writeFile(ragged, 'a,b\n1,2\n3\n');
    for (const run of [() => readCsv(ragged), () => readCsv(ragged, { features: ['zz'] })]) {
      let err: unknown;
      try {
        await run();
      } catch (e) {
        err = e;
      }
      expect(isVigilError(err, 'INPUT_INVALID')).toBe(true);
    }
  });

  it('splits quoted fields', () => {
    expect(splitCsvLine('a,"b,""c""",d')).toEqual(['a', 'b,"c"', 'd']);
  });
});

describe('readAvroContainer', () => {
  it('reads numeric fields (nullable ones as NaN) and the label', async () => {
    const file = path.join(dir, 'a.avro');
    const schema = {
      type: 'record',
      name: 'Reading',
      fields: [
        { name: 'sensor', type: 'string' },
        { name: 'temp', type: 'double' },
        { name: 'count', type: 'long' },
        { name: 'ok', type: 'boolean' },
        { name: 'maybe', type: ['null', 'float'], default: null },
        { name: 'label', type: 'int' },
      ],
    };
    const encoder = new avro.streams.BlockEncoder(avro.Type.forSchema(schema as avro.Schema));
    const out = createWriteStream(file);
    const closed = new Promise<void>((resolve) => out.on('close', () => resolve()));
    encoder.pipe(out);
    encoder.write({ sensor: 's1', temp: 21.5, count: 3, ok: true, maybe: null, label: 0 });
    encoder.write({ sensor: 's2', temp: -1, count: 4, ok: false, maybe: 0.5, label: 1 });
    encoder.end();
    await closed;
    const m = await readAvroContainer(file, { entityColumn: 'sensor' });
    expect(m.featureNames).toEqual(['temp', 'count', 'ok', 'maybe']);
    expect(Array.from(m.rows)).toEqual([21.5, 3, 1, Number.NaN, -1, 4, 0, 0.5]);
    expect(Array.from(m.labels!)).toEqual([0, 1]);
    expect(m.entities).toEqual(['s1', 's2']);
  });
});
