/**
 * The `split` column of training and evaluation files: which rows train and which test. Values are matched
 * without regard to case or surrounding space (`Train`, ` TEST `), and 0/1 stand for train/test as in the
 * shared data sets. Anything else is refused with the row and the value: a typo must not silently drop rows
 * (it used to, and "Train"/"Test" then gave "no normal training rows").
 */
import { VigilError } from '../core/errors.js';

export type SplitRole = 'train' | 'test';

const ROLES: Readonly<Record<string, SplitRole>> = {
  train: 'train',
  '0': 'train',
  test: 'test',
  '1': 'test',
};

/** The role of one split value; `row` is the 1-based data row (the header not counted), for the message. */
export function splitRole(value: string, row: number, source: string): SplitRole {
  const role = ROLES[value.trim().toLowerCase()];
  if (role === undefined) {
    throw new VigilError(
      'INPUT_INVALID',
      `${source} data row ${row}: split is ${JSON.stringify(value)}; expected train or test (any case), or 0 or 1.`,
      { details: { source, row, value } },
    );
  }
  return role;
}

/** The role of every row of a split column. */
export function splitRoles(values: readonly string[], source: string): SplitRole[] {
  return values.map((v, i) => splitRole(v, i + 1, source));
}
