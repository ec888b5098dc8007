import { describe, expect, it } from 'vitest';
import { auc, DEFAULT_GATE, judge, judgeShadow } from '../../../model/promotion-gate.js';

const flags = (n: number, k: number) => Uint8Array.from({ length: n }, (_, i) => (i < k ? 1 : 0));
const scores = (n: number, v: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => v(i));
const set = (normal: { s: Float32Array; f: Uint8Array }, lab: { s: Float32Array; f: Uint8Array }) => ({
  heldOut: { scores: normal.s, isAnomaly: normal.f },
  labelled: { scores: lab.s, isAnomaly: lab.f },
});
const none = { s: new Float32Array(0), f: new Uint8Array(0) };

describe('auc', () => {
  it('is the Mann–Whitney probability with ties counted half', () => {
    expect(auc([3, 4], [1, 2])).toBe(1);
    expect(auc([1, 2], [3, 4])).toBe(0);
    expect(auc([1], [1])).toBe(0.5);
    // pos 2 beats 1, pos 0 loses: ½.
    expect(auc([2, 0], [1])).toBe(0.5);
    expect(Number.isNaN(auc([], [1]))).toBe(true);
  });
});

describe('promotion gate', () => {
  it('passes a challenger that fits today’s normal data the drifted champion no longer fits', () => {
    const champion = set({ s: scores(1000, () => 5), f: flags(1000, 300) }, none);
    const challenger = set({ s: scores(1000, () => 1), f: flags(1000, 2) }, none);
    const v = judge(challenger, champion);
    expect(v.passed).toBe(true);
    expect(v.challenger.falseAlarmRate).toBe(0.002);
    expect(v.champion.falseAlarmRate).toBe(0.3);
    expect(v.labelled).toBe(0);
  });

  it('rejects one that flags too many held-out normal rows, or more than the champion does', () => {
    const champion = set({ s: scores(1000, () => 1), f: flags(1000, 1) }, none);
    const bad = set({ s: scores(1000, () => 1), f: flags(1000, 20) }, none);
    const v = judge(bad, champion);
    expect(v.passed).toBe(false);
    expect(v.reasons).toHaveLength(2);
    expect(v.reasons[0]).toMatch(/false-alarm rate on 1000 held-out normal rows 2\.00 % > 1\.00 %/);
    expect(v.reasons[1]).toMatch(/worse than the champion's 0\.10 %/);
    // Within the absolute bound but worse than the champion by more than the tolerance: still rejected.
    const worse = set({ s: scores(1000, () => 1), f: flags(1000, 5) }, none);
    expect(judge(worse, champion).reasons).toEqual([expect.stringMatching(/worse than the champion/)]);
  });

  it('rejects a contaminated retrain that has learnt the confirmed anomalies (recall and AUC drop)', () => {
    const normal = { s: scores(500, (i) => i / 500), f: flags(500, 0) };
    const champion = set(normal, { s: scores(10, () => 10), f: flags(10, 9) });
    const contaminated = set(normal, { s: scores(10, (i) => i / 10), f: flags(10, 1) });
    const v = judge(contaminated, champion);
    expect(v.passed).toBe(false);
    expect(v.reasons.join('\n')).toMatch(
      /recall on 10 confirmed anomalies 10\.00 % < the champion's 90\.00 %/,
    );
    expect(v.reasons.join('\n')).toMatch(/AUC on confirmed anomalies 0\.\d+ < the champion's 1\.000/);
  });

  it('ignores labels below minLabelled', () => {
    const normal = { s: scores(500, () => 0), f: flags(500, 0) };
    const champion = set(normal, { s: scores(3, () => 10), f: flags(3, 3) });
    const challenger = set(normal, { s: scores(3, () => 0), f: flags(3, 0) });
    expect(judge(challenger, champion, { ...DEFAULT_GATE, minLabelled: 5 }).passed).toBe(true);
    expect(judge(challenger, champion, { ...DEFAULT_GATE, minLabelled: 3 }).passed).toBe(false);
  });
});

describe('shadow window', () => {
  const o = { windowMs: 60_000, minRows: 1_000, maxAlertRate: 0.01, maxRatio: 1.5 };

  it('passes a challenger that alerts less than the stale champion on the same live records', () => {
    const v = judgeShadow({ rows: 10_000, championAlerts: 2_000, challengerAlerts: 30 }, o);
    expect(v.passed).toBe(true);
    expect(v.championRate).toBe(0.2);
    expect(v.challengerRate).toBe(0.003);
  });

  it('allows up to the absolute bound in a quiet stream, however few the champion’s alerts', () => {
    expect(judgeShadow({ rows: 10_000, championAlerts: 0, challengerAlerts: 100 }, o).passed).toBe(true);
    const v = judgeShadow({ rows: 10_000, championAlerts: 0, challengerAlerts: 101 }, o);
    expect(v.passed).toBe(false);
    expect(v.reasons[0]).toMatch(/would-be alert rate on 10000 live records 1\.01 % > 1\.00 %/);
  });

  it('above the absolute bound, allows half again the champion’s rate and no more', () => {
    expect(judgeShadow({ rows: 10_000, championAlerts: 400, challengerAlerts: 600 }, o).passed).toBe(true);
    const v = judgeShadow({ rows: 10_000, championAlerts: 400, challengerAlerts: 601 }, o);
    expect(v.passed).toBe(false);
    expect(v.reasons[0]).toMatch(/> 6\.00 % .*1\.5× the champion's 4\.00 %/);
  });

  it('fails a window too short to tell', () => {
    const v = judgeShadow({ rows: 999, championAlerts: 0, challengerAlerts: 0 }, o);
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual(['the shadow window saw 999 live records, fewer than 1000']);
    expect(judgeShadow({ rows: 0, championAlerts: 0, challengerAlerts: 0 }, o).passed).toBe(false);
  });
});
