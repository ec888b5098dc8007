import { VigilError } from '../../core/errors.js';
import type { SecurityOptions, TransportOptions } from './types.js';

/**
 * One Vigil-shaped security block mapped onto each client's options. Pure: file contents (kafkajs wants PEM
 * text, librdkafka wants paths) come through `readFile`, so the mapping is unit-tested without files.
 */

export const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

const TLS_PROTOCOLS = new Set(['SSL', 'SASL_SSL']);
const SASL_PROTOCOLS = new Set(['SASL_PLAINTEXT', 'SASL_SSL']);
const MECHANISMS = new Set(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']);

function invalid(key: string, value: unknown, allowed: string): VigilError {
  return new VigilError('CONFIG_INVALID', `${key} = ${JSON.stringify(value)}: ${allowed}`, {
    details: { key, value, allowed },
  });
}

/** Refuses combinations that would silently connect without the protection the config asks for. */
export function validateTransportOptions(options: TransportOptions): void {
  if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
    throw invalid('brokers', options.brokers, 'at least one host:port');
  }
  for (const broker of options.brokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(broker)) {
      throw invalid('brokers', broker, 'host:port');
    }
  }
  if (typeof options.clientId !== 'string' || options.clientId.length === 0) {
    throw invalid('clientId', options.clientId, 'a non-empty string');
  }
  validateSecurity(options.security);
}

export function validateSecurity(security: SecurityOptions): void {
  const { protocol, sasl, ssl } = security ?? ({} as SecurityOptions);
  if (!TLS_PROTOCOLS.has(protocol) && !SASL_PROTOCOLS.has(protocol) && protocol !== 'PLAINTEXT') {
    throw invalid('security.protocol', protocol, 'one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL');
  }
  if (SASL_PROTOCOLS.has(protocol)) {
    if (!sasl) throw invalid('security.sasl', sasl, `required when security.protocol is ${protocol}`);
    if (!MECHANISMS.has(sasl.mechanism)) {
      throw invalid('security.sasl.mechanism', sasl.mechanism, 'one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512');
    }
    if (!sasl.username) throw invalid('security.sasl.username', sasl.username, 'a non-empty string');
    if (typeof sasl.password !== 'string') {
      throw invalid('security.sasl.password', '<redacted>', 'a string');
    }
  } else if (sasl) {
    throw invalid('security.sasl', '<set>', `only allowed with SASL_PLAINTEXT or SASL_SSL, not ${protocol}`);
  }
  if (ssl && !TLS_PROTOCOLS.has(protocol)) {
    // TLS settings on a plaintext protocol mean the operator believes traffic is encrypted when it is not.
    throw invalid('security.ssl', '<set>', `only allowed with SSL or SASL_SSL, not ${protocol}`);
  }
  if (ssl && Boolean(ssl.certFile) !== Boolean(ssl.keyFile)) {
    throw invalid(
      'security.ssl.certFile/keyFile',
      { certFile: ssl.certFile, keyFile: ssl.keyFile },
      'both or neither',
    );
  }
}

// ---------------------------------------------------------------- kafkajs

export type ReadFile = (path: string) => string;

/** The subset of kafkajs's KafkaConfig that security and timeouts decide. */
export interface KafkajsConnectionConfig {
  clientId: string;
  brokers: string[];
  connectionTimeout: number;
  authenticationTimeout: number;
  requestTimeout: number;
  ssl:
    | boolean
    | { ca?: string[]; cert?: string; key?: string; passphrase?: string; rejectUnauthorized: boolean };
  sasl?:
    | { mechanism: 'plain'; username: string; password: string }
    | { mechanism: 'scram-sha-256'; username: string; password: string }
    | { mechanism: 'scram-sha-512'; username: string; password: string };
}

export function kafkajsConnectionConfig(
  options: TransportOptions,
  readFile: ReadFile,
): KafkajsConnectionConfig {
  validateTransportOptions(options);
  const { protocol, sasl, ssl } = options.security;
  const connectionTimeout = options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS;
  const config: KafkajsConnectionConfig = {
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout,
    authenticationTimeout: connectionTimeout,
    requestTimeout: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    ssl: false,
  };
  if (TLS_PROTOCOLS.has(protocol)) {
    const tls: Exclude<KafkajsConnectionConfig['ssl'], boolean> = {
      rejectUnauthorized: ssl?.rejectUnauthorized ?? true,
    };
    if (ssl?.caFile) tls.ca = [readFile(ssl.caFile)];
    if (ssl?.certFile) tls.cert = readFile(ssl.certFile);
    if (ssl?.keyFile) tls.key = readFile(ssl.keyFile);
    if (ssl?.keyPassword !== undefined) tls.passphrase = ssl.keyPassword;
    config.ssl = tls;
  }
  if (sasl && SASL_PROTOCOLS.has(protocol)) {
    const { username, password } = sasl;
    switch (sasl.mechanism) {
      case 'PLAIN':
        config.sasl = { mechanism: 'plain', username, password };
        break;
      case 'SCRAM-SHA-256':
        config.sasl = { mechanism: 'scram-sha-256', username, password };
        break;
      case 'SCRAM-SHA-512':
        config.sasl = { mechanism: 'scram-sha-512', username, password };
        break;
    }
  }
  return config;
}

// ---------------------------------------------------------------- librdkafka

export type RdkafkaProperties = Record<string, string | number | boolean>;

/** Properties Vigil owns; `options.librdkafka` may not override them. */
export const RDKAFKA_PROTECTED_PROPERTIES: ReadonlySet<string> = new Set([
  'bootstrap.servers',
  'metadata.broker.list',
  'client.id',
  'security.protocol',
  'sasl.mechanisms',
  'sasl.mechanism',
  'sasl.username',
  'sasl.password',
  'ssl.ca.location',
  'ssl.certificate.location',
  'ssl.key.location',
  'ssl.key.password',
  'enable.ssl.certificate.verification',
  'ssl.endpoint.identification.algorithm',
  'enable.auto.commit',
  'enable.auto.offset.store',
  'enable.idempotence',
  'acks',
  'request.required.acks',
  'transactional.id',
  'isolation.level',
  'group.id',
  // The consumer's rebalance and buffering logic assumes eager assignment and no EOF events.
  'partition.assignment.strategy',
  'enable.partition.eof',
]);

export function rdkafkaConnectionProperties(options: TransportOptions): RdkafkaProperties {
  validateTransportOptions(options);
  const { protocol, sasl, ssl } = options.security;
  const props: RdkafkaProperties = {
    'bootstrap.servers': options.brokers.join(','),
    'client.id': options.clientId,
    'security.protocol': protocol.toLowerCase(),
    'socket.connection.setup.timeout.ms': options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    'socket.timeout.ms': options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
  };
  if (sasl && SASL_PROTOCOLS.has(protocol)) {
    props['sasl.mechanisms'] = sasl.mechanism;
    props['sasl.username'] = sasl.username;
    props['sasl.password'] = sasl.password;
  }
  if (TLS_PROTOCOLS.has(protocol)) {
    if (ssl?.caFile) props['ssl.ca.location'] = ssl.caFile;
    if (ssl?.certFile) props['ssl.certificate.location'] = ssl.certFile;
    if (ssl?.keyFile) props['ssl.key.location'] = ssl.keyFile;
    if (ssl?.keyPassword !== undefined) props['ssl.key.password'] = ssl.keyPassword;
    if (ssl?.rejectUnauthorized === false) {
      // kafkajs's rejectUnauthorized=false skips both checks; librdkafka splits them in two properties.
      props['enable.ssl.certificate.verification'] = false;
      props['ssl.endpoint.identification.algorithm'] = 'none';
    } else {
      props['enable.ssl.certificate.verification'] = true;
      props['ssl.endpoint.identification.algorithm'] = 'https';
    }
  }
  for (const [key, value] of Object.entries(options.librdkafka ?? {})) {
    if (RDKAFKA_PROTECTED_PROPERTIES.has(key)) {
      throw invalid(
        `librdkafka.${key}`,
        value,
        'set by Vigil from its own config; remove it from librdkafka',
      );
    }
    props[key] = value;
  }
  return props;
}

/** Redacts secrets for logging a property map. */
export function redactProperties(props: RdkafkaProperties): RdkafkaProperties {
  const out: RdkafkaProperties = {};
  for (const [key, value] of Object.entries(props)) {
    out[key] = /password|secret/i.test(key) ? '<redacted>' : value;
  }
  return out;
}
