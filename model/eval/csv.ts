/**
 * A small CSV reader for evaluation and the train/score commands: a header line, then one record a line,
 * comma-separated, optional RFC 4180 double quotes. Columns are numeric (Float64Array, NaN where empty or not a
 * number) unless named as text columns (split, timestamp), which are kept as strings. Pure: text in, columns out.
 */
import { VigilError } from '../../core/errors.js';

export interface CsvTable {
  readonly header: readonly string[];
  readonly rows: number;
  /** Numeric columns by name. Text columns are absent here. */
  readonly numeric: ReadonlyMap<string, Float64Array>;
  /** Text columns by name (only those asked for). */
  readonly text: ReadonlyMap<string, readonly string[]>;
}

export interface CsvOptions {
  /** Columns to keep as strings instead of parsing as numbers. */
  textColumns?: Iterable<string>;
  /** Where the text came from, for error messages. */
  source?: string;
}

/** Split one line into fields; handles "quoted, fields" and "" escapes. */
function splitLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out;
}

export function parseCsv(text: string, options: CsvOptions = {}): CsvTable {
  const source = options.source ?? 'CSV';
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length === 0)
    throw new VigilError('INPUT_INVALID', `${source} is empty; expected a header line.`);
  const header = splitLine(lines[0]!.replace(/^\uFEFF/, '')).map((h) => h.trim());
  const seen = new Set<string>();
  for (const h of header) {
    if (h === '') throw new VigilError('INPUT_INVALID', `${source} has an empty column name in its header.`);
    if (seen.has(h)) throw new VigilError('INPUT_INVALID', `${source} has the column "${h}" twice.`);
    seen.add(h);
  }
  const textWanted = new Set(options.textColumns ?? []);
  const rows = lines.length - 1;
  const numeric = new Map<string, Float64Array>();
  const textCols = new Map<string, string[]>();
  const sinks: (Float64Array | string[])[] = header.map((h) => {
    if (textWanted.has(h)) {
      const col: string[] = new Array(rows);
      textCols.set(h, col);
      return col;
    }
    const col = new Float64Array(rows);
    numeric.set(h, col);
    return col;
  });
  for (let r = 0; r < rows; r++) {
    const fields = splitLine(lines[r + 1]!);
    if (fields.length !== header.length) {
      throw new VigilError(
        'INPUT_INVALID',
        `${source} line ${r + 2} has ${fields.length} fields; the header has ${header.length}.`,
        { details: { line: r + 2 } },
      );
    }
    for (let c = 0; c < fields.length; c++) {
      const sink = sinks[c]!;
      const f = fields[c]!;
      if (sink instanceof Float64Array) {
        const t = f.trim();
        sink[r] = t === '' ? Number.NaN : Number(t);
      } else sink[r] = f;
    }
  }
  return { header, rows, numeric, text: textCols };
}
