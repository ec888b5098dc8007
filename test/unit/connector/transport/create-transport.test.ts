import { describe, expect, it } from 'vitest';
import { createTransport, type TransportKind } from '../../../../connector/transport/index.js';
import { isVigilError } from '../../../../core/errors.js';
import { silentLogger } from '../../../../core/logger.js';

const options = { brokers: ['127.0.0.1:9'], clientId: 'unit', security: { protocol: 'PLAINTEXT' as const } };

describe('createTransport', () => {
  it('refuses an unknown kind and a bad security block at creation, before any connection', () => {
    expect(() => createTransport('librdkafka' as TransportKind, options, silentLogger())).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
    try {
      createTransport('kafkajs', { ...options, security: { protocol: 'SASL_SSL' } }, silentLogger());
      throw new Error('accepted SASL_SSL without credentials');
    } catch (err) {
      expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
    }
  });

  it('states what each transport can do', () => {
    const kjs = createTransport('kafkajs', options, silentLogger());
    expect(kjs.capabilities).toEqual({
      transactions: true,
      transactionalGroupFencing: false,
      exactOffsets: true,
      binaryHeaders: true,
    });
    const rd = createTransport('rdkafka', options, silentLogger());
    expect(rd.capabilities).toEqual({
      transactions: true,
      transactionalGroupFencing: true,
      exactOffsets: false,
      binaryHeaders: false,
    });
  });

  it.each<TransportKind>(['kafkajs', 'rdkafka'])(
    '%s: consumer options are checked when the consumer is made',
    (kind) => {
      const t = createTransport(kind, options, silentLogger());
      expect(() => t.consumer({ groupId: 'g', topics: [] })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
      expect(() => t.transactionalProducer({ transactionalId: '' })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    },
  );
});
