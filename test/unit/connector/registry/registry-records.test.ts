import { describe, expect, it } from 'vitest';
import {
  assembleChunks,
  chunkBytes,
  chunkKey,
  type FoldInput,
  manifestKey,
  parseKey,
  RegistryFold,
  type RegistryManifest,
  type StatusRecord,
  sha256Hex,
  statusKey,
} from '../../../../connector/registry/registry-records.js';
import { isVigilError, type VigilError } from '../../../../core/errors.js';

function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

function manifestFor(
  version: string,
  whole: Buffer,
  size: number,
  publishedAt = '2026-12-01T00:00:00.000Z',
): RegistryManifest {
  return {
    format: 'vigil-registry-manifest',
    formatVersion: 1,
    version,
    modelId: 'sensor-dense',
    artifactVersion: '1',
    publishedAt,
    digest: sha256Hex(whole),
    bytes: whole.length,
    chunks: chunkBytes(whole, size).length,
    chunkBytes: size,
    lineage: {
      trainingWindow: null,
      dataSummary: null,
      featureMappingFingerprint: 'abc',
      parentVersion: null,
    },
    evaluation: { auc: 0.9 },
  };
}

function refusal(fn: () => unknown): VigilError {
  try {
    fn();
  } catch (err) {
    expect(isVigilError(err, 'MODEL_INVALID')).toBe(true);
    return err as VigilError;
  }
  throw new Error('expected a refusal');
}

let offset = 0n;
function rec(key: string | null, value: unknown): FoldInput {
  return {
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value)),
    partition: 0,
    offset: offset++,
  };
}

function status(version: string, s: StatusRecord['status'], at: string, reason = 'r'): StatusRecord {
  return { format: 'vigil-registry-status', version, status: s, reason, at };
}

describe('chunking and reassembly', () => {
  it('splits into slices no larger than the size and reassembles the exact bytes', () => {
    const whole = bytes(10_000);
    const chunks = chunkBytes(whole, 4096);
    expect(chunks.map((c) => c.length)).toEqual([4096, 4096, 1808]);
    const m = manifestFor('v1', whole, 4096);
    const back = assembleChunks(m, new Map(chunks.map((c, i) => [i, c])));
    expect(back.equals(whole)).toBe(true);
    expect(chunkBytes(Buffer.alloc(0), 10)).toHaveLength(1);
    expect(() => chunkBytes(whole, 0)).toThrow(RangeError);
  });

  it('refuses a missing chunk as truncated, naming it', () => {
    const whole = bytes(9000);
    const chunks = chunkBytes(whole, 4096);
    const m = manifestFor('v1', whole, 4096);
    const e = refusal(() =>
      assembleChunks(
        m,
        new Map([
          [0, chunks[0]!],
          [2, chunks[2]!],
        ]),
      ),
    );
    expect(e.details).toMatchObject({ version: 'v1', reason: 'truncated', missing: [1] });
  });

  it('refuses a shortened last chunk as truncated and a flipped byte as a digest mismatch', () => {
    const whole = bytes(9000);
    const chunks = chunkBytes(whole, 4096);
    const m = manifestFor('v1', whole, 4096);
    const short = new Map(chunks.map((c, i) => [i, i === 2 ? c.subarray(0, c.length - 1) : c]));
    expect(refusal(() => assembleChunks(m, short)).details.reason).toBe('truncated');
    const flipped = Buffer.from(chunks[1]!);
    flipped[17] = flipped[17]! ^ 0xff;
    const corrupt = new Map(chunks.map((c, i) => [i, i === 1 ? flipped : c]));
    const e = refusal(() => assembleChunks(m, corrupt));
    expect(e.details).toMatchObject({ reason: 'digest', expected: m.digest });
    expect(e.details.actual).not.toBe(m.digest);
  });

  it('refuses a chunk larger than the chunk size', () => {
    const whole = bytes(5000);
    const m = { ...manifestFor('v1', whole, 4096), chunks: 1 };
    expect(refusal(() => assembleChunks(m, new Map([[0, whole]]))).details.reason).toBe('size');
  });
});

describe('keys', () => {
  it('round-trips and refuses anything else', () => {
    expect(parseKey(chunkKey('a.b-1', 12))).toEqual({ kind: 'chunk', version: 'a.b-1', index: 12 });
    expect(parseKey(manifestKey('v'))).toEqual({ kind: 'manifest', version: 'v' });
    expect(parseKey(statusKey('v'))).toEqual({ kind: 'status', version: 'v' });
    for (const bad of [
      '',
      'x/v/manifest',
      'vigil-model/v/chunk/01',
      'vigil-model/v/chunk/-1',
      'vigil-model/a b/status',
      'vigil-model/v/other',
    ]) {
      expect(parseKey(bad)).toBeNull();
    }
  });
});

describe('RegistryFold', () => {
  const whole = bytes(100);

  it('lists versions with their latest status, candidate until one is set, whatever the arrival order', () => {
    const f = new RegistryFold();
    f.apply(
      rec(statusKey('b'), status('b', 'rejected', '2026-12-01T01:00:00.000Z', 'worse on held-out data')),
    );
    f.apply(rec(manifestKey('a'), manifestFor('a', whole, 64, '2026-12-01T00:00:00.000Z')));
    f.apply(rec(manifestKey('b'), manifestFor('b', whole, 64, '2026-12-01T00:30:00.000Z')));
    f.apply(rec(chunkKey('a', 0), whole.subarray(0, 64)));
    expect(f.list().map((e) => [e.version, e.status, e.reason])).toEqual([
      ['a', 'candidate', ''],
      ['b', 'rejected', 'worse on held-out data'],
    ]);
    expect(f.latestPromoted()).toBeUndefined();
  });

  it('latestPromoted is the most recent promotion still in force; promoting an older one again rolls back', () => {
    const f = new RegistryFold();
    for (const v of ['a', 'b']) f.apply(rec(manifestKey(v), manifestFor(v, whole, 64)));
    f.apply(rec(statusKey('a'), status('a', 'promoted', '2026-12-01T01:00:00.000Z')));
    expect(f.latestPromoted()?.version).toBe('a');
    f.apply(rec(statusKey('b'), status('b', 'promoted', '2026-12-01T02:00:00.000Z')));
    expect(f.latestPromoted()?.version).toBe('b');
    f.apply(rec(statusKey('a'), status('a', 'promoted', '2026-12-01T03:00:00.000Z', 'rollback')));
    expect(f.latestPromoted()?.version).toBe('a');
    f.apply(rec(statusKey('a'), status('a', 'retired', '2026-12-01T04:00:00.000Z')));
    expect(f.latestPromoted()?.version).toBe('b');
  });

  it('a manifest tombstone removes the version', () => {
    const f = new RegistryFold();
    f.apply(rec(manifestKey('a'), manifestFor('a', whole, 64)));
    f.apply(rec(manifestKey('a'), null));
    expect(f.list()).toEqual([]);
  });

  it('keeps records it cannot use as problems, with why, and goes on', () => {
    const f = new RegistryFold();
    expect(f.apply(rec('some/other/key', { x: 1 }))).toBe(false);
    expect(f.apply(rec(manifestKey('a'), Buffer.from('{not json')))).toBe(false);
    expect(f.apply(rec(statusKey('a'), { ...status('a', 'promoted', 't'), status: 'shipped' }))).toBe(false);
    expect(f.apply(rec(manifestKey('a'), manifestFor('b', whole, 64)))).toBe(false);
    expect(f.apply(rec(null, { x: 1 }))).toBe(false);
    expect(f.apply(rec(manifestKey('a'), manifestFor('a', whole, 64)))).toBe(true);
    expect(f.problems.map((p) => p.reason)).toEqual([
      'not a registry key',
      'value is not JSON',
      expect.stringMatching(/^invalid status/),
      'manifest names another version',
      'not a registry key',
    ]);
    expect(f.problemCount).toBe(5);
    expect(f.list().map((e) => e.version)).toEqual(['a']);
  });
});
