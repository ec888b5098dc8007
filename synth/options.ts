import { z } from 'zod';
import { VigilError } from '../core/errors.js';
import { SENSOR_ANOMALY_KINDS, TRANSACTION_ANOMALY_KINDS } from './ground-truth.js';

/** Parses "20-60" (or "30", meaning 30-30) into an inclusive integer range. */
const intRange = z
  .string()
  .regex(/^\s*\d+\s*(-\s*\d+\s*)?$/, 'expected MIN-MAX, e.g. 20-60')
  .transform((text) => {
    const [a, b = a] = text.split('-').map((part) => Number.parseInt(part.trim(), 10));
    return [a!, b!] as const;
  })
  .refine(([a, b]) => a >= 1 && b >= a, 'expected 1 ≤ MIN ≤ MAX');

const list = z.string().transform((text) =>
  text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0),
);

const eventTime = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' || /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'expected an ISO-8601 time or milliseconds since the epoch' });
    return z.NEVER;
  }
  return ms;
});

const count = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

/**
 * Options of `vigil generate`. Every field has a description and a default where one makes sense; unknown keys
 * are refused. Values arrive as strings from the command line and are coerced here.
 */
export const GenerateConfigSchema = z
  .strictObject({
    kind: z
      .enum(['sensor', 'transaction'])
      .describe('Record kind: sensor (SensorReading) or transaction (CardTransaction).'),
    seed: count(0)
      .default(1)
      .describe('Seed of every random stream; same seed and options, same output. Example: 42.'),
    count: count(0)
      .default(10_000)
      .describe('Records to produce; 0 runs until interrupted. Example: 1000000.'),
    entities: count(1, 10_000_000)
      .optional()
      .describe('Devices (sensor, default 50) or cards (transaction, default 10000).'),
    start: eventTime
      .default(Date.UTC(2024, 0, 1))
      .describe('Event time of the first record: ISO-8601 or epoch ms. Default 2024-01-01T00:00:00Z.'),
    intervalMs: z.coerce
      .number()
      .positive()
      .optional()
      .describe(
        'Simulated time step, ms: per-device reporting interval (sensor, default 10000) or mean gap between transactions across all cards (transaction, default 4000).',
      ),
    anomalyRate: z.coerce
      .number()
      .min(0)
      .lt(1)
      .default(0.01)
      .describe('Long-run share of records labelled anomalous, in [0, 1). Example: 0.02.'),
    anomalyKinds: list
      .optional()
      .describe('Comma-separated anomaly kinds to inject (default: all for the record kind).'),
    episodeLength: intRange
      .optional()
      .describe('Sensor episode length in readings of one device, MIN-MAX. Default 20-60.'),
    burstSize: intRange.optional().describe('Transactions per burst episode, MIN-MAX. Default 8-20.'),
    out: z
      .string()
      .min(1)
      .optional()
      .describe('Write records to this file (.avro: object container; .jsonl: JSON lines).'),
    format: z.enum(['ocf', 'jsonl']).optional().describe('File format, when the extension does not say.'),
    codec: z.enum(['null', 'deflate']).default('null').describe('Block codec of an Avro container file.'),
    topic: z
      .string()
      .min(1)
      .optional()
      .describe('Produce records to this Kafka topic (key = device or card id).'),
    brokers: list
      .default(['localhost:9092'])
      .describe('Comma-separated bootstrap brokers. Example: localhost:9092.'),
    wire: z
      .enum(['plain', 'confluent'])
      .default('plain')
      .describe(
        'Kafka value format: plain Avro body, or Confluent framing (magic byte, schema id) via a registry.',
      ),
    registryUrl: z.url().optional().describe('Schema registry base URL (required with --wire confluent).'),
    subject: z
      .string()
      .min(1)
      .optional()
      .describe('Registry subject; default <topic>-value (TopicNameStrategy).'),
    rate: z.coerce.number().min(0).default(0).describe('Target records per second; 0 = as fast as possible.'),
    batchSize: count(1, 100_000).default(2000).describe('Records per Kafka send (or file write).'),
    maxInFlight: count(1, 64)
      .default(4)
      .describe('Kafka sends awaiting acknowledgement at once; 1 keeps per-key order even across retries.'),
    acks: z
      .enum(['all', 'leader', 'none'])
      .default('all')
      .describe('Kafka acknowledgements awaited per send.'),
    compression: z.enum(['none', 'gzip']).default('none').describe('Kafka batch compression.'),
    truth: z.string().min(1).optional().describe('Write ground truth (labels) to this JSONL file.'),
    truthMode: z
      .enum(['all', 'anomalies'])
      .default('all')
      .describe('Ground-truth rows to keep: every record, or only the anomalous ones.'),
    clientId: z.string().min(1).default('vigil-generate').describe('Kafka client id.'),
    json: z.boolean().default(false).describe('Print the final report as JSON.'),
  })
  .superRefine((c, ctx) => {
    if ((c.out === undefined) === (c.topic === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['out'], message: 'give exactly one of --out and --topic' });
    }
    if (c.wire === 'confluent' && c.registryUrl === undefined) {
      ctx.addIssue({ code: 'custom', path: ['registryUrl'], message: 'required with --wire confluent' });
    }
    const allowed: readonly string[] = c.kind === 'sensor' ? SENSOR_ANOMALY_KINDS : TRANSACTION_ANOMALY_KINDS;
    for (const k of c.anomalyKinds ?? []) {
      if (!allowed.includes(k)) {
        ctx.addIssue({
          code: 'custom',
          path: ['anomalyKinds'],
          message: `unknown ${c.kind} anomaly kind "${k}"; allowed: ${allowed.join(', ')}`,
        });
      }
    }
    if (c.kind === 'transaction' && c.episodeLength !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['episodeLength'], message: 'applies to sensor records only' });
    }
    if (c.kind === 'sensor' && c.burstSize !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['burstSize'], message: 'applies to transaction records only' });
    }
    if (c.burstSize !== undefined && c.burstSize[0] < 2) {
      ctx.addIssue({ code: 'custom', path: ['burstSize'], message: 'a burst has at least 2 transactions' });
    }
  });

export type GenerateConfigInput = z.input<typeof GenerateConfigSchema>;
export type GenerateConfig = Readonly<z.output<typeof GenerateConfigSchema>>;

function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)}`;
}

/** Validates once and freezes; a bad value is CONFIG_INVALID naming the flag, the value and what is allowed. */
export function parseGenerateConfig(input: Record<string, unknown>): GenerateConfig {
  const result = GenerateConfigSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key =
        issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : String(issue.path[0] ?? 'options');
      const value = input[key];
      const shown = value === undefined ? 'missing' : JSON.stringify(value);
      return { key, flag: flagOf(key), value: shown, message: issue.message };
    });
    const text = problems.map((p) => `${p.flag} = ${p.value}: ${p.message}`).join('; ');
    throw new VigilError('CONFIG_INVALID', `invalid generate options: ${text}`, {
      details: { problems },
    });
  }
  return Object.freeze(result.data);
}
