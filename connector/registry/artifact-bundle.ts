/**
 * One model artifact directory (model/artifact.ts: manifest.json, model.json, weights.bin) as one byte string,
 * so the registry can chunk it and digest it as a whole. Layout: the magic line, a u32 (big-endian) length, a
 * JSON header listing each file's name and size, then the files' bytes in that order. Only the artifact's own
 * file names are accepted, so unpacking cannot write outside the target directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { VigilError } from '../../core/errors.js';
import { MANIFEST_JSON, MODEL_JSON, readManifest, WEIGHTS_BIN } from '../../model/artifact.js';

const MAGIC = Buffer.from('vigil-artifact-bundle/1\n');
const FILES = [MANIFEST_JSON, MODEL_JSON, WEIGHTS_BIN] as const;

export interface BundledFile {
  readonly name: string;
  readonly bytes: Buffer;
}

function refuse(message: string, details: Record<string, unknown> = {}): never {
  throw new VigilError('MODEL_INVALID', `artifact bundle: ${message}`, {
    details: { reason: 'bundle', ...details },
  });
}

export function packFiles(files: readonly BundledFile[]): Buffer {
  const header = Buffer.from(
    JSON.stringify({ files: files.map((f) => ({ name: f.name, bytes: f.bytes.length })) }),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([MAGIC, length, header, ...files.map((f) => f.bytes)]);
}

export function unpackFiles(bundle: Buffer): BundledFile[] {
  if (bundle.length < MAGIC.length + 4 || !bundle.subarray(0, MAGIC.length).equals(MAGIC)) {
    refuse('not a Vigil artifact bundle');
  }
  const headerLength = bundle.readUInt32BE(MAGIC.length);
  let at = MAGIC.length + 4;
  if (at + headerLength > bundle.length) refuse('header runs past the end', { headerLength });
  let header: { files?: Array<{ name?: unknown; bytes?: unknown }> };
  try {
    header = JSON.parse(bundle.subarray(at, at + headerLength).toString('utf8'));
  } catch {
    refuse('header is not JSON');
  }
  at += headerLength;
  const out: BundledFile[] = [];
  for (const f of header.files ?? []) {
    if (typeof f.name !== 'string' || !(FILES as readonly string[]).includes(f.name)) {
      refuse(`unexpected file ${JSON.stringify(f.name)}`);
    }
    if (!Number.isInteger(f.bytes) || (f.bytes as number) < 0 || at + (f.bytes as number) > bundle.length) {
      refuse(`${f.name} runs past the end`, { file: f.name });
    }
    out.push({ name: f.name, bytes: bundle.subarray(at, at + (f.bytes as number)) });
    at += f.bytes as number;
  }
  if (at !== bundle.length) refuse('trailing bytes after the last file', { extra: bundle.length - at });
  for (const name of FILES)
    if (!out.some((f) => f.name === name)) refuse(`${name} is missing`, { file: name });
  return out;
}

/** Packs an artifact directory after checking it (manifest digest and file checksums) with model/'s own loader. */
export async function packArtifactDir(
  dir: string,
): Promise<{ bundle: Buffer; manifest: Awaited<ReturnType<typeof readManifest>> }> {
  const manifest = await readManifest(dir);
  const files = await Promise.all(
    FILES.map(async (name) => ({ name, bytes: await readFile(path.join(dir, name)) })),
  );
  return { bundle: packFiles(files), manifest };
}

/**
 * Writes a bundle out as an artifact directory, atomically (a sibling temporary directory renamed into
 * place), replacing `dir` if it exists. model/'s loadDetector then verifies it as it would any artifact.
 */
export async function unpackToDir(bundle: Buffer, dir: string): Promise<void> {
  const files = unpackFiles(bundle);
  const target = path.resolve(dir);
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(tmp, { recursive: true });
    for (const f of files) await writeFile(path.join(tmp, f.name), f.bytes);
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
