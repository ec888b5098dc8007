import { createRequire } from 'node:module';
import {
  KafkaJSConnectionError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSSASLAuthenticationError,
} from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  classifyKafkajsError,
  classifyRdkafkaError,
  isUnwritable,
  RD,
  toVigilError,
} from '../../../../connector/transport/errors.js';
import { VigilError } from '../../../../core/errors.js';

function protocolError(type: string, retriable: boolean): Error {
  return new KafkaJSProtocolError({ message: type, type, code: 0, retriable } as unknown as Error);
}

describe('kafkajs error classification', () => {
  it('a connection error is an unavailable broker, retriable', () => {
    const f = classifyKafkajsError(
      new KafkaJSConnectionError('Connection error: ECONNREFUSED', { broker: 'b:1' } as never),
    );
    expect(f).toMatchObject({ unavailable: true, retriable: true, auth: false, rebalance: false });
  });

  it('retries exhausted on a connection error is still retriable: the cause decides, not the wrapper', () => {
    const inner = new KafkaJSConnectionError('Connection error', { broker: 'b:1' } as never);
    const outer = new KafkaJSNumberOfRetriesExceeded(inner, { retryCount: 5, retryTime: 1000 });
    expect(classifyKafkajsError(outer)).toMatchObject({
      unavailable: true,
      retriable: true,
      clientCode: 'KafkaJSConnectionError',
    });
  });

  it('group generation errors are rebalances', () => {
    for (const type of ['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']) {
      expect(classifyKafkajsError(protocolError(type, false))).toMatchObject({
        rebalance: true,
        clientCode: type,
      });
    }
  });

  it('SASL failures, ACL refusals and untrusted certificates are auth problems, never retriable', () => {
    expect(
      classifyKafkajsError(
        new (KafkaJSSASLAuthenticationError as unknown as new (m: string) => Error)('bad creds'),
      ),
    ).toMatchObject({
      auth: true,
      retriable: false,
    });
    expect(classifyKafkajsError(protocolError('TOPIC_AUTHORIZATION_FAILED', false))).toMatchObject({
      auth: true,
      retriable: false,
    });
    const tls = new KafkaJSConnectionError('Connection error: self-signed certificate', {
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    } as never);
    expect(classifyKafkajsError(tls)).toMatchObject({ auth: true, retriable: false });
  });

  it('a retriable protocol error keeps its flag; a non-retriable one is not retried', () => {
    expect(classifyKafkajsError(protocolError('NOT_ENOUGH_REPLICAS', true)).retriable).toBe(true);
    expect(classifyKafkajsError(protocolError('MESSAGE_TOO_LARGE', false)).retriable).toBe(false);
  });

  it('programmer errors are never retriable', () => {
    expect(classifyKafkajsError(new TypeError('x')).retriable).toBe(false);
  });
});

describe('librdkafka error classification', () => {
  it('transport failures and timeouts are an unavailable broker, retriable', () => {
    for (const code of [
      RD.ERR__TRANSPORT,
      RD.ERR__ALL_BROKERS_DOWN,
      RD.ERR__MSG_TIMED_OUT,
      RD.ERR__TIMED_OUT,
    ]) {
      expect(classifyRdkafkaError({ code })).toMatchObject({ unavailable: true, retriable: true });
    }
  });

  it('authentication and authorization failures are not retriable', () => {
    for (const code of [
      RD.ERR__AUTHENTICATION,
      RD.ERR_SASL_AUTHENTICATION_FAILED,
      RD.ERR_TOPIC_AUTHORIZATION_FAILED,
      RD.ERR__SSL,
    ]) {
      expect(classifyRdkafkaError({ code, isRetriable: true })).toMatchObject({
        auth: true,
        retriable: false,
      });
    }
  });

  it('fatal errors need a new client, which may retry; a fenced producer may not', () => {
    expect(classifyRdkafkaError({ code: RD.ERR__FATAL, isFatal: true })).toMatchObject({
      fatal: true,
      retriable: true,
    });
    expect(classifyRdkafkaError({ code: RD.ERR_PRODUCER_FENCED, isFatal: true })).toMatchObject({
      fatal: true,
      retriable: false,
    });
  });

  it('carries the transaction-abort flag and names the code', () => {
    const f = classifyRdkafkaError({ code: RD.ERR_REBALANCE_IN_PROGRESS, isTxnRequiresAbort: true });
    expect(f).toMatchObject({
      abortTransaction: true,
      rebalance: true,
      clientCode: 'ERR_REBALANCE_IN_PROGRESS',
    });
    expect(classifyRdkafkaError({ code: 9999 }).clientCode).toBe('librdkafka(9999)');
  });

  it("the code table matches node-rdkafka's, where it is installed", () => {
    let codes: Record<string, number>;
    try {
      codes = createRequire(import.meta.url)('node-rdkafka').CODES.ERRORS;
    } catch {
      return;
    }
    for (const [name, code] of Object.entries(RD)) expect([name, codes[name]]).toEqual([name, code]);
  });
});

describe('toVigilError', () => {
  it("keeps the operation's code, the cause and the retry decision", () => {
    const cause = new KafkaJSConnectionError('down', { broker: 'b:1' } as never);
    const err = toVigilError('PRODUCE_FAILED', 'send failed', cause, classifyKafkajsError(cause), {
      count: 3,
    });
    expect(err).toBeInstanceOf(VigilError);
    expect(err.code).toBe('PRODUCE_FAILED');
    expect(err.retriable).toBe(true);
    expect(err.cause).toBe(cause);
    expect(err.details).toMatchObject({
      count: 3,
      brokerUnavailable: true,
      clientCode: 'KafkaJSConnectionError',
    });
  });

  it('turns an auth failure into CONFIG_INVALID, not retriable', () => {
    const cause = { code: RD.ERR__AUTHENTICATION, message: 'authentication failure' };
    const err = toVigilError('BROKER_UNAVAILABLE', 'connect failed', cause, classifyRdkafkaError(cause));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.retriable).toBe(false);
    expect(err.message).toMatch(/security settings/);
  });

  it('a commit refused because the group moved on says so and is not retriable', () => {
    const cause = { code: RD.ERR_ILLEGAL_GENERATION, isRetriable: true };
    const err = toVigilError('COMMIT_FAILED', 'commit failed', cause, classifyRdkafkaError(cause));
    expect(err.code).toBe('COMMIT_FAILED');
    expect(err.details.rebalance).toBe(true);
    expect(err.retriable).toBe(false);
    const kjs = protocolError('ILLEGAL_GENERATION', true);
    expect(toVigilError('COMMIT_FAILED', 'commit failed', kjs, classifyKafkajsError(kjs)).retriable).toBe(
      false,
    );
  });

  it('passes a VigilError through unchanged', () => {
    const inner = new VigilError('SHUTDOWN', 'closing');
    expect(toVigilError('PRODUCE_FAILED', 'x', inner, classifyRdkafkaError(inner))).toBe(inner);
  });
});

describe('records the broker can never accept', () => {
  // kafkajs's own constructor for a broker error code, as its producer raises it from a produce response.
  const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error') as {
    createErrorFromCode: (code: number) => Error;
  };

  it('kafkajs: MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE and INVALID_RECORD are unwritable, never retried', () => {
    for (const code of [10, 18, 87]) {
      const f = classifyKafkajsError(createErrorFromCode(code));
      expect([code, f.unwritable, f.retriable]).toEqual([code, true, false]);
    }
    const wrapped = new KafkaJSNumberOfRetriesExceeded(createErrorFromCode(10), {
      retryCount: 0,
      retryTime: 0,
    });
    expect(classifyKafkajsError(wrapped).unwritable).toBe(true);
    expect(classifyKafkajsError(protocolError('NOT_ENOUGH_REPLICAS', true)).unwritable).toBe(false);
  });

  it("librdkafka: MSG_SIZE_TOO_LARGE (its own check or the broker's) and INVALID_RECORD are unwritable", () => {
    for (const code of [RD.ERR_MSG_SIZE_TOO_LARGE, RD.ERR_RECORD_LIST_TOO_LARGE, RD.ERR_INVALID_RECORD]) {
      const f = classifyRdkafkaError({ code, isRetriable: false });
      expect([code, f.unwritable, f.retriable]).toEqual([code, true, false]);
    }
    expect(classifyRdkafkaError({ code: RD.ERR__TRANSPORT }).unwritable).toBe(false);
  });

  it('toVigilError marks them so the pipeline can tell them from an outage or a config error', () => {
    const tooLarge = createErrorFromCode(10);
    const err = toVigilError('PRODUCE_FAILED', 'send failed', tooLarge, classifyKafkajsError(tooLarge));
    expect(isUnwritable(err)).toBe(true);
    expect(err.retriable).toBe(false);
    const auth = protocolError('TOPIC_AUTHORIZATION_FAILED', false);
    expect(
      isUnwritable(toVigilError('PRODUCE_FAILED', 'send failed', auth, classifyKafkajsError(auth))),
    ).toBe(false);
    expect(isUnwritable(tooLarge)).toBe(false);
  });
});
