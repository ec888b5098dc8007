import { describe, expect, it } from 'vitest';
import {
  dockerEndpoints,
  parseBrokerList,
  parseKeyValueLines,
  resolveBrokerSource,
  resolveRegistrySource,
} from '../../support/resolution.js';

describe('resolveBrokerSource', () => {
  it('uses KAFKA_BROKERS when set, even when Docker answers', () => {
    expect(resolveBrokerSource({ KAFKA_BROKERS: 'kafka:9092' }, true)).toBe('env');
    expect(resolveBrokerSource({ KAFKA_BROKERS: 'kafka:9092' }, false)).toBe('env');
  });

  it('KAFKA_BROKERS wins over a forced VIGIL_TEST_BROKER', () => {
    expect(resolveBrokerSource({ KAFKA_BROKERS: 'kafka:9092', VIGIL_TEST_BROKER: 'local' }, true)).toBe(
      'env',
    );
  });

  it('prefers testcontainers when Docker answers and no broker list is given', () => {
    expect(resolveBrokerSource({}, true)).toBe('testcontainers');
  });

  it('falls back to the local kafkactl.sh broker without Docker', () => {
    expect(resolveBrokerSource({}, false)).toBe('local');
  });

  it('treats an empty or blank KAFKA_BROKERS as unset', () => {
    expect(resolveBrokerSource({ KAFKA_BROKERS: '' }, false)).toBe('local');
    expect(resolveBrokerSource({ KAFKA_BROKERS: ' , ' }, true)).toBe('testcontainers');
  });

  it('honours a forced source and refuses an unknown one', () => {
    expect(resolveBrokerSource({ VIGIL_TEST_BROKER: 'local' }, true)).toBe('local');
    expect(resolveBrokerSource({ VIGIL_TEST_BROKER: 'testcontainers' }, false)).toBe('testcontainers');
    expect(() => resolveBrokerSource({ VIGIL_TEST_BROKER: 'docker' }, true)).toThrow(/VIGIL_TEST_BROKER/);
  });
});

describe('parseBrokerList', () => {
  it('keeps every address exactly as spelled, in order', () => {
    expect(parseBrokerList(' localhost:19092 ,127.0.0.1:19092,,[::1]:9092 ')).toEqual([
      'localhost:19092',
      '127.0.0.1:19092',
      '[::1]:9092',
    ]);
  });

  it('refuses entries that are not host:port', () => {
    expect(() => parseBrokerList('localhost')).toThrow(/'localhost' is not host:port/);
    expect(() => parseBrokerList('PLAINTEXT://kafka:9092')).toThrow(/not host:port/);
    expect(() => parseBrokerList('kafka:port')).toThrow(/not host:port/);
  });
});

describe('resolveRegistrySource', () => {
  it('uses REGISTRY_URL when set and starts the local registry otherwise', () => {
    expect(resolveRegistrySource({ REGISTRY_URL: 'http://sr:8081' })).toBe('env');
    expect(resolveRegistrySource({ REGISTRY_URL: '  ' })).toBe('local');
    expect(resolveRegistrySource({})).toBe('local');
  });
});

describe('parseKeyValueLines', () => {
  it('reads KEY=VALUE lines and ignores anything else', () => {
    const text =
      'KAFKA_STARTED=1\nkafkactl: ready\nKAFKA_BOOTSTRAP=127.0.0.1:19092\nKAFKA_CA_PEM=/a=b/ca.pem\n';
    expect(parseKeyValueLines(text)).toEqual({
      KAFKA_STARTED: '1',
      KAFKA_BOOTSTRAP: '127.0.0.1:19092',
      KAFKA_CA_PEM: '/a=b/ca.pem',
    });
  });
});

describe('dockerEndpoints', () => {
  it('follows DOCKER_HOST alone when it is set', () => {
    expect(dockerEndpoints({ DOCKER_HOST: 'unix:///run/user/1/docker.sock', HOME: '/h' })).toEqual([
      { socketPath: '/run/user/1/docker.sock' },
    ]);
    expect(dockerEndpoints({ DOCKER_HOST: 'tcp://10.0.0.5:2375' })).toEqual([
      { host: '10.0.0.5', port: 2375 },
    ]);
    expect(dockerEndpoints({ DOCKER_HOST: 'ssh://me@box' })).toEqual([]);
  });

  it('tries the usual sockets otherwise', () => {
    expect(dockerEndpoints({ XDG_RUNTIME_DIR: '/run/user/1', HOME: '/h' })).toEqual([
      { socketPath: '/var/run/docker.sock' },
      { socketPath: '/run/user/1/docker.sock' },
      { socketPath: '/h/.docker/run/docker.sock' },
    ]);
  });
});
