/**
 * bench/RESULTS.md is shared by the benchmarks: each owns one section between HTML comment markers and
 * rewrites only that section, so running one benchmark never erases another's figures.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'RESULTS.md');

const HEADER = `# Benchmark results

Each section is written by the benchmark named in it; re-running a benchmark replaces its own section only.
Figures are from the machine and load stated in the section.
`;

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly platform: string;
  readonly memoryGiB: number;
  readonly loadavg: readonly number[];
  readonly date: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1]!.trim();
  } catch {
    // not Linux: os.cpus() is the best we have
  }
  let cpus = os.availableParallelism();
  try {
    cpus = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || cpus;
  } catch {
    // nproc missing: keep Node's count
  }
  return {
    cpus,
    cpuModel,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}

export function machineLines(m: MachineInfo, extra: Record<string, string> = {}): string {
  const rows: [string, string][] = [
    ['date', m.date],
    ['machine', `${m.cpus} CPU (nproc), ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}`],
    ['node', m.node],
    ['load average (1/5/15 min) at start', m.loadavg.join(' / ')],
    ...Object.entries(extra),
  ];
  return rows.map(([k, v]) => `- ${k}: ${v}`).join('\n');
}

/** Replace (or append) the section `name` of RESULTS.md with `body`. */
export function writeSection(name: string, body: string, file = RESULTS_FILE): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : HEADER;
  const block = `${start}\n${body.trim()}\n${end}`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  const next =
    i >= 0 && j > i
      ? text.slice(0, i) + block + text.slice(j + end.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}

/** A GitHub-flavoured Markdown table. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
