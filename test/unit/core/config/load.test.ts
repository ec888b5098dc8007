// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about the config's ${ENV} syntax
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig, validateConfig } from '../../../../core/config/load.js';
import { isVigilError, type VigilError } from '../../../../core/errors.js';

const MINIMAL = 'input:\n  topics: [sensor-readings]\nfeatures:\n  preset: sensor-reading\n';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
    return (err as VigilError).details['problems'] as string[];
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('parseConfig', () => {
  it('fills in every default from a minimal file', () => {
    const c = parseConfig(MINIMAL);
    expect(c.kafka.transport).toBe('kafkajs');
    expect(c.kafka.brokers).toEqual(['localhost:9092']);
    expect(c.kafka.security.protocol).toBe('PLAINTEXT');
    expect(c.kafka.consumer.sessionTimeoutMs).toBe(45_000);
    expect(c.input.format).toBe('confluent');
    expect(c.input.registry.url).toBe('http://localhost:8081');
    expect(c.batching).toMatchObject({
      maxRecords: 500,
      lingerMs: 50,
      maxBuffered: 10_000,
      resumeRatio: 0.5,
    });
    expect(c.model.threshold.method).toBe('artifact');
    expect(c.output).toMatchObject({ anomaliesTopic: 'vigil.anomalies', format: 'avro' });
    expect(c.output.scoresTopic).toBeUndefined();
    expect(c.delivery).toBe('at-least-once');
    expect(c.metrics).toEqual({ enabled: true, host: '0.0.0.0', port: 9464, path: '/metrics' });
    expect(c.logging.level).toBe('info');
  });

  it('deep-freezes the result', () => {
    const c = parseConfig(MINIMAL);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.kafka.brokers)).toBe(true);
    expect(Object.isFrozen(c.kafka.security)).toBe(true);
    expect(() => {
      (c.kafka.brokers as string[]).push('x:1');
    }).toThrow(TypeError);
  });

  it('names the key, the value and the allowed values', () => {
    const problems = problemsOf(() =>
      parseConfig(`${MINIMAL}kafka:\n  transport: kafkajs2\n`, { source: 'vigil.yaml' }),
    );
    expect(problems).toEqual(['kafka.transport: "kafkajs2" is not one of kafkajs, rdkafka']);
  });

  it('lists every problem at once, with the source in the message', () => {
    const text = `
kafka:
  transport: kafkajs2
  brokres: [a:1]
input:
  topics: []
batching:
  lingerMs: -5
features:
  fields:
    - { kind: colour, path: x }
`;
    let message = '';
    try {
      parseConfig(text, { source: 'vigil.yaml' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^invalid configuration in vigil\.yaml \(5 problems\):/);
    expect(message).toContain('kafka.transport: "kafkajs2" is not one of kafkajs, rdkafka');
    expect(message).toContain('kafka.brokres: unknown key, did you mean brokers?');
    expect(message).toContain('input.topics: [] needs at least 1 item');
    expect(message).toContain('batching.lingerMs: -5 must be ≥ 0');
    expect(message).toContain(
      'features.fields[0].kind: "colour" is not one of numeric, boolean, enum, hashed, cyclic',
    );
  });

  it('refuses unknown keys inside feature fields, listing the keys of that kind', () => {
    const problems = problemsOf(() =>
      parseConfig(
        'input: { topics: [t] }\nfeatures:\n  fields:\n    - { kind: numeric, path: x, tranform: log1p }\n',
      ),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^features\.fields\[0\]\.tranform: unknown key, did you mean transform\? \(allowed: kind, path/,
    );
  });

  it('reports a missing required key', () => {
    expect(problemsOf(() => parseConfig('features: { preset: sensor-reading }'))).toEqual([
      'input: required (a mapping)',
    ]);
  });

  it('checks cross-field rules', () => {
    const problems = problemsOf(() =>
      parseConfig(
        `${MINIMAL}kafka:\n  security: { protocol: SASL_SSL }\n  consumer: { heartbeatIntervalMs: 50000 }\n`,
      ),
    );
    expect(problems).toContain(
      'kafka.security.sasl: protocol SASL_SSL needs sasl { mechanism, username, password }',
    );
    expect(problems).toContain(
      'kafka.consumer.heartbeatIntervalMs: 50000 must be below sessionTimeoutMs (45000)',
    );
  });

  it('refuses an output topic that is also an input topic', () => {
    expect(problemsOf(() => parseConfig(`${MINIMAL}output: { anomaliesTopic: sensor-readings }\n`))).toEqual([
      'output.anomaliesTopic: "sensor-readings" is also an input topic (a feedback loop)',
    ]);
  });

  it('requires a reader schema for plain Avro', () => {
    expect(problemsOf(() => parseConfig(`${MINIMAL.replace('topics', 'format: avro\n  topics')}`))).toEqual([
      'input.schema: format avro needs a reader schema file',
    ]);
  });

  it('never shows a secret value', () => {
    const text = `${MINIMAL}kafka:\n  security:\n    protocol: SASL_SSL\n    sasl: { mechanism: PLAIN, username: u, password: 12345 }\n`;
    const problems = problemsOf(() => parseConfig(text));
    expect(problems).toEqual(['kafka.security.sasl.password: "***" is not a string']);
  });

  it('reports YAML syntax errors with their position', () => {
    const problems = problemsOf(() => parseConfig('input:\n  topics: [a\nfoo: 1\n'));
    expect(problems[0]).toMatch(/^line \d+, column \d+: /);
  });

  it('refuses a top level that is not a mapping', () => {
    expect(problemsOf(() => parseConfig('- a\n- b\n'))).toEqual([
      'the top level must be a mapping, not a list',
    ]);
  });
});

describe('environment overrides', () => {
  it('sets nested keys with VIGIL__ and double underscores, matching camelCase keys', () => {
    const c = parseConfig(MINIMAL, {
      env: {
        VIGIL__KAFKA__CLIENT_ID: 'from-env',
        VIGIL__KAFKA__GROUPID: 'g2',
        VIGIL__KAFKA__BROKERS: 'k1:9092, k2:9093',
        VIGIL__BATCHING__LINGER_MS: '20',
        VIGIL__METRICS__ENABLED: 'false',
        VIGIL__OUTPUT__SCORES_TOPIC: 'scores',
        VIGIL__DELIVERY: 'exactly-once',
        UNRELATED: 'x',
      },
    });
    expect(c.kafka.clientId).toBe('from-env');
    expect(c.kafka.groupId).toBe('g2');
    expect(c.kafka.brokers).toEqual(['k1:9092', 'k2:9093']);
    expect(c.batching.lingerMs).toBe(20);
    expect(c.metrics.enabled).toBe(false);
    expect(c.output.scoresTopic).toBe('scores');
    expect(c.delivery).toBe('exactly-once');
  });

  it('wins over the file, and accepts flow lists and mappings', () => {
    const c = parseConfig(`${MINIMAL}kafka:\n  clientId: from-file\n`, {
      env: {
        VIGIL__KAFKA__CLIENT_ID: 'from-env',
        VIGIL__INPUT__TOPICS: '[a, b]',
        VIGIL__INPUT__REGISTRY__AUTH: '{ username: key, password: secret }',
      },
    });
    expect(c.kafka.clientId).toBe('from-env');
    expect(c.input.topics).toEqual(['a', 'b']);
    expect(c.input.registry.auth).toEqual({ username: 'key', password: 'secret' });
  });

  it('builds the sections an override needs when the file has none', () => {
    const c = parseConfig('', {
      env: { VIGIL__INPUT__TOPICS: 't1', VIGIL__FEATURES__PRESET: 'card-transaction' },
    });
    expect(c.input.topics).toEqual(['t1']);
    expect(c.features.preset).toBe('card-transaction');
  });

  it('names the variable when an override is invalid or unknown', () => {
    const problems = problemsOf(() =>
      parseConfig(MINIMAL, {
        env: { VIGIL__BATCHING__MAX_RECORDS: 'many', VIGIL__KAFKA__BROKRES: 'a:1', VIGIL__NOPE__X: '1' },
      }),
    );
    expect(problems).toContain(
      'batching.maxRecords: "many" is not a number (from VIGIL__BATCHING__MAX_RECORDS)',
    );
    expect(
      problems.some((p) => p.startsWith('VIGIL__KAFKA__BROKRES: no setting "BROKRES" (known keys of kafka:')),
    ).toBe(true);
    expect(problems.some((p) => p.startsWith('VIGIL__NOPE__X: no setting "NOPE"'))).toBe(true);
  });

  it('refuses to descend into a value that is not a mapping', () => {
    const problems = problemsOf(() => parseConfig(MINIMAL, { env: { VIGIL__DELIVERY__X: '1' } }));
    expect(problems[0]).toMatch(/^VIGIL__DELIVERY__X: no setting "X" \(delivery is not a section\)/);
  });
});

describe('${ENV} interpolation', () => {
  it('replaces references in strings, with fallbacks, and converts whole references to the key type', () => {
    const text = `${MINIMAL}kafka:\n  clientId: vigil-\${REGION}\n  groupId: \${GROUP:-default-group}\nmetrics:\n  port: \${PORT}\n  host: $\${literal}\n`;
    const c = parseConfig(text, { env: { REGION: 'eu', PORT: '9100' } });
    expect(c.kafka.clientId).toBe('vigil-eu');
    expect(c.kafka.groupId).toBe('default-group');
    expect(c.metrics.port).toBe(9100);
    expect(c.metrics.host).toBe('${literal}');
  });

  it('reports an unset variable once, not again as a type error', () => {
    const text = `${MINIMAL}metrics:\n  port: \${PORT}\n`;
    expect(problemsOf(() => parseConfig(text, { env: {} }))).toEqual([
      'metrics.port: ${PORT} is not set in the environment',
    ]);
  });

  it('does not interpolate inside environment overrides', () => {
    const c = parseConfig(MINIMAL, { env: { VIGIL__KAFKA__CLIENT_ID: '${X}', X: 'no' } });
    expect(c.kafka.clientId).toBe('${X}');
  });
});

describe('validateConfig', () => {
  it('validates an object without YAML or environment', () => {
    const c = validateConfig({ input: { topics: ['t'] }, features: { preset: 'sensor-reading' } });
    expect(c.kafka.groupId).toBe('vigil');
    expect(() => validateConfig({ input: { topics: ['t'] }, features: { preset: 'nope' } })).toThrow(
      /features\.preset: "nope" is not one of sensor-reading, card-transaction/,
    );
  });
});

describe('loadConfigFile', () => {
  it('reads a file and names it in errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'));
    const good = join(dir, 'vigil.yaml');
    writeFileSync(good, MINIMAL);
    expect((await loadConfigFile(good, { env: { VIGIL__LOGGING__LEVEL: 'debug' } })).logging.level).toBe(
      'debug',
    );
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `${MINIMAL}logging: { level: loud }\n`);
    await expect(loadConfigFile(bad)).rejects.toThrow(`invalid configuration in ${bad} (1 problem)`);
  });

  it('fails with CONFIG_INVALID when the file cannot be read', async () => {
    await expect(loadConfigFile('/nonexistent/vigil.yaml')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('runs from the environment alone without a file', async () => {
    const c = await loadConfigFile(undefined, {
      env: { VIGIL__INPUT__TOPICS: 'a', VIGIL__FEATURES__PRESET: 'sensor-reading' },
    });
    expect(c.input.topics).toEqual(['a']);
  });
});
