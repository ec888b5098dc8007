/**
 * The benchmarks' command-line options: `--name value` and bare `--name` flags, read from process.argv. The
 * benchmarks are their own entry points (no composition root), so they parse their own arguments here, once.
 */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

export function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

/** A numeric option that may be absent: undefined when not given. */
export function optionalNumber(name: string): number | undefined {
  const v = arg(name, '');
  return v === '' ? undefined : Number(v);
}
