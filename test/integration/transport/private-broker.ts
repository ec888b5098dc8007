// A broker of the test's own (deploy/kafka/kafkactl.sh on free ports and a fresh state dir), for tests that need
// a listener the shared broker may not have, or that stop and restart the broker. Ports are picked free at start,
// so two test runs (a developer's and CI's, say) never fight over one; the test that starts it stops it and
// removes its state dir.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const KAFKACTL = resolve(REPO, 'deploy/kafka/kafkactl.sh');

export interface PrivateBroker {
  /** KEY=VALUE lines kafkactl.sh printed (KAFKA_BOOTSTRAP, KAFKA_SASL_BOOTSTRAP, KAFKA_CA_PEM, ...). */
  readonly env: Readonly<Record<string, string>>;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the broker and deletes its state dir. */
  destroy(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** A port p with p, p+1 and p+2 free (PLAINTEXT, SASL_SSL, controller), starting from an OS-assigned one. */
async function freePortTriple(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = await new Promise<number>((done, fail) => {
      const server = createServer();
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => done(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (base > 0 && base < 65_000 && (await portFree(base + 1)) && (await portFree(base + 2))) return base;
  }
  throw new Error('no three consecutive free ports found');
}

function parse(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export async function startPrivateBroker(options: {
  name: string;
  saslSsl?: boolean;
}): Promise<PrivateBroker> {
  const port = await freePortTriple();
  const stateDir = resolve(REPO, `.vigil/kafka-test-${options.name}-${port}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_PORT: String(port),
    KAFKA_SASL_PORT: String(port + 1),
    KAFKA_CONTROLLER_PORT: String(port + 2),
    KAFKA_STATE_DIR: stateDir,
    KAFKA_SECURITY: options.saslSsl ? 'sasl_ssl' : 'plaintext',
    KAFKA_HEAP: '-Xmx384m',
  };
  const ctl = (verb: string) => run('bash', [KAFKACTL, verb], { env, cwd: REPO, timeout: 180_000 });
  const { stdout } = await ctl('start');
  let stopped = false;
  const broker: PrivateBroker = {
    env: parse(stdout),
    port,
    stop: async () => {
      await ctl('stop');
      stopped = true;
    },
    start: async () => {
      await ctl('start');
      stopped = false;
    },
    destroy: async () => {
      if (!stopped) await ctl('stop').catch(() => {});
      await rm(stateDir, { recursive: true, force: true });
    },
  };
  return broker;
}
