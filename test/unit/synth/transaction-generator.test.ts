import { describe, expect, it } from 'vitest';
import { loadSchema } from '../../../schemas/catalog.js';
import { AvroCodec } from '../../../schemas/codec.js';
import type { CardTransaction } from '../../../schemas/types.js';
import { TRANSACTION_ANOMALY_KINDS, type TruthRow } from '../../../synth/ground-truth.js';
import { type City, haversineKm } from '../../../synth/tables.js';
import {
  TransactionGenerator,
  type TransactionGeneratorOptions,
} from '../../../synth/transaction-generator.js';

type Opts = Partial<TransactionGeneratorOptions> & { seed: number };

function generate(opts: Opts, n: number) {
  const g = new TransactionGenerator(opts);
  const records: CardTransaction[] = [];
  const truth: TruthRow[] = [];
  for (let i = 0; i < n; i++) {
    const { record, truth: row } = g.next();
    records.push(record);
    truth.push(row);
  }
  const homes = new Map<string, City>(g.cardIds.map((id) => [id, g.homeOf(id)!]));
  return { g, records, truth, homes };
}

const codec = new AvroCodec<CardTransaction>(loadSchema('card_transaction'));
const bytesOf = (records: CardTransaction[]) => Buffer.concat(records.map((r) => codec.encode(r)));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function episodes(truth: TruthRow[]): Map<string, TruthRow[]> {
  const out = new Map<string, TruthRow[]>();
  for (const row of truth) {
    if (row.episode === null) continue;
    out.set(row.episode, [...(out.get(row.episode) ?? []), row]);
  }
  return out;
}

// 2000 cards, one transaction every 15 s overall: each card every ~8 h, a week of event time.
const BASE: Opts = { seed: 4, cards: 2000, meanIntervalMs: 15_000, anomalyRate: 0.05 };
const N = 40_000;

describe('TransactionGenerator', () => {
  const run = generate(BASE, N);
  const baseline = generate({ ...BASE, anomalyRate: 0 }, N);
  const baselineById = new Map(baseline.records.map((r) => [r.transaction_id, r]));
  const normalByCard = new Map<string, CardTransaction[]>();
  for (const r of baseline.records) normalByCard.set(r.card_id, [...(normalByCard.get(r.card_id) ?? []), r]);
  const ofKind = (kind: string) =>
    [...episodes(run.truth).values()].filter((rows) => rows[0]!.anomaly === kind);

  it('the same seed gives byte-identical records and identical ground truth', () => {
    const again = generate(BASE, 5000);
    expect(bytesOf(again.records)).toEqual(bytesOf(run.records.slice(0, 5000)));
    expect(again.truth).toEqual(run.truth.slice(0, 5000));
  });

  it('a different seed gives different cards and records', () => {
    const other = generate({ ...BASE, seed: 99 }, 1000);
    expect(bytesOf(other.records).equals(bytesOf(run.records.slice(0, 1000)))).toBe(false);
    expect(other.g.cardIds[0]).not.toBe(run.g.cardIds[0]);
  });

  it('a stream seed keeps the cards and merchants and draws other transactions', () => {
    const other = generate({ ...BASE, streamSeed: 99 }, 1000);
    expect(other.g.cardIds).toEqual(run.g.cardIds);
    const seen = new Set(run.records.map((r) => `${r.card_id}|${r.merchant_id}|${r.amount}`));
    const merchants = new Set(run.records.map((r) => r.merchant_id));
    // Same population of merchants, different transactions (a repeated card, merchant and amount is rare).
    expect(other.records.filter((r) => merchants.has(r.merchant_id)).length).toBeGreaterThan(950);
    expect(
      other.records.filter((r) => seen.has(`${r.card_id}|${r.merchant_id}|${r.amount}`)).length,
    ).toBeLessThan(20);
  });

  it('records are valid CardTransactions in event-time order, keyed by card, truth keyed by transaction id', () => {
    const type = loadSchema('card_transaction');
    for (let i = 0; i < N; i++) {
      const r = run.records[i]!;
      if (i < 3000) expect(type.isValid(r, { noUndeclaredFields: true })).toBe(true);
      if (i > 0) expect(r.event_time).toBeGreaterThanOrEqual(run.records[i - 1]!.event_time);
      expect(run.truth[i]).toMatchObject({
        seq: i,
        id: r.transaction_id,
        entity: r.card_id,
        event_time: r.event_time,
      });
      expect(run.g.keyOf(r)).toBe(r.card_id);
      expect(r.amount).toBeGreaterThan(0);
      // Card-present channels carry a terminal location; card-not-present ones do not.
      expect(r.location === null).toBe(r.channel === 'ECOM' || r.channel === 'MOTO');
      if (r.channel === 'ATM') expect(r.merchant_category).toBe('6011');
    }
    expect(new Set(run.records.map((r) => r.transaction_id)).size).toBe(N);
  });

  it('injects every anomaly kind, labelled, at about the configured rate', () => {
    const share = run.truth.filter((t) => t.label === 1).length / N;
    expect(share).toBeGreaterThan(0.05 * 0.8);
    expect(share).toBeLessThan(0.05 * 1.2);
    const eps = episodes(run.truth);
    expect(eps.size).toBe(run.g.episodeCount);
    for (const kind of TRANSACTION_ANOMALY_KINDS) {
      const n = ofKind(kind).length;
      expect(n / eps.size, kind).toBeGreaterThan(0.2);
      expect(n / eps.size, kind).toBeLessThan(0.47);
    }
  });

  it('anomaly injection leaves normal records untouched: label-0 records equal the no-anomaly run', () => {
    for (let i = 0; i < N; i++) {
      if (run.truth[i]!.label === 1) continue;
      expect(run.records[i]).toEqual(baselineById.get(run.records[i]!.transaction_id));
    }
  });

  it('normal card-present spending stays in the home country, with a daily cycle in local time', () => {
    const present = baseline.records.filter((r) => r.location !== null);
    for (const r of present) expect(r.location!.country).toBe(baseline.homes.get(r.card_id)!.country);
    const byHour = new Array(24).fill(0);
    for (const r of baseline.records) {
      const home = baseline.homes.get(r.card_id)!;
      byHour[Math.floor((((r.event_time / 3_600_000 + home.utcOffsetHours) % 24) + 24) % 24)]++;
    }
    const night = byHour.slice(1, 5).reduce((s, x) => s + x, 0);
    const afternoon = byHour.slice(13, 17).reduce((s, x) => s + x, 0);
    expect(afternoon).toBeGreaterThan(night * 4);
  });

  it('unusual_amount: far above what that card normally spends', () => {
    const eps = ofKind('unusual_amount');
    expect(eps.length).toBeGreaterThan(10);
    let checked = 0;
    let aboveMax = 0;
    for (const [row] of eps) {
      const r = run.records[row!.seq]!;
      const history = (normalByCard.get(r.card_id) ?? []).filter(
        (h) => h.currency === r.currency && h.channel !== 'ATM',
      );
      if (history.length < 5) continue;
      checked++;
      const amounts = history.map((h) => h.amount);
      expect(r.amount / median(amounts)).toBeGreaterThan(5);
      if (r.amount > Math.max(...amounts)) aboveMax++;
      expect(row!.fields).toEqual(['amount']);
    }
    expect(checked).toBeGreaterThan(5);
    // Above anything the card spent in a week, nearly always.
    expect(aboveMax / checked).toBeGreaterThan(0.8);
  });

  it('merchant_location_mismatch: card present on another continent, and home again too soon to have travelled', () => {
    const eps = ofKind('merchant_location_mismatch');
    expect(eps.length).toBeGreaterThan(10);
    const end = run.records.at(-1)!.event_time;
    for (const rows of eps) {
      if (rows[0]!.event_time > end - 2 * 3_600_000) continue; // the return home may lie past the end of the run
      const recs = rows.map((r) => run.records[r.seq]!);
      const home = run.homes.get(recs[0]!.card_id)!;
      const away = recs[0]!.location!;
      expect(recs[0]!.channel).toBe('POS');
      expect(haversineKm(home.lat, home.lon, away.lat, away.lon)).toBeGreaterThan(2500);
      const back = recs.at(-1)!;
      expect(back.location!.country).toBe(home.country);
      const km = haversineKm(away.lat, away.lon, back.location!.lat, back.location!.lon);
      const hours = (back.event_time - recs[0]!.event_time) / 3_600_000;
      expect(km / hours).toBeGreaterThan(1000);
    }
  });

  it('burst: many card-not-present payments on one card within minutes, far faster than that card’s usual pace', () => {
    const eps = ofKind('burst').filter((rows) => rows.at(-1)!.seq < N - 2000);
    expect(eps.length).toBeGreaterThan(10);
    for (const rows of eps) {
      expect(rows.length).toBeGreaterThanOrEqual(8);
      expect(rows.length).toBeLessThanOrEqual(20);
      expect(new Set(rows.map((r) => r.entity)).size).toBe(1);
      const recs = rows.map((r) => run.records[r.seq]!);
      const span = recs.at(-1)!.event_time - recs[0]!.event_time;
      expect(span).toBeLessThan(15 * 60_000);
      for (const r of recs) expect(['ECOM', 'MOTO']).toContain(r.channel);
    }
    // Normally a card's consecutive transactions are hours apart.
    const gaps: number[] = [];
    for (const list of normalByCard.values()) {
      for (let k = 1; k < list.length; k++) gaps.push(list[k]!.event_time - list[k - 1]!.event_time);
    }
    expect(median(gaps)).toBeGreaterThan(30 * 60_000);
  });

  it('refuses impossible options', () => {
    expect(() => new TransactionGenerator({ seed: 1, cards: 0 })).toThrow(RangeError);
    expect(() => new TransactionGenerator({ seed: 1, burstSize: [1, 3] })).toThrow(RangeError);
    expect(() => new TransactionGenerator({ seed: 1, meanIntervalMs: 0 })).toThrow(RangeError);
    expect(() => new TransactionGenerator({ seed: 1, anomalyKinds: ['spike' as never] })).toThrow(RangeError);
  });
});
