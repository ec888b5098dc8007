import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../core/config/load.js';

const base = [
  'kafka: { groupId: g }',
  'input: { topics: [t], format: avro, schema: r.avsc }',
  'features: { preset: sensor-reading }',
  'output: { anomaliesTopic: a, deadLetterTopic: d }',
];
const parse = (extra: string[], env: NodeJS.ProcessEnv = {}) =>
  parseConfig([...base, ...extra].join('\n'), { source: 'test', env });

describe('ui (the live view)', () => {
  it('is off by default, at /live', () => {
    expect(parse([]).ui).toMatchObject({ enabled: false, path: '/live' });
  });

  it('is turned on by VIGIL__UI__ENABLED, as `vigil run --ui` does', () => {
    expect(parse([], { VIGIL__UI__ENABLED: 'true' }).ui.enabled).toBe(true);
  });

  it('refuses ui.enabled without the metrics server that serves it, naming the key', () => {
    expect(() => parse(['metrics: { enabled: false }', 'ui: { enabled: true }'])).toThrow(/ui\.enabled/);
  });

  it('refuses a path another endpoint answers, or one ending in /', () => {
    expect(() => parse(['ui: { enabled: true, path: /metrics }'])).toThrow(/ui\.path/);
    expect(() => parse(['ui: { enabled: true, path: /readyz }'])).toThrow(/ui\.path/);
    expect(() => parse(['ui: { path: /live/ }'])).toThrow(/ui\.path/);
  });
});
