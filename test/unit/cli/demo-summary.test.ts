import { describe, expect, it } from 'vitest';
import { STREAMS, warmupStart } from '../../../cli/demo-streams.js';
import { formatSeedSummary, score, summariseSeeds } from '../../../cli/demo-summary.js';
import type { AnomalyEvent } from '../../../schemas/types.js';
import type { TruthRow } from '../../../synth/ground-truth.js';
import { TransactionGenerator } from '../../../synth/transaction-generator.js';

const row = (entity: string, t: number, anomaly: TruthRow['anomaly'] = null, episode: string | null = null) =>
  ({
    seq: 0,
    kind: 'card_transaction',
    entity,
    id: `tx-${entity}-${t}`,
    event_time: t,
    label: anomaly === null ? 0 : 1,
    anomaly,
    episode,
    fields: [],
  }) as TruthRow;
const event = (entity: string, t: number) => ({ entity, event_time: t }) as AnomalyEvent;

describe('demo score', () => {
  // Two burst episodes (3 + 2 transactions), one unusual amount, normal rows around them.
  const truth = [
    row('a', 1),
    row('a', 2, 'burst', 'e1'),
    row('a', 3, 'burst', 'e1'),
    row('a', 4, 'burst', 'e1'),
    row('b', 5, 'burst', 'e2'),
    row('b', 6, 'burst', 'e2'),
    row('c', 7, 'unusual_amount', 'e3'),
    row('c', 8),
  ];

  it('matches events to records by entity and event time; counts per kind records and episodes', () => {
    // Flagged: two of e1, the unusual amount, one normal row (a false positive), and a duplicate event.
    const s = score(truth, [event('a', 2), event('a', 3), event('c', 7), event('c', 8), event('c', 8)]);
    expect(s.positives).toBe(6);
    expect(s.flagged).toBe(4);
    expect(s.precision).toBeCloseTo(3 / 4, 12);
    expect(s.recall).toBeCloseTo(3 / 6, 12);
    expect([s.episodes, s.episodesHit]).toEqual([3, 2]);
    expect(s.byKind['burst']).toEqual({ hit: 2, total: 5, episodes: 2, episodesHit: 1 });
    expect(s.byKind['unusual_amount']).toEqual({ hit: 1, total: 1, episodes: 1, episodesHit: 1 });
  });

  it('over seeds gives the mean and the worst seed, per kind, and says whether the bar is met', () => {
    const all = score(
      truth,
      truth.filter((t) => t.label === 1).map((t) => event(t.entity, t.event_time)),
    );
    const some = score(truth, [event('a', 2), event('c', 7), event('c', 8)]);
    const runs = [
      { seed: 1, summary: all },
      { seed: 2, summary: some },
    ];
    const s = summariseSeeds(STREAMS.transactions.kinds, runs);
    expect(s.precision.mean).toBeCloseTo((1 + 2 / 3) / 2, 12);
    expect([s.precision.worst, s.precision.worstSeed]).toEqual([2 / 3, 2]);
    expect(s.byKind['burst']!.episodeRecall).toEqual({ mean: 0.75, worst: 0.5, worstSeed: 2 });
    // No seed had a location mismatch: no figure rather than a 0 that reads as a miss.
    expect(Number.isNaN(s.byKind['merchant_location_mismatch']!.episodeRecall.mean)).toBe(true);
    const text = formatSeedSummary(STREAMS.transactions, runs).join('\n');
    expect(text).toContain('seeds 1, 2');
    expect(text).toMatch(/burst\s+episodes\s+75\.0 % \(worst 50\.0 %, seed 2\)/);
    expect(text).toContain('kinds missed, precision missed');
  });
});

describe('demo streams', () => {
  it('the transaction warm-up ends where the live stream starts, with the live stream’s cards', () => {
    const s = STREAMS.transactions;
    const start = Date.UTC(2024, 0, 8);
    const from = warmupStart(s, 500, 20_000, start);
    const warm = s.warmup({
      seed: 3,
      streamSeed: 1_000_006,
      entities: 500,
      startTime: from,
    }) as TransactionGenerator;
    let last = 0;
    for (let i = 0; i < 20_000; i++) last = (warm.next().record as { event_time: number }).event_time;
    // A Poisson process: within a few per cent of the planned span.
    expect(Math.abs(last - start) / (start - from)).toBeLessThan(0.05);
    const live = new TransactionGenerator({ seed: 3, cards: 500, meanIntervalMs: s.intervalMs(500) });
    expect(warm.cardIds).toEqual(live.cardIds);
  });
});
