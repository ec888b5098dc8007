import * as z from 'zod';

/**
 * Small helpers over zod 4's schema definitions, so the loader can find the schema of a key path (to coerce
 * environment strings, to resolve `VIGIL__CLIENT_ID` to `clientId`, to redact secrets, to list allowed keys).
 */

type AnySchema = z.core.$ZodType;

interface Def {
  type: string;
  innerType?: AnySchema;
  shape?: Record<string, AnySchema>;
  element?: AnySchema;
  options?: AnySchema[];
  discriminator?: string;
  values?: unknown[];
  entries?: Record<string, unknown>;
  in?: AnySchema;
}

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'nonoptional', 'catch']);

export function defOf(schema: AnySchema): Def {
  return schema._zod.def as unknown as Def;
}

/** Strips default/optional/… wrappers, returning the schema that says what the value is. */
export function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (;;) {
    const d = defOf(s);
    if (WRAPPERS.has(d.type) && d.innerType !== undefined) s = d.innerType;
    else if (d.type === 'pipe' && d.in !== undefined) s = d.in;
    else return s;
  }
}

/** The metadata registered with `.meta()` on a schema or any of its wrappers. */
export function metaOf(schema: AnySchema): Record<string, unknown> {
  let s: AnySchema | undefined = schema;
  const merged: Record<string, unknown> = {};
  while (s !== undefined) {
    const m = z.globalRegistry.get(s as z.ZodType);
    if (m !== undefined) for (const [k, v] of Object.entries(m)) if (!(k in merged)) merged[k] = v;
    const d = defOf(s);
    s = WRAPPERS.has(d.type) ? d.innerType : undefined;
  }
  return merged;
}

export function objectKeys(schema: AnySchema): string[] | undefined {
  const d = defOf(unwrap(schema));
  return d.type === 'object' && d.shape !== undefined ? Object.keys(d.shape) : undefined;
}

/**
 * The schema at `path` below `root`, or undefined where the path leaves the schema. `value` (the input the
 * path points into) picks the branch of a discriminated union.
 */
export function schemaAt(
  root: AnySchema,
  path: readonly PropertyKey[],
  value?: unknown,
): AnySchema | undefined {
  let s: AnySchema = root;
  let v: unknown = value;
  for (const seg of path) {
    const u = unwrap(s);
    const d = defOf(u);
    let next: AnySchema | undefined;
    if (d.type === 'union' && d.options !== undefined) {
      const branch = pickBranch(d, v);
      if (branch === undefined) return undefined;
      next = childOf(branch, seg);
    } else {
      next = childOf(u, seg);
    }
    if (next === undefined) return undefined;
    s = next;
    v = isRecord(v) || Array.isArray(v) ? (v as Record<PropertyKey, unknown>)[seg] : undefined;
  }
  const d = defOf(unwrap(s));
  return d.type === 'union' && d.options !== undefined ? (pickBranch(d, v) ?? s) : s;
}

function childOf(schema: AnySchema, seg: PropertyKey): AnySchema | undefined {
  const d = defOf(unwrap(schema));
  if (d.type === 'object' && typeof seg === 'string') return d.shape?.[seg];
  if (d.type === 'array' && typeof seg === 'number') return d.element;
  return undefined;
}

function pickBranch(d: Def, value: unknown): AnySchema | undefined {
  if (d.discriminator === undefined || !isRecord(value)) return undefined;
  const tag = value[d.discriminator];
  return d.options?.find((o) => literalValues(objectShape(o)?.[d.discriminator!]).includes(tag));
}

function objectShape(schema: AnySchema): Record<string, AnySchema> | undefined {
  const d = defOf(unwrap(schema));
  return d.type === 'object' ? d.shape : undefined;
}

function literalValues(schema: AnySchema | undefined): unknown[] {
  if (schema === undefined) return [];
  const d = defOf(unwrap(schema));
  return d.type === 'literal' ? (d.values ?? []) : [];
}

/** The leaf kind used to coerce a string from the environment. */
export function leafKind(schema: AnySchema): 'number' | 'boolean' | 'array' | 'object' | 'string' | 'other' {
  const t = defOf(unwrap(schema)).type;
  if (t === 'number' || t === 'int' || t === 'bigint') return 'number';
  if (t === 'boolean') return 'boolean';
  if (t === 'array' || t === 'tuple') return 'array';
  if (t === 'object' || t === 'record' || t === 'union') return 'object';
  if (t === 'string' || t === 'enum' || t === 'literal' || t === 'template_literal') return 'string';
  return 'other';
}

export function arrayElement(schema: AnySchema): AnySchema | undefined {
  const d = defOf(unwrap(schema));
  return d.type === 'array' ? d.element : undefined;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
