// The alert rules pass `promtool check rules`, and `promtool test rules` runs a unit test for every alert: each
// alert is expected to fire somewhere in test/prometheus/vigil.rules.test.yaml and to stay quiet somewhere.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = path.resolve(import.meta.dirname, '../../..');
const rulesFile = path.join(root, 'helm/vigil/rules/vigil.rules.yaml');
const testsFile = path.join(root, 'test/prometheus/vigil.rules.test.yaml');
const promtool = spawnSync('promtool', ['--version']).status === 0;

interface RuleTests {
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const alerts = (
  parse(readFileSync(rulesFile, 'utf8')) as {
    groups: { rules: { alert?: string; labels?: { severity?: string } }[] }[];
  }
).groups.flatMap((g) => g.rules);

describe('Prometheus alert rules', () => {
  it('every alert has a severity of critical, warning or info, and a summary', () => {
    const raw = parse(readFileSync(rulesFile, 'utf8')) as {
      groups: {
        rules: { alert?: string; labels?: { severity?: string }; annotations?: { summary?: string } }[];
      }[];
    };
    for (const r of raw.groups.flatMap((g) => g.rules)) {
      if (r.alert === undefined) continue;
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
  });

  it('every alert is unit-tested firing and quiet', () => {
    const tests = parse(readFileSync(testsFile, 'utf8')) as RuleTests;
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts) {
      if (a.alert === undefined) continue;
      const mine = cases.filter((c) => c.alertname === a.alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${a.alert} fires in a test`,
      ).toBe(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${a.alert} stays quiet in a test`,
      ).toBe(true);
    }
  });

  it.skipIf(!promtool)('promtool check rules accepts the file (needs Debian prometheus: promtool)', () => {
    const out = execFileSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' });
    expect(out).toMatch(new RegExp(`SUCCESS: ${alerts.length} rules found`));
  });

  it.skipIf(!promtool)(
    'promtool test rules passes every unit test (needs Debian prometheus: promtool)',
    () => {
      const r = spawnSync('promtool', ['test', 'rules', testsFile], { encoding: 'utf8', cwd: root });
      expect(r.stdout + r.stderr).toContain('SUCCESS');
      expect(r.status, r.stdout + r.stderr).toBe(0);
    },
  );
});
