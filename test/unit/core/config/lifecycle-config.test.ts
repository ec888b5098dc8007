// model.lifecycle: its cross-field rules, and how vigil run turns the keys into the lifecycle's options.
import { describe, expect, it } from 'vitest';
import { lifecycleOptions } from '../../../../cli/lifecycle-serving.js';
import { parseConfig } from '../../../../core/config/load.js';
import { isVigilError, type VigilError } from '../../../../core/errors.js';

const BASE = 'input:\n  topics: [readings]\nfeatures:\n  preset: sensor-reading\n';

function problemsOf(text: string): string[] {
  try {
    parseConfig(text);
  } catch (err) {
    expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
    return (err as VigilError).details['problems'] as string[];
  }
  return [];
}

describe('model.lifecycle', () => {
  it('is off by default', () => {
    expect(parseConfig(BASE).model.lifecycle.enabled).toBe(false);
  });

  it('needs model.registry, and topics apart from the input', () => {
    expect(problemsOf(`${BASE}model:\n  lifecycle: { enabled: true }\n`)).toEqual([
      expect.stringMatching(/^model\.lifecycle\.enabled: .*model\.registry\.topic/),
    ]);
    const looped = problemsOf(
      `${BASE}model:\n  registry: { topic: models }\n  lifecycle: { enabled: true, feedback: { topic: readings } }\n`,
    );
    expect(looped).toEqual([expect.stringMatching(/^model\.lifecycle\.feedback\.topic: "readings"/)]);
  });

  it('maps every key onto the lifecycle options', () => {
    const c = parseConfig(
      `${BASE}model:\n  registry: { topic: models }\n  lifecycle:\n    enabled: true\n    reservoir: { capacity: 5000, perEntity: 100 }\n    drift: { intervalMs: 1000, consecutive: 3, psi: 0.3, decideOn: [psi, ks] }\n    retrain: { epochs: 7, heldOutFraction: 0.25, promote: false }\n    gate: { maxFalseAlarmRate: 0.02 }\n    feedback: { topic: fb, maxFactor: 3 }\n`,
    );
    const o = lifecycleOptions(c, '/tmp/w');
    expect(o.reservoir).toEqual({ capacity: 5000, perEntity: 100 });
    expect(o.drift).toMatchObject({ intervalMs: 1000, consecutive: 3 });
    expect(o.drift.thresholds).toMatchObject({ psi: 0.3, ks: 0.1, decideOn: ['psi', 'ks'], minRows: 500 });
    expect(o.retrain).toMatchObject({ epochs: 7, heldOutFraction: 0.25, promote: false, workDir: '/tmp/w' });
    expect(o.gate.maxFalseAlarmRate).toBe(0.02);
    expect(o.feedback.maxFactor).toBe(3);
    expect(o.adjustmentsTopic).toBe('vigil-feedback-adjustments');
    expect(lifecycleOptions(parseConfig(BASE), '/tmp/w').adjustmentsTopic).toBeUndefined();
  });
});
