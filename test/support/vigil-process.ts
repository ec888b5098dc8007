// Vigil as a separate OS process (`vigil run --config file.yaml`, from source through tsx), for tests that kill
// it the hard way. Node runs cli/entry.ts directly (`node --import tsx`, no npx wrapper in between), so SIGKILL
// reaches Vigil itself and nothing survives it. Every process started here is killed when the test process
// exits, so a failed test never leaves a consumer behind in someone's group.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { REPO_ROOT } from './services.js';

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One pino log line of the child, as parsed JSON (lines that are not JSON come as `{ msg: line }`). */
export type LogLine = { readonly msg?: string; readonly level?: number } & Record<string, unknown>;

const live = new Set<ChildProcess>();
const configDirs = new Set<string>();
// Best effort only: a test runner that kills its worker skips 'exit'; tests kill their processes in afterAll.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  removeVigilConfigs();
});

/** Keeps the end of the child's output for failure messages; the whole of it can be large. */
const OUTPUT_LIMIT = 256 * 1024;

export class VigilProcess {
  readonly exited: Promise<ProcessExit>;
  private readonly child: ChildProcess;
  private text = '';
  private readonly lines: LogLine[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(child: ChildProcess, logFile?: string) {
    this.child = child;
    const file = logFile === undefined ? undefined : createWriteStream(logFile, { flags: 'a' });
    live.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        file?.end();
        resolve({ code, signal });
        this.wake();
      });
    });
    let partial = '';
    const onData = (chunk: string) => {
      file?.write(chunk);
      this.text = (this.text + chunk).slice(-OUTPUT_LIMIT);
      partial += chunk;
      let nl = partial.indexOf('\n');
      while (nl >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (line.trim() !== '') this.lines.push(parseLine(line));
        nl = partial.indexOf('\n');
      }
      this.wake();
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last 256 KiB of stdout and stderr, interleaved as they came. */
  output(): string {
    return this.text;
  }

  logs(): readonly LogLine[] {
    return this.lines;
  }

  /** Resolves with the first log line whose `msg` is `msg` (or that `match` accepts); rejects if the process exits first. */
  async waitForLog(match: string | ((line: LogLine) => boolean), timeoutMs = 60_000): Promise<LogLine> {
    const test = typeof match === 'string' ? (l: LogLine) => l.msg === match : match;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(test);
      if (found !== undefined) return found;
      if (!this.running) {
        throw new Error(`vigil (pid ${this.pid}) exited before logging ${String(match)}:\n${this.tail()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`vigil (pid ${this.pid}) did not log ${String(match)}:\n${this.tail()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 1_000));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.add(done);
      });
    }
  }

  /**
   * Waits for `work` (something the test waits on while Vigil runs); rejects with Vigil's output when Vigil
   * exits first or `work` fails, so a crash shows as itself rather than as a time-out.
   */
  async whileRunning<T>(work: Promise<T>): Promise<T> {
    const exit = this.exited.then((e) => {
      throw new Error(
        `vigil (pid ${this.pid}) exited (code ${e.code}, signal ${e.signal}) while the test waited:\n${this.tail(12_000)}`,
      );
    });
    try {
      return await Promise.race([work, exit]);
    } catch (err) {
      if (err instanceof Error && !err.message.includes(`vigil (pid ${this.pid})`)) {
        err.message += `\n--- vigil (pid ${this.pid}) output ---\n${this.tail(12_000)}`;
      }
      throw err;
    } finally {
      exit.catch(() => {});
    }
  }

  /** SIGKILL: no shutdown hook runs, nothing is flushed or committed. */
  async kill(): Promise<ProcessExit> {
    if (this.running) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM (Vigil's graceful shutdown), then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<ProcessExit> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  tail(chars = 4_000): string {
    return this.text.slice(-chars);
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }
}

function parseLine(line: string): LogLine {
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed !== null && typeof parsed === 'object') return parsed as LogLine;
  } catch {
    // Not a pino line (a stack trace, a warning from Node).
  }
  return { msg: line };
}

/** Starts `vigil <args>` from source in the repository root (or `cwd`); `logFile` gets a copy of everything it prints. */
export function spawnVigil(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; logFile?: string; cwd?: string } = {},
): VigilProcess {
  // tsx by path: `--import tsx` resolves from the working directory, which need not be the repository.
  const tsx = pathToFileURL(path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  const child = spawn(process.execPath, ['--import', tsx, path.join(REPO_ROOT, 'cli/entry.ts'), ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new VigilProcess(child, options.logFile);
}

/** `vigil run --config <file> [args]`; resolves once its partitions are assigned (it is consuming). */
export async function startVigil(
  configPath: string,
  options: {
    env?: NodeJS.ProcessEnv;
    logFile?: string;
    readyTimeoutMs?: number;
    /** More `vigil run` flags, after the config (`--ui`). */
    args?: readonly string[];
  } = {},
): Promise<VigilProcess> {
  const vigil = spawnVigil(['run', '--config', configPath, ...(options.args ?? [])], options);
  try {
    await vigil.waitForLog('partitions assigned', options.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await vigil.kill();
    throw err;
  }
  return vigil;
}

/** Writes `config` (the vigil.yaml tree) as YAML into a new temp dir; `removeVigilConfigs` deletes them. */
export async function writeVigilConfig(config: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vigil-config-'));
  configDirs.add(dir);
  const file = path.join(dir, 'vigil.yaml');
  await writeFile(file, stringify(config));
  return file;
}

/** Deletes every config dir `writeVigilConfig` made in this process (call it in afterAll). */
export function removeVigilConfigs(): void {
  for (const dir of configDirs) rmSync(dir, { recursive: true, force: true });
  configDirs.clear();
}

/** The value of each metric named in `names`, summed over its labels, from Vigil's /metrics. */
export async function metricTotals(port: number, names: readonly string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const name of names) {
    out[name] = text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  }
  return out;
}
