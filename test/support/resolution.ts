// Pure decisions of the integration-test harness: where the broker and the registry come from. No I/O here, so
// the order is unit-tested without Docker, Java or a broker (test/unit/support/resolution.test.ts).

export type BrokerSource = 'env' | 'testcontainers' | 'local';
export type RegistrySource = 'env' | 'local';

/** The environment variables the harness reads. */
export interface HarnessEnv {
  /** Comma-separated host:port list of an existing cluster; when set nothing is started. */
  KAFKA_BROKERS?: string | undefined;
  /** Force a source instead of detecting Docker: `local` or `testcontainers`. */
  VIGIL_TEST_BROKER?: string | undefined;
  /** Base URL of a Confluent-compatible registry API; when set no registry is started. */
  REGISTRY_URL?: string | undefined;
}

/**
 * Broker source, in order: KAFKA_BROKERS as given; a forced VIGIL_TEST_BROKER; testcontainers when a Docker
 * engine answers; otherwise the local broker from deploy/kafka/kafkactl.sh.
 */
export function resolveBrokerSource(env: HarnessEnv, dockerAvailable: boolean): BrokerSource {
  if (parseBrokerList(env.KAFKA_BROKERS).length > 0) return 'env';
  const forced = env.VIGIL_TEST_BROKER?.trim();
  if (forced) {
    if (forced === 'local' || forced === 'testcontainers') return forced;
    throw new Error(`VIGIL_TEST_BROKER must be 'local' or 'testcontainers', got '${forced}'`);
  }
  return dockerAvailable ? 'testcontainers' : 'local';
}

export function resolveRegistrySource(env: HarnessEnv): RegistrySource {
  return env.REGISTRY_URL?.trim() ? 'env' : 'local';
}

/**
 * Splits a bootstrap list (`a:1, b:2`) and keeps each address exactly as spelled: the harness must hand tests
 * the list it was given, not a normalised one. Throws on an entry that is not host:port.
 */
export function parseBrokerList(value: string | undefined): string[] {
  if (!value) return [];
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const entry of entries) {
    // host:port, [ipv6]:port; an optional PLAINTEXT:// style prefix is refused because kafkajs would not parse it.
    if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(entry)) {
      throw new Error(`KAFKA_BROKERS entry '${entry}' is not host:port`);
    }
  }
  return entries;
}

/** Parses the KEY=VALUE lines kafkactl.sh and registryctl.sh print on stdout. */
export function parseKeyValueLines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Which Docker endpoints to ping, from DOCKER_HOST and the usual socket locations. */
export function dockerEndpoints(env: {
  DOCKER_HOST?: string | undefined;
  XDG_RUNTIME_DIR?: string | undefined;
  HOME?: string | undefined;
}): Array<{ socketPath: string } | { host: string; port: number }> {
  const host = env.DOCKER_HOST?.trim();
  if (host) {
    if (host.startsWith('unix://')) return [{ socketPath: host.slice('unix://'.length) }];
    const m = /^tcp:\/\/([^:/]+):(\d+)/.exec(host);
    if (m) return [{ host: m[1]!, port: Number(m[2]) }];
    return [];
  }
  const sockets = ['/var/run/docker.sock'];
  if (env.XDG_RUNTIME_DIR) sockets.push(`${env.XDG_RUNTIME_DIR}/docker.sock`);
  if (env.HOME) sockets.push(`${env.HOME}/.docker/run/docker.sock`);
  return sockets.map((socketPath) => ({ socketPath }));
}
