import * as z from 'zod';
import { ConfigSchema } from './schema.js';

/**
 * Renders docs/configuration.md from the config schema, so the reference cannot drift from the code: the
 * file is written by `npx tsx core/config/write-docs.ts`, and a unit test fails when it differs from this
 * function's output.
 */

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  examples?: unknown[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  minLength?: number;
  secret?: boolean;
}

const INTRO = `# Configuration reference

<!-- Generated from core/config/schema.ts by \`npx tsx core/config/write-docs.ts\`; do not edit by hand.
     test/unit/core/config/docs.test.ts fails when this file and the schema disagree. -->

Vigil reads one YAML file (\`vigil.yaml\`). It is validated once at start-up and then frozen; an unknown key,
a value of the wrong type or out of range stops Vigil with one error (\`CONFIG_INVALID\`) that lists every
problem, each naming the key path, the value and what is allowed, e.g.

\`\`\`text
invalid configuration in vigil.yaml (2 problems):
  - kafka.transport: "kafkajs2" is not one of kafkajs, rdkafka
  - batching.lingerMs: -5 must be ≥ 0
\`\`\`

Only \`input.topics\` and \`features\` (a \`preset\` or \`fields\`) are required; everything else has a default.

## Environment variables

**Overrides.** Any setting can be overridden by an environment variable named \`VIGIL__\` followed by its key
path, with a double underscore between the segments. Segments match keys ignoring case and single
underscores, so \`VIGIL__KAFKA__CLIENT_ID\` and \`VIGIL__KAFKA__CLIENTID\` both set \`kafka.clientId\`.
Values are converted to the setting's type: numbers; booleans (\`true\`/\`false\`, \`1\`/\`0\`, \`yes\`/\`no\`,
\`on\`/\`off\`); lists as comma-separated values or a YAML/JSON flow list; mappings as a YAML/JSON flow mapping.
Overrides win over the file. An override naming no known setting is an error.

\`\`\`sh
VIGIL__KAFKA__BROKERS=kafka-0:9092,kafka-1:9092
VIGIL__BATCHING__LINGER_MS=20
VIGIL__INPUT__TOPICS='[sensor-readings]'
\`\`\`

**Interpolation.** In the file, \`\${NAME}\` in a string value is replaced by the environment variable
\`NAME\`, and \`\${NAME:-fallback}\` by \`fallback\` when \`NAME\` is unset or empty; \`$\${\` stands for a literal \`\${\`.
An unset variable without a fallback is an error. A value that is a single reference is converted to the
setting's type, so \`port: \${METRICS_PORT}\` works. Use this for secrets:

\`\`\`yaml
kafka:
  security:
    protocol: SASL_SSL
    sasl:
      mechanism: SCRAM-SHA-512
      username: vigil
      password: \${KAFKA_PASSWORD}   # block style: YAML does not allow \${ inside { … }
\`\`\`

Settings marked 🔒 are secrets: they are never shown in error messages.
`;

/** The Markdown text of docs/configuration.md. */
export function renderConfigDocs(): string {
  const root = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: string[] = [INTRO];
  for (const [key, section] of Object.entries(root.properties ?? {})) {
    out.push(`## ${key}\n`);
    if (section.description !== undefined) out.push(`${section.description}\n`);
    const rows: string[] = [];
    const variants: string[] = [];
    for (const [k, child] of Object.entries(section.properties ?? {})) {
      collect(`${key}.${k}`, child, requirement(section, k, undefined), rows, variants);
    }
    if (section.properties === undefined)
      collect(key, section, requirement(root, key, undefined), rows, variants);
    out.push(table(rows));
    out.push(...variants);
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** `undefined`: optional; `''`: required; a path: required once that optional parent is given. */
type Requirement = string | undefined;

function collect(
  path: string,
  s: JsonSchema,
  required: Requirement,
  rows: string[],
  variants: string[],
): void {
  if (s.properties !== undefined) {
    rows.push(row(path, s, required));
    // Children of an optional mapping are required only once the mapping is given.
    const within = required === undefined && s.default === undefined ? path : required;
    for (const [k, child] of Object.entries(s.properties)) {
      collect(`${path}.${k}`, child, requirement(s, k, within), rows, variants);
    }
    return;
  }
  rows.push(row(path, s, required));
  const options = s.items?.oneOf;
  if (options !== undefined) {
    for (const option of options) {
      const kind = option.properties?.['kind']?.const;
      const sub: string[] = [];
      for (const [k, child] of Object.entries(option.properties ?? {})) {
        if (k === 'kind') continue;
        collect(k, child, requirement(option, k, ''), sub, variants);
      }
      const heading = `### ${path}[] with \`kind: ${String(kind)}\`\n`;
      const description = option.description === undefined ? '' : `${option.description}\n`;
      variants.push(
        `${heading}\n${option.properties?.['kind']?.description ?? ''} ${description}`.trimEnd() + '\n',
        table(sub),
      );
    }
  }
}

function requirement(parent: JsonSchema, key: string, within: Requirement): Requirement {
  if (!(parent.required?.includes(key) ?? false)) return undefined;
  return within ?? '';
}

function table(rows: string[]): string {
  return [
    '| Key | Type | Default | Example | Description |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

function row(path: string, s: JsonSchema, required: Requirement): string {
  const dflt =
    required === ''
      ? '**required**'
      : required !== undefined
        ? `required in \`${required}\``
        : s.default === undefined || s.properties !== undefined
          ? '—'
          : code(s.default);
  const example = s.examples?.[0] === undefined ? '—' : code(s.examples[0]);
  const description = (s.secret === true ? '🔒 ' : '') + (s.description ?? '');
  return `| \`${path}\` | ${typeOf(s)} | ${dflt} | ${example} | ${cell(description)} |`;
}

function typeOf(s: JsonSchema): string {
  if (s.enum !== undefined) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (s.const !== undefined) return `\`${String(s.const)}\``;
  const t = Array.isArray(s.type) ? s.type.join(' or ') : s.type;
  if (t === 'object') return 'mapping';
  if (t === 'array') {
    if (s.items?.oneOf !== undefined) return 'list of field (see below)';
    const item = s.items === undefined ? 'any' : typeOf(s.items);
    return `list of ${item}${s.minItems !== undefined && s.minItems > 0 ? ` (≥ ${s.minItems})` : ''}`;
  }
  if (t === 'integer' || t === 'number') {
    const parts: string[] = [];
    if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
    if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
    // 2^31-1 is the timer ceiling, not a limit anyone chooses; listing it is noise.
    if (s.maximum !== undefined && s.maximum < 2_147_483_647) parts.push(`≤ ${s.maximum}`);
    if (s.exclusiveMaximum !== undefined) parts.push(`< ${s.exclusiveMaximum}`);
    return parts.length === 0 ? t : `${t} (${parts.join(', ')})`;
  }
  if (s.anyOf !== undefined) return s.anyOf.map(typeOf).join(' or ');
  return t ?? 'any';
}

function code(v: unknown): string {
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return `\`${text.replace(/\|/g, '\\|')}\``;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
