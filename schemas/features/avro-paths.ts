/**
 * Finds the Avro type a dotted feature path points at in a reader schema (parsed .avsc JSON), so a mapping is
 * checked against the schema once, when it is compiled, instead of failing record by record: a path that does
 * not exist, a numeric feature on a string field, an enum whose symbols should come from the schema.
 *
 * Paths may cross `["null", record]` unions (a null on the way means the value is missing); they may not cross
 * unions of several non-null types, which avsc decodes wrapped (`{ "type": value }`) and the extractor does not
 * unwrap.
 */

export interface AvroLeaf {
  /** Primitive or complex type name: double, long, string, enum, record, bytes, fixed, array, map, … */
  readonly type: string;
  readonly logicalType?: string;
  /** Symbols of an enum. */
  readonly symbols?: readonly string[];
  /** True when the field, or a record on the way to it, is a union with null. */
  readonly nullable: boolean;
}

export type AvroPathResult = { ok: true; leaf: AvroLeaf } | { ok: false; problem: string };

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

type Json = Record<string, unknown>;

/** Accepts parsed schema JSON, or an avsc Type (anything with a `schema()` method returning the JSON). */
export function schemaJsonOf(schema: unknown): unknown {
  if (
    schema !== null &&
    typeof schema === 'object' &&
    typeof (schema as { schema?: unknown }).schema === 'function'
  ) {
    return (schema as { schema: (opts?: unknown) => unknown }).schema({ exportAttrs: true });
  }
  return schema;
}

export class AvroPaths {
  private readonly named = new Map<string, Json>();
  private readonly root: unknown;

  constructor(schema: unknown) {
    this.root = schemaJsonOf(schema);
    this.collectNames(this.root, undefined);
  }

  resolve(path: string): AvroPathResult {
    const segments = path.split('.');
    let type: unknown = this.root;
    let nullable = false;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const r = this.strip(type);
      if (!r.ok)
        return { ok: false, problem: `${segments.slice(0, i).join('.') || 'the record'} ${r.problem}` };
      nullable ||= r.nullable;
      const t = r.type;
      if (typeof t !== 'object' || t === null || (t as Json)['type'] !== 'record') {
        return {
          ok: false,
          problem: `${segments.slice(0, i).join('.')} is not a record, so it has no field "${seg}"`,
        };
      }
      const fields = ((t as Json)['fields'] ?? []) as Json[];
      const field = fields.find((f) => f['name'] === seg);
      if (field === undefined) {
        const where = i === 0 ? 'the record' : segments.slice(0, i).join('.');
        const names = fields.map((f) => String(f['name'])).join(', ');
        return { ok: false, problem: `${where} has no field "${seg}" (fields: ${names})` };
      }
      type = field['type'];
    }
    const r = this.strip(type);
    if (!r.ok) return { ok: false, problem: `${path} ${r.problem}` };
    nullable ||= r.nullable;
    const t = r.type;
    if (typeof t === 'string') return { ok: true, leaf: { type: t, nullable } };
    const obj = t as Json;
    const leaf: AvroLeaf = {
      type: String(obj['type']),
      nullable,
      ...(typeof obj['logicalType'] === 'string' ? { logicalType: obj['logicalType'] } : {}),
      ...(Array.isArray(obj['symbols']) ? { symbols: obj['symbols'] as string[] } : {}),
    };
    return { ok: true, leaf };
  }

  /** Follows named references and strips a null branch from a union. */
  private strip(
    type: unknown,
  ): { ok: true; type: unknown; nullable: boolean } | { ok: false; problem: string } {
    let nullable = false;
    let t = this.deref(type);
    if (Array.isArray(t)) {
      const branches = t.filter((b) => b !== 'null');
      nullable = branches.length < t.length;
      if (branches.length !== 1)
        return { ok: false, problem: 'is a union of several types; map a field that has one type' };
      t = this.deref(branches[0]);
    }
    // {"type": "double"} and {"type": {"type": "record", …}} are the same as their inner type.
    while (
      typeof t === 'object' &&
      t !== null &&
      !Array.isArray(t) &&
      typeof (t as Json)['type'] === 'object'
    ) {
      t = this.deref((t as Json)['type']);
    }
    return { ok: true, type: t, nullable };
  }

  private deref(type: unknown): unknown {
    if (typeof type === 'string' && !PRIMITIVES.has(type)) return this.named.get(type) ?? type;
    return type;
  }

  private collectNames(type: unknown, namespace: string | undefined): void {
    if (Array.isArray(type)) {
      for (const t of type) this.collectNames(t, namespace);
      return;
    }
    if (typeof type !== 'object' || type === null) return;
    const t = type as Json;
    const name = t['name'];
    let ns = typeof t['namespace'] === 'string' ? t['namespace'] : namespace;
    if (
      typeof name === 'string' &&
      (t['type'] === 'record' || t['type'] === 'enum' || t['type'] === 'fixed' || t['type'] === 'error')
    ) {
      const dot = name.lastIndexOf('.');
      if (dot >= 0) ns = name.slice(0, dot);
      const short = dot >= 0 ? name.slice(dot + 1) : name;
      this.named.set(short, t);
      this.named.set(ns ? `${ns}.${short}` : short, t);
    }
    if (Array.isArray(t['fields'])) for (const f of t['fields'] as Json[]) this.collectNames(f['type'], ns);
    if (typeof t['type'] === 'object') this.collectNames(t['type'], ns);
    if (t['items'] !== undefined) this.collectNames(t['items'], ns);
    if (t['values'] !== undefined) this.collectNames(t['values'], ns);
  }
}
