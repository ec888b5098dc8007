import { describe, expect, it } from 'vitest';
import {
  kafkajsConnectionConfig,
  rdkafkaConnectionProperties,
  redactProperties,
  validateTransportOptions,
} from '../../../../connector/transport/security.js';
import type { SecurityOptions, TransportOptions } from '../../../../connector/transport/types.js';
import { isVigilError } from '../../../../core/errors.js';

const files: Record<string, string> = {
  '/ca.pem': 'CA-PEM',
  '/client.pem': 'CERT-PEM',
  '/client.key': 'KEY-PEM',
};
const readFile = (path: string) => {
  const content = files[path];
  if (content === undefined) throw new Error(`no file ${path}`);
  return content;
};

function options(security: SecurityOptions, extra: Partial<TransportOptions> = {}): TransportOptions {
  return { brokers: ['b1:9093', 'b2:9093'], clientId: 'vigil', security, ...extra };
}

function configError(fn: () => unknown): { key?: unknown } {
  try {
    fn();
  } catch (err) {
    expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
    return (err as { details: { key?: unknown } }).details;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('security mapping', () => {
  it('PLAINTEXT: no TLS, no SASL on either client', () => {
    const o = options({ protocol: 'PLAINTEXT' });
    const kjs = kafkajsConnectionConfig(o, readFile);
    expect(kjs.ssl).toBe(false);
    expect(kjs.sasl).toBeUndefined();
    expect(kjs.brokers).toEqual(['b1:9093', 'b2:9093']);
    const rd = rdkafkaConnectionProperties(o);
    expect(rd['security.protocol']).toBe('plaintext');
    expect(rd['bootstrap.servers']).toBe('b1:9093,b2:9093');
    expect(rd['client.id']).toBe('vigil');
    expect(Object.keys(rd).some((k) => k.startsWith('sasl.') || k.startsWith('ssl.'))).toBe(false);
  });

  it('SASL_SSL with SCRAM-SHA-512 and a CA file', () => {
    const o = options({
      protocol: 'SASL_SSL',
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'vigil', password: 's3cret' },
      ssl: { caFile: '/ca.pem' },
    });
    const kjs = kafkajsConnectionConfig(o, readFile);
    expect(kjs.ssl).toEqual({ ca: ['CA-PEM'], rejectUnauthorized: true });
    expect(kjs.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'vigil', password: 's3cret' });
    expect(rdkafkaConnectionProperties(o)).toMatchObject({
      'security.protocol': 'sasl_ssl',
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': 'vigil',
      'sasl.password': 's3cret',
      'ssl.ca.location': '/ca.pem',
      'enable.ssl.certificate.verification': true,
      'ssl.endpoint.identification.algorithm': 'https',
    });
  });

  it('SASL_PLAINTEXT with PLAIN and SCRAM-SHA-256 map to each client’s mechanism names', () => {
    for (const [mechanism, kafkajsName] of [
      ['PLAIN', 'plain'],
      ['SCRAM-SHA-256', 'scram-sha-256'],
    ] as const) {
      const o = options({ protocol: 'SASL_PLAINTEXT', sasl: { mechanism, username: 'u', password: 'p' } });
      expect(kafkajsConnectionConfig(o, readFile)).toMatchObject({
        ssl: false,
        sasl: { mechanism: kafkajsName },
      });
      expect(rdkafkaConnectionProperties(o)).toMatchObject({
        'security.protocol': 'sasl_plaintext',
        'sasl.mechanisms': mechanism,
      });
    }
  });

  it('SSL with a client certificate (mutual TLS) and verification off', () => {
    const o = options({
      protocol: 'SSL',
      ssl: {
        caFile: '/ca.pem',
        certFile: '/client.pem',
        keyFile: '/client.key',
        keyPassword: 'kp',
        rejectUnauthorized: false,
      },
    });
    expect(kafkajsConnectionConfig(o, readFile).ssl).toEqual({
      ca: ['CA-PEM'],
      cert: 'CERT-PEM',
      key: 'KEY-PEM',
      passphrase: 'kp',
      rejectUnauthorized: false,
    });
    expect(rdkafkaConnectionProperties(o)).toMatchObject({
      'security.protocol': 'ssl',
      'ssl.certificate.location': '/client.pem',
      'ssl.key.location': '/client.key',
      'ssl.key.password': 'kp',
      'enable.ssl.certificate.verification': false,
      'ssl.endpoint.identification.algorithm': 'none',
    });
  });

  it('SSL without a CA file trusts the system store on both clients', () => {
    const o = options({ protocol: 'SSL' });
    expect(kafkajsConnectionConfig(o, readFile).ssl).toEqual({ rejectUnauthorized: true });
    expect(rdkafkaConnectionProperties(o)['ssl.ca.location']).toBeUndefined();
  });

  it('timeouts map to both clients', () => {
    const o = options({ protocol: 'PLAINTEXT' }, { connectionTimeoutMs: 1234, requestTimeoutMs: 5678 });
    expect(kafkajsConnectionConfig(o, readFile)).toMatchObject({
      connectionTimeout: 1234,
      authenticationTimeout: 1234,
      requestTimeout: 5678,
    });
    expect(rdkafkaConnectionProperties(o)).toMatchObject({
      'socket.connection.setup.timeout.ms': 1234,
      'socket.timeout.ms': 5678,
    });
  });

  it('refuses configs that would connect with less protection than asked for, naming the key', () => {
    expect(configError(() => validateTransportOptions(options({ protocol: 'SASL_SSL' })))).toMatchObject({
      key: 'security.sasl',
    });
    expect(
      configError(() =>
        validateTransportOptions(options({ protocol: 'PLAINTEXT', ssl: { caFile: '/ca.pem' } })),
      ),
    ).toMatchObject({ key: 'security.ssl' });
    expect(
      configError(() =>
        validateTransportOptions(
          options({ protocol: 'SSL', sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' } }),
        ),
      ),
    ).toMatchObject({ key: 'security.sasl' });
    expect(
      configError(() =>
        validateTransportOptions(
          options({
            protocol: 'SASL_SSL',
            sasl: { mechanism: 'GSSAPI' as 'PLAIN', username: 'u', password: 'p' },
          }),
        ),
      ),
    ).toMatchObject({ key: 'security.sasl.mechanism' });
    expect(
      configError(() =>
        validateTransportOptions(options({ protocol: 'SSL', ssl: { certFile: '/client.pem' } })),
      ),
    ).toMatchObject({ key: 'security.ssl.certFile/keyFile' });
    expect(configError(() => validateTransportOptions(options({ protocol: 'TLS' as 'SSL' })))).toMatchObject({
      key: 'security.protocol',
    });
    expect(
      configError(() => validateTransportOptions({ ...options({ protocol: 'PLAINTEXT' }), brokers: [] })),
    ).toMatchObject({ key: 'brokers' });
    expect(
      configError(() =>
        validateTransportOptions({ ...options({ protocol: 'PLAINTEXT' }), brokers: ['kafka.example.com'] }),
      ),
    ).toMatchObject({ key: 'brokers' });
  });

  it('the password never appears in a CONFIG_INVALID message or its details', () => {
    try {
      validateTransportOptions(
        options({ protocol: 'SSL', sasl: { mechanism: 'PLAIN', username: 'u', password: 'hunter2' } }),
      );
      throw new Error('expected CONFIG_INVALID');
    } catch (err) {
      expect(JSON.stringify(err)).not.toContain('hunter2');
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('a TLS file that cannot be read is a config error, raised by the reader', () => {
    const o = options({ protocol: 'SSL', ssl: { caFile: '/missing.pem' } });
    expect(() => kafkajsConnectionConfig(o, readFile)).toThrow(/no file \/missing.pem/);
  });

  it('librdkafka overrides apply, except for properties Vigil owns', () => {
    const o = options({ protocol: 'PLAINTEXT' }, { librdkafka: { 'socket.keepalive.enable': true } });
    expect(rdkafkaConnectionProperties(o)['socket.keepalive.enable']).toBe(true);
    for (const key of ['security.protocol', 'enable.auto.commit', 'sasl.password', 'enable.idempotence']) {
      const bad = options({ protocol: 'PLAINTEXT' }, { librdkafka: { [key]: 'x' } });
      expect(configError(() => rdkafkaConnectionProperties(bad))).toMatchObject({ key: `librdkafka.${key}` });
    }
  });

  it('redactProperties hides secrets for logging', () => {
    expect(redactProperties({ 'sasl.password': 'p', 'ssl.key.password': 'k', 'client.id': 'c' })).toEqual({
      'sasl.password': '<redacted>',
      'ssl.key.password': '<redacted>',
      'client.id': 'c',
    });
  });
});
