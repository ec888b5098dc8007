import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packFiles, unpackFiles, unpackToDir } from '../../../../connector/registry/artifact-bundle.js';
import { isVigilError } from '../../../../core/errors.js';

const files = [
  { name: 'manifest.json', bytes: Buffer.from('{"m":1}') },
  { name: 'model.json', bytes: Buffer.from('{"t":2}') },
  { name: 'weights.bin', bytes: Buffer.from([0, 1, 2, 255]) },
];

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('artifact bundle', () => {
  it('round-trips the three artifact files byte for byte, and writes them as a directory', async () => {
    const bundle = packFiles(files);
    expect(unpackFiles(bundle).map((f) => [f.name, f.bytes.toString('hex')])).toEqual(
      files.map((f) => [f.name, f.bytes.toString('hex')]),
    );
    const root = await mkdtemp(path.join(tmpdir(), 'bundle-'));
    dirs.push(root);
    const dir = path.join(root, 'model');
    await writeFile(path.join(root, 'stale'), 'x');
    await unpackToDir(bundle, dir);
    expect((await readFile(path.join(dir, 'weights.bin'))).equals(files[2]!.bytes)).toBe(true);
  });

  it('refuses truncation, trailing bytes, a foreign file name and a missing file', () => {
    const bundle = packFiles(files);
    const refused = (b: Buffer) => {
      try {
        unpackFiles(b);
      } catch (err) {
        return isVigilError(err, 'MODEL_INVALID');
      }
      return false;
    };
    expect(refused(bundle.subarray(0, bundle.length - 1))).toBe(true);
    expect(refused(Buffer.concat([bundle, Buffer.from([0])]))).toBe(true);
    expect(refused(Buffer.from('garbage'))).toBe(true);
    expect(refused(packFiles([...files, { name: '../evil', bytes: Buffer.from('x') }]))).toBe(true);
    expect(refused(packFiles(files.slice(0, 2)))).toBe(true);
  });
});
