import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type * as z from 'zod';
import { VigilError } from '../errors.js';
import { ConfigSchema, type VigilConfig } from './schema.js';
import { arrayElement, isRecord, leafKind, metaOf, objectKeys, schemaAt, unwrap } from './schema-walk.js';

/**
 * Loading vigil.yaml: YAML file → `${ENV}` interpolation → `VIGIL__…` environment overrides → validation →
 * deep freeze. Every problem found on the way is collected and reported together in one
 * VigilError('CONFIG_INVALID'), one line per problem, naming the key path, the value and what is allowed.
 *
 * Nothing here reads `process.env` itself: the composition root passes the environment in.
 */

export const ENV_PREFIX = 'VIGIL__';

export type Env = Readonly<Record<string, string | undefined>>;

export interface LoadOptions {
  /** The environment (the composition root passes `process.env`). Default: none. */
  env?: Env;
  /** Name of where the text came from, for messages. */
  source?: string;
}

interface Problem {
  path: readonly PropertyKey[];
  /** The whole line, key path first. */
  text: string;
}

/** Validates an already-parsed config tree (no interpolation, no environment), then freezes it. */
export function validateConfig(input: unknown, source = 'configuration'): VigilConfig {
  const result = ConfigSchema.safeParse(input);
  if (!result.success) {
    throw configError(
      source,
      result.error.issues.map((i) => describeIssue(i, input)),
    );
  }
  return deepFreeze(result.data);
}

/** Parses YAML text, applies `${ENV}` interpolation and `VIGIL__` overrides from `env`, validates, freezes. */
export function parseConfig(text: string, options: LoadOptions = {}): VigilConfig {
  const env = options.env ?? {};
  const source = options.source ?? 'configuration';
  const problems: Problem[] = [];

  const doc = parseDocument(text);
  for (const e of doc.errors) {
    const at = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : 'YAML';
    problems.push({ path: [], text: `${at}: ${e.message.split(' at line ')[0]!.split('\n')[0]}` });
  }
  if (problems.length > 0) throw configError(source, problems);

  let tree: unknown = doc.toJS() ?? {};
  if (!isRecord(tree))
    throw configError(source, [{ path: [], text: `the top level must be a mapping, not ${typeName(tree)}` }]);

  tree = interpolate(tree, env, [], problems);
  const origins = applyEnvOverrides(tree as Record<string, unknown>, env, problems);

  const result = ConfigSchema.safeParse(tree);
  if (!result.success) {
    // A key whose interpolation already failed would only be reported again, less clearly.
    const reported = new Set(problems.map((p) => formatPath(p.path)));
    for (const issue of result.error.issues) {
      if (!reported.has(formatPath(issue.path))) problems.push(describeIssue(issue, tree, origins));
    }
  }
  if (problems.length > 0 || !result.success) throw configError(source, problems);
  return deepFreeze(result.data);
}

/** Reads and parses a config file. `path` undefined: defaults plus environment overrides only. */
export async function loadConfigFile(
  path: string | undefined,
  options: Omit<LoadOptions, 'source'> = {},
): Promise<VigilConfig> {
  if (path === undefined) return parseConfig('', { ...options, source: 'environment' });
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new VigilError('CONFIG_INVALID', `cannot read config file ${path}: ${(cause as Error).message}`, {
      cause,
      details: { path },
    });
  }
  return parseConfig(text, { ...options, source: path });
}

// ---------------------------------------------------------------------------------------------------------
// ${ENV} interpolation

const REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_REF = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in string values (never in keys); `$${` stands for a literal `${`.
 * A value that is one reference and nothing else is then coerced to the setting's type, so `port: ${PORT}` works.
 */
function interpolate(
  node: unknown,
  env: Env,
  path: PropertyKey[],
  problems: Problem[],
  root: unknown = node,
): unknown {
  if (typeof node === 'string') {
    if (!node.includes('${')) return node;
    const missing: string[] = [];
    const out = node.replace(REF, (match, name: string | undefined, dflt: string | undefined) => {
      if (match === '$${') return '${';
      const v = env[name!];
      if (v !== undefined && v !== '') return v;
      if (dflt !== undefined) return dflt;
      missing.push(name!);
      return match;
    });
    if (missing.length > 0) {
      const refs = missing.map((m) => '${' + m + '}').join(', ');
      problems.push({
        path,
        text: `${formatPath(path)}: ${refs} ${missing.length > 1 ? 'are' : 'is'} not set in the environment`,
      });
      return node;
    }
    if (!WHOLE_REF.test(node)) return out;
    const target = schemaAt(ConfigSchema, path, root);
    return target === undefined ? out : coerce(out, target);
  }
  if (Array.isArray(node)) return node.map((v, i) => interpolate(v, env, [...path, i], problems, root));
  if (isRecord(node)) {
    for (const [k, v] of Object.entries(node)) node[k] = interpolate(v, env, [...path, k], problems, root);
  }
  return node;
}

// ---------------------------------------------------------------------------------------------------------
// VIGIL__SECTION__KEY=value overrides

const normalise = (s: string) => s.replace(/[_-]/g, '').toLowerCase();

/**
 * `VIGIL__KAFKA__BROKERS=a:9092,b:9092` sets kafka.brokers. Segments are separated by a double underscore and
 * matched to keys ignoring case and single underscores (`CLIENT_ID` and `CLIENTID` both mean clientId). Values
 * are coerced to the setting's type: numbers, booleans (true/false/1/0/yes/no), lists (comma-separated, or a
 * YAML/JSON flow list `[…]`), objects (YAML/JSON flow mapping `{…}`). Returns where each overridden path came from.
 */
function applyEnvOverrides(
  tree: Record<string, unknown>,
  env: Env,
  problems: Problem[],
): Map<string, string> {
  const origins = new Map<string, string>();
  const names = Object.keys(env)
    .filter((n) => n.startsWith(ENV_PREFIX) && env[n] !== undefined)
    .sort();
  for (const name of names) {
    const raw = env[name]!;
    const segments = name.slice(ENV_PREFIX.length).split('__');
    let schema: z.core.$ZodType = ConfigSchema;
    let node: Record<string, unknown> = tree;
    const path: string[] = [];
    let failed = false;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const keys = objectKeys(schema);
      const key = keys?.find((k) => normalise(k) === normalise(seg));
      if (keys === undefined || key === undefined) {
        const where = path.length === 0 ? 'the top level' : path.join('.');
        const allowed =
          keys === undefined ? `${where} is not a section` : `known keys of ${where}: ${keys.join(', ')}`;
        problems.push({ path: [], text: `${name}: no setting "${seg}" (${allowed})` });
        failed = true;
        break;
      }
      path.push(key);
      schema = (unwrap(schema)._zod.def as unknown as { shape: Record<string, z.core.$ZodType> }).shape[key]!;
      if (i < segments.length - 1) {
        const child = node[key];
        if (child === undefined || child === null) node[key] = {};
        else if (!isRecord(node[key])) {
          problems.push({
            path,
            text: `${name}: ${path.join('.')} is ${typeName(child)} in the file, not a mapping`,
          });
          failed = true;
          break;
        }
        node = node[key] as Record<string, unknown>;
      }
    }
    if (failed) continue;
    node[path[path.length - 1]!] = coerce(raw, schema);
    origins.set(path.join('.'), name);
  }
  return origins;
}

function coerce(raw: string, schema: z.core.$ZodType): unknown {
  const s = raw.trim();
  switch (leafKind(schema)) {
    case 'number':
      return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s) ? Number(s) : raw;
    case 'boolean': {
      const l = s.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(l)) return true;
      if (['false', '0', 'no', 'off'].includes(l)) return false;
      return raw;
    }
    case 'array': {
      if (s.startsWith('[')) return parseFlow(s, raw);
      if (s === '') return [];
      const element = arrayElement(schema);
      return s.split(',').map((part) => (element === undefined ? part.trim() : coerce(part.trim(), element)));
    }
    case 'object':
      return s.startsWith('{') ? parseFlow(s, raw) : raw;
    default:
      return raw;
  }
}

function parseFlow(s: string, raw: string): unknown {
  const doc = parseDocument(s);
  return doc.errors.length > 0 ? raw : doc.toJS();
}

// ---------------------------------------------------------------------------------------------------------
// Messages

function describeIssue(
  issue: z.core.$ZodIssue,
  input: unknown,
  origins = new Map<string, string>(),
): Problem {
  const path = issue.path;
  const value = valueAt(input, path);
  const target = schemaAt(ConfigSchema, path, input);
  const secret = target !== undefined && metaOf(target).secret === true;
  const shown = secret ? '"***"' : show(value);
  let text: string;
  switch (issue.code) {
    case 'invalid_value':
      text = `${shown} is not one of ${issue.values.map(String).join(', ')}`;
      break;
    case 'invalid_union': {
      const u = issue as z.core.$ZodIssueInvalidUnion & { options?: unknown[]; discriminator?: string };
      if (u.options !== undefined) {
        text =
          value === undefined
            ? `required: one of ${u.options.map(String).join(', ')}`
            : `${shown} is not one of ${u.options.map(String).join(', ')}`;
      } else {
        text = `${shown} matches none of the allowed forms`;
      }
      break;
    }
    case 'invalid_type':
      text =
        value === undefined
          ? `required (${article(issue.expected)})`
          : `${shown} is not ${article(issue.expected)}`;
      break;
    case 'too_small':
    case 'too_big':
      text = `${shown} ${bound(issue)}`;
      break;
    case 'invalid_format':
      text =
        issue.format === 'regex'
          ? `${shown} is not ${issue.message}`
          : `${shown} is not a valid ${issue.format}`;
      break;
    case 'unrecognized_keys': {
      const allowed = target === undefined ? undefined : objectKeys(target);
      return {
        path,
        text: issue.keys
          .map((k) => {
            const hint = allowed === undefined ? '' : suggestion(k, allowed);
            const list = allowed === undefined ? '' : ` (allowed: ${allowed.join(', ')})`;
            return `${formatPath([...path, k])}: unknown key${hint}${list}`;
          })
          .join('\n  - '),
      };
    }
    default:
      text = issue.message;
  }
  const origin = origins.get(path.map(String).join('.'));
  return { path, text: `${formatPath(path)}: ${text}${origin === undefined ? '' : ` (from ${origin})`}` };
}

function configError(source: string, problems: Problem[]): VigilError {
  const fixed = problems.map((p) => p.text);
  const count = fixed.length === 1 ? '1 problem' : `${fixed.length} problems`;
  return new VigilError(
    'CONFIG_INVALID',
    `invalid configuration in ${source} (${count}):\n  - ${fixed.join('\n  - ')}`,
    {
      details: { source, problems: fixed },
    },
  );
}

/** `features.fields[2].kind` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path)
    out += typeof seg === 'number' ? `[${seg}]` : out === '' ? String(seg) : `.${String(seg)}`;
  return out === '' ? '(top level)' : out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const seg of path) {
    if (!isRecord(v) && !Array.isArray(v)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

function article(expected: string): string {
  const names: Record<string, string> = {
    int: 'an integer',
    array: 'a list',
    object: 'a mapping',
    string: 'a string',
    number: 'a number',
    boolean: 'a boolean (true or false)',
  };
  return names[expected] ?? `a ${expected}`;
}

function bound(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === 'too_small';
  const limit = small
    ? (issue as z.core.$ZodIssueTooSmall).minimum
    : (issue as z.core.$ZodIssueTooBig).maximum;
  const n = Number(limit);
  switch (issue.origin) {
    case 'array':
      return small ? `needs at least ${n} item${n === 1 ? '' : 's'}` : `allows at most ${n} items`;
    case 'string':
      return small
        ? n === 1
          ? 'must not be empty'
          : `needs at least ${n} characters`
        : `allows at most ${n} characters`;
    default: {
      const op = small ? (issue.inclusive ? '≥' : '>') : issue.inclusive ? '≤' : '<';
      return `must be ${op} ${n}`;
    }
  }
}

function suggestion(key: string, allowed: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const a of allowed) {
    const d = editDistance(key.toLowerCase(), a.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = a;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3))
    ? `, did you mean ${best}?`
    : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

// ---------------------------------------------------------------------------------------------------------

/** Freezes an object graph, so no part of the running service can change the validated config. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
