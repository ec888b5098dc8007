import { describe, expect, it } from 'vitest';
import { FeaturesSchema } from '../../../../core/config/features-schema.js';

function issues(input: unknown): string[] {
  const r = FeaturesSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('FeaturesSchema', () => {
  it('applies per-kind defaults', () => {
    const f = FeaturesSchema.parse({
      fields: [
        { kind: 'numeric', path: 'a' },
        { kind: 'enum', path: 'b', categories: ['x'] },
        { kind: 'hashed', path: 'c' },
        { kind: 'cyclic', path: 't' },
      ],
    });
    expect(f.fields[0]).toEqual({
      kind: 'numeric',
      path: 'a',
      transform: 'none',
      missing: 'fail',
      nonFinite: 'reject',
    });
    expect(f.fields[1]).toMatchObject({ unknown: 'other', missing: 'fail' });
    expect(f.fields[2]).toMatchObject({ buckets: 32, signed: false, seed: 0 });
    expect(f.fields[3]).toMatchObject({
      unit: 'millis',
      cycles: ['hourOfDay', 'dayOfWeek'],
      utcOffsetMinutes: 0,
    });
  });

  it('needs a preset or fields, not both', () => {
    expect(issues({})).toEqual(['fields: give a preset or at least one field']);
    expect(issues({ preset: 'sensor-reading', fields: [{ kind: 'numeric', path: 'a' }] })).toEqual([
      'fields: give either preset or fields, not both',
    ]);
  });

  it('refuses duplicate names, constant without fill, repeated categories and a fill outside them', () => {
    const found = issues({
      fields: [
        { kind: 'numeric', path: 'a' },
        { kind: 'numeric', path: 'b', name: 'a', missing: 'constant' },
        { kind: 'enum', path: 'c', categories: ['x', 'x'] },
        { kind: 'enum', path: 'd', categories: ['x'], missing: 'constant', fill: 'y' },
      ],
    });
    expect(found).toEqual([
      'fields.1.name: duplicate feature name "a"',
      'fields.1.fill: missing: constant needs a fill value',
      'fields.2.categories: categories must be distinct',
      'fields.3.fill: "y" is not one of the categories',
    ]);
  });

  it('allows only the missing policies that make sense for a kind', () => {
    expect(
      issues({ fields: [{ kind: 'enum', path: 'a', categories: ['x'], missing: 'median' }] }),
    ).toHaveLength(1);
    expect(issues({ fields: [{ kind: 'cyclic', path: 't', missing: 'median' }] })).toHaveLength(1);
    expect(issues({ fields: [{ kind: 'numeric', path: 'a', missing: 'median' }] })).toEqual([]);
  });

  it('accepts dotted Avro paths and refuses anything else', () => {
    expect(issues({ fields: [{ kind: 'numeric', path: 'location.lat' }] })).toEqual([]);
    expect(issues({ fields: [{ kind: 'numeric', path: 'location..lat' }] })).toHaveLength(1);
    expect(issues({ fields: [{ kind: 'numeric', path: '1abc' }] })).toHaveLength(1);
  });
});
