import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VigilError } from '../core/errors.js';

/** The repository root, found from this file whether it runs from cli/ (tsx) or dist/cli/ (compiled). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'deploy', 'kafka', 'kafkactl.sh'))) return dir;
    dir = dirname(dir);
  }
  throw new VigilError(
    'DEPENDENCY_MISSING',
    'cannot find deploy/kafka/kafkactl.sh above the vigil installation',
  );
}

export interface CtlOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs deploy/kafka/kafkactl.sh with a verb; its stdout is KEY=VALUE lines, its one-line failures on stderr. */
export function kafkactl(verb: string, env: Record<string, string>, passStderr = true): Promise<CtlOutput> {
  const script = join(repoRoot(), 'deploy', 'kafka', 'kafkactl.sh');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, verb], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (passStderr) process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export interface LocalBroker {
  readonly bootstrap: string;
  /** True when this process started it (and so stops it). */
  readonly startedHere: boolean;
  stop(): Promise<void>;
}

/** Starts the project's local KRaft broker on `port` unless one is already running there. */
export async function ensureLocalBroker(port: number): Promise<LocalBroker> {
  const env = { KAFKA_PORT: String(port) };
  const status = await kafkactl('status', env, false);
  const startedHere = status.code !== 0;
  const result = startedHere ? await kafkactl('start', env) : status;
  if (result.code !== 0) {
    throw new VigilError(
      'BROKER_START_FAILED',
      result.stderr.trim().split('\n').pop() ?? 'kafkactl start failed',
    );
  }
  const kv = parseKeyValues(result.stdout);
  const bootstrap = kv['KAFKA_BOOTSTRAP'] ?? kv['BOOTSTRAP'] ?? `127.0.0.1:${port}`;
  let stopped = false;
  return {
    bootstrap,
    startedHere,
    async stop() {
      if (!startedHere || stopped) return;
      stopped = true;
      await kafkactl('stop', env);
    },
  };
}
