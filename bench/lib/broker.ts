/**
 * A broker of the benchmark's own, on its own port and state directory, so a benchmark never shares (or
 * stops) the broker that tests are using. Started fresh (data wiped) and stopped by the caller.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KAFKACTL = path.join(REPO, 'deploy/kafka/kafkactl.sh');

export interface BenchBroker {
  readonly bootstrap: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface BrokerOptions {
  readonly port: number;
  /** Relative to the repository root. */
  readonly stateDir: string;
  /** JVM heap, default 1 GiB: the bench writes a few million records. */
  readonly heap?: string;
}

export async function startBroker(options: BrokerOptions): Promise<BenchBroker> {
  const env = {
    ...process.env,
    KAFKA_PORT: String(options.port),
    KAFKA_STATE_DIR: path.resolve(REPO, options.stateDir),
    KAFKA_FRESH: '1',
    KAFKA_HEAP: options.heap ?? '-Xmx1g',
  };
  const { stdout } = await run('bash', [KAFKACTL, 'start'], { env, maxBuffer: 1 << 20 });
  const vars = Object.fromEntries(
    stdout
      .split('\n')
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
  const bootstrap = vars.KAFKA_BOOTSTRAP;
  if (!bootstrap) throw new Error(`kafkactl start printed no KAFKA_BOOTSTRAP:\n${stdout}`);
  let stopped: Promise<void> | undefined;
  return {
    bootstrap,
    pid: Number(vars.KAFKA_PID),
    stop() {
      stopped ??= run('bash', [KAFKACTL, 'stop'], { env }).then(() => {});
      return stopped;
    },
  };
}
