import type { AvroType } from './avro.js';

/**
 * An Avro body reader that decodes every record into the same object, for the pipeline's hot path, where a
 * decoded value lives only until its features are extracted. avsc builds a fresh record per body and a
 * HeapNumber for each double in it: about 1.3 KB of garbage for a record of 30 doubles, which was a quarter of
 * everything the pipeline's thread allocated (bench/RESULTS.md, "Pipeline"). Stored again and again into the
 * same object, a double field is overwritten in place.
 *
 * The reader is generated per schema (`new Function`, as avsc and schemas/features/codegen.ts do); the only text
 * from the schema in its source is field names, which Avro restricts to `[A-Za-z_][A-Za-z0-9_]*`, emitted as JSON
 * string literals anyway. Every read mirrors avsc 5.7's Tap and types, so the same bytes give the same value or
 * the same failure (a test holds the two together on valid and on mutated bodies). Schemas it does not cover
 * (arrays, maps, bytes, fixed, wrapped unions) get no reader: the caller keeps avsc.
 *
 * The object returned by a call is overwritten by the next one: read what is needed before decoding again.
 */
export type ReusingReader = (buf: Buffer, pos: number) => ReusedRead;

/** As avsc's `Type.decode` answers: the position after the body, or -1 when the body ran past the end. */
export interface ReusedRead {
  readonly value: unknown;
  readonly offset: number;
}

interface Tap {
  buf: Buffer;
  pos: number;
  /**
   * Over the whole ArrayBuffer under buf (record values are usually views into one fetched buffer, so one view
   * serves them all), for the float and double reads, which V8 inlines, unlike Buffer.readDoubleLE.
   */
  view: DataView;
  /** buf's offset in that ArrayBuffer. */
  base: number;
}

// ------------------------------------------------------------------ avsc's Tap reads (lib/utils.js), verbatim

function readLong(t: Tap): number {
  let n = 0;
  let k = 0;
  const buf = t.buf;
  let b: number;
  let h: number;
  do {
    b = buf[t.pos++]!;
    h = b & 0x80;
    n |= (b & 0x7f) << k;
    k += 7;
  } while (h && k < 28);
  if (h) {
    let f = n;
    let fk = 268435456;
    do {
      b = buf[t.pos++]!;
      f += (b & 0x7f) * fk;
      fk *= 128;
    } while (b & 0x80);
    return (f % 2 ? -(f + 1) : f) / 2;
  }
  return (n >> 1) ^ -(n & 1);
}

function readSafeLong(t: Tap): number {
  const n = readLong(t);
  if (!(n >= -9007199254740990 && n <= 9007199254740990)) throw new Error('potential precision loss');
  return n;
}

function readFloat(t: Tap): number {
  const pos = t.pos;
  t.pos += 4;
  if (t.pos > t.buf.length) return 0;
  return t.view.getFloat32(t.base + pos, true);
}

function readDouble(t: Tap): number {
  const pos = t.pos;
  t.pos += 8;
  if (t.pos > t.buf.length) return 0;
  return t.view.getFloat64(t.base + pos, true);
}

function readString(t: Tap): string | undefined {
  const len = readLong(t);
  if (len < 0) {
    t.pos = t.buf.length + 1;
    return '';
  }
  const pos = t.pos;
  t.pos += len;
  if (t.pos > t.buf.length) return undefined;
  return t.buf.toString('utf8', pos, pos + len);
}

function readEnum(t: Tap, symbols: readonly string[], name: string): string {
  const index = readLong(t);
  const symbol = symbols[index];
  if (symbol === undefined) throw new Error(`invalid ${name} enum index: ${index}`);
  return symbol;
}

function badUnion(index: number): never {
  throw new Error(`invalid union index: ${index}`);
}

const HELPERS = { readLong, readSafeLong, readFloat, readDouble, readString, readEnum, badUnion };

// ------------------------------------------------------------------ code generation

interface AvscLike {
  readonly typeName: string;
  readonly name?: string;
  readonly fields?: readonly { readonly name: string; readonly type: AvscLike }[];
  readonly types?: readonly AvscLike[];
  readonly symbols?: readonly string[];
}

class Unsupported extends Error {}

/** Builds the reader for `type`, or undefined when the schema holds a type it does not cover. */
export function compileReusingReader(type: AvroType): ReusingReader | undefined {
  const root = type as unknown as AvscLike;
  if (root.typeName !== 'record') return undefined;
  const constants: unknown[] = [];
  const constant = (v: unknown) => {
    constants.push(v);
    return `k[${constants.length - 1}]`;
  };
  const lines: string[] = [];
  let temp = 0;

  /** Source of an expression reading one value of `t`; may emit statements before it (unions, records). */
  const expr = (t: AvscLike, depth: number): string => {
    if (depth > 32) throw new Unsupported('nested too deep');
    switch (t.typeName) {
      case 'null':
        return 'null';
      case 'boolean':
        return '!!t.buf[t.pos++]';
      case 'int':
        return 'h.readLong(t)';
      case 'long':
        return 'h.readSafeLong(t)';
      case 'float':
        return 'h.readFloat(t)';
      case 'double':
        return 'h.readDouble(t)';
      case 'string':
        return 'h.readString(t)';
      case 'enum':
        return `h.readEnum(t, ${constant(t.symbols)}, ${constant(t.name ?? 'enum')})`;
      case 'union:unwrapped': {
        const v = `v${temp++}`;
        const i = `i${temp++}`;
        lines.push(`let ${v};`, `const ${i} = h.readLong(t);`);
        t.types!.forEach((branch, b) => {
          lines.push(`${b === 0 ? '' : 'else '}if (${i} === ${b}) {`);
          const e = expr(branch, depth + 1);
          lines.push(`${v} = ${e};`, '}');
        });
        lines.push(`else h.badUnion(${i});`);
        return v;
      }
      case 'record': {
        // One reusable object per record node; its fields are stored in schema order, so it keeps one shape.
        const o = `o${temp++}`;
        lines.push(`const ${o} = ${constant({})};`);
        for (const f of t.fields!) {
          const e = expr(f.type, depth + 1);
          lines.push(`${o}[${JSON.stringify(f.name)}] = ${e};`);
        }
        return o;
      }
      default:
        throw new Unsupported(t.typeName);
    }
  };

  let result: string;
  try {
    result = expr(root, 0);
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
  const body = `${lines.join('\n')}\nreturn ${result};`;
  const read = new Function('h', 'k', 't', body) as (h: typeof HELPERS, k: unknown[], t: Tap) => unknown;
  const tap: Tap = { buf: Buffer.alloc(0), pos: 0, view: new DataView(new ArrayBuffer(0)), base: 0 };
  const out = { value: undefined as unknown, offset: 0 };
  return (buf, pos) => {
    if (tap.view.buffer !== buf.buffer) tap.view = new DataView(buf.buffer);
    tap.buf = buf;
    tap.base = buf.byteOffset;
    tap.pos = pos;
    out.value = read(HELPERS, constants, tap);
    out.offset = tap.pos > buf.length ? -1 : tap.pos;
    return out;
  };
}
