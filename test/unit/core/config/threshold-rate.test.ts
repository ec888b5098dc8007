import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../core/config/load.js';
import { isVigilError, type VigilError } from '../../../../core/errors.js';

const MINIMAL = 'input:\n  topics: [sensor-readings]\nfeatures:\n  preset: sensor-reading\n';

describe('model.threshold: the false-alarm-rate operating point', () => {
  it('defaults to the artifact, with 1e-4 ready for method rate', () => {
    const t = parseConfig(MINIMAL).model.threshold;
    expect(t.method).toBe('artifact');
    expect(t.falseAlarmRate).toBe(1e-4);
  });

  it('takes method rate with a rate a user can read', () => {
    const t = parseConfig(`${MINIMAL}model:\n  threshold:\n    method: rate\n    falseAlarmRate: 1e-5\n`)
      .model.threshold;
    expect(t).toMatchObject({ method: 'rate', falseAlarmRate: 1e-5 });
  });

  it('refuses a rate outside (0, 0.5), naming the key', () => {
    for (const v of ['0', '0.5', '-1e-4']) {
      let err: unknown;
      try {
        parseConfig(`${MINIMAL}model:\n  threshold:\n    method: rate\n    falseAlarmRate: ${v}\n`);
      } catch (e) {
        err = e;
      }
      expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
      expect(((err as VigilError).details['problems'] as string[])[0]).toMatch(
        /^model\.threshold\.falseAlarmRate: /,
      );
    }
  });
});
