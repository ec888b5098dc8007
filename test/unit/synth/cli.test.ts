import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka, ProducerRecord } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { isVigilError, type VigilError } from '../../../core/errors.js';
import { loadSchema } from '../../../schemas/catalog.js';
import { AvroCodec } from '../../../schemas/codec.js';
import type { CardTransaction } from '../../../schemas/types.js';
import { createGenerateCommand, runGenerateCli } from '../../../synth/cli.js';
import { parseGenerateConfig } from '../../../synth/options.js';
import { parseTruthLines } from '../../../synth/truth-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-synth-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { stdout: () => {} };

async function configError(argv: string[]): Promise<VigilError> {
  const err = await runGenerateCli(argv, quiet).catch((e: unknown) => e);
  if (!isVigilError(err, 'CONFIG_INVALID')) throw new Error(`expected CONFIG_INVALID, got ${String(err)}`);
  return err;
}

describe('generate CLI', () => {
  it('the same seed writes byte-identical files and ground truth; another seed does not', async () => {
    const run = async (name: string, seed: string) => {
      const out = join(dir, `${name}.avro`);
      const truth = join(dir, `${name}.truth.jsonl`);
      await runGenerateCli(
        ['sensor', '--seed', seed, '-n', '3000', '--out', out, '--truth', truth, '--anomaly-rate', '0.05'],
        quiet,
      );
      return { out: readFileSync(out), truth: readFileSync(truth, 'utf8') };
    };
    const a = await run('a', '11');
    const b = await run('b', '11');
    const c = await run('c', '12');
    expect(a.out.equals(b.out)).toBe(true);
    expect(a.truth).toBe(b.truth);
    expect(a.out.equals(c.out)).toBe(false);
    const rows = parseTruthLines(a.truth);
    expect(rows).toHaveLength(3000);
    expect(rows.some((r) => r.label === 1)).toBe(true);
  });

  it('prints one summary line, or the report as JSON with --json', async () => {
    const lines: string[] = [];
    const report = await runGenerateCli(
      ['transaction', '-n', '500', '--out', join(dir, 't.jsonl'), '--json'],
      {
        stdout: (t) => lines.push(t),
      },
    );
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      kind: 'card_transaction',
      records: 500,
      target: join(dir, 't.jsonl'),
    });
    expect(report.records).toBe(500);
    const text: string[] = [];
    await runGenerateCli(['sensors', '-n', '100', '--out', join(dir, 's.jsonl')], {
      stdout: (t) => text.push(t),
    });
    expect(text[0]).toMatch(/^generated 100 sensor_reading records .* records\/s/);
  });

  it('produces to Kafka through the producer it is given: keys are card ids, values plain Avro', async () => {
    const sent: ProducerRecord[] = [];
    const calls: string[] = [];
    const kafka = {
      producer: () => ({
        connect: async () => void calls.push('connect'),
        disconnect: async () => void calls.push('disconnect'),
        // Copies the values, as kafkajs does when it encodes the request: the sink reuses its buffers after.
        send: async (r: ProducerRecord) => {
          sent.push({
            ...r,
            messages: r.messages.map((m) => ({ ...m, value: Buffer.from(m.value as Buffer) })),
          });
          return [];
        },
      }),
    } as unknown as Kafka;
    const report = await runGenerateCli(
      ['transaction', '-n', '1200', '--topic', 'tx', '--batch-size', '500', '--acks', 'leader'],
      {
        ...quiet,
        createKafka: () => kafka,
      },
    );
    expect(report.records).toBe(1200);
    expect(calls).toEqual(['connect', 'disconnect']);
    expect(sent.map((s) => s.messages.length)).toEqual([500, 500, 200]);
    expect(sent.every((s) => s.topic === 'tx' && s.acks === 1)).toBe(true);
    const codec = new AvroCodec<CardTransaction>(loadSchema('card_transaction'));
    for (const m of sent[0]!.messages.slice(0, 50))
      expect(codec.decode(m.value as Buffer).card_id).toBe(String(m.key));
  });

  it('refuses bad options with CONFIG_INVALID naming the flag and the value', async () => {
    const err = await configError(['sensor', '--count', '-1', '--anomaly-rate', '1.5', '--out', 'x.avro']);
    expect(err.message).toContain('--count = "-1"');
    expect(err.message).toContain('--anomaly-rate = "1.5"');
    expect((await configError(['sensor', '-n', '5'])).message).toContain('exactly one of --out and --topic');
    expect((await configError(['sensor', '--out', 'x.avro', '--topic', 't'])).message).toContain(
      'exactly one',
    );
    expect((await configError(['sensor', '--topic', 't', '--wire', 'confluent'])).message).toContain(
      '--registry-url',
    );
    expect(
      (await configError(['transaction', '--out', 'x.avro', '--anomaly-kinds', 'spike'])).message,
    ).toContain('unknown transaction anomaly kind "spike"');
    expect((await configError(['sensor', '--out', 'x.avro', '--episode-length', '9-3'])).message).toContain(
      '--episode-length',
    );
    expect((await configError(['robots', '--out', 'x.avro'])).message).toContain('--kind');
    expect((await configError(['sensor', '--out', 'x.avro', '--nope'])).message).toContain(
      "unknown option '--nope'",
    );
    expect((await configError(['sensor', '--out', 'x.txt'])).message).toContain('--format');
  });

  it('validated config has defaults, parses start times, and is frozen', () => {
    const c = parseGenerateConfig({
      kind: 'sensor',
      out: 'x.avro',
      start: '2024-03-01T12:00:00Z',
      episodeLength: '5-9',
    });
    expect(c).toMatchObject({
      seed: 1,
      count: 10_000,
      anomalyRate: 0.01,
      wire: 'plain',
      batchSize: 2000,
      maxInFlight: 4,
    });
    expect(c.start).toBe(Date.UTC(2024, 2, 1, 12));
    expect(c.episodeLength).toEqual([5, 9]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(parseGenerateConfig({ kind: 'sensor', out: 'x', start: '1700000000000' }).start).toBe(
      1_700_000_000_000,
    );
    expect(() => parseGenerateConfig({ kind: 'sensor', out: 'x', start: 'yesterday' })).toThrow(/--start/);
    expect(() => parseGenerateConfig({ kind: 'sensor', out: 'x', colour: 'red' })).toThrow(/colour/);
  });

  it('is a commander command the composition root can mount', () => {
    const cmd = createGenerateCommand();
    expect(cmd.name()).toBe('generate');
    expect(cmd.options.map((o) => o.long)).toEqual(
      expect.arrayContaining(['--topic', '--wire', '--rate', '--truth', '--seed']),
    );
  });
});
