// The README's "Running it against your cluster" section, followed as written on the real broker and schema
// registry: its command blocks and its vigil.yaml are read from README.md itself, so the README cannot drift
// from what works. Each `npx vigil …` line runs as its own process from source (`npm ci` and `npm run build`,
// which `npx vigil` needs, are what CI has done already; cli/entry.ts is the entry bin/vigil.js runs once built),
// in a scratch directory that plays the user's project (normal.avro, models/, live.truth.jsonl land there).
// Only the cluster differs: the broker and registry addresses and the topic and group names are the harness's,
// through the environment overrides the README documents and, in `generate`'s arguments, by substitution.
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confluentDecoder } from '../../connector/pipeline/decode-stage.js';
import { loadSchema } from '../../schemas/catalog.js';
import { SchemaCache } from '../../schemas/codec.js';
import { RegistryClient } from '../../schemas/registry-client.js';
import type { AnomalyEvent } from '../../schemas/types.js';
import { brokers, registryUrl, uniqueName } from '../support/kafka.js';
import { REPO_ROOT } from '../support/services.js';
import { spawnVigil, type VigilProcess } from '../support/vigil-process.js';
import { client, createTopics, deleteTopics, readTopic, waitForProgress } from './pipeline/robustness.js';

interface Section {
  readonly commands: string[][];
  readonly live: string[][];
  readonly yaml: string;
}

/** The section's code blocks: the commands, the live stream, the vigil.yaml (in that order in the README). */
function readmeSection(): Section {
  const text = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const start = text.indexOf('## Running it against your cluster');
  expect(start, 'README section "Running it against your cluster"').toBeGreaterThanOrEqual(0);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, body: m[2]! }));
  const bash = blocks.filter((b) => b.lang === 'bash').map((b) => shellLines(b.body));
  const yaml = blocks.find((b) => b.lang === 'yaml');
  expect(bash.length).toBeGreaterThanOrEqual(2);
  expect(yaml).toBeDefined();
  return { commands: bash[0]!, live: bash[1]!, yaml: yaml!.body };
}

/** Shell lines as argv: continuations joined, comments dropped. The README keeps to plain words. */
function shellLines(body: string): string[][] {
  return body
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/\s#.*$/, '').trim())
    .filter((l) => l !== '')
    .map((l) => {
      expect(l, 'README commands are plain words (no quotes or variables)').not.toMatch(/["'$`]/);
      return l.split(/\s+/);
    });
}

/** `npx vigil <args>` → args. */
function vigilArgs(argv: string[]): string[] {
  expect(argv.slice(0, 2), argv.join(' ')).toEqual(['npx', 'vigil']);
  return argv.slice(2);
}

const anomalyType = loadSchema('anomaly_event');
const running: VigilProcess[] = [];

describe('README: train, then run, against a cluster (commands as written)', () => {
  const input = uniqueName('readme-in');
  const anomalies = uniqueName('readme-anom');
  const dlq = uniqueName('readme-dlq');
  const groupId = uniqueName('readme-group');
  const kafka = client();
  const project = mkdtempSync(path.join(tmpdir(), 'vigil-readme-'));
  let section: Section;
  // The cluster: what a reader's own brokers, registry and names are in the README.
  const env = (): NodeJS.ProcessEnv => ({
    VIGIL__KAFKA__BROKERS: brokers().join(','),
    VIGIL__KAFKA__GROUPID: groupId,
    VIGIL__INPUT__TOPICS: input,
    VIGIL__INPUT__REGISTRY__URL: registryUrl(),
    VIGIL__OUTPUT__ANOMALIESTOPIC: anomalies,
    VIGIL__OUTPUT__DEADLETTERTOPIC: dlq,
    // The harness machine is shared: no fixed metrics port.
    VIGIL__METRICS__ENABLED: 'false',
  });
  const cluster = (arg: string) =>
    ({
      'kafka-0:9092': brokers().join(','),
      'http://schema-registry:8081': registryUrl(),
      'sensor-readings': input,
    })[arg] ?? arg;

  beforeAll(async () => {
    section = readmeSection();
    writeFileSync(path.join(project, 'vigil.yaml'), section.yaml);
    // The reader schema where the README's vigil.yaml looks for it, as in a checkout.
    symlinkSync(path.join(REPO_ROOT, 'schemas'), path.join(project, 'schemas'));
    await createTopics(kafka, { [input]: 3 });
  });
  afterAll(async () => {
    for (const p of running) await p.kill();
    await deleteTopics(kafka, [input, anomalies, dlq]);
    rmSync(project, { recursive: true, force: true });
  });

  it('generates normal data, trains on it with vigil.yaml, runs, and flags the anomalies of a live stream', async () => {
    const [install, build, ...steps] = section.commands;
    expect(install).toEqual(['npm', 'ci']);
    expect(build).toEqual(['npm', 'run', 'build']);
    const last = vigilArgs(steps[steps.length - 1]!);
    expect(last).toEqual(['run', '--config', 'vigil.yaml']);

    for (const step of steps.slice(0, -1)) {
      const p = spawnVigil(vigilArgs(step), { cwd: project, env: env() });
      running.push(p);
      const exit = await p.exited;
      expect(exit.code, `${step.join(' ')}:\n${p.tail()}`).toBe(0);
      if (step.includes('train')) {
        expect(p.output()).toMatch(/trained dense on 20000 rows × 97 features of normal\.avro/);
        expect(p.output()).toMatch(/feature mapping [0-9a-f]{12}/);
      }
    }

    const vigil = spawnVigil(vigilArgs(steps[steps.length - 1]!), { cwd: project, env: env() });
    running.push(vigil);
    await vigil.waitForLog('partitions assigned', 120_000);
    // A model whose mapping was checked, not matched by names only.
    expect(vigil.logs().some((l) => String(l.msg).includes('records no feature mapping'))).toBe(false);

    expect(section.live).toHaveLength(1);
    const live = spawnVigil(vigilArgs(section.live[0]!).map(cluster), { cwd: project, env: env() });
    running.push(live);
    const sent = await vigil.whileRunning(live.exited);
    expect(sent.code, live.tail()).toBe(0);
    const count = Number(section.live[0]![section.live[0]!.indexOf('-n') + 1]);
    expect(count).toBeGreaterThan(0);

    await vigil.whileRunning(
      waitForProgress(
        kafka,
        groupId,
        input,
        'every live reading committed',
        (p) => p.committed >= count,
        240_000,
      ),
    );
    const events = await readTopic(kafka, anomalies);
    expect(await readTopic(kafka, dlq)).toHaveLength(0);
    const registry = new RegistryClient({ url: registryUrl(), cache: new SchemaCache() });
    const decoder = confluentDecoder(anomalyType, registry.cache, registry);
    await decoder.prepare(events.map((e) => e.value));
    const decoded = events.map((e) => decoder.decode(e.value!) as AnomalyEvent);

    // Judged against the generator's labels (live.truth.jsonl, written by the README's command).
    const truth = new Map<string, number>();
    for (const line of readFileSync(path.join(project, 'live.truth.jsonl'), 'utf8').trim().split('\n')) {
      const t = JSON.parse(line) as { id: string; label: number };
      truth.set(t.id, t.label);
    }
    const anomalous = [...truth.values()].filter((l) => l === 1).length;
    const hits = decoded.filter((e) => truth.get(`${e.entity}@${Number(e.event_time)}`) === 1).length;
    expect(decoded.every((e) => e.source.topic === input)).toBe(true);
    expect(decoded.every((e) => truth.has(`${e.entity}@${Number(e.event_time)}`))).toBe(true);
    console.info(
      `README path: ${decoded.length} anomaly events for ${count} readings, ${hits} of ${anomalous} labelled anomalies among them`,
    );
    // Anomaly events, and mostly for the labelled readings: far above their 2 % share of the stream.
    expect(hits).toBeGreaterThan(anomalous / 4);
    expect(hits / decoded.length).toBeGreaterThan(0.25);

    const stopped = await vigil.stop();
    expect(stopped.code).toBe(0);
  }, 900_000);

  it('trains from the records a topic retains with the same vigil.yaml (--topic instead of --data)', async () => {
    const p = spawnVigil(
      ['train', '--config', 'vigil.yaml', '--topic', input, '--out', 'models/from-topic', '--epochs', '5'],
      { cwd: project, env: env() },
    );
    running.push(p);
    const exit = await p.exited;
    expect(exit.code, p.tail()).toBe(0);
    const count = Number(section.live[0]![section.live[0]!.indexOf('-n') + 1]);
    // Every record the topic holds (the live stream above), decoded through the registry and mapped.
    expect(p.output()).toContain(`trained dense on ${count} rows × 97 features of topic ${input}`);
    const manifest = JSON.parse(readFileSync(path.join(project, 'models/from-topic/manifest.json'), 'utf8'));
    const served = JSON.parse(readFileSync(path.join(project, 'models/sensor/manifest.json'), 'utf8'));
    expect(manifest.featureMapping.fingerprint).toBe(served.featureMapping.fingerprint);
  }, 600_000);
});
