/** Reference data the generators draw from. Approximate, chosen to look plausible, not to be authoritative. */

export interface Site {
  name: string;
  /** Offset of local time from UTC, hours (no daylight saving). */
  utcOffsetHours: number;
  /** Mean and daily half-range of ambient temperature, °C. */
  tempMean: number;
  tempAmplitude: number;
  /** Mean relative humidity, %. */
  humidityMean: number;
}

export const SITES: readonly Site[] = [
  { name: 'plant-rotterdam', utcOffsetHours: 1, tempMean: 11, tempAmplitude: 4, humidityMean: 80 },
  { name: 'plant-houston', utcOffsetHours: -6, tempMean: 22, tempAmplitude: 6, humidityMean: 72 },
  { name: 'plant-singapore', utcOffsetHours: 8, tempMean: 28, tempAmplitude: 3, humidityMean: 82 },
  { name: 'plant-stuttgart', utcOffsetHours: 1, tempMean: 10, tempAmplitude: 5, humidityMean: 70 },
  { name: 'plant-phoenix', utcOffsetHours: -7, tempMean: 25, tempAmplitude: 8, humidityMean: 28 },
  { name: 'plant-osaka', utcOffsetHours: 9, tempMean: 16, tempAmplitude: 4, humidityMean: 66 },
  { name: 'plant-sao-paulo', utcOffsetHours: -3, tempMean: 20, tempAmplitude: 5, humidityMean: 76 },
  { name: 'plant-oslo', utcOffsetHours: 1, tempMean: 6, tempAmplitude: 4, humidityMean: 74 },
];

export const FIRMWARE_VERSIONS = ['3.2.1', '3.2.4', '3.3.0', '4.0.2', '4.1.0'] as const;

export type Continent = 'EU' | 'NA' | 'SA' | 'AS' | 'OC' | 'AF';

export interface City {
  city: string;
  country: string;
  currency: string;
  lat: number;
  lon: number;
  utcOffsetHours: number;
  continent: Continent;
  /** Relative share of cardholders living there. */
  weight: number;
}

export const CITIES: readonly City[] = [
  {
    city: 'Amsterdam',
    country: 'NL',
    currency: 'EUR',
    lat: 52.37,
    lon: 4.9,
    utcOffsetHours: 1,
    continent: 'EU',
    weight: 3,
  },
  {
    city: 'Rotterdam',
    country: 'NL',
    currency: 'EUR',
    lat: 51.92,
    lon: 4.48,
    utcOffsetHours: 1,
    continent: 'EU',
    weight: 2,
  },
  {
    city: 'Berlin',
    country: 'DE',
    currency: 'EUR',
    lat: 52.52,
    lon: 13.4,
    utcOffsetHours: 1,
    continent: 'EU',
    weight: 4,
  },
  {
    city: 'Munich',
    country: 'DE',
    currency: 'EUR',
    lat: 48.14,
    lon: 11.58,
    utcOffsetHours: 1,
    continent: 'EU',
    weight: 3,
  },
  {
    city: 'Hamburg',
    country: 'DE',
    currency: 'EUR',
    lat: 53.55,
    lon: 9.99,
    utcOffsetHours: 1,
    continent: 'EU',
    weight: 2,
  },
  {
    city: 'Paris',
    country: 'FR',
    currency: 'EUR',
    lat: 48.86,
    lon: 2.35,
    utcOffsetHours: 1,
    continent: 'EU',
    weight: 5,
  },
  {
    city: 'Lyon',
    country: 'FR',
    currency: 'EUR',
    lat: 45.76,
    lon: 4.84,
    utcOffsetHours: 1,
    continent: 'EU',
    weight: 2,
  },
  {
    city: 'Madrid',
    country: 'ES',
    currency: 'EUR',
    lat: 40.42,
    lon: -3.7,
    utcOffsetHours: 1,
    continent: 'EU',
    weight: 3,
  },
  {
    city: 'Barcelona',
    country: 'ES',
    currency: 'EUR',
    lat: 41.39,
    lon: 2.17,
    utcOffsetHours: 1,
    continent: 'EU',
    weight: 2,
  },
  {
    city: 'Milan',
    country: 'IT',
    currency: 'EUR',
    lat: 45.46,
    lon: 9.19,
    utcOffsetHours: 1,
    continent: 'EU',
    weight: 3,
  },
  {
    city: 'London',
    country: 'GB',
    currency: 'GBP',
    lat: 51.51,
    lon: -0.13,
    utcOffsetHours: 0,
    continent: 'EU',
    weight: 5,
  },
  {
    city: 'Manchester',
    country: 'GB',
    currency: 'GBP',
    lat: 53.48,
    lon: -2.24,
    utcOffsetHours: 0,
    continent: 'EU',
    weight: 2,
  },
  {
    city: 'Stockholm',
    country: 'SE',
    currency: 'SEK',
    lat: 59.33,
    lon: 18.07,
    utcOffsetHours: 1,
    continent: 'EU',
    weight: 2,
  },
  {
    city: 'Warsaw',
    country: 'PL',
    currency: 'PLN',
    lat: 52.23,
    lon: 21.01,
    utcOffsetHours: 1,
    continent: 'EU',
    weight: 2,
  },
  {
    city: 'New York',
    country: 'US',
    currency: 'USD',
    lat: 40.71,
    lon: -74.01,
    utcOffsetHours: -5,
    continent: 'NA',
    weight: 5,
  },
  {
    city: 'Chicago',
    country: 'US',
    currency: 'USD',
    lat: 41.88,
    lon: -87.63,
    utcOffsetHours: -6,
    continent: 'NA',
    weight: 3,
  },
  {
    city: 'San Francisco',
    country: 'US',
    currency: 'USD',
    lat: 37.77,
    lon: -122.42,
    utcOffsetHours: -8,
    continent: 'NA',
    weight: 3,
  },
  {
    city: 'Houston',
    country: 'US',
    currency: 'USD',
    lat: 29.76,
    lon: -95.37,
    utcOffsetHours: -6,
    continent: 'NA',
    weight: 2,
  },
  {
    city: 'Toronto',
    country: 'CA',
    currency: 'CAD',
    lat: 43.65,
    lon: -79.38,
    utcOffsetHours: -5,
    continent: 'NA',
    weight: 2,
  },
  {
    city: 'Mexico City',
    country: 'MX',
    currency: 'MXN',
    lat: 19.43,
    lon: -99.13,
    utcOffsetHours: -6,
    continent: 'NA',
    weight: 2,
  },
  {
    city: 'Sao Paulo',
    country: 'BR',
    currency: 'BRL',
    lat: -23.55,
    lon: -46.63,
    utcOffsetHours: -3,
    continent: 'SA',
    weight: 2,
  },
  {
    city: 'Buenos Aires',
    country: 'AR',
    currency: 'ARS',
    lat: -34.6,
    lon: -58.38,
    utcOffsetHours: -3,
    continent: 'SA',
    weight: 1,
  },
  {
    city: 'Tokyo',
    country: 'JP',
    currency: 'JPY',
    lat: 35.68,
    lon: 139.69,
    utcOffsetHours: 9,
    continent: 'AS',
    weight: 3,
  },
  {
    city: 'Singapore',
    country: 'SG',
    currency: 'SGD',
    lat: 1.35,
    lon: 103.82,
    utcOffsetHours: 8,
    continent: 'AS',
    weight: 2,
  },
  {
    city: 'Mumbai',
    country: 'IN',
    currency: 'INR',
    lat: 19.08,
    lon: 72.88,
    utcOffsetHours: 5.5,
    continent: 'AS',
    weight: 2,
  },
  {
    city: 'Dubai',
    country: 'AE',
    currency: 'AED',
    lat: 25.2,
    lon: 55.27,
    utcOffsetHours: 4,
    continent: 'AS',
    weight: 1,
  },
  {
    city: 'Bangkok',
    country: 'TH',
    currency: 'THB',
    lat: 13.76,
    lon: 100.5,
    utcOffsetHours: 7,
    continent: 'AS',
    weight: 1,
  },
  {
    city: 'Sydney',
    country: 'AU',
    currency: 'AUD',
    lat: -33.87,
    lon: 151.21,
    utcOffsetHours: 10,
    continent: 'OC',
    weight: 2,
  },
  {
    city: 'Lagos',
    country: 'NG',
    currency: 'NGN',
    lat: 6.52,
    lon: 3.38,
    utcOffsetHours: 1,
    continent: 'AF',
    weight: 1,
  },
  {
    city: 'Johannesburg',
    country: 'ZA',
    currency: 'ZAR',
    lat: -26.2,
    lon: 28.05,
    utcOffsetHours: 2,
    continent: 'AF',
    weight: 1,
  },
];

/** Units of each currency per euro (rounded; only the order of magnitude matters for realism). */
export const PER_EUR: Readonly<Record<string, number>> = {
  EUR: 1,
  GBP: 0.85,
  SEK: 11.5,
  PLN: 4.3,
  USD: 1.08,
  CAD: 1.47,
  MXN: 18.5,
  BRL: 5.4,
  ARS: 950,
  JPY: 160,
  SGD: 1.45,
  INR: 90,
  AED: 3.97,
  THB: 39,
  AUD: 1.63,
  NGN: 1600,
  ZAR: 20,
};

/** Currencies without minor units in card amounts. */
export const ZERO_DECIMAL_CURRENCIES: ReadonlySet<string> = new Set(['JPY']);

export interface MerchantCategory {
  mcc: string;
  name: string;
  /** Share of card-present merchants in a city. */
  weight: number;
  /** Typical ticket relative to the cardholder's typical spend. */
  amountFactor: number;
}

/** Card-present merchant categories (ISO 18245). */
export const POS_CATEGORIES: readonly MerchantCategory[] = [
  { mcc: '5411', name: 'grocery stores', weight: 22, amountFactor: 1.4 },
  { mcc: '5812', name: 'restaurants', weight: 14, amountFactor: 1.1 },
  { mcc: '5814', name: 'fast food', weight: 12, amountFactor: 0.35 },
  { mcc: '5541', name: 'service stations', weight: 9, amountFactor: 1.2 },
  { mcc: '5912', name: 'drug stores', weight: 7, amountFactor: 0.6 },
  { mcc: '5311', name: 'department stores', weight: 6, amountFactor: 1.8 },
  { mcc: '5651', name: 'clothing', weight: 6, amountFactor: 1.7 },
  { mcc: '5999', name: 'miscellaneous retail', weight: 8, amountFactor: 0.9 },
  { mcc: '4111', name: 'commuter transport', weight: 8, amountFactor: 0.15 },
  { mcc: '5732', name: 'electronics', weight: 3, amountFactor: 4 },
  { mcc: '7011', name: 'hotels', weight: 2, amountFactor: 5 },
  { mcc: '5944', name: 'jewellery', weight: 1, amountFactor: 6 },
  { mcc: '7832', name: 'cinemas', weight: 2, amountFactor: 0.5 },
];

/** Card-not-present merchant categories. */
export const ECOM_CATEGORIES: readonly MerchantCategory[] = [
  { mcc: '5999', name: 'online marketplace', weight: 30, amountFactor: 1.2 },
  { mcc: '5815', name: 'digital media', weight: 15, amountFactor: 0.3 },
  { mcc: '4899', name: 'streaming and cable', weight: 10, amountFactor: 0.4 },
  { mcc: '5732', name: 'electronics', weight: 8, amountFactor: 3.5 },
  { mcc: '4511', name: 'airlines', weight: 5, amountFactor: 8 },
  { mcc: '5651', name: 'clothing', weight: 14, amountFactor: 1.6 },
  { mcc: '5964', name: 'direct marketing catalogue', weight: 6, amountFactor: 1 },
  { mcc: '7011', name: 'hotels', weight: 4, amountFactor: 5 },
];

export const ATM_MCC = '6011';

/** Great-circle distance in kilometres. */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}
