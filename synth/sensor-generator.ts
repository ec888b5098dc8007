import {
  type DeviceStatus,
  OPTIONAL_SENSOR_CHANNELS,
  SENSOR_CHANNELS,
  type SensorChannel,
  type SensorReading,
} from '../schemas/types.js';
import {
  episodeStartProbability,
  type Labelled,
  type RecordGenerator,
  SENSOR_ANOMALY_KINDS,
  type SensorAnomalyKind,
  type TruthRow,
} from './ground-truth.js';
import { Prng } from './prng.js';
import { FIRMWARE_VERSIONS, SITES } from './tables.js';

export interface SensorGeneratorOptions {
  seed: number;
  /** Number of units reporting. */
  devices: number;
  /** Number of sites (plants) the units are spread over, at most SITES.length. */
  sites: number;
  /** Event time of the first round of readings, ms since the epoch. */
  startTime: number;
  /** Each unit reports once per interval (simulated time), ms. */
  intervalMs: number;
  /** Readings arrive up to this much after their slot (never reordering one unit's readings), ms. */
  jitterMs: number;
  /** Long-run share of records labelled anomalous, in [0, 1). */
  anomalyRate: number;
  /** Kinds injected; each episode picks one with equal probability. */
  anomalyKinds: readonly SensorAnomalyKind[];
  /** Length of multi-record episodes (every kind but spike), records of that unit, both ends included. */
  episodeLength: readonly [number, number];
  /** Chance that an optional channel a unit has is missing (null) from one reading. */
  dropoutRate: number;
  /**
   * Seed of the noise and anomaly streams, when it should differ from `seed` (which also fixes the fleet): the
   * same units, with readings the other stream never produced (a training window beside a live stream).
   */
  streamSeed?: number;
}

export const SENSOR_DEFAULTS: Omit<SensorGeneratorOptions, 'seed'> = Object.freeze({
  devices: 50,
  sites: 4,
  startTime: Date.UTC(2024, 0, 1),
  intervalMs: 10_000,
  jitterMs: 500,
  anomalyRate: 0.01,
  anomalyKinds: SENSOR_ANOMALY_KINDS,
  episodeLength: [20, 60] as const,
  dropoutRate: 0.002,
});

const N_CH = SENSOR_CHANNELS.length;
const CH = Object.fromEntries(SENSOR_CHANNELS.map((name, i) => [name, i])) as Record<SensorChannel, number>;
const OPTIONAL_INDEXES = OPTIONAL_SENSOR_CHANNELS.map((name) => CH[name]);
const IS_OPTIONAL = SENSOR_CHANNELS.map((name) =>
  (OPTIONAL_SENSOR_CHANNELS as readonly string[]).includes(name),
);
/** Channels every unit has: anomalies target these so an injected fault is never hidden by a missing sensor. */
const TARGET_CHANNELS = SENSOR_CHANNELS.map((_, i) => i).filter((i) => !IS_OPTIONAL[i]);
/** Channels a broken_correlation episode decouples from the unit's load (one group per episode). */
const DECOUPLE_GROUPS: readonly (readonly number[])[] = [
  [CH.current_phase_a_a],
  [CH.flow_rate_m3h],
  [CH.temp_coolant_out_c],
  [CH.power_kw, CH.torque_nm],
  [CH.shaft_speed_rpm],
];

/** Smallest anomaly scale per channel, in channel units, for channels that barely move with load. */
const SCALE_FLOOR: Record<SensorChannel, number> = {
  temp_bearing_front_c: 1,
  temp_bearing_rear_c: 1,
  temp_motor_winding_c: 1.5,
  temp_coolant_in_c: 0.6,
  temp_coolant_out_c: 0.6,
  temp_ambient_c: 0.6,
  pressure_inlet_kpa: 3,
  pressure_outlet_kpa: 6,
  pressure_differential_kpa: 6,
  pressure_seal_kpa: 4,
  vibration_x_mm_s: 0.2,
  vibration_y_mm_s: 0.2,
  vibration_z_mm_s: 0.15,
  vibration_rms_mm_s: 0.15,
  acoustic_db: 1.5,
  current_phase_a_a: 2,
  current_phase_b_a: 2,
  current_phase_c_a: 2,
  voltage_v: 2.5,
  power_kw: 2,
  power_factor: 0.015,
  flow_rate_m3h: 4,
  shaft_speed_rpm: 15,
  torque_nm: 10,
  valve_position_pct: 3,
  humidity_pct: 3,
  oil_level_pct: 1,
  oil_particle_count: 150,
  load_pct: 3,
  efficiency_pct: 0.8,
};

const HOUR_MS = 3_600_000;
const TAU_LOAD_MS = 15 * 60_000;
const TAU_AMBIENT_MS = 2 * HOUR_MS;
const TAU_WEAR_MS = 6 * HOUR_MS;
const TAU_HUMIDITY_MS = HOUR_MS;
const TAU_WINDING_MS = 20 * 60_000;
const SD_LOAD = 0.06;
const SD_AMBIENT = 1;
const SD_WEAR = 0.05;
const SD_HUMIDITY = 3;

interface DeviceProfile {
  id: string;
  site: number;
  firmware: string | null;
  /** Offset into the interval at which this unit reports, ms. */
  phaseMs: number;
  loadMean: number;
  loadAmplitude: number;
  loadPeakHour: number;
  ratedCurrent: number;
  phaseImbalance: [number, number, number];
  voltageNominal: number;
  rpmNominal: number;
  flowNominal: number;
  inletBase: number;
  headMax: number;
  wearBase: number;
  vibrationBase: number;
  axisGain: [number, number, number];
  windingRise: number;
  oilLevel: number;
  particleBase: number;
  efficiencyPeak: number;
  /** Which optional sensors the unit carries, by channel index. */
  has: boolean[];
  /** Typical spread per channel: anomaly magnitudes are multiples of it. */
  scale: Float64Array;
}

interface DeviceState {
  loadDev: number;
  ambientDev: number;
  wearDev: number;
  humidityDev: number;
  winding: number;
  lastTime: number;
  episode: Episode | null;
  /** Last emitted value per channel (what a stuck sensor keeps repeating). */
  last: Float64Array;
}

interface Episode {
  kind: SensorAnomalyKind;
  id: string;
  length: number;
  index: number;
  channels: number[];
  /** Per channel: shift (level_shift, spike), final shift (slow_drift) or held value (stuck_sensor). */
  values: number[];
}

/** Drivers of one reading: the latent factors the channels are mixed from. */
interface Drivers {
  load: number;
  ambient: number;
  wear: number;
  humidityDev: number;
  winding: number;
}

function ouStep(x: number, phi: number, sd: number, rng: Prng): number {
  return x * phi + sd * Math.sqrt(1 - phi * phi) * rng.normal();
}

function optionalValue(
  p: DeviceProfile,
  dropped: Uint8Array,
  v: Float64Array,
  c: number,
  k: number,
): number | null {
  return p.has[c] && dropped[k] === 0 ? v[c]! : null;
}

function localHour(time: number, utcOffsetHours: number): number {
  const h = (time / HOUR_MS + utcOffsetHours) % 24;
  return h < 0 ? h + 24 : h;
}

/** Sensor noise; none when sizing anomaly scales (rng null). A plain function: no closure per reading. */
function noise(rng: Prng | null, sd: number): number {
  return rng === null ? 0 : rng.normal(0, sd);
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/**
 * The physics, loosely: a few latent drivers (load with a daily cycle, ambient temperature with a daily cycle,
 * slow bearing wear, humidity) mixed into 30 channels with per-unit gains, plus sensor noise. `rng` null gives
 * the noise-free values (used to size anomaly scales).
 */
function computeChannels(p: DeviceProfile, d: Drivers, rng: Prng | null, out: Float64Array): void {
  const L = d.load;
  const site = SITES[p.site]!;
  const amb = d.ambient;

  const ia = p.ratedCurrent * L * (1 + p.phaseImbalance[0]) + noise(rng, 0.004 * p.ratedCurrent);
  const ib = p.ratedCurrent * L * (1 + p.phaseImbalance[1]) + noise(rng, 0.004 * p.ratedCurrent);
  const ic = p.ratedCurrent * L * (1 + p.phaseImbalance[2]) + noise(rng, 0.004 * p.ratedCurrent);
  const voltage = p.voltageNominal - 6 * L + noise(rng, 0.8);
  const pf = Math.min(0.99, 0.72 + 0.16 * L - 0.05 * L * L + noise(rng, 0.004));
  const power = (Math.sqrt(3) * voltage * ((ia + ib + ic) / 3) * pf) / 1000;
  const rpm = p.rpmNominal * (0.55 + 0.45 * L) + noise(rng, 3);
  const pIn = p.inletBase - 25 * L + noise(rng, 1);
  const pOut = pIn + p.headMax * (0.3 + 0.7 * L * L) + noise(rng, 2);
  const vib = p.vibrationBase * (0.5 + 0.5 * L) * (1 + d.wear);
  const vx = vib * p.axisGain[0] + noise(rng, 0.05);
  const vy = vib * p.axisGain[1] + noise(rng, 0.05);
  const vz = vib * p.axisGain[2] + noise(rng, 0.04);
  const coolIn = 0.6 * amb + 12 + noise(rng, 0.2);

  out[CH.temp_bearing_front_c] = amb + 10 + 18 * L + 20 * d.wear + noise(rng, 0.4);
  out[CH.temp_bearing_rear_c] = amb + 8 + 14 * L + 15 * d.wear + noise(rng, 0.4);
  out[CH.temp_motor_winding_c] = d.winding + noise(rng, 0.5);
  out[CH.temp_coolant_in_c] = coolIn;
  out[CH.temp_coolant_out_c] = coolIn + 2 + 9 * L + noise(rng, 0.25);
  out[CH.temp_ambient_c] = amb + noise(rng, 0.15);
  out[CH.pressure_inlet_kpa] = pIn;
  out[CH.pressure_outlet_kpa] = pOut;
  out[CH.pressure_differential_kpa] = pOut - pIn + noise(rng, 0.8);
  out[CH.pressure_seal_kpa] = 0.55 * pOut + 20 + noise(rng, 1.5);
  out[CH.vibration_x_mm_s] = vx;
  out[CH.vibration_y_mm_s] = vy;
  out[CH.vibration_z_mm_s] = vz;
  out[CH.vibration_rms_mm_s] = Math.sqrt((vx * vx + vy * vy + vz * vz) / 3) + noise(rng, 0.02);
  out[CH.acoustic_db] = 62 + 8 * L + 6 * Math.log10(1 + vib) + noise(rng, 0.5);
  out[CH.current_phase_a_a] = ia;
  out[CH.current_phase_b_a] = ib;
  out[CH.current_phase_c_a] = ic;
  out[CH.voltage_v] = voltage;
  out[CH.power_kw] = power * (1 + noise(rng, 0.003));
  out[CH.power_factor] = pf;
  out[CH.flow_rate_m3h] = p.flowNominal * (0.35 + 0.65 * L) + noise(rng, 0.006 * p.flowNominal);
  out[CH.shaft_speed_rpm] = rpm;
  out[CH.torque_nm] = ((power * 1000) / ((rpm * 2 * Math.PI) / 60)) * (1 + noise(rng, 0.005));
  out[CH.valve_position_pct] = Math.min(100, Math.max(0, 25 + 65 * L + noise(rng, 1.2)));
  out[CH.humidity_pct] = Math.min(
    100,
    Math.max(5, site.humidityMean - 2 * (amb - site.tempMean) + d.humidityDev + noise(rng, 0.5)),
  );
  out[CH.oil_level_pct] = p.oilLevel + 0.05 * (d.winding - 60) + noise(rng, 0.3);
  out[CH.oil_particle_count] = p.particleBase * (1 + 2 * d.wear) * Math.exp(noise(rng, 0.08));
  out[CH.load_pct] = 100 * L + noise(rng, 0.3);
  out[CH.efficiency_pct] = 100 * (p.efficiencyPeak - 0.25 * (L - 0.75) ** 2) + noise(rng, 0.3);
}

function windingTarget(p: DeviceProfile, load: number, ambient: number): number {
  return ambient + 5 + p.windingRise * Math.max(0, load) ** 1.5;
}

function makeProfile(i: number, sites: number, intervalMs: number, rng: Prng): DeviceProfile {
  const site = i % sites;
  const p: DeviceProfile = {
    id: `pump-${String(i + 1).padStart(5, '0')}`,
    site,
    firmware: rng.chance(0.1) ? null : rng.pick(FIRMWARE_VERSIONS),
    phaseMs: Math.floor(rng.range(0, intervalMs)),
    loadMean: rng.range(0.45, 0.75),
    loadAmplitude: rng.range(0.1, 0.22),
    loadPeakHour: 13 + rng.range(-1.5, 1.5),
    ratedCurrent: rng.range(40, 160),
    phaseImbalance: [rng.normal(0, 0.015), rng.normal(0, 0.015), rng.normal(0, 0.015)],
    voltageNominal: 400 + rng.normal(0, 4),
    rpmNominal: rng.chance(0.5) ? 1480 : 2960,
    flowNominal: rng.range(80, 400),
    inletBase: rng.range(120, 200),
    headMax: rng.range(250, 600),
    wearBase: rng.range(0.1, 0.6),
    vibrationBase: rng.range(1, 3),
    axisGain: [1, rng.range(0.7, 0.9), rng.range(0.4, 0.6)],
    windingRise: rng.range(35, 55),
    oilLevel: rng.range(75, 95),
    particleBase: rng.range(200, 2000),
    efficiencyPeak: rng.range(0.78, 0.88),
    has: SENSOR_CHANNELS.map((_, c) => !IS_OPTIONAL[c] || rng.chance(0.75)),
    scale: new Float64Array(N_CH),
  };
  // Anomaly scale: half the noise-free range of each channel across the unit's daily load and temperature swing
  // (about the channel's marginal standard deviation), never below a per-channel floor.
  const lo = new Float64Array(N_CH).fill(Number.POSITIVE_INFINITY);
  const hi = new Float64Array(N_CH).fill(Number.NEGATIVE_INFINITY);
  const out = new Float64Array(N_CH);
  const s = SITES[site]!;
  for (const load of [p.loadMean - p.loadAmplitude - 0.1, p.loadMean + p.loadAmplitude + 0.1]) {
    for (const ambient of [s.tempMean - s.tempAmplitude, s.tempMean + s.tempAmplitude]) {
      computeChannels(
        p,
        { load, ambient, wear: p.wearBase, humidityDev: 0, winding: windingTarget(p, load, ambient) },
        null,
        out,
      );
      for (let c = 0; c < N_CH; c++) {
        lo[c] = Math.min(lo[c]!, out[c]!);
        hi[c] = Math.max(hi[c]!, out[c]!);
      }
    }
  }
  for (let c = 0; c < N_CH; c++) {
    p.scale[c] = Math.max((hi[c]! - lo[c]!) / 2, SCALE_FLOOR[SENSOR_CHANNELS[c]!]);
  }
  return p;
}

/**
 * Readings from a fleet of pumps. Pure and seeded: the same options give the same records in the same order.
 * Three independent random streams (profiles, normal values, anomalies) keep the normal data identical whatever
 * the anomaly settings: a record labelled 0 is exactly what the same seed produces with anomalyRate 0.
 *
 * Order: rounds of one reading per unit, each unit at its own fixed offset into the interval plus jitter, so
 * event time rises across the stream (up to the jitter) and strictly within each unit.
 */
export class SensorGenerator implements RecordGenerator<SensorReading> {
  readonly kind = 'sensor_reading' as const;
  readonly options: Readonly<SensorGeneratorOptions>;
  private readonly profiles: DeviceProfile[];
  private readonly states: DeviceState[];
  /** Units in the order they report within a round (by phase). */
  private readonly order: number[];
  private readonly noise: Prng;
  private readonly anomalies: Prng;
  private readonly startProbability: number;
  private readonly values = new Float64Array(N_CH);
  private readonly alternate = new Float64Array(N_CH);
  private readonly dropped = new Uint8Array(OPTIONAL_INDEXES.length);
  private readonly phi: { load: number; ambient: number; wear: number; humidity: number };
  private readonly windingAlpha: number;
  private round = 0;
  private slot = 0;
  private seq = 0;
  private episodes = 0;

  constructor(options: Partial<SensorGeneratorOptions> & { seed: number }) {
    const o: SensorGeneratorOptions = { ...SENSOR_DEFAULTS, ...options };
    validate(o);
    this.options = Object.freeze({
      ...o,
      anomalyKinds: [...o.anomalyKinds],
      episodeLength: [...o.episodeLength] as const,
    });
    const profileRng = new Prng(o.seed, 'sensor/profiles');
    this.noise = new Prng(o.streamSeed ?? o.seed, 'sensor/noise');
    this.anomalies = new Prng(o.streamSeed ?? o.seed, 'sensor/anomalies');
    const sites = Math.min(o.sites, SITES.length);
    this.profiles = [];
    this.states = [];
    const dt = o.intervalMs;
    this.phi = {
      load: Math.exp(-dt / TAU_LOAD_MS),
      ambient: Math.exp(-dt / TAU_AMBIENT_MS),
      wear: Math.exp(-dt / TAU_WEAR_MS),
      humidity: Math.exp(-dt / TAU_HUMIDITY_MS),
    };
    this.windingAlpha = 1 - Math.exp(-dt / TAU_WINDING_MS);
    for (let i = 0; i < o.devices; i++) {
      const p = makeProfile(i, sites, o.intervalMs, profileRng);
      this.profiles.push(p);
      // Start every latent process in its stationary distribution, so the first hours look like the rest.
      const state: DeviceState = {
        loadDev: profileRng.normal(0, SD_LOAD),
        ambientDev: profileRng.normal(0, SD_AMBIENT),
        wearDev: profileRng.normal(0, SD_WEAR),
        humidityDev: profileRng.normal(0, SD_HUMIDITY),
        winding: Number.NaN,
        lastTime: Number.NEGATIVE_INFINITY,
        episode: null,
        last: new Float64Array(N_CH),
      };
      this.states.push(state);
    }
    this.order = this.profiles
      .map((_, i) => i)
      .sort((a, b) => this.profiles[a]!.phaseMs - this.profiles[b]!.phaseMs);
    const [minLen, maxLen] = o.episodeLength;
    const multiMean = (minLen + maxLen) / 2;
    const kinds = o.anomalyKinds;
    const meanLength =
      kinds.length === 0
        ? 1
        : kinds.reduce((sum, k) => sum + (k === 'spike' ? 1 : multiMean), 0) / kinds.length;
    this.startProbability = kinds.length === 0 ? 0 : episodeStartProbability(o.anomalyRate, meanLength);
  }

  /** Units' ids, in creation order. */
  get deviceIds(): string[] {
    return this.profiles.map((p) => p.id);
  }

  /** Episodes started so far. */
  get episodeCount(): number {
    return this.episodes;
  }

  keyOf(record: SensorReading): string {
    return record.device_id;
  }

  next(): Labelled<SensorReading> {
    const o = this.options;
    const deviceIndex = this.order[this.slot]!;
    const p = this.profiles[deviceIndex]!;
    const st = this.states[deviceIndex]!;
    const site = SITES[p.site]!;
    const rng = this.noise;

    const jitter = o.jitterMs > 0 ? rng.range(0, o.jitterMs) : 0;
    const time = Math.floor(o.startTime + this.round * o.intervalMs + p.phaseMs + jitter);
    this.slot++;
    if (this.slot === this.order.length) {
      this.slot = 0;
      this.round++;
    }

    // Latent drivers: OU deviations around daily cycles (in the site's local time).
    st.loadDev = ouStep(st.loadDev, this.phi.load, SD_LOAD, rng);
    st.ambientDev = ouStep(st.ambientDev, this.phi.ambient, SD_AMBIENT, rng);
    st.wearDev = ouStep(st.wearDev, this.phi.wear, SD_WEAR, rng);
    st.humidityDev = ouStep(st.humidityDev, this.phi.humidity, SD_HUMIDITY, rng);
    const hour = localHour(time, site.utcOffsetHours);
    const load = Math.min(
      1.05,
      Math.max(
        0.05,
        p.loadMean + p.loadAmplitude * Math.cos((2 * Math.PI * (hour - p.loadPeakHour)) / 24) + st.loadDev,
      ),
    );
    const ambient =
      site.tempMean + site.tempAmplitude * Math.cos((2 * Math.PI * (hour - 15)) / 24) + st.ambientDev;
    const wear = Math.max(0, p.wearBase + st.wearDev);
    const target = windingTarget(p, load, ambient);
    // The winding heats and cools with a lag behind load, as a thermal mass does.
    st.winding = Number.isNaN(st.winding) ? target : st.winding + (target - st.winding) * this.windingAlpha;
    const drivers: Drivers = { load, ambient, wear, humidityDev: st.humidityDev, winding: st.winding };
    const v = this.values;
    computeChannels(p, drivers, rng, v);
    const warn = load > 0.95 || rng.chance(0.002);
    // Dropouts are drawn for every optional channel every time, so the noise stream's position never depends
    // on which sensors a unit has.
    const dropped = this.dropped;
    for (let k = 0; k < OPTIONAL_INDEXES.length; k++) dropped[k] = rng.chance(o.dropoutRate) ? 1 : 0;

    const truth = this.applyAnomaly(p, st, drivers, v, time);
    for (let c = 0; c < N_CH; c++) {
      v[c] = round3(v[c]!);
      st.last[c] = v[c]!;
    }
    st.lastTime = time;
    const status: DeviceStatus = warn ? 'WARN' : 'OK';
    const record: SensorReading = {
      device_id: p.id,
      event_time: time,
      site: site.name,
      firmware: p.firmware,
      status,
      temp_bearing_front_c: v[0]!,
      temp_bearing_rear_c: v[1]!,
      temp_motor_winding_c: v[2]!,
      temp_coolant_in_c: v[3]!,
      temp_coolant_out_c: v[4]!,
      temp_ambient_c: v[5]!,
      pressure_inlet_kpa: v[6]!,
      pressure_outlet_kpa: v[7]!,
      pressure_differential_kpa: v[8]!,
      pressure_seal_kpa: optionalValue(p, dropped, v, 9, 0),
      vibration_x_mm_s: v[10]!,
      vibration_y_mm_s: v[11]!,
      vibration_z_mm_s: v[12]!,
      vibration_rms_mm_s: v[13]!,
      acoustic_db: optionalValue(p, dropped, v, 14, 1),
      current_phase_a_a: v[15]!,
      current_phase_b_a: v[16]!,
      current_phase_c_a: v[17]!,
      voltage_v: v[18]!,
      power_kw: v[19]!,
      power_factor: v[20]!,
      flow_rate_m3h: v[21]!,
      shaft_speed_rpm: v[22]!,
      torque_nm: v[23]!,
      valve_position_pct: optionalValue(p, dropped, v, 24, 2),
      humidity_pct: optionalValue(p, dropped, v, 25, 3),
      oil_level_pct: v[26]!,
      oil_particle_count: optionalValue(p, dropped, v, 27, 4),
      load_pct: v[28]!,
      efficiency_pct: v[29]!,
    };
    truth.seq = this.seq++;
    truth.id = `${p.id}@${time}`;
    return { record, truth };
  }

  /** Starts or continues this unit's episode, altering `v` in place; returns the record's truth row. */
  private applyAnomaly(
    p: DeviceProfile,
    st: DeviceState,
    d: Drivers,
    v: Float64Array,
    time: number,
  ): TruthRow {
    const rng = this.anomalies;
    if (st.episode === null && this.startProbability > 0 && rng.chance(this.startProbability)) {
      st.episode = this.startEpisode(p, st);
    }
    const ep = st.episode;
    const truth: TruthRow = {
      seq: 0,
      kind: 'sensor_reading',
      entity: p.id,
      id: '',
      event_time: time,
      label: 0,
      anomaly: null,
      episode: null,
      fields: [],
    };
    if (ep === null) return truth;

    const progress = (ep.index + 1) / ep.length;
    switch (ep.kind) {
      case 'spike':
      case 'level_shift':
        for (let k = 0; k < ep.channels.length; k++) v[ep.channels[k]!]! += ep.values[k]!;
        break;
      case 'slow_drift':
        for (let k = 0; k < ep.channels.length; k++) v[ep.channels[k]!]! += ep.values[k]! * progress;
        break;
      case 'stuck_sensor':
        for (let k = 0; k < ep.channels.length; k++) v[ep.channels[k]!] = ep.values[k]!;
        break;
      case 'broken_correlation': {
        // The channels follow the unit's load mirrored about its mean: each stays in its usual range, but moves
        // against the channels it normally moves with.
        const mirrored = { ...d, load: Math.min(1.05, Math.max(0.05, 2 * p.loadMean - d.load)) };
        computeChannels(p, mirrored, rng, this.alternate);
        for (const c of ep.channels) v[c] = this.alternate[c]!;
        break;
      }
    }
    truth.label = 1;
    truth.anomaly = ep.kind;
    truth.episode = ep.id;
    truth.fields = ep.channels.map((c) => SENSOR_CHANNELS[c]!);
    ep.index++;
    if (ep.index >= ep.length) st.episode = null;
    return truth;
  }

  private startEpisode(p: DeviceProfile, st: DeviceState): Episode {
    const rng = this.anomalies;
    const kind = rng.pick(this.options.anomalyKinds);
    const [minLen, maxLen] = this.options.episodeLength;
    const length = kind === 'spike' ? 1 : rng.int(minLen, maxLen);
    const id = `ep-${String(++this.episodes).padStart(6, '0')}`;
    let channels: number[];
    let values: number[];
    switch (kind) {
      case 'spike':
        channels = rng.sample(TARGET_CHANNELS, rng.int(1, 3));
        values = channels.map((c) => rng.sign() * rng.range(5, 9) * p.scale[c]!);
        break;
      case 'level_shift':
        channels = rng.sample(TARGET_CHANNELS, rng.int(1, 3));
        values = channels.map((c) => rng.sign() * rng.range(3, 6) * p.scale[c]!);
        break;
      case 'slow_drift':
        channels = rng.sample(TARGET_CHANNELS, rng.int(1, 2));
        values = channels.map((c) => rng.sign() * rng.range(5, 9) * p.scale[c]!);
        break;
      case 'stuck_sensor':
        channels = rng.sample(TARGET_CHANNELS, rng.int(1, 2));
        // Frozen at the last value the unit reported; on a unit's very first reading, at the current one.
        values = channels.map((c) => (Number.isFinite(st.lastTime) ? st.last[c]! : Number.NaN));
        if (values.some(Number.isNaN)) values = channels.map((c) => this.values[c]!);
        break;
      case 'broken_correlation':
        channels = [...rng.pick(DECOUPLE_GROUPS)];
        values = [];
        break;
    }
    return { kind, id, length, index: 0, channels, values };
  }
}

function validate(o: SensorGeneratorOptions): void {
  const fail = (key: string, value: unknown, allowed: string) => {
    throw new RangeError(`sensor generator option ${key} = ${JSON.stringify(value)}: expected ${allowed}`);
  };
  if (!Number.isSafeInteger(o.seed)) fail('seed', o.seed, 'a safe integer');
  if (!Number.isInteger(o.devices) || o.devices < 1) fail('devices', o.devices, 'an integer ≥ 1');
  if (!Number.isInteger(o.sites) || o.sites < 1) fail('sites', o.sites, `an integer ≥ 1`);
  if (!Number.isFinite(o.startTime)) fail('startTime', o.startTime, 'ms since the epoch');
  if (!(o.intervalMs >= 1)) fail('intervalMs', o.intervalMs, 'a number ≥ 1');
  if (!(o.jitterMs >= 0 && o.jitterMs < o.intervalMs)) fail('jitterMs', o.jitterMs, 'in [0, intervalMs)');
  if (!(o.anomalyRate >= 0 && o.anomalyRate < 1)) fail('anomalyRate', o.anomalyRate, 'in [0, 1)');
  for (const k of o.anomalyKinds) {
    if (!(SENSOR_ANOMALY_KINDS as readonly string[]).includes(k)) {
      fail('anomalyKinds', k, SENSOR_ANOMALY_KINDS.join(' | '));
    }
  }
  const [a, b] = o.episodeLength;
  if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 1 && b >= a)) {
    fail('episodeLength', o.episodeLength, '[min, max] integers with 1 ≤ min ≤ max');
  }
  if (!(o.dropoutRate >= 0 && o.dropoutRate <= 1)) fail('dropoutRate', o.dropoutRate, 'in [0, 1]');
}
