import { describe, expect, it } from 'vitest';
import { splitRole, splitRoles } from '../../../model/split.js';

describe('split column values', () => {
  it('match train and test in any case and with surrounding space, and 0/1', () => {
    expect(splitRoles(['train', 'Train', ' TEST ', 'test', '0', '1'], 'f.csv')).toEqual([
      'train',
      'train',
      'test',
      'test',
      'train',
      'test',
    ]);
  });

  it('refuse anything else with the row and the value', () => {
    expect(() => splitRoles(['train', 'valid'], 'f.csv')).toThrow(
      'f.csv data row 2: split is "valid"; expected train or test (any case), or 0 or 1.',
    );
    expect(() => splitRole('', 7, 'g.csv')).toThrow(/g\.csv data row 7: split is ""/);
  });
});
