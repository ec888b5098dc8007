/**
 * TypeScript shapes of the shipped schemas, as avsc decodes them with AVRO_TYPE_OPTIONS: timestamp-millis is a
 * number of milliseconds, `["null", T]` unions are `T | null`. test/unit/schemas checks these against the files.
 */

export type DeviceStatus = 'OK' | 'WARN' | 'FAULT' | 'MAINTENANCE';

/** The 30 numeric channels of a SensorReading, in schema order. */
export const SENSOR_CHANNELS = [
  'temp_bearing_front_c',
  'temp_bearing_rear_c',
  'temp_motor_winding_c',
  'temp_coolant_in_c',
  'temp_coolant_out_c',
  'temp_ambient_c',
  'pressure_inlet_kpa',
  'pressure_outlet_kpa',
  'pressure_differential_kpa',
  'pressure_seal_kpa',
  'vibration_x_mm_s',
  'vibration_y_mm_s',
  'vibration_z_mm_s',
  'vibration_rms_mm_s',
  'acoustic_db',
  'current_phase_a_a',
  'current_phase_b_a',
  'current_phase_c_a',
  'voltage_v',
  'power_kw',
  'power_factor',
  'flow_rate_m3h',
  'shaft_speed_rpm',
  'torque_nm',
  'valve_position_pct',
  'humidity_pct',
  'oil_level_pct',
  'oil_particle_count',
  'load_pct',
  'efficiency_pct',
] as const;

export type SensorChannel = (typeof SENSOR_CHANNELS)[number];

/** Channels typed `["null", "double"]`: not every unit carries these sensors. */
export const OPTIONAL_SENSOR_CHANNELS = [
  'pressure_seal_kpa',
  'acoustic_db',
  'valve_position_pct',
  'humidity_pct',
  'oil_particle_count',
] as const satisfies readonly SensorChannel[];

export type OptionalSensorChannel = (typeof OPTIONAL_SENSOR_CHANNELS)[number];

export type SensorChannels = { [K in Exclude<SensorChannel, OptionalSensorChannel>]: number } & {
  [K in OptionalSensorChannel]: number | null;
};

export type SensorReading = {
  device_id: string;
  /** Milliseconds since the Unix epoch. */
  event_time: number;
  site: string | null;
  firmware: string | null;
  status: DeviceStatus;
} & SensorChannels;

export type CardChannel = 'POS' | 'ECOM' | 'ATM' | 'MOTO';

export interface TransactionLocation {
  /** ISO 3166-1 alpha-2. */
  country: string;
  city: string;
  lat: number;
  lon: number;
}

export interface CardTransaction {
  transaction_id: string;
  card_id: string;
  merchant_id: string;
  amount: number;
  /** ISO 4217 alphabetic code. */
  currency: string;
  /** MCC, four digits. */
  merchant_category: string;
  location: TransactionLocation | null;
  channel: CardChannel;
  /** Milliseconds since the Unix epoch. */
  event_time: number;
}

export interface FeatureContribution {
  feature: string;
  contribution: number;
  value: number;
  expected: number;
}

export interface AnomalyEvent {
  event_id: string;
  source: { topic: string; partition: number; offset: number };
  key: Buffer | null;
  event_time: number;
  entity: string;
  /** The score judged: post-processed where the model has post-processing, else the reconstruction error. */
  score: number;
  /** The reconstruction error (null in events from before the field). */
  raw_score: number | null;
  threshold: number;
  severity: number;
  contributions: FeatureContribution[];
  model: { id: string; version: string };
  detected_at: number;
  attributes: Record<string, string>;
}

export interface DeadLetter {
  reason_code: string;
  reason_message: string;
  /** decode | features | score | emit */
  stage: string;
  source_topic: string;
  source_partition: number;
  source_offset: number;
  source_timestamp: number | null;
  original_key: Buffer | null;
  original_value: Buffer | null;
  failed_at: number;
  details: Record<string, string>;
}

export type IncidentEventKind = 'OPEN' | 'UPDATE' | 'CLOSE';
export type SeverityBand = 'LOW' | 'MEDIUM' | 'HIGH';
export type IncidentCloseReason = 'GAP' | 'EVICTED';

/** schemas/incident_event.avsc */
export interface IncidentEvent {
  incident_id: string;
  kind: IncidentEventKind;
  sequence: number;
  entity: string;
  source_topic: string;
  source_partition: number;
  start: number;
  end: number;
  first_offset: number;
  last_offset: number;
  count: number;
  peak_severity: number;
  severity_band: SeverityBand;
  peak_score: number;
  top_features: { feature: string; contribution: number }[];
  event_ids: string[];
  model: { id: string; version: string };
  close_reason: IncidentCloseReason | null;
  opened_at: number;
  updated_at: number;
}
