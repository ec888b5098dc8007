import type { CardChannel, CardTransaction } from '../schemas/types.js';
import {
  episodeStartProbability,
  type Labelled,
  type RecordGenerator,
  TRANSACTION_ANOMALY_KINDS,
  type TransactionAnomalyKind,
  type TruthRow,
} from './ground-truth.js';
import { AliasTable, Prng } from './prng.js';
import {
  ATM_MCC,
  CITIES,
  type City,
  ECOM_CATEGORIES,
  type MerchantCategory,
  PER_EUR,
  POS_CATEGORIES,
  ZERO_DECIMAL_CURRENCIES,
} from './tables.js';

export interface TransactionGeneratorOptions {
  seed: number;
  /** Number of cards. */
  cards: number;
  /** Event time of the first transaction, ms since the epoch. */
  startTime: number;
  /** Mean gap between consecutive transactions across all cards (a Poisson process), ms. */
  meanIntervalMs: number;
  /** Long-run share of records labelled anomalous, in [0, 1). */
  anomalyRate: number;
  /** Kinds injected; each episode picks one with equal probability. */
  anomalyKinds: readonly TransactionAnomalyKind[];
  /** Transactions in one burst episode, both ends included. */
  burstSize: readonly [number, number];
  /** Card-present merchants per city. */
  merchantsPerCity: number;
  /** Card-not-present (online, mail order) merchants. */
  onlineMerchants: number;
  /**
   * Seed of the transactions and anomalies only (default `seed`): the same cards and merchants (from `seed`),
   * with transactions the other stream never produced (a training window beside a live stream).
   */
  streamSeed?: number;
}

export const TRANSACTION_DEFAULTS: Omit<TransactionGeneratorOptions, 'seed'> = Object.freeze({
  // About two transactions per card per day (cards × meanIntervalMs ≈ 11 h between a card's transactions).
  cards: 10_000,
  startTime: Date.UTC(2024, 0, 1),
  meanIntervalMs: 4_000,
  anomalyRate: 0.01,
  anomalyKinds: TRANSACTION_ANOMALY_KINDS,
  burstSize: [8, 20] as const,
  merchantsPerCity: 40,
  onlineMerchants: 60,
});

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
/** Mean gap between transactions inside a burst, ms. */
const BURST_GAP_MS = 8_000;

interface Merchant {
  id: string;
  category: MerchantCategory;
  /** Index into CITIES; -1 for online merchants. */
  city: number;
  lat: number;
  lon: number;
}

interface Card {
  id: string;
  home: number;
  /** log of the cardholder's typical ticket in euros, and its spread. */
  mu: number;
  sigma: number;
  ecomShare: number;
  atmShare: number;
  motoShare: number;
  /** Card-present merchants the holder uses most, in the home city. */
  regulars: number[];
  onlineRegulars: number[];
}

interface Pending {
  record: CardTransaction;
  truth: Omit<TruthRow, 'seq'>;
  order: number;
}

/** Min-heap on (event_time, insertion order): merges inserted episode records into the normal stream. */
class PendingQueue {
  private readonly heap: Pending[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): Pending | undefined {
    return this.heap[0];
  }

  push(item: Pending): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): Pending | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Pending, b: Pending): boolean {
  return (
    a.record.event_time < b.record.event_time ||
    (a.record.event_time === b.record.event_time && a.order < b.order)
  );
}

function localHour(time: number, utcOffsetHours: number): number {
  const h = (time / HOUR_MS + utcOffsetHours) % 24;
  return h < 0 ? h + 24 : h;
}

/** Relative spending activity by local hour: quiet at night, peaking in the afternoon. */
export function activityByHour(hour: number): number {
  const bump = hour >= 6 && hour <= 23 ? Math.sin((Math.PI * (hour - 6)) / 17) : 0;
  return 0.1 + 0.9 * Math.max(0, bump);
}

function roundAmount(amount: number, currency: string): number {
  return ZERO_DECIMAL_CURRENCIES.has(currency)
    ? Math.max(1, Math.round(amount))
    : Math.max(0.01, Math.round(amount * 100) / 100);
}

function fx(currency: string): number {
  return PER_EUR[currency] ?? 1;
}

function categoryWeights(categories: readonly MerchantCategory[]): number[] {
  return categories.map((c) => c.weight);
}

/**
 * Card authorisations from a population of cardholders. Pure and seeded: the same options give the same records
 * in the same order. Normal records come from their own random stream; an episode either turns the normal record
 * in hand into an anomalous one or inserts extra records, so a record labelled 0 is exactly what the same seed
 * produces with anomalyRate 0.
 *
 * Transactions arrive as a Poisson process; each picks a card by its activity, thinned by the local hour at the
 * card's home. Cards shop mostly at a few regular merchants in their home city, sometimes online, now and then
 * at an ATM or elsewhere in their country.
 */
export class TransactionGenerator implements RecordGenerator<CardTransaction> {
  readonly kind = 'card_transaction' as const;
  readonly options: Readonly<TransactionGeneratorOptions>;
  private readonly cards: Card[];
  private readonly cardTable: AliasTable;
  private readonly merchants: Merchant[] = [];
  /** Card-present merchant indexes by city. */
  private readonly merchantsByCity: number[][];
  private readonly atmsByCity: number[][];
  private readonly onlineMerchantIndexes: number[] = [];
  /** Same-country other cities, by city. */
  private readonly domesticCities: number[][];
  private readonly normal: Prng;
  private readonly anomalies: Prng;
  private readonly startProbability: number;
  private readonly pending = new PendingQueue();
  private clock: number;
  private peeked: CardTransaction | null = null;
  /** Card of the peeked record. */
  private peekedCard = 0;
  private seq = 0;
  private pendingOrder = 0;
  private episodes = 0;

  constructor(options: Partial<TransactionGeneratorOptions> & { seed: number }) {
    const o: TransactionGeneratorOptions = { ...TRANSACTION_DEFAULTS, ...options };
    validate(o);
    this.options = Object.freeze({
      ...o,
      anomalyKinds: [...o.anomalyKinds],
      burstSize: [...o.burstSize] as const,
    });
    const rng = new Prng(o.seed, 'transaction/profiles');
    this.normal = new Prng(o.streamSeed ?? o.seed, 'transaction/normal');
    this.anomalies = new Prng(o.streamSeed ?? o.seed, 'transaction/anomalies');
    this.clock = o.startTime;

    const posWeights = categoryWeights(POS_CATEGORIES);
    this.merchantsByCity = CITIES.map(() => []);
    this.atmsByCity = CITIES.map(() => []);
    CITIES.forEach((city, ci) => {
      for (let m = 0; m < o.merchantsPerCity; m++) {
        this.merchantsByCity[ci]!.push(
          this.addMerchant(rng, POS_CATEGORIES[rng.weighted(posWeights)]!, ci, city),
        );
      }
      for (let m = 0; m < 3; m++) {
        const atm = { mcc: ATM_MCC, name: 'ATM', weight: 0, amountFactor: 1 };
        this.atmsByCity[ci]!.push(this.addMerchant(rng, atm, ci, city));
      }
    });
    const ecomWeights = categoryWeights(ECOM_CATEGORIES);
    for (let m = 0; m < o.onlineMerchants; m++) {
      this.onlineMerchantIndexes.push(
        this.addMerchant(rng, ECOM_CATEGORIES[rng.weighted(ecomWeights)]!, -1, null),
      );
    }
    this.domesticCities = CITIES.map((c, i) =>
      CITIES.flatMap((other, j) => (j !== i && other.country === c.country ? [j] : [])),
    );

    const homeTable = new AliasTable(CITIES.map((c) => c.weight));
    this.cards = [];
    const activity: number[] = [];
    for (let i = 0; i < o.cards; i++) {
      const home = homeTable.sample(rng);
      const local = this.merchantsByCity[home]!;
      this.cards.push({
        id: `card-${rng.hex(12)}`,
        home,
        mu: Math.log(rng.logNormal(Math.log(40), 0.5)),
        sigma: rng.range(0.5, 0.9),
        ecomShare: rng.range(0.1, 0.45),
        atmShare: rng.range(0.01, 0.06),
        motoShare: rng.range(0, 0.02),
        regulars: rng.sample(local, rng.int(5, 12)),
        onlineRegulars: rng.sample(this.onlineMerchantIndexes, rng.int(3, 6)),
      });
      activity.push(rng.logNormal(0, 0.8));
    }
    this.cardTable = new AliasTable(activity);

    const [bMin, bMax] = o.burstSize;
    const lengths: Record<TransactionAnomalyKind, number> = {
      unusual_amount: 1,
      // The far-away transaction, a second one half the time, and the return home.
      merchant_location_mismatch: 2.5,
      burst: (bMin + bMax) / 2,
    };
    const kinds = o.anomalyKinds;
    const meanLength = kinds.length === 0 ? 1 : kinds.reduce((s, k) => s + lengths[k], 0) / kinds.length;
    this.startProbability = kinds.length === 0 ? 0 : episodeStartProbability(o.anomalyRate, meanLength);
  }

  get cardIds(): string[] {
    return this.cards.map((c) => c.id);
  }

  get episodeCount(): number {
    return this.episodes;
  }

  /** The home city of a card (for tests and for reading the ground truth). */
  homeOf(cardId: string): City | undefined {
    const card = this.cards.find((c) => c.id === cardId);
    return card === undefined ? undefined : CITIES[card.home];
  }

  keyOf(record: CardTransaction): string {
    return record.card_id;
  }

  next(): Labelled<CardTransaction> {
    if (this.peeked === null) this.peeked = this.drawNormal();
    const head = this.pending.peek();
    if (head !== undefined && head.record.event_time <= this.peeked.event_time) {
      this.pending.pop();
      return { record: head.record, truth: { seq: this.seq++, ...head.truth } };
    }
    const record = this.peeked;
    this.peeked = null;
    const normalTruth = (): TruthRow => ({
      seq: this.seq++,
      kind: 'card_transaction',
      entity: record.card_id,
      id: record.transaction_id,
      event_time: record.event_time,
      label: 0,
      anomaly: null,
      episode: null,
      fields: [],
    });
    if (this.startProbability === 0 || !this.anomalies.chance(this.startProbability)) {
      return { record, truth: normalTruth() };
    }
    const first = this.startEpisode(record);
    return { record: first.record, truth: { seq: this.seq++, ...first.truth } };
  }

  private addMerchant(rng: Prng, category: MerchantCategory, cityIndex: number, city: City | null): number {
    this.merchants.push({
      id: `mer-${rng.hex(10)}`,
      category,
      city: cityIndex,
      // Terminals scattered within about 5 km of the city centre.
      lat: city === null ? 0 : Math.round((city.lat + rng.normal(0, 0.03)) * 1e5) / 1e5,
      lon: city === null ? 0 : Math.round((city.lon + rng.normal(0, 0.04)) * 1e5) / 1e5,
    });
    return this.merchants.length - 1;
  }

  private pickCard(rng: Prng, time: number): number {
    // Thinning by the local hour at home; bounded, since activityByHour ≥ 0.1 everywhere.
    for (let attempt = 0; attempt < 64; attempt++) {
      const c = this.cardTable.sample(rng);
      const home = CITIES[this.cards[c]!.home]!;
      if (rng.next() < activityByHour(localHour(time, home.utcOffsetHours))) return c;
    }
    return this.cardTable.sample(rng);
  }

  private transaction(
    rng: Prng,
    card: Card,
    merchantIndex: number,
    channel: CardChannel,
    time: number,
    amountEur: number,
  ): CardTransaction {
    const m = this.merchants[merchantIndex]!;
    const present = channel === 'POS' || channel === 'ATM';
    const city = present && m.city >= 0 ? CITIES[m.city]! : CITIES[card.home]!;
    const currency = city.currency;
    return {
      transaction_id: rng.uuid(),
      card_id: card.id,
      merchant_id: m.id,
      amount: roundAmount(amountEur * fx(currency), currency),
      currency,
      merchant_category: m.category.mcc,
      location: present ? { country: city.country, city: city.city, lat: m.lat, lon: m.lon } : null,
      channel,
      event_time: Math.floor(time),
    };
  }

  private drawNormal(): CardTransaction {
    const rng = this.normal;
    this.clock += rng.exponential(this.options.meanIntervalMs);
    this.peekedCard = this.pickCard(rng, this.clock);
    const card = this.cards[this.peekedCard]!;
    const u = rng.next();
    let channel: CardChannel;
    if (u < card.atmShare) channel = 'ATM';
    else if (u < card.atmShare + card.motoShare) channel = 'MOTO';
    else if (u < card.atmShare + card.motoShare + card.ecomShare) channel = 'ECOM';
    else channel = 'POS';

    let merchant: number;
    let amountEur: number;
    if (channel === 'ATM') {
      merchant = rng.pick(this.atmsByCity[card.home]!);
      amountEur = rng.pick([20, 50, 50, 100, 100, 200, 300]);
    } else if (channel === 'POS') {
      const v = rng.next();
      const domestic = this.domesticCities[card.home]!;
      if (v < 0.85) merchant = rng.pick(card.regulars);
      else if (v < 0.98 || domestic.length === 0) merchant = rng.pick(this.merchantsByCity[card.home]!);
      else merchant = rng.pick(this.merchantsByCity[rng.pick(domestic)]!);
      amountEur = rng.logNormal(card.mu, card.sigma) * this.merchants[merchant]!.category.amountFactor;
    } else {
      merchant = rng.chance(0.7) ? rng.pick(card.onlineRegulars) : rng.pick(this.onlineMerchantIndexes);
      amountEur = rng.logNormal(card.mu, card.sigma) * this.merchants[merchant]!.category.amountFactor;
    }
    return this.transaction(rng, card, merchant, channel, this.clock, amountEur);
  }

  /** Turns `record` into the first record of a new episode; later records of the episode go to the queue. */
  private startEpisode(record: CardTransaction): { record: CardTransaction; truth: Omit<TruthRow, 'seq'> } {
    const rng = this.anomalies;
    const kind = rng.pick(this.options.anomalyKinds);
    const episode = `ep-${String(++this.episodes).padStart(6, '0')}`;
    const card = this.cards[this.peekedCard]!;
    const truthOf = (r: CardTransaction, fields: string[]): Omit<TruthRow, 'seq'> => ({
      kind: 'card_transaction',
      entity: r.card_id,
      id: r.transaction_id,
      event_time: r.event_time,
      label: 1,
      anomaly: kind,
      episode,
      fields,
    });
    const enqueue = (r: CardTransaction, fields: string[]) =>
      this.pending.push({ record: r, truth: truthOf(r, fields), order: this.pendingOrder++ });
    const t = record.event_time;

    switch (kind) {
      case 'unusual_amount': {
        // Far above this cardholder's own typical ticket (which may still be ordinary for a bigger spender).
        const amountEur = Math.exp(card.mu) * rng.range(20, 60);
        const changed = { ...record, amount: roundAmount(amountEur * fx(record.currency), record.currency) };
        return { record: changed, truth: truthOf(changed, ['amount']) };
      }
      case 'merchant_location_mismatch': {
        // Card present on another continent, then back home within the hour or two: impossible travel.
        const home = CITIES[card.home]!;
        const far = CITIES.map((c, i) => ({ c, i })).filter(({ c }) => c.continent !== home.continent);
        const away = rng.pick(far).i;
        const awayMerchants = this.merchantsByCity[away]!;
        const amount = () => rng.logNormal(card.mu, card.sigma);
        const fields = ['location', 'merchant_id', 'currency'];
        const first = {
          ...this.transaction(rng, card, rng.pick(awayMerchants), 'POS', t, amount()),
          transaction_id: record.transaction_id,
        };
        if (rng.chance(0.5)) {
          enqueue(
            this.transaction(
              rng,
              card,
              rng.pick(awayMerchants),
              'POS',
              t + rng.range(2, 30) * MINUTE_MS,
              amount(),
            ),
            fields,
          );
        }
        enqueue(
          this.transaction(
            rng,
            card,
            rng.pick(card.regulars),
            'POS',
            t + rng.range(30, 90) * MINUTE_MS,
            amount(),
          ),
          fields,
        );
        return { record: first, truth: truthOf(first, fields) };
      }
      case 'burst': {
        // Many small card-not-present payments in a few minutes at merchants the card never uses: card testing.
        const [bMin, bMax] = this.options.burstSize;
        const size = rng.int(bMin, bMax);
        const small = () => rng.range(0.5, 15);
        const fields = ['event_time', 'merchant_id'];
        const channel = (): CardChannel => (rng.chance(0.8) ? 'ECOM' : 'MOTO');
        const first = {
          ...this.transaction(rng, card, rng.pick(this.onlineMerchantIndexes), channel(), t, small()),
          transaction_id: record.transaction_id,
        };
        let time = t;
        for (let k = 1; k < size; k++) {
          time += rng.exponential(BURST_GAP_MS);
          enqueue(
            this.transaction(rng, card, rng.pick(this.onlineMerchantIndexes), channel(), time, small()),
            fields,
          );
        }
        return { record: first, truth: truthOf(first, fields) };
      }
    }
  }
}

function validate(o: TransactionGeneratorOptions): void {
  const fail = (key: string, value: unknown, allowed: string) => {
    throw new RangeError(
      `transaction generator option ${key} = ${JSON.stringify(value)}: expected ${allowed}`,
    );
  };
  if (!Number.isSafeInteger(o.seed)) fail('seed', o.seed, 'a safe integer');
  if (!Number.isInteger(o.cards) || o.cards < 1) fail('cards', o.cards, 'an integer ≥ 1');
  if (!Number.isFinite(o.startTime)) fail('startTime', o.startTime, 'ms since the epoch');
  if (!(o.meanIntervalMs > 0)) fail('meanIntervalMs', o.meanIntervalMs, 'a number > 0');
  if (!(o.anomalyRate >= 0 && o.anomalyRate < 1)) fail('anomalyRate', o.anomalyRate, 'in [0, 1)');
  for (const k of o.anomalyKinds) {
    if (!(TRANSACTION_ANOMALY_KINDS as readonly string[]).includes(k)) {
      fail('anomalyKinds', k, TRANSACTION_ANOMALY_KINDS.join(' | '));
    }
  }
  const [a, b] = o.burstSize;
  if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 2 && b >= a)) {
    fail('burstSize', o.burstSize, '[min, max] integers with 2 ≤ min ≤ max');
  }
  if (!Number.isInteger(o.merchantsPerCity) || o.merchantsPerCity < 12) {
    fail('merchantsPerCity', o.merchantsPerCity, 'an integer ≥ 12');
  }
  if (!Number.isInteger(o.onlineMerchants) || o.onlineMerchants < 6) {
    fail('onlineMerchants', o.onlineMerchants, 'an integer ≥ 6');
  }
}
