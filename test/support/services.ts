// Starts (or finds) the broker and the schema registry for an integration run. The decisions are in
// resolution.ts; this file does the I/O: Docker detection, deploy/*/…ctl.sh, testcontainers.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VigilKafkaContext, VigilRegistryContext } from './context.js';
import {
  dockerEndpoints,
  parseBrokerList,
  parseKeyValueLines,
  resolveBrokerSource,
  resolveRegistrySource,
} from './resolution.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const KAFKACTL = path.join(REPO_ROOT, 'deploy/kafka/kafkactl.sh');
export const REGISTRYCTL = path.join(REPO_ROOT, 'deploy/registry/registryctl.sh');

export interface CtlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one of the deploy/*ctl.sh scripts; never throws for a non-zero exit. */
export function runCtl(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 10 * 60_000,
): Promise<CtlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** The one-line failure a ctl script printed last (they print exactly one line per failure). */
export function ctlFailure(result: CtlResult): string {
  const lines = result.stderr.trim().split('\n').filter(Boolean);
  return lines.at(-1) ?? `exit code ${result.code} and no message`;
}

/**
 * True when a Docker engine answers GET /_ping within timeoutMs. Missing sockets are skipped without waiting,
 * so on a machine with the docker CLI but no engine this returns in well under a millisecond.
 */
export async function isDockerAvailable(env: NodeJS.ProcessEnv, timeoutMs = 1500): Promise<boolean> {
  const endpoints = dockerEndpoints(env).filter((e) => !('socketPath' in e) || existsSync(e.socketPath));
  if (endpoints.length === 0) return false;
  const pings = endpoints.map(
    (endpoint) =>
      new Promise<boolean>((resolve) => {
        const req = http.get({ ...endpoint, path: '/_ping', timeout: timeoutMs }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolve(false));
      }),
  );
  return (await Promise.all(pings)).some(Boolean);
}

export interface StartedServices {
  kafka: VigilKafkaContext;
  registry: VigilRegistryContext;
  /** Undo what start did: stop what this run started, release what it shared. */
  stop(): Promise<void>;
}

export interface StartOptions {
  env: NodeJS.ProcessEnv;
  /** Lease holder for the shared local broker and registry: the process whose exit frees them. */
  holderPid: number;
  log?: (line: string) => void;
}

export async function startServices(opts: StartOptions): Promise<StartedServices> {
  const { env } = opts;
  const log = opts.log ?? ((line: string) => process.stderr.write(`[vigil-it] ${line}\n`));
  const dockerAvailable =
    parseBrokerList(env.KAFKA_BROKERS).length > 0 || env.VIGIL_TEST_BROKER
      ? false
      : await isDockerAvailable(env);
  const brokerSource = resolveBrokerSource(env, dockerAvailable);

  // The broker and the registry start side by side: two JVMs warming up at once still beat one after the other.
  const [kafkaOutcome, registryOutcome] = await Promise.allSettled([
    startKafka(brokerSource, opts),
    startRegistry(opts),
  ]);
  if (kafkaOutcome.status === 'rejected') {
    if (registryOutcome.status === 'fulfilled') await registryOutcome.value.stop();
    throw kafkaOutcome.reason;
  }
  const kafka = kafkaOutcome.value;
  let registry: { context: VigilRegistryContext; stop: () => Promise<void> };
  if (registryOutcome.status === 'fulfilled') {
    registry = registryOutcome.value;
  } else {
    // Tests that need no registry still run; registryUrl() throws this reason for those that do.
    const reason =
      registryOutcome.reason instanceof Error
        ? registryOutcome.reason.message
        : String(registryOutcome.reason);
    log(`schema registry unavailable: ${reason}`);
    registry = {
      context: { url: null, source: resolveRegistrySource(env), error: reason, local: null },
      stop: async () => {},
    };
  }

  const k = kafka.context;
  const where = k.local
    ? `${k.brokers.join(',')} (local broker pid ${k.local.pid}, ${k.local.startedByHarness ? 'started for this run' : 'already running'}${k.saslSsl ? `; SASL_SSL ${k.saslSsl.brokers.join(',')}` : ''})`
    : k.brokers.join(',');
  log(`Kafka from ${k.source}: ${where}; registry: ${registry.context.url ?? 'none'}`);

  return {
    kafka: kafka.context,
    registry: registry.context,
    async stop() {
      await Promise.allSettled([kafka.stop(), registry.stop()]);
    },
  };
}

interface Started<T> {
  context: T;
  stop: () => Promise<void>;
}

async function startKafka(
  source: VigilKafkaContext['source'],
  opts: StartOptions,
): Promise<Started<VigilKafkaContext>> {
  const { env, holderPid } = opts;
  if (source === 'env') {
    return {
      context: { brokers: parseBrokerList(env.KAFKA_BROKERS), source, local: null, saslSsl: null },
      stop: async () => {},
    };
  }
  if (source === 'testcontainers') {
    // Loaded only on this path: testcontainers is heavy and useless without Docker.
    const { KafkaContainer } = await import('@testcontainers/kafka');
    const image = env.VIGIL_KAFKA_IMAGE ?? 'confluentinc/cp-kafka:8.0.0';
    const container = await new KafkaContainer(image).withKraft().start();
    return {
      context: {
        brokers: [`${container.getHost()}:${container.getMappedPort(9093)}`],
        source,
        local: null,
        saslSsl: null,
      },
      stop: async () => {
        await container.stop();
      },
    };
  }
  // The harness asks for the SASL_SSL listener too, so SASL/TLS tests have something to talk to; a broker that
  // is already running plaintext is reused as it is (saslSsl is then null and those tests skip).
  const ctlEnv = { ...env, KAFKA_SECURITY: env.KAFKA_SECURITY ?? 'sasl_ssl' };
  const result = await runCtl(KAFKACTL, ['acquire', String(holderPid)], ctlEnv);
  if (result.code !== 0) throw new Error(`local Kafka broker unavailable: ${ctlFailure(result)}`);
  const kv = parseKeyValueLines(result.stdout);
  const bootstrap = kv.KAFKA_BOOTSTRAP;
  if (!bootstrap || !kv.KAFKA_STATE_DIR) {
    throw new Error(`kafkactl.sh acquire printed no KAFKA_BOOTSTRAP/KAFKA_STATE_DIR:\n${result.stdout}`);
  }
  const saslSsl =
    kv.KAFKA_SECURITY === 'sasl_ssl' && kv.KAFKA_SASL_BOOTSTRAP
      ? {
          brokers: [kv.KAFKA_SASL_BOOTSTRAP],
          username: kv.KAFKA_SASL_USER ?? '',
          password: kv.KAFKA_SASL_PASSWORD ?? '',
          mechanisms: (kv.KAFKA_SASL_MECHANISMS ?? '').split(',').filter(Boolean),
          caPemPath: kv.KAFKA_CA_PEM ?? '',
        }
      : null;
  const stateDir = kv.KAFKA_STATE_DIR;
  return {
    context: {
      brokers: [bootstrap],
      source,
      local: {
        port: Number(bootstrap.slice(bootstrap.lastIndexOf(':') + 1)),
        stateDir,
        pid: Number(kv.KAFKA_PID),
        log: kv.KAFKA_LOG ?? '',
        clusterId: kv.KAFKA_CLUSTER_ID ?? '',
        startedByHarness: kv.KAFKA_STARTED === '1',
      },
      saslSsl,
    },
    // Same state dir and ports as the acquire, whatever the caller's environment says by then.
    stop: async () => {
      const released = await runCtl(KAFKACTL, ['release', String(holderPid)], {
        ...ctlEnv,
        KAFKA_STATE_DIR: stateDir,
      });
      if (released.code !== 0) opts.log?.(`kafkactl release failed: ${ctlFailure(released)}`);
    },
  };
}

async function startRegistry(opts: StartOptions): Promise<Started<VigilRegistryContext>> {
  const { env, holderPid } = opts;
  if (resolveRegistrySource(env) === 'env') {
    return {
      context: { url: env.REGISTRY_URL!.trim().replace(/\/+$/, ''), source: 'env', error: null, local: null },
      stop: async () => {},
    };
  }
  const result = await runCtl(REGISTRYCTL, ['acquire', String(holderPid)], env);
  if (result.code !== 0) throw new Error(ctlFailure(result));
  const kv = parseKeyValueLines(result.stdout);
  if (!kv.REGISTRY_CCOMPAT_URL || !kv.REGISTRY_STATE_DIR || !kv.REGISTRY_URL) {
    throw new Error(
      `registryctl.sh acquire printed no REGISTRY_CCOMPAT_URL/REGISTRY_STATE_DIR:\n${result.stdout}`,
    );
  }
  const stateDir = kv.REGISTRY_STATE_DIR;
  return {
    context: {
      url: kv.REGISTRY_CCOMPAT_URL,
      source: 'local',
      error: null,
      local: {
        port: Number(new URL(kv.REGISTRY_URL).port),
        stateDir,
        pid: Number(kv.REGISTRY_PID),
        log: kv.REGISTRY_LOG ?? '',
        startedByHarness: kv.REGISTRY_STARTED === '1',
      },
    },
    stop: async () => {
      const released = await runCtl(REGISTRYCTL, ['release', String(holderPid)], {
        ...env,
        REGISTRY_STATE_DIR: stateDir,
      });
      if (released.code !== 0) opts.log?.(`registryctl release failed: ${ctlFailure(released)}`);
    },
  };
}
