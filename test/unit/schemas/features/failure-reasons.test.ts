import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_HEADERS,
  deadLetterFromFeatureFailure,
} from '../../../../connector/events/dead-letter.js';
import { ERROR_CODES } from '../../../../core/errors.js';
import {
  compileFeatures,
  FEATURE_FAILURE_REASONS,
  type FeatureFailure,
} from '../../../../schemas/features/extractor.js';

/**
 * The dead-letter reasons a user reads about (docs/delivery-guarantees.md's table, the feature mapping's
 * reference in docs/configuration.md) must be the codes Vigil writes: issue #10 found FEATURE_INVALID in the
 * output where the docs promised MISSING_VALUE / NON_FINITE / UNKNOWN_CATEGORY.
 */

const root = new URL('../../../../', import.meta.url);
const doc = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** `vigil.reason` codes of the rows of the "Dead-letter reasons" table whose stage is `features`. */
function documentedFeatureReasons(): string[] {
  const text = doc('docs/delivery-guarantees.md');
  const section = text.slice(text.indexOf('## Dead-letter reasons'));
  const rows = section
    .split('\n')
    .filter((l) => l.startsWith('| ') && l.trimEnd().endsWith('| `features` |'));
  return rows.map((l) => {
    const cells = l.split(' | ');
    const code = /^`([A-Z_]+)`$/.exec(cells[cells.length - 2]!.trim());
    if (!code) throw new Error(`no single code in the reason cell of: ${l}`);
    return code[1]!;
  });
}

/** A record that fails with each reason, and the mapping that refuses it. */
const failing: Record<(typeof FEATURE_FAILURE_REASONS)[number], [unknown, Record<string, unknown>]> = {
  MISSING_VALUE: [{ fields: [{ kind: 'numeric', path: 'a' }] }, { a: null }],
  NON_FINITE: [{ fields: [{ kind: 'numeric', path: 'a' }] }, { a: Number.NaN }],
  TYPE_MISMATCH: [{ fields: [{ kind: 'numeric', path: 'a' }] }, { a: '12' }],
  UNKNOWN_CATEGORY: [
    { fields: [{ kind: 'enum', path: 'c', categories: ['A', 'B'], unknown: 'fail' }] },
    { c: 'Z' },
  ],
};

const ctx = {
  source: { topic: 'in', partition: 0, offset: 1 },
  timestamp: null,
  key: null,
  value: Buffer.from([1]),
  failedAt: 0,
};

describe('feature dead-letter reasons', () => {
  it('the table in docs/delivery-guarantees.md lists exactly the extractor reasons', () => {
    expect(documentedFeatureReasons().sort()).toEqual([...FEATURE_FAILURE_REASONS].sort());
  });

  it('every reason docs/configuration.md names is one the extractor produces', () => {
    const named = [...doc('docs/configuration.md').matchAll(/\(reason ([A-Z_]+)\)/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(0);
    for (const r of new Set(named)) expect(FEATURE_FAILURE_REASONS).toContain(r);
  });

  it.each(FEATURE_FAILURE_REASONS)('%s is an error code and is what the dead letter carries', (reason) => {
    expect(ERROR_CODES[reason]).toBeDefined();
    const [mapping, record] = failing[reason];
    const failure = compileFeatures(mapping as never).extract(record) as FeatureFailure;
    expect(failure.reason).toBe(reason);
    const letter = deadLetterFromFeatureFailure(failure, ctx);
    expect(letter.value.reason_code).toBe(reason);
    expect(letter.headers[DEAD_LETTER_HEADERS.reason]).toBe(reason);
  });
});
