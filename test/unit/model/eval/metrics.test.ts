import { describe, expect, it } from 'vitest';
import {
  aucRoc,
  averagePrecision,
  bestF1,
  confusionAt,
  confusionOfDecisions,
  downsampleCurve,
  prCurve,
  rankingReport,
  rocCurve,
} from '../../../../model/eval/metrics.js';

/*
 * Reference values: produced with scikit-learn 1.9.1 / numpy 2.4.6 (roc_auc_score, average_precision_score,
 * precision_score/recall_score/f1_score, precision_recall_curve, roc_curve(drop_intermediate=False)) on exactly
 * these arrays; the LCG cases are regenerated below with the same generator as the Python script (printed with
 * %.17g). They are what an independent implementation says, not outputs of the code under test.
 */

/** x ← (1103515245·x + 12345) mod 2³¹, as the Python reference script; BigInt because the product exceeds 2⁵³. */
function lcgCase(n: number, seed: number, levels: number): { s: number[]; y: number[] } {
  let x = BigInt(seed);
  const step = (): number => {
    x = (1103515245n * x + 12345n) % 2147483648n;
    return Number(x >> 16n);
  };
  const s: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = step() % levels;
    const u = step() % 100;
    y.push(u < 5 + Math.floor((60 * a) / Math.max(1, levels - 1)) ? 1 : 0);
    s.push(a / levels);
  }
  return { s, y };
}

const cases: Record<string, { s: number[]; y: number[]; auc: number; ap: number; pos: number }> = {
  simple: { s: [0.1, 0.4, 0.35, 0.8], y: [0, 0, 1, 1], auc: 0.75, ap: 0.83333333333333326, pos: 2 },
  ties: {
    s: [0.5, 0.5, 0.5, 0.5, 0.9, 0.9, 0.1, 0.1, 0.1, 0.7, 0.7, 0.2],
    y: [1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 1, 0],
    auc: 0.68055555555555558,
    ap: 0.62500000000000011,
    pos: 6,
  },
  allTied: { s: Array(10).fill(0.3), y: [1, 1, 0, 0, 0, 0, 0, 0, 0, 0], auc: 0.5, ap: 0.2, pos: 2 },
  perfect: { s: [1, 2, 3, 4, 5, 6], y: [0, 0, 0, 1, 1, 1], auc: 1, ap: 1, pos: 3 },
  inverted: { s: [1, 2, 3, 4, 5, 6], y: [1, 1, 1, 0, 0, 0], auc: 0, ap: 0.38333333333333336, pos: 3 },
  lcg3: { ...lcgCase(500, 42, 3), auc: 0.79730790704166377, ap: 0.6082092287473031, pos: 178 },
  lcg10: { ...lcgCase(2000, 7, 10), auc: 0.74809110953832747, ap: 0.52997213223072115, pos: 656 },
};

describe('AUC-ROC and average precision match scikit-learn', () => {
  for (const [name, c] of Object.entries(cases)) {
    it(name, () => {
      expect(c.y.reduce((a, b) => a + b, 0)).toBe(c.pos); // the generator reproduced the Python arrays
      expect(aucRoc(c.s, c.y)).toBeCloseTo(c.auc, 12);
      expect(averagePrecision(c.s, c.y)).toBeCloseTo(c.ap, 12);
    });
  }

  it('treats a block of tied scores as one step (a row-by-row sum gives 0.6204 on lcg3, not 0.6082)', () => {
    const c = cases.lcg3!;
    const ap = averagePrecision(c.s, c.y);
    expect(Math.abs(ap - 0.62037529067425745)).toBeGreaterThan(0.01);
  });

  it('does not depend on the input order of tied rows', () => {
    const c = cases.lcg10!;
    const rev = { s: [...c.s].reverse(), y: [...c.y].reverse() };
    expect(aucRoc(rev.s, rev.y)).toBeCloseTo(c.auc, 12);
    expect(averagePrecision(rev.s, rev.y)).toBeCloseTo(c.ap, 12);
  });

  it('is NaN with one class only and refuses NaN scores and odd labels', () => {
    expect(aucRoc([1, 2], [0, 0])).toBeNaN();
    expect(averagePrecision([1, 2], [0, 0])).toBeNaN();
    expect(() => aucRoc([1, Number.NaN], [0, 1])).toThrow(/NaN/);
    expect(() => aucRoc([1, 2], [0, 2])).toThrow(/labels must be 0 or 1/);
    expect(() => aucRoc([1, 2], [0])).toThrow(/differ/);
  });

  it('ranks infinite scores', () => {
    expect(aucRoc([Number.POSITIVE_INFINITY, 1, Number.NEGATIVE_INFINITY], [1, 0, 0])).toBe(1);
  });
});

describe('curves match scikit-learn on the tied case', () => {
  const c = cases.ties!;
  it('precision_recall_curve', () => {
    const pr = prCurve(c.s, c.y);
    const p = [0.5, 0.5555555555555556, 0.625, 0.75, 0.5, 1.0];
    const r = [1.0, 0.8333333333333334, 0.8333333333333334, 0.5, 0.16666666666666666, 0.0];
    p.forEach((v, i) => {
      expect(pr.precision[i]).toBeCloseTo(v, 12);
    });
    r.forEach((v, i) => {
      expect(pr.recall[i]).toBeCloseTo(v, 12);
    });
    expect([...pr.thresholds]).toEqual([0.1, 0.2, 0.5, 0.7, 0.9]);
  });

  it('roc_curve(drop_intermediate=False)', () => {
    const roc = rocCurve(c.s, c.y);
    const f = [0, 1 / 6, 1 / 6, 0.5, 2 / 3, 1];
    const t = [0, 1 / 6, 0.5, 5 / 6, 5 / 6, 1];
    f.forEach((v, i) => {
      expect(roc.fpr[i]).toBeCloseTo(v, 12);
    });
    t.forEach((v, i) => {
      expect(roc.tpr[i]).toBeCloseTo(v, 12);
    });
    expect([...roc.thresholds]).toEqual([Number.POSITIVE_INFINITY, 0.9, 0.7, 0.5, 0.2, 0.1]);
  });
});

describe('threshold metrics', () => {
  const c = cases.ties!;
  it('flags rows strictly above the threshold (scikit-learn precision/recall/f1 on s > t)', () => {
    const a = confusionAt(c.s, c.y, 0.5);
    expect(a.precision).toBeCloseTo(0.75, 12);
    expect(a.recall).toBeCloseTo(0.5, 12);
    expect(a.f1).toBeCloseTo(0.6, 12);
    const b = confusionAt(c.s, c.y, 0.15);
    expect(b.precision).toBeCloseTo(0.55555555555555558, 12);
    expect(b.recall).toBeCloseTo(0.83333333333333337, 12);
    expect(b.f1).toBeCloseTo(0.66666666666666663, 12);
    expect(a.tp + a.fp + a.tn + a.fn).toBe(c.s.length);
  });

  it('scores decisions the same way as a threshold', () => {
    const decisions = c.s.map((v) => (v > 0.5 ? 1 : 0));
    expect(confusionOfDecisions(decisions, c.y)).toEqual(confusionAt(c.s, c.y, 0.5));
  });

  it('gives F1 0, not NaN, when nothing is flagged', () => {
    expect(confusionAt(c.s, c.y, 10)).toMatchObject({ tp: 0, fp: 0, precision: 0, f1: 0 });
  });

  it('best F1 matches the maximum over scikit-learn precision_recall_curve', () => {
    const l = cases.lcg10!;
    const b = bestF1(l.s, l.y);
    expect(b.f1).toBeCloseTo(0.59290629962943353, 12);
    expect(b.threshold).toBeCloseTo(0.4, 12);
    expect(rankingReport(l.s, l.y).bestF1.f1).toBeCloseTo(b.f1, 15);
  });
});

describe('downsampleCurve', () => {
  it('keeps the ends and at most the requested number of points', () => {
    const x = Array.from({ length: 10_000 }, (_, i) => i / 9999);
    const y = x.map((v) => Math.sqrt(v));
    const d = downsampleCurve(x, y, 100);
    expect(d.x.length).toBeLessThanOrEqual(101);
    expect(d.x.length).toBeGreaterThan(50);
    expect(d.x[0]).toBe(0);
    expect(d.x[d.x.length - 1]).toBe(1);
    for (let i = 1; i < d.x.length; i++) expect(d.x[i]!).toBeGreaterThan(d.x[i - 1]!);
  });
});
